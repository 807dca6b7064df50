/** One jwt's verification by the providers that read it, in order (controller/features/jwt/verification.ts). */
import { beforeAll, describe, expect, it } from "vitest";
import { parseJwks, type VerificationKey } from "../../../controller/api/jwks.ts";
import type { JwtContext } from "../../../controller/features/jwt/check.ts";
import type { CompiledJwt, CompiledJwtProvider } from "../../../controller/features/jwt/compile.ts";
import { TokenCache } from "../../../controller/features/jwt/token-cache.ts";
import { type TokenVerdict, Verification } from "../../../controller/features/jwt/verification.ts";
import { decodeJwt } from "../../../controller/features/jwt/verify.ts";
import { countingKeyStore } from "../../support/check-world.ts";
import { jwksOf, mint, signingKey, type SigningKey } from "../../support/tokens.ts";

const ISSUER = "https://idp.example.com";
let idp: SigningKey;
let stranger: SigningKey;
beforeAll(async () => {
  [idp, stranger] = await Promise.all([signingKey("idp-1"), signingKey("idp-1")]);
});

const keysOf = (key: SigningKey): readonly VerificationKey[] => {
  const parsed = parseJwks(jwksOf(key));
  if (!parsed.ok) throw new Error("the test JWKS does not parse");
  return parsed.keys;
};
const provider = (name: string, key: SigningKey, issuer: string | undefined, audiences: string[] = []): CompiledJwtProvider => ({
  name,
  issuer,
  audiences,
  jwks: { kind: "local", keys: keysOf(key) },
  claimToHeaders: [],
  recomputeRoute: false,
  sources: [],
});
const jwt = (...providers: CompiledJwtProvider[]): CompiledJwt => ({ optional: false, failOpen: false, providers });
const context = (firstWaits = false): JwtContext => ({
  keys: countingKeyStore({ firstWaits }).keys,
  memo: { tokens: new TokenCache() },
  now: () => Date.now(),
});
const EVERY_READER = [0, 1];

/** The verdict of `token`'s verification by providers `readers`, from the first on. */
function verdictOf(token: string, readers: readonly number[], config: CompiledJwt, ctx: JwtContext): TokenVerdict | Promise<TokenVerdict> {
  const decoded = decodeJwt(token);
  if (!decoded.ok) throw new Error(`the test token does not decode: ${decoded.error}`);
  return new Verification(token, decoded.value, readers, config, ctx, ctx.now()).from(0);
}

describe("Verification", () => {
  it("is decided by the first provider that takes the issuer and verifies the token, in the readers' order", async () => {
    const config = jwt(provider("other", idp, "https://other.example.com"), provider("idp", idp, ISSUER));
    const verdict = await verdictOf(await mint(idp, { iss: ISSUER, sub: "u" }), EVERY_READER, config, context());
    expect("error" in verdict ? verdict.error : verdict.provider).toBe(1);
  });

  it("tries only the providers that read the token from where it was found", async () => {
    const config = jwt(provider("first", idp, ISSUER), provider("second", idp, ISSUER));
    const verdict = await verdictOf(await mint(idp, { iss: ISSUER }), [1], config, context());
    expect("error" in verdict ? verdict.error : verdict.provider).toBe(1);
  });

  it("resumes after a key set that must be fetched, with the same verdict", async () => {
    const config = jwt(provider("idp", idp, ISSUER));
    const pending = verdictOf(await mint(idp, { iss: ISSUER }), [0], config, context(true));
    expect(pending).toBeInstanceOf(Promise);
    const verdict = await pending;
    expect("error" in verdict ? verdict.error : verdict.provider).toBe(0);
  });

  it("refuses with what says most: a genuine token's audience (403) over another provider's failed signature", async () => {
    const config = jwt(provider("forged", stranger, ISSUER), provider("idp", idp, ISSUER, ["billing"]));
    const verdict = await verdictOf(await mint(idp, { iss: ISSUER, aud: "api" }), EVERY_READER, config, context());
    expect("error" in verdict && [verdict.error.status, verdict.error.code]).toEqual([403, "jwt_audience"]);
  });

  it.each([
    ["a token no provider takes the issuer of", { iss: "https://elsewhere.example.com" }, {}, [401, "jwt_unknown_issuer"]],
    ["a token whose signature fails", { iss: ISSUER }, {}, [401, "jwt_bad_signature"]],
    ["a token with no key for its kid", { iss: ISSUER }, { kid: "gone" }, [401, "jwt_no_key"]],
  ])("refuses %s", async (_, claims, header, expected) => {
    const config = jwt(provider("idp", idp, ISSUER));
    const verdict = await verdictOf(await mint(stranger, claims, header), [0], config, context());
    expect("error" in verdict && [verdict.error.status, verdict.error.code]).toEqual(expected);
  });

  it("names a missing kid quoted and cut short, in the audit detail only, and tells the client Envoy's words", async () => {
    const config = jwt(provider("idp", idp, ISSUER));
    const long = await verdictOf(await mint(idp, { iss: ISSUER }, { kid: "k".repeat(100) }), [0], config, context());
    expect("error" in long && long.error.detail).toBe(`no key for kid "${"k".repeat(64)}…" (alg ES256); provider idp: test keys`);
    expect("error" in long && long.error.message).toBe("Jwks doesn't have key to match kid or alg from Jwt");
  });
});
