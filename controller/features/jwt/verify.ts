/**
 * JWS compact decoding and signature verification, synchronous over keys imported once. Every
 * check a careful JOSE library makes is here: strict base64url, a size cap, an algorithm
 * allow-list bound to the key's type and curve, no `none`, no unknown `crit`, RSA keys of at
 * least 2048 bits. Header members that point at other keys (jku, x5u, jwk, x5c) are ignored.
 * Segments must be canonical base64url of UTF-8 JSON objects without duplicate member names
 * (lib/strict-json.ts); `typ`, when present, must say the token is a JWT access token (RFC 8725 §3.11).
 */
import { Buffer } from "node:buffer"; // not the global Buffer: a getter, about 17 ns a use (Node 24)
import { constants, createHmac, timingSafeEqual, verify, type KeyObject } from "node:crypto";
import { isEnvoyRsaExponent, MIN_RSA_BITS, type VerificationKey } from "../../api/jwks.ts";
import { BoundedMap } from "../../lib/bounded-map.ts";
import { fail, ok, type Result } from "../../lib/result.ts";
import { isCanonicalBase64urlText, parseStrictJsonObject } from "../../lib/strict-json.ts";

/** Tokens larger than this are refused before any parsing. */
export const MAX_TOKEN_BYTES = 16 * 1024;

export interface DecodedJwt {
  readonly alg: string;
  readonly kid: string | undefined;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly signingInput: string;
  /** The signature segment (canonical base64url, not empty): decoded by verifySignature, an ECDSA one straight into its DER form. */
  readonly signature: string;
}

type Spec =
  | { readonly family: "rsa"; readonly hash: string; readonly pss: boolean }
  | { readonly family: "ec"; readonly hash: string; readonly curve: string; readonly sigBytes: number }
  | { readonly family: "okp" }
  | { readonly family: "hmac"; readonly hash: string };

const ALGORITHMS: Readonly<Record<string, Spec>> = {
  RS256: { family: "rsa", hash: "sha256", pss: false },
  RS384: { family: "rsa", hash: "sha384", pss: false },
  RS512: { family: "rsa", hash: "sha512", pss: false },
  PS256: { family: "rsa", hash: "sha256", pss: true },
  PS384: { family: "rsa", hash: "sha384", pss: true },
  PS512: { family: "rsa", hash: "sha512", pss: true },
  ES256: { family: "ec", hash: "sha256", curve: "prime256v1", sigBytes: 64 },
  ES384: { family: "ec", hash: "sha384", curve: "secp384r1", sigBytes: 96 },
  ES512: { family: "ec", hash: "sha512", curve: "secp521r1", sigBytes: 132 },
  EdDSA: { family: "okp" },
  HS256: { family: "hmac", hash: "sha256" },
  HS384: { family: "hmac", hash: "sha384" },
  HS512: { family: "hmac", hash: "sha512" },
};

