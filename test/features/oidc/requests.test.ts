/** What the oidc phase reads off a request (controller/features/oidc/requests.ts): header matchers, and redirects kept to the browser's origin. */
import { describe, expect, it } from "vitest";
import { normalizeRequest } from "../../../controller/authz/request.ts";
import { builtRe2 } from "../../../controller/lib/regex.ts";
import type { HeaderMatcher } from "../../../controller/features/oidc/compile.ts";
import { currentUrl, headerMatches, mayReturnTo, redirectUri } from "../../../controller/features/oidc/requests.ts";

const at = (path: string, headers: Record<string, string | string[]> = {}, scheme = "https") =>
  normalizeRequest({ method: "GET", scheme, host: "app.example.com", path, headers, gateway: undefined });

const matcher = (name: string, type: HeaderMatcher["type"], value: string): HeaderMatcher => ({ name, type, value, regex: undefined });

describe("headerMatches", () => {
  it("reads a header as Envoy's HeaderMatcher does: present, exact, prefix, suffix, a full-match expression", () => {
    const req = at("/", { "x-requested-with": "XMLHttpRequest" });
    expect(headerMatches(matcher("x-requested-with", "Present", ""), req)).toBe(true);
    expect(headerMatches(matcher("x-requested-with", "Exact", "XMLHttpRequest"), req)).toBe(true);
    expect(headerMatches(matcher("x-requested-with", "Prefix", "XML"), req)).toBe(true);
    expect(headerMatches(matcher("x-requested-with", "Suffix", "Request"), req)).toBe(true);
    expect(headerMatches({ ...matcher("x-requested-with", "RegularExpression", "XML.*"), regex: builtRe2("XML.*") }, req)).toBe(true);
    expect(headerMatches(matcher("x-other", "Present", ""), req)).toBe(false);
  });
  it("reads a repeated header as its lines joined with ','", () => {
    expect(headerMatches(matcher("accept", "Exact", "a,b"), at("/", { accept: ["a", "b"] }))).toBe(true);
  });
});

describe("redirects", () => {
  it("return to a page of the origin the browser addressed, or of a host sharing the session cookie, over http(s) only", () => {
    const req = at("/oauth2/callback");
    expect(mayReturnTo("https://app.example.com/reports?x=1", req, undefined)).toBe(true);
    expect(mayReturnTo("https://other.example.com/", req, undefined)).toBe(false);
    expect(mayReturnTo("https://other.example.com/", req, "example.com")).toBe(true);
    expect(mayReturnTo("https://example.com.evil.test/", req, "example.com")).toBe(false);
    expect(mayReturnTo("javascript:alert(1)", req, "example.com")).toBe(false);
    expect(mayReturnTo("not a url", req, undefined)).toBe(false);
  });
  it("build the current URL from the request target, falling back to / when the target would name another host", () => {
    expect(currentUrl(at("/reports?x=1"))).toBe("https://app.example.com/reports?x=1");
    for (const target of ["@evil.test/", ".evil.test/", ":1@evil.test/"])
      expect(currentUrl(at(target)), target).toBe("https://app.example.com/");
  });
  it("fill Envoy's %REQ()% placeholders of redirectURL from the request", () => {
    const template = "%REQ(x-forwarded-proto)%://%REQ(:authority)%/oauth2/callback";
    expect(redirectUri(template, at("/", {}, "http"))).toBe("http://app.example.com/oauth2/callback");
  });
});
