import { describe, expect, it } from "vitest";
import {
  type Credentials,
  cookieHeaderWithout,
  readCredential as readOne,
  readCredentialOtherwise as readOtherwiseOne,
} from "../../controller/authz/credentials.ts";
import type { NormalizedRequest } from "../../controller/authz/request.ts";
import { normalizeRequest } from "../../controller/authz/request.ts";
import type { CredentialSource } from "../../controller/snapshot/types.ts";

/** The values read, as a list whatever their number (one is answered as itself: see "answers one value as itself"). */
const listed = (credentials: Credentials): readonly string[] => (typeof credentials === "string" ? [credentials] : credentials);
const readCredential = (request: NormalizedRequest, source: CredentialSource) => listed(readOne(request, source));
const readCredentialOtherwise = (request: NormalizedRequest, source: CredentialSource) => listed(readOtherwiseOne(request, source));

const AUTHORIZATION = { in: "header", name: "authorization", prefix: "Bearer " } as const;
const lines = (...values: string[]) =>
  normalizeRequest({ method: "GET", scheme: "http", host: "h", path: "/", headers: { authorization: values }, gateway: undefined });

describe("readCredential: a header with a prefix, as Envoy's jwt_authn extractor", () => {
  it("finds the prefix anywhere in a line and takes the token from the first base64url or '.' character after it to the end", () => {
    expect(readCredential(lines("Token Bearer a.b.c"), AUTHORIZATION)).toEqual(["a.b.c"]);
    expect(readCredential(lines("xBearer a.b.c"), AUTHORIZATION)).toEqual(["a.b.c"]);
    expect(readCredential(lines('Bearer   "a.b.c'), AUTHORIZATION)).toEqual(["a.b.c"]);
    expect(readCredential(lines("Bearer a.b.c junk"), AUTHORIZATION)).toEqual(["a.b.c junk"]);
    expect(readCredential(lines("Bearer x Bearer a.b.c"), AUTHORIZATION)).toEqual(["x Bearer a.b.c"]);
  });
  it("finds the prefix only as spelt, case and space included (a wrong allow: `bearer <t>` and `Bearer<TAB><t>` were read, Envoy finds no token)", () => {
    expect(readCredential(lines("bearer a.b.c"), AUTHORIZATION)).toEqual([]);
    expect(readCredential(lines("BEARER a.b.c"), AUTHORIZATION)).toEqual([]);
    expect(readCredential(lines("Bearer\ta.b.c"), AUTHORIZATION)).toEqual([]);
    expect(readCredential(lines("Bearer\u00a0a.b.c"), AUTHORIZATION)).toEqual([]);
  });
  it("reads nothing from a line without the prefix, and every line on its own", () => {
    expect(readCredential(lines("Bearera.b.c", "Basic dXNlcg=="), AUTHORIZATION)).toEqual([]);
    expect(readCredential(lines("Bearer a.b.c", "Bearer d.e.f"), AUTHORIZATION)).toEqual(["a.b.c", "d.e.f"]);
    expect(readCredential(lines("bearer a.b.c", "Bearer d.e.f"), AUTHORIZATION)).toEqual(["d.e.f"]);
  });
});

describe("readCredential: a line's Unicode spaces", () => {
  it("keeps the Unicode spaces String.trim removes (a wrong allow: a token with one was looked up without it)", () => {
    expect(readCredential(lines("Bearer a.b.c\u00a0"), AUTHORIZATION)).toEqual(["a.b.c\u00a0"]);
  });
});

describe("readCredential: a header without a prefix, as Envoy's jwt_authn extractor", () => {
  const BARE = { in: "header", name: "authorization", prefix: undefined } as const;
  it("yields every line whole, an empty or blank line as the empty token (a wrong allow: it was skipped, Envoy refuses it)", () => {
    expect(readCredential(lines(""), BARE)).toEqual([""]);
    expect(readCredential(lines(" \t "), BARE)).toEqual([""]);
    expect(readCredential(lines("a.b.c", ""), BARE)).toEqual(["a.b.c", ""]);
    expect(readCredential(lines("Bearer a.b.c"), BARE)).toEqual(["Bearer a.b.c"]);
  });
  it("yields nothing for an absent header, and no empty token where a prefix is configured", () => {
    expect(readCredential(lines(), BARE)).toEqual([]);
    expect(readCredential(lines("", " "), AUTHORIZATION)).toEqual([]);
  });
});

