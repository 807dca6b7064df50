/** jwt's token search: the tokens a request holds, on each reading, with their readers (controller/features/jwt/token-search.ts). */
import { describe, expect, it } from "vitest";
import { readCredential, readCredentialOtherwise } from "../../../controller/authz/credentials.ts";
import { normalizeRequest } from "../../../controller/authz/request.ts";
import type { CompiledJwt, CompiledJwtProvider } from "../../../controller/features/jwt/compile.ts";
import {
  describeTokens,
  envoyFindsNone,
  readsParamOrCookie,
  tokensIn,
  withoutEmptyOnlyOthersFind,
} from "../../../controller/features/jwt/token-search.ts";

const provider = (name: string, sources: CompiledJwtProvider["sources"]): CompiledJwtProvider => ({
  name,
  issuer: undefined,
  audiences: [],
  jwks: { kind: "local", keys: [] },
  claimToHeaders: [],
  sources,
});
const jwt = (...providers: CompiledJwtProvider[]): CompiledJwt => ({ optional: false, failOpen: false, providers });
const BEARER = { in: "header", name: "authorization", prefix: "Bearer " } as const;
const QUERY = { in: "param", name: "access_token" } as const;
const request = (path: string, headers: Record<string, string> = {}) =>
  normalizeRequest({ method: "GET", scheme: "https", host: "api.example.com", path, headers, gateway: undefined });

describe("tokensIn", () => {
  it("finds each token once, with every provider that reads it from where it was found", () => {
    const config = jwt(provider("a", [BEARER]), provider("b", [BEARER, QUERY]));
    const found = tokensIn(config, request("/?access_token=q", { authorization: "Bearer h" }), readCredential);
    expect(found).toEqual([
      ["h", [0, 1]],
      ["q", [1]],
    ]);
    expect(describeTokens(found, config)).toEqual(["a token read by a, b", "a token read by b"]);
  });

  it("shares one readers list per provider and never grows it: a token a second provider reads gets a copy", () => {
    const withBearer = request("/", { authorization: "Bearer h" });
    const onlyA = jwt(provider("a", [BEARER]));
    const shared = tokensIn(onlyA, withBearer, readCredential)[0]![1];
    const both = tokensIn(jwt(provider("a", [BEARER]), provider("b", [BEARER])), withBearer, readCredential);
    expect(both).toEqual([["h", [0, 1]]]);
    expect(both[0]![1]).not.toBe(shared);
    expect(shared).toEqual([0]);
    expect(tokensIn(onlyA, withBearer, readCredential)[0]![1]).toBe(shared);
  });

  it("finds nothing Envoy's extractor does not match, and that token with another reader's reading", () => {
    const config = jwt(provider("a", [BEARER]));
    const lower = request("/", { authorization: "bearer h" });
    expect(tokensIn(config, lower, readCredential)).toEqual([]);
    expect(tokensIn(config, lower, readCredentialOtherwise)).toEqual([["h", [0]]]);
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
    expect(withoutEmptyOnlyOthersFind(tokensIn(config, split, readCredential), config, split)).toEqual([]);
    const plain = request("/?access_token=");
    expect(withoutEmptyOnlyOthersFind(tokensIn(config, plain, readCredential), config, plain)).toEqual([["", [0]]]);
  });
});
