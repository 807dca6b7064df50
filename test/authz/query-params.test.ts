/** A query parameter's values as Envoy's filters and other upstreams read them (controller/authz/query-params.ts). */
import { describe, expect, it } from "vitest";
import { envoyParams, readOtherwise, withOtherReadings } from "../../controller/authz/query-params.ts";

describe("readOtherwise: whether a query needs more than a form's decoding", () => {
  it.each([
    ["a=1&access_token=t", false],
    ["", false],
    ["a=1;access_token=t", true],
    ["?access_token=t", true],
    ["access.token=t", true],
    ["a+b=1", true],
  ])("%j → %j", (query, expected) => expect(readOtherwise(query)).toBe(expected));
});

describe("envoyParams: as Envoy's api_key_auth and jwt_authn filters read a query", () => {
  it("percent-decodes names and values and nothing else: '+' stays '+', a leading '?' belongs to the first name", () => {
    expect(envoyParams("k=a+b%20c", "k")).toEqual(["a+b c"]);
    expect(envoyParams("?k=1&k=2", "k")).toEqual(["2"]);
    expect(envoyParams("?k=1", "?k")).toEqual(["1"]);
    expect(envoyParams("a=1;k=2", "k")).toEqual([]);
  });
});

describe("withOtherReadings: a form's values, then once each those only another reading finds", () => {
  it("adds Envoy's values, a split at ';' and PHP's renamed name after the form's, without repeating one", () => {
    expect(withOtherReadings(["a b"], ["a+b"], "k=a+b", "k")).toEqual(["a b", "a+b"]);
    expect(withOtherReadings(["1;k=2"], ["1;k=2"], "k=1;k=2", "k")).toEqual(["1;k=2", "1", "2"]);
    expect(withOtherReadings([], [], "k.x=t", "k_x")).toEqual(["t"]);
  });
  it("hands back the form's own array when no other reading adds a value", () => {
    const values = ["1"];
    expect(withOtherReadings(values, ["1"], "k=1;", "k")).toBe(values);
  });
});
