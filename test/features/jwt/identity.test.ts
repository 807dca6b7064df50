/** A verified jwt's identity: claim headers, principal, the cache's verdict (controller/features/jwt/identity.ts). */
import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import type { VerificationKey } from "../../../controller/api/jwks.ts";
import type { CompiledJwt } from "../../../controller/features/jwt/compile.ts";
import { headerValueOf, remember } from "../../../controller/features/jwt/identity.ts";
import { TokenCache } from "../../../controller/features/jwt/token-cache.ts";
import { CLOCK_SKEW_SECONDS, type DecodedJwt } from "../../../controller/features/jwt/verify.ts";

describe("headerValueOf: a claim as a header's value", () => {
  const base64Json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64");
  it.each([
    ["José", "José"],
    [3, "3"],
    [false, "false"],
    [["a", 1, true], "a,1,true"],
    [["a,b", "c"], base64Json(["a,b", "c"])],
    [[{ x: 1 }], base64Json([{ x: 1 }])],
    [{ tier: "gold" }, base64Json({ tier: "gold" })],
    ["", undefined],
    [[], undefined],
    [null, undefined],
    [undefined, undefined],
  ])("%j → %j", (claim, expected) => expect(headerValueOf(claim)).toBe(expected));

  // Envoy's jwt_authn (convertClaimDoubleToString): a whole number from 0 to below 2^64 as an
  // integer, any other number as C's std::to_string of a double ("%f": six decimals, ties to even).
  it.each([
    [0, "0"],
    [-0, "0"],
    [42, "42"],
    [1e19, "10000000000000000000"],
    [2 ** 64 - 2048, "18446744073709549568"],
    [2 ** 64, "18446744073709551616.000000"],
    [1e21, "1000000000000000000000.000000"],
    [-1, "-1.000000"],
    [1.5, "1.500000"],
    [0.1, "0.100000"],
    [1e-7, "0.000000"],
    [-1e-7, "-0.000000"],
    [0.0078125, "0.007812"],
    [0.0234375, "0.023438"],
    [-0.0078125, "-0.007812"],
    [123456.9999996, "123457.000000"],
  ])("the number %d → %j, as Envoy writes it", (claim, expected) => expect(headerValueOf(claim)).toBe(expected));
});

describe("remember: a verified token's verdict", () => {
  const config: CompiledJwt = {
    optional: false,
    failOpen: false,
    providers: [
      {
        name: "idp",
        issuer: undefined,
        audiences: [],
        jwks: { kind: "local", keys: [] },
        claimToHeaders: [
          { header: "x-tier", claim: ["org", "tier"] },
          { header: "x-none", claim: ["absent"] },
        ],
        recomputeRoute: false,
        sources: [],
      },
    ],
  };
  const exp = 2_000_000_000;
  const jwt: DecodedJwt = {
    alg: "ES256",
    kid: "k1",
    payload: { sub: "u-1", exp, org: { tier: "gold" } },
    signingInput: "",
    signature: "",
  };
  const now = 1_000_000;

  it("on a token's first sight serves this request only: a pass per request, the doorkeeper told, nothing cached", () => {
    const cache = new TokenCache();
    const keys: readonly VerificationKey[] = [];
    expect(cache.verifiedBefore("t", keys, now)).toBe(false);
    const verdict = remember("t", jwt, config, 0, keys, cache, now, false);
    expect(cache.verifiedBefore("t", keys, now)).toBe(true);
    expect(verdict.passed.value).toMatchObject({ principal: "jwt idp sub=u-1", headers: { "x-tier": "gold" }, perRequest: true });
    expect(verdict.validUntil).toBe(now);
    expect(cache.get("t", config, now)).toBeUndefined();
  });

  it("on its second sight is cached until the token expires, leeway included, and needs no sub for a principal", () => {
    const cache = new TokenCache();
    const verdict = remember("t", { ...jwt, payload: { exp, org: { tier: "gold" } } }, config, 0, [], cache, now, true);
    expect(verdict.passed.value).toEqual({
      principal: "jwt idp",
      headers: { "x-tier": "gold" },
      strip: [],
      attributes: { jwt: { provider: "idp", claims: { exp, org: { tier: "gold" } } } },
    });
    expect(cache.get("t", config, now)).toBe(verdict);
    expect(verdict.validUntil).toBeLessThanOrEqual((exp + CLOCK_SKEW_SECONDS) * 1000);
  });
});
