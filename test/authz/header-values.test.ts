/** A header's value as Envoy's matchers and a proxy's lists read it (controller/authz/header-values.ts). */
import { describe, expect, it } from "vitest";
import { firstListValue, headerValue, linesUpstreamMayRead } from "../../controller/authz/header-values.ts";

describe("firstListValue: the first entry of a list a proxy appends to", () => {
  it.each([
    [undefined, undefined],
    ["", undefined],
    ["https", "https"],
    [" https , http", "https"],
    ["a,b,c", "a"],
    [",http", undefined],
    [" \t", undefined],
  ])("%j → %j", (input, expected) => expect(firstListValue(input)).toBe(expected));
});

describe("headerValue: a header as Envoy's header matchers read it", () => {
  it("joins a repeated header's lines with ',' (Envoy), not ', ' (Node)", () => {
    expect(headerValue({ "x-tier": ["gold", "silver"] }, "x-tier")).toBe("gold,silver");
  });

  it("joins repeated Cookie lines with '; ', as Envoy's header map does", () => {
    expect(headerValue({ cookie: ["a=1", "b=2"] }, "cookie")).toBe("a=1; b=2");
  });

  it("keeps a single line as sent, its own ', ' included, and knows no inherited names", () => {
    expect(headerValue({ "x-tier": "gold, silver" }, "x-tier")).toBe("gold, silver");
    expect(headerValue({}, "constructor")).toBeUndefined();
  });
});

describe("linesUpstreamMayRead: each line read as the lines and list elements an upstream may act on", () => {
  it("splits a value at ',' into pieces that join back to the value as sent (Envoy's reading unchanged)", () => {
    const headers = { "x-role": "user,admin", "x-tier": "gold, silver", accept: "a,", "x-one": "plain" };
    const read = linesUpstreamMayRead(headers);
    expect(read).toEqual({ "x-role": ["user", "admin"], "x-tier": ["gold", " silver"], accept: ["a", ""], "x-one": "plain" });
    for (const name of Object.keys(headers)) expect(headerValue(read, name)).toBe(headerValue(headers, name));
    expect(headers["x-role"]).toBe("user,admin");
  });
  it("splits each line of a header sent on several lines, in order (a wrong allow: a line holding ',' was one value among lines)", () => {
    const headers = { "x-role": ["user,admin", "user"] };
    const read = linesUpstreamMayRead(headers);
    expect(read).toEqual({ "x-role": ["user", "admin", "user"] });
    expect(headerValue(read, "x-role")).toBe(headerValue(headers, "x-role"));
  });
  it("leaves Cookie, Host, pseudo-headers, X-Portcullis-Replaces and lines without ',' whole, and answers the headers themselves when nothing splits", () => {
    const whole = { cookie: "a=1,b=2", host: "h,i", ":path": "/?a=1,2", "x-portcullis-replaces": "x-a, x-b", "x-role": ["user", "admin"] };
    expect(linesUpstreamMayRead(whole)).toBe(whole);
  });
});