describe("readCredential: a query parameter or a cookie, as Envoy's jwt_authn extractor", () => {
  const request = (path: string, cookie?: string) =>
    normalizeRequest({
      method: "GET",
      scheme: "http",
      host: "h",
      path,
      headers: cookie === undefined ? {} : { cookie },
      gateway: undefined,
    });
  const PARAM = { in: "param", name: "access_token" } as const;
  const COOKIE = { in: "cookie", name: "session" } as const;

  it('takes an empty value as the empty token: `a=`, a bare `a`, `a=""` cookie', () => {
    expect(readCredential(request("/?access_token="), PARAM)).toEqual([""]);
    expect(readCredential(request("/?x=1&access_token"), PARAM)).toEqual([""]);
    expect(readCredential(request("/?access_token=&access_token=a.b.c"), PARAM)).toEqual(["", "a.b.c"]);
    expect(readCredential(request("/", "a=1; session="), COOKIE)).toEqual([""]);
    // Envoy removes the quotes; a reader keeping them sees `""` too, and every reading is checked.
    expect(readCredential(request("/", 'session=""').asEnvoyReads(), COOKIE)).toEqual([""]);
    expect(readCredential(request("/", 'session=""'), COOKIE)).toEqual(['""', ""]);
  });

  it("finds nothing under other names, nor in a cookie with no '='", () => {
    expect(readCredential(request("/?access_tokens=&token="), PARAM)).toEqual([]);
    expect(readCredential(request("/", "session; a="), COOKIE)).toEqual([]);
  });
});

describe("readCredential: its answer's shape", () => {
  it("answers one value as itself, the empty token too, and none or several as a list", () => {
    expect(readOne(lines("Bearer a.b.c"), AUTHORIZATION)).toBe("a.b.c");
    expect(readOne(lines("bearer x", "Bearer a.b.c"), AUTHORIZATION)).toBe("a.b.c");
    expect(readOne(lines(""), { in: "header", name: "authorization", prefix: undefined })).toBe("");
    expect(readOne(lines("Bearer a.b.c", "Bearer d.e.f", "Bearer g.h.i"), AUTHORIZATION)).toEqual(["a.b.c", "d.e.f", "g.h.i"]);
    expect(readOne(lines(), AUTHORIZATION)).toEqual([]);
    expect(readOtherwiseOne(lines("bearer a.b.c"), AUTHORIZATION)).toBe("a.b.c");
  });
});

describe("readCredentialOtherwise: the tokens other readers take where Envoy takes none or another", () => {
  it("reads the prefix in any letter case and any whitespace where it has a space", () => {
    expect(readCredentialOtherwise(lines("bearer a.b.c"), AUTHORIZATION)).toEqual(["a.b.c"]);
    expect(readCredentialOtherwise(lines("Bearer\ta.b.c"), AUTHORIZATION)).toEqual(["a.b.c"]);
    expect(readCredentialOtherwise(lines("Bearer\u00a0a.b.c"), AUTHORIZATION)).toEqual(["a.b.c"]);
    expect(readCredentialOtherwise(lines("bearer x Bearer a.b.c"), AUTHORIZATION)).toEqual(["x Bearer a.b.c"]);
  });
  it("yields nothing where Envoy takes the same token, and nothing from a query parameter or a cookie", () => {
    expect(readCredentialOtherwise(lines("Bearer a.b.c", "Token Bearer d.e.f", "Basic dXNlcg=="), AUTHORIZATION)).toEqual([]);
    expect(readCredentialOtherwise(lines("bearer a.b.c"), { in: "param", name: "authorization" })).toEqual([]);
  });
});

describe("cookieHeaderWithout", () => {
  it("removes every copy of the named cookies and keeps the rest", () => {
    expect(cookieHeaderWithout("a=1; key=x; b=2; key=y", new Set(["key"]))).toBe("a=1; b=2");
    expect(cookieHeaderWithout("key=x", new Set(["key"]))).toBeUndefined();
  });
  it("removes a named cookie whatever the letter case of its name, as an upstream may read it in any case", () => {
    expect(cookieHeaderWithout("a=1; KEY=x; Key=y", new Set(["key"]))).toBe("a=1");
    expect(cookieHeaderWithout("a=1; apikey=x", new Set(["ApiKey"]))).toBe("a=1");
  });
  it("removes a pair holding a comma one of whose pieces names one (a parser splitting at ',' reads it), keeps other commas", () => {
    expect(cookieHeaderWithout("a=1,key=x; b=2,3; c=4, Key =y", new Set(["key"]))).toBe("b=2,3");
  });
});
