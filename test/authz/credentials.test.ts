import { describe, expect, it } from "vitest";
import { cookieHeaderWithout, readCredential } from "../../controller/authz/credentials.ts";
import { normalizeRequest } from "../../controller/authz/request.ts";

const AUTHORIZATION = { in: "header", name: "authorization", prefix: "Bearer " } as const;
const lines = (...values: string[]) =>
  normalizeRequest({ method: "GET", scheme: "http", host: "h", path: "/", headers: { authorization: values }, gateway: undefined });

describe("readCredential: a header with a prefix, as Envoy's jwt_authn extractor (and stricter)", () => {
  it("finds the prefix anywhere in a line and takes the token from the first base64url or '.' character after it", () => {
    expect(readCredential(lines("Token Bearer a.b.c"), AUTHORIZATION)).toEqual(["a.b.c"]);
    expect(readCredential(lines('Bearer   "a.b.c'), AUTHORIZATION)).toEqual(["a.b.c"]);
  });
  it("matches the prefix in any letter case", () => {
    expect(readCredential(lines("bearer a.b.c"), AUTHORIZATION)).toEqual(["a.b.c"]);
  });
  it("reads any whitespace where the prefix has a space (Python's str.split() reads `Bearer<TAB><t>` as a bearer token)", () => {
    expect(readCredential(lines("Bearer\ta.b.c"), AUTHORIZATION)).toEqual(["a.b.c"]);
    expect(readCredential(lines("Bearer\u00a0a.b.c"), AUTHORIZATION)).toEqual(["a.b.c"]);
  });
  it("reads nothing from a line without the prefix, and every line on its own", () => {
    expect(readCredential(lines("Bearera.b.c", "Basic dXNlcg=="), AUTHORIZATION)).toEqual([]);
    expect(readCredential(lines("Bearer a.b.c", "Bearer d.e.f"), AUTHORIZATION)).toEqual(["a.b.c", "d.e.f"]);
  });
});

describe("cookieHeaderWithout", () => {
  it("removes every copy of the named cookies and keeps the rest", () => {
    expect(cookieHeaderWithout("a=1; key=x; b=2; key=y", new Set(["key"]))).toBe("a=1; b=2");
    expect(cookieHeaderWithout("key=x", new Set(["key"]))).toBeUndefined();
  });
});
