/** jwt's token search: the tokens a request holds, on each reading, with their readers (controller/features/jwt/token-search.ts). */
import { describe, expect, it } from "vitest";
import { readCredential, readCredentialOtherwise } from "../../../controller/authz/credentials.ts";
import { normalizeRequest } from "../../../controller/authz/request.ts";
import type { CompiledJwt, CompiledJwtProvider } from "../../../controller/features/jwt/compile.ts";
import {
  bothFound,
  describeTokens,
  envoyFindsNone,
  envoyReadFirst,
  FoundToken,
  type FoundTokens,
  foundToken,
  readsParamOrCookie,
  tokenAt,
  tokenCount,
  tokensIn,
  withoutEmptyOnlyOthersFind,
} from "../../../controller/features/jwt/token-search.ts";

const provider = (name: string, sources: CompiledJwtProvider["sources"]): CompiledJwtProvider => ({
  name,
  issuer: undefined,
  audiences: [],
  jwks: { kind: "local", keys: [] },
  claimToHeaders: [],
  recomputeRoute: false,
  sources,
});
const jwt = (...providers: CompiledJwtProvider[]): CompiledJwt => ({ optional: false, failOpen: false, providers });
const BEARER = { in: "header", name: "authorization", prefix: "Bearer " } as const;
const QUERY = { in: "param", name: "access_token" } as const;
const request = (path: string, headers: Record<string, string> = {}) =>
  normalizeRequest({ method: "GET", scheme: "https", host: "api.example.com", path, headers, gateway: undefined });
/** The tokens found as [token, readers] pairs, whatever their number (one is answered as itself: see "answers one token as itself"). */
const listed = (found: FoundTokens) =>
  Array.from({ length: tokenCount(found) }, (_, i) => [tokenAt(found, i).token, tokenAt(found, i).readers]);

describe("tokensIn", () => {
  it("finds each token once, with every provider that reads it from where it was found", () => {
    const config = jwt(provider("a", [BEARER]), provider("b", [BEARER, QUERY]));
    const found = tokensIn(config, request("/?access_token=q", { authorization: "Bearer h" }), readCredential);
    expect(listed(found)).toEqual([
      ["h", [0, 1]],
      ["q", [1]],
    ]);
    expect(describeTokens(found, config)).toEqual(["a token read by a, b", "a token read by b"]);
  });

  it("shares one readers list per provider and never grows it: a token a second provider reads gets a copy", () => {
    const withBearer = request("/", { authorization: "Bearer h" });
    const onlyA = jwt(provider("a", [BEARER]));
    const shared = tokenAt(tokensIn(onlyA, withBearer, readCredential), 0).readers;
    const both = tokensIn(jwt(provider("a", [BEARER]), provider("b", [BEARER])), withBearer, readCredential);
    expect(listed(both)).toEqual([["h", [0, 1]]]);
    expect(tokenAt(both, 0).readers).not.toBe(shared);
    expect(shared).toEqual([0]);
    expect(tokenAt(tokensIn(onlyA, withBearer, readCredential), 0).readers).toBe(shared);
  });

  it("finds nothing Envoy's extractor does not match, and that token with another reader's reading", () => {
    const config = jwt(provider("a", [BEARER]));
    const lower = request("/", { authorization: "bearer h" });
    expect(listed(tokensIn(config, lower, readCredential))).toEqual([]);
    expect(listed(tokensIn(config, lower, readCredentialOtherwise))).toEqual([["h", [0]]]);
  });

  it("answers one token as itself and several as a list, in order, each with its readers", () => {
    const config = jwt(provider("a", [BEARER]), provider("b", [QUERY]));
    const one = tokensIn(config, request("/", { authorization: "Bearer h" }), readCredential);
    expect(one).toBeInstanceOf(FoundToken);
    expect([tokenCount(one), tokenAt(one, 0).token, tokenAt(one, 0).readers]).toEqual([1, "h", [0]]);
    const three = tokensIn(config, request("/?access_token=q&access_token=r", { authorization: "Bearer h" }), readCredential);
    expect(Array.isArray(three)).toBe(true);
    expect(listed(three)).toEqual([
      ["h", [0]],
      ["q", [1]],
      ["r", [1]],
    ]);
    expect(foundToken(three, "q")).toBe(tokenAt(three, 1));
    expect(foundToken(three, "x")).toBeUndefined();
    expect(tokenCount(tokensIn(config, request("/"), readCredential))).toBe(0);
  });

  it("bothFound: the first's tokens, then the second's, whatever their shapes", () => {
    const config = jwt(provider("a", [BEARER]), provider("b", [QUERY]));
    const one = tokensIn(config, request("/", { authorization: "Bearer h" }), readCredential);
    const two = tokensIn(config, request("/?access_token=q&access_token=r"), readCredential);
    expect(listed(bothFound(one, two))).toEqual([
      ["h", [0]],
      ["q", [1]],
      ["r", [1]],
    ]);
    expect(listed(bothFound(two, one))).toEqual([
      ["q", [1]],
      ["r", [1]],
      ["h", [0]],
    ]);
  });
});

describe("the query's and cookies' readings", () => {
  it("readsParamOrCookie: whether any provider reads a location other than a header", () => {
    expect(readsParamOrCookie(jwt(provider("a", [BEARER])))).toBe(false);
    expect(readsParamOrCookie(jwt(provider("a", [BEARER]), provider("b", [QUERY])))).toBe(true);
  });

  it("envoyFindsNone: a token found only at a ';' of the query is one Envoy does not find", () => {
    const config = jwt(provider("a", [QUERY]));
    expect(envoyFindsNone(config, request("/?x=1;access_token=t"))).toBe(true);
    expect(envoyFindsNone(config, request("/?x=1&access_token=t"))).toBe(false);
  });

  it("withoutEmptyOnlyOthersFind: drops an empty token only another reading finds, keeps one Envoy finds", () => {
    const config = jwt(provider("a", [QUERY]));
    const split = request("/?x=1;access_token=");
    expect(listed(withoutEmptyOnlyOthersFind(tokensIn(config, split, readCredential), config, split))).toEqual([]);
    const plain = request("/?access_token=");
    expect(listed(withoutEmptyOnlyOthersFind(tokensIn(config, plain, readCredential), config, plain))).toEqual([["", [0]]]);
  });

  it("envoyReadFirst: the tokens Envoy finds come before those only another reading finds, each in its order", () => {
    const COOKIE = { in: "cookie", name: "session" } as const;
    const config = jwt(provider("cookies", [COOKIE]), provider("bearer", [BEARER]));
    // `SESSION` is a session cookie only to a reader of names in any case; Envoy finds the header's token.
    const caseCopy = request("/", { cookie: "SESSION=c", authorization: "Bearer h" });
    expect(listed(envoyReadFirst(tokensIn(config, caseCopy, readCredential), config, caseCopy))).toEqual([
      ["h", [1]],
      ["c", [0]],
    ]);
    // Both read by Envoy: the order found, the same list.
    const both = request("/", { cookie: "session=c", authorization: "Bearer h" });
    const found = tokensIn(config, both, readCredential);
    expect(envoyReadFirst(found, config, both)).toBe(found);
    expect(listed(found)).toEqual([
      ["c", [0]],
      ["h", [1]],
    ]);
  });
});
