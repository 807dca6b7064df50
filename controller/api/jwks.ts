/**
 * JSON Web Key Set documents (RFC 7517): the one parser shared by local JWKS (validated at compile
 * time) and remote JWKS (validated on every fetch), so both reject the same things.
 */
import { createPublicKey, createSecretKey, type KeyObject } from "node:crypto";
import { z } from "zod";
import { parseStrictJsonText } from "../lib/strict-json.ts";

/** One JWK as found in a set; only the members Portcullis reads are typed, the rest pass through. */
export const JwkSchema = z
  .object({
    kty: z.enum(["RSA", "EC", "OKP", "oct"]),
    kid: z.string().optional(),
    alg: z.string().optional(),
    use: z.string().optional(),
  })
  .passthrough();
export type Jwk = z.infer<typeof JwkSchema>;

const JwksDocumentSchema = z.object({ keys: z.array(z.unknown()) });

/** A key ready for signature verification. */
export interface VerificationKey {
  readonly kid: string | undefined;
  /** The JWK's `alg`, when it names one: a token must then use exactly that algorithm. */
  readonly alg: string | undefined;
  readonly kty: Jwk["kty"];
  readonly key: KeyObject;
}

export type JwksParseResult =
  | {
      readonly ok: true;
      readonly keys: readonly VerificationKey[];
      /** Keys left out (not for signatures, not importable), with why. */
      readonly skipped: readonly string[];
      /** Keys kept that can never verify a token Portcullis accepts (too weak, a curve no JWS algorithm uses), with why. */
      readonly unusable: readonly string[];
    }
  | { readonly ok: false; readonly error: string };

/** The smallest RSA modulus Portcullis verifies with (NIST SP 800-131A: smaller keys are disallowed). */
export const MIN_RSA_BITS = 2048;
/**
 * Whether an RSA key's public exponent is one Envoy's jwt_authn reads (source/common/jwt/jwks.cc
 * skips a key with any other: "non-standard key; reject it early").
 */
export const isEnvoyRsaExponent = (exponent: bigint | undefined): boolean => exponent === 3n || exponent === 65537n;
/** Curves of ES256, ES384 and ES512 (RFC 7518 §3.4), by Node's names. */
const SIGNING_CURVES = new Set(["prime256v1", "secp384r1", "secp521r1"]);

/**
 * Parses a JWKS document. Keys that cannot be used for signatures (`use` other than `sig`, an
 * unknown `kty`, material that does not import) are skipped with a reason; a document with no
 * key left at all is an error, because a provider without keys can never accept a token. Keys
 * that import but can never verify (an RSA key under 2048 bits) are kept and listed as unusable,
 * so that the policy's status and the key store's log say so.
 */
export function parseJwks(text: string): JwksParseResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The parser's message quotes the document; a status condition or log must not.
    return { ok: false, error: "JWKS is not valid JSON" };
  }
  // Envoy reads a JWKS with protobuf's JSON parser, which refuses what JSON.parse reads its own way
  // (the last of two "keys" kept, half a character, Infinity): Envoy would take no key from it.
  if (parseStrictJsonText(text) === undefined && typeof json === "object" && json !== null && !Array.isArray(json))
    return {
      ok: false,
      error:
        "JWKS is not JSON Envoy's parser reads (a member named twice in one object, nesting deeper than 100, a lone surrogate or a number beyond a double): Envoy takes no key from it",
    };
  const doc = JwksDocumentSchema.safeParse(json);
  if (!doc.success) return { ok: false, error: 'JWKS must be a JSON object with a "keys" array' };
  const keys: VerificationKey[] = [];
  const skipped: string[] = [];
  const unusable: string[] = [];
  doc.data.keys.forEach((raw, index) => {
    const jwk = JwkSchema.safeParse(raw);
    const label = `key ${index}`;
    if (!jwk.success) {
      skipped.push(`${label}: not a JWK with a supported kty (RSA, EC, OKP, oct)`);
      return;
    }
    const name = jwk.data.kid === undefined ? label : `${label} (kid ${jwk.data.kid})`;
    if (jwk.data.use !== undefined && jwk.data.use !== "sig") {
      skipped.push(`${name}: use is "${jwk.data.use}", not "sig"`);
      return;
    }
    let key: KeyObject;
    try {
      key = importJwk(jwk.data);
    } catch (e) {
      skipped.push(`${name}: ${(e as Error).message}`);
      return;
    }
    keys.push({ kid: jwk.data.kid, alg: jwk.data.alg, kty: jwk.data.kty, key });
    const why = whyNeverVerifies(key);
    if (why !== undefined) unusable.push(`${name} ${why}, so a token it signed is always refused`);
  });
  if (keys.length === 0) {
    const why = skipped.length > 0 ? `: ${skipped.join("; ")}` : "";
    return { ok: false, error: `JWKS has no usable signing key${why}` };
  }
  return { ok: true, keys, skipped, unusable };
}

/** Why a public key can never verify a signature that jwt-verify.ts accepts; undefined when it may. */
function whyNeverVerifies(key: KeyObject): string | undefined {
  switch (key.asymmetricKeyType) {
    case "rsa": {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < MIN_RSA_BITS) return `is an RSA key of ${bits} bits (at least ${MIN_RSA_BITS} are required)`;
      const exponent = key.asymmetricKeyDetails?.publicExponent;
      return isEnvoyRsaExponent(exponent)
        ? undefined
        : `is an RSA key with the public exponent ${exponent}, which Envoy's jwt_authn does not read (only 3 and 65537)`;
    }
    case "ed448":
      return "is an Ed448 key, which Envoy's jwt_authn does not read (EdDSA with Ed25519 only)";
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return curve !== undefined && SIGNING_CURVES.has(curve)
        ? undefined
        : `is an EC key on ${curve ?? "an unnamed curve"}, which no accepted algorithm (ES256, ES384, ES512) uses`;
    }
    case "x25519":
    case "x448":
      return `is an ${key.asymmetricKeyType.toUpperCase()} key, which agrees keys and cannot sign`;
    default:
      return undefined;
  }
}

const REQUIRED_MEMBERS: Record<Exclude<Jwk["kty"], "oct">, readonly string[]> = {
  RSA: ["n", "e"],
  EC: ["crv", "x", "y"],
  OKP: ["crv", "x"],
};

function importJwk(jwk: Jwk): KeyObject {
  if (jwk.kty === "oct") {
    const k = (jwk as { k?: unknown }).k;
    if (typeof k !== "string" || k.length === 0) throw new Error('oct key has no "k"');
    return createSecretKey(Buffer.from(k, "base64url"));
  }
  const missing = REQUIRED_MEMBERS[jwk.kty].filter((m) => typeof (jwk as Record<string, unknown>)[m] !== "string");
  if (missing.length > 0) throw new Error(`${jwk.kty} key lacks ${missing.join(", ")}`);
  // A JWK that carries private members imports as a private key: only its public half is kept.
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, ...publicJwk } = jwk as Record<string, unknown>;
  try {
    return createPublicKey({ key: publicJwk as import("node:crypto").JsonWebKey, format: "jwk" });
  } catch {
    // Node's own wording varies between versions; a status condition must not.
    throw new Error(`${jwk.kty} key material is not a valid public key`);
  }
}