/** Three base64url segments, the first two not empty: one pass over the whole token. */
const COMPACT_BASE64URL = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** What a JOSE header segment decides on its own: the algorithm and kid a token names, or why it is refused (decodeJwt's error). */
export type HeaderVerdict = { readonly alg: string; readonly kid: string | undefined } | string;

const HEADER_NOT_JSON = "token header is not a JSON object (UTF-8, each member once)";

/**
 * Header verdicts by segment: an issuer signs with a few keys, so every new token repeats one of a
 * few headers, and its alg, crit, b64, kid and typ are decided once. Bounded, and only for segments
 * of ordinary size: the token cache asks before a token is decoded, so a client's segment could be
 * as long as a header line (1024 of 60 KiB held 84 MB).
 */
const headerVerdicts = new BoundedMap<string, HeaderVerdict>(1024);
const MAX_CACHED_HEADER = 512;

/**
 * The verdict of a header segment (a pure function of it; decodeJwt checks its characters first).
 * The token cache reads an ECDSA token's alg from it before the token is decoded.
 */
export function headerVerdictOf(segment: string): HeaderVerdict {
  if (segment.length > MAX_CACHED_HEADER) return judgeHeader(segment);
  let verdict = headerVerdicts.get(segment);
  if (verdict === undefined) headerVerdicts.set(segment, (verdict = judgeHeader(segment)));
  return verdict;
}

function judgeHeader(segment: string): HeaderVerdict {
  const header = parseStrictJsonObject(segment);
  if (header === undefined) return HEADER_NOT_JSON;
  const { alg, kid } = header;
  if (typeof alg !== "string" || !Object.hasOwn(ALGORITHMS, alg)) return `token algorithm ${JSON.stringify(alg)} is not accepted`;
  if (header.crit !== undefined) return "token header has crit extensions Portcullis does not understand";
  if (header.b64 !== undefined) return "token header b64 is not supported";
  if (kid !== undefined && typeof kid !== "string") return "token kid is not a string";
  if (header.typ !== undefined && !isAccessTokenType(header.typ)) return "token typ is not JWT or at+jwt";
  return { alg, kid };
}

/**
 * Decodes a compact JWS; the error says what is malformed (safe to log: it never quotes the token).
 * Of several faults the first of these is named: not three parts, not base64url, not canonical,
 * the header not a JSON object, the payload not one, the header's members, no signature.
 */
export function decodeJwt(token: string): Result<DecodedJwt, string> {
  if (token.length > MAX_TOKEN_BYTES) return fail(`token is larger than ${MAX_TOKEN_BYTES} bytes`);
  const first = token.indexOf(".");
  const last = token.lastIndexOf(".");
  if (first === -1 || token.indexOf(".", first + 1) !== last) return fail("token is not a compact JWS (three dot-separated parts)");
  const h = token.slice(0, first);
  const p = token.slice(first + 1, last);
  const s = token.slice(last + 1);
  if (!COMPACT_BASE64URL.test(token)) return fail("token is not base64url encoded");
  // Another spelling of the same bytes would be another token string for the same signature.
  if (!isCanonicalBase64urlText(h) || !isCanonicalBase64urlText(p) || !isCanonicalBase64urlText(s))
    return fail("token is not canonical base64url");
  const header = headerVerdictOf(h);
  if (header === HEADER_NOT_JSON) return fail(HEADER_NOT_JSON);
  const payload = parseStrictJsonObject(p);
  if (payload === undefined) return fail("token payload is not a JSON object (UTF-8, each member once)");
  if (typeof header === "string") return fail(header);
  if (s === "") return fail("token has no signature");
  return ok({ alg: header.alg, kid: header.kid, payload, signingInput: token.slice(0, last), signature: s });
}

/**
 * RFC 8725 §3.11 explicit typing: a token typed as something else (dpop+jwt, logout+jwt,
 * secevent+jwt, …) is not an access token, whoever signed it. Absent, "JWT" (RFC 7519) and
 * "at+jwt" (RFC 9068) are accepted; media types are case-insensitive and "application/" may be
 * omitted (RFC 7515 §4.1.9).
 */
function isAccessTokenType(typ: unknown): boolean {
  if (typeof typ !== "string") return false;
  const t = typ.toLowerCase();
  const full = t.includes("/") ? t : `application/${t}`;
  return full === "application/jwt" || full === "application/at+jwt";
}

/** What decides which algorithms a key may verify, read from a KeyObject once. */
interface KeyFacts {
  readonly type: KeyObject["type"];
  readonly asymmetricKeyType: KeyObject["asymmetricKeyType"];
  readonly namedCurve: string | undefined;
  readonly modulusLength: number;
  /** An RSA key's public exponent (undefined for other keys). */
  readonly publicExponent: bigint | undefined;
}

/**
 * Facts by key: KeyObject's getters go to the native key each time (asymmetricKeyDetails builds a
 * new object), on every new token. Keys are immutable, so the facts are too; entries go with their keys.
 */
const factsByKey = new WeakMap<KeyObject, KeyFacts>();

function factsOf(k: KeyObject): KeyFacts {
  let facts = factsByKey.get(k);
  if (facts === undefined) {
    const details = k.asymmetricKeyDetails;
    facts = {
      type: k.type,
      asymmetricKeyType: k.asymmetricKeyType,
      namedCurve: details?.namedCurve,
      modulusLength: details?.modulusLength ?? 0,
      publicExponent: details?.publicExponent,
    };
    factsByKey.set(k, facts);
  }
  return facts;
}

/**
 * Where an ECDSA signature's bytes are decoded on their way to DER: the largest (ES512) is 132 bytes, and
 * a segment that decodes to more (truncated here) cannot have the length its algorithm requires.
 */
const ECDSA_SIGNATURE = Buffer.alloc(256);

/** True when `key` may verify `jwt.alg` and the signature holds. Never throws. */
export function verifySignature(jwt: DecodedJwt, key: VerificationKey): boolean {
  const spec = ALGORITHMS[jwt.alg]!;
  if (key.alg !== undefined && key.alg !== jwt.alg) return false;
  const k = key.key;
  try {
    const facts = factsOf(k);
    switch (spec.family) {
      case "rsa": {
        if (facts.type !== "public" || facts.asymmetricKeyType !== "rsa" || facts.modulusLength < MIN_RSA_BITS) return false;
        if (!isEnvoyRsaExponent(facts.publicExponent)) return false;
        const options = spec.pss
          ? { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
          : { key: k, padding: constants.RSA_PKCS1_PADDING };
        return verify(spec.hash, Buffer.from(jwt.signingInput), options, Buffer.from(jwt.signature, "base64url"));
      }
      case "ec":
        if (facts.type !== "public" || facts.asymmetricKeyType !== "ec" || facts.namedCurve !== spec.curve) return false;
        // Decoded into ECDSA_SIGNATURE, not a buffer of its own: only its DER form is handed on.
        if (ECDSA_SIGNATURE.write(jwt.signature, 0, "base64url") !== spec.sigBytes) return false;
        return verify(spec.hash, Buffer.from(jwt.signingInput), k, derSignature(ECDSA_SIGNATURE, spec.sigBytes));
      case "okp":
        // Envoy's jwt_authn reads OKP keys on Ed25519 only (BoringSSL has no Ed448).
        if (facts.type !== "public" || facts.asymmetricKeyType !== "ed25519") return false;
        return verify(null, Buffer.from(jwt.signingInput), k, Buffer.from(jwt.signature, "base64url"));
      case "hmac": {
        if (facts.type !== "secret") return false;
        const expected = createHmac(spec.hash, k).update(jwt.signingInput).digest();
        const signature = Buffer.from(jwt.signature, "base64url");
        return expected.length === signature.length && timingSafeEqual(expected, signature);
      }
    }
  } catch {
    return false;
  }
}

/**
 * A JWS ECDSA signature (RFC 7518 §3.4: R and S as fixed-width big-endian integers) in the DER
 * form OpenSSL verifies natively (RFC 3279 §2.2.3: SEQUENCE of two INTEGERs). Node's own
 * `dsaEncoding: "ieee-p1363"` conversion costs about 40% of an ES256 verification; this one a
 * few hundred nanoseconds. OpenSSL re-encodes what it parses and refuses a signature whose DER
 * differs, so a conversion mistake could only deny, never allow. `length`: the signature's bytes at
 * the start of `p1363` (a buffer reused for every signature may hold more).
 */
export function derSignature(p1363: Buffer, length = p1363.length): Buffer {
  const half = length / 2;
  const r = significantStart(p1363, 0, half);
  const s = significantStart(p1363, half, length);
  const rBytes = integerBytes(p1363, r, half);
  const sBytes = integerBytes(p1363, s, length);
  const content = 2 + rBytes + 2 + sBytes;
  // P-521's two integers can exceed 127 bytes: the length then takes the long form (one byte).
  const der = Buffer.allocUnsafe((content < 0x80 ? 2 : 3) + content);
  let at = 0;
  der[at++] = 0x30;
  if (content >= 0x80) der[at++] = 0x81;
  der[at++] = content;
  at = writeInteger(der, at, p1363, r, half, rBytes);
  writeInteger(der, at, p1363, s, length, sBytes);
  return der;
}

/** Where the unsigned big-endian integer in bytes [from, to) starts once its leading zero bytes go (its last byte stays). */
function significantStart(bytes: Buffer, from: number, to: number): number {
  while (from < to - 1 && bytes[from] === 0) from++;
  return from;
}

/** The DER INTEGER content length of bytes [from, to): one 0x00 more before a high bit. */
const integerBytes = (bytes: Buffer, from: number, to: number) => to - from + (bytes[from]! >= 0x80 ? 1 : 0);

/** Writes bytes [from, to) at `at` as a DER INTEGER of `length` content bytes; returns where it ends. */
function writeInteger(der: Buffer, at: number, bytes: Buffer, from: number, to: number, length: number): number {
  der[at++] = 0x02;
  der[at++] = length;
  if (length > to - from) der[at++] = 0;
  bytes.copy(der, at, from, to);
  return at + to - from;
}

/** Clock leeway for exp and nbf, as Envoy's default. */
export const CLOCK_SKEW_SECONDS = 60;

/** Why a token's claims refuse it, as a reason code (authz/decision.ts) and Envoy jwt_authn's words. */
export type ClaimsProblem = {
  readonly code: "jwt_invalid" | "jwt_expired" | "jwt_not_yet_valid" | "jwt_unknown_issuer" | "jwt_audience";
  readonly message: string;
};

/**
 * Registered-claim checks (RFC 7519 §4.1) with `skewSeconds` of clock leeway: exp, nbf, iss and
 * aud. First the members' types, as Envoy's jwt_authn parses a payload (source/common/jwt/jwt.cc):
 * iss, sub and jti strings when present; iat, nbf and exp numbers in [0, 2^64) (it reads them as
 * unsigned 64-bit integers and refuses the token otherwise, though iat bounds nothing); aud a string
 * or an array of strings only. A token Envoy refuses for its types must not be allowed here for
 * its values. `issuer` and `audiences` come from the provider; undefined / empty accept any.
 */
export function checkClaims(
  payload: Readonly<Record<string, unknown>>,
  nowSeconds: number,
  skewSeconds: number,
  issuer: string | undefined,
  audiences: readonly string[],
): ClaimsProblem | undefined {
  const { exp, nbf, iss, aud } = payload;
  for (const name of STRING_CLAIMS) {
    const value = payload[name];
    if (value !== undefined && typeof value !== "string") return { code: "jwt_invalid", message: `Jwt ${name} claim is not a string` };
  }
  for (const name of TIME_CLAIMS) {
    const value = payload[name];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value)) return { code: "jwt_invalid", message: `Jwt ${name} claim is not a number` };
    if (value < 0 || value >= TWO_TO_THE_64) return { code: "jwt_invalid", message: `Jwt ${name} claim is out of range` };
  }
  if (aud !== undefined && typeof aud !== "string" && !(Array.isArray(aud) && aud.every((a) => typeof a === "string")))
    return { code: "jwt_invalid", message: "Jwt aud claim is not a string or an array of strings" };
  if (typeof exp === "number" && nowSeconds >= exp + skewSeconds) return { code: "jwt_expired", message: "Jwt is expired" };
  if (typeof nbf === "number" && nowSeconds + skewSeconds < nbf) return { code: "jwt_not_yet_valid", message: "Jwt is not yet valid" };
  if (issuer !== undefined && iss !== issuer) return { code: "jwt_unknown_issuer", message: "Jwt issuer is not configured" };
  if (audiences.length > 0 && !namesAudience(aud as string | readonly string[] | undefined, audiences))
    return { code: "jwt_audience", message: "Audiences in Jwt are not allowed" };
  return undefined;
}

/** Claims Envoy's jwt_authn refuses a token for when present and not strings. */
const STRING_CLAIMS = ["iss", "sub", "jti"] as const;
/** Claims it reads as unsigned 64-bit integers, in the order it reads them. */
const TIME_CLAIMS = ["iat", "nbf", "exp"] as const;
/** The first number Envoy's `value >= (double)UINT64_MAX` finds out of range. */
const TWO_TO_THE_64 = 2 ** 64;

/** Whether `aud` (a string or an array of strings, checked before) names one of `audiences`. */
function namesAudience(aud: string | readonly string[] | undefined, audiences: readonly string[]): boolean {
  if (aud === undefined) return false;
  if (typeof aud === "string") return audiences.includes(aud);
  return aud.some((a) => audiences.includes(a));
}
