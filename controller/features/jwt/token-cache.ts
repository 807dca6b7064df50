/**
 * Verified-token cache: a token verified once is not verified again until it expires (or for at
 * most `maxAgeMs`), as long as the key set it was verified with is still the one held: the caller
 * compares `keys` with what the key store selects now, so a token whose key left the JWKS is
 * refused at once, as Envoy (which keeps no verdict) refuses it. Bounded in bytes (an
 * estimate of each entry's heap: the token, its claims and what is passed on; `--jwt-cache-mib`);
 * the oldest entries go first (bounded-map.ts). Found by the start of the token's signature segment and then
 * compared whole (hashing a whole token costs more than comparing it), then by the policy's jwt
 * configuration, so a token used on routes of several policies keeps one verdict per policy. One
 * cache lives per snapshot, so a policy change never reuses old results.
 *
 * Admission on second sight: a token is admitted only when it comes a second time. On its first
 * sight it is verified, and the doorkeeper (an eighth of the bound, doorkeeper.ts) records only that this exact
 * token (its SHA-256) verified under this key set (the array the key store selected); nothing
 * else of it is kept, and nothing on the heap, so a stream of tokens each used once (the usual
 * all-new-token load) leaves nothing for the garbage collector. On its second sight that record stands for the signature check, which is not
 * run again; everything else (decoding, issuer, exp/nbf with the clock, audiences, the key set
 * still the one held) is decided again, and the token is admitted. A record never outlives the
 * token's exp or `maxAgeMs`; a token whose record was evicted is verified again, never less.
 *
 * An ECDSA signature has two spellings, (r, s) and (r, n − s), and both verify (as in Envoy, jose
 * and WebCrypto): a token and its other spelling are one token here. Both spellings start with the
 * same r, so they share an entry: when a token is not there but its entry is, its other spelling
 * is looked for there before the token is verified again, and the two never hold separate verdicts.
 * A token whose entry is absent (every new token) costs no spelling arithmetic at all.
 */
import { Buffer } from "node:buffer"; // not the global Buffer: a getter, about 17 ns a use (Node 24)
import { hash } from "node:crypto";
import type { VerificationKey } from "../../api/jwks.ts";
import type { CompiledJwt } from "./compile.ts";
import { BoundedMap } from "../../lib/bounded-map.ts";
import { Doorkeeper } from "./doorkeeper.ts";
import { fnv1a, FNV_OFFSET } from "../../lib/fingerprint.ts";
import { estimatedHeapBytes, KnownShapes } from "../../lib/heap-bytes.ts";
import type { Pass } from "../feature.ts";
import { headerVerdictOf, MAX_TOKEN_BYTES } from "./verify.ts";

export interface CachedToken {
  readonly token: string;
  /** The jwt configuration the token was verified under. */
  readonly config: CompiledJwt;
  /** Index of the provider that verified it. */
  readonly provider: number;
  /** The token's `kid`, and the keys the key store selected for it (one array per key set) when it was verified. */
  readonly kid: string | undefined;
  readonly keys: readonly VerificationKey[];
  readonly claims: Readonly<Record<string, unknown>>;
  /** What the jwt phase passes on when this is the request's first token, built once. */
  readonly passed: { readonly ok: true; readonly value: Pass };
  /** Epoch ms after which the entry is no longer used. */
  readonly validUntil: number;
  /** Estimated heap bytes the entry holds (its share of the cache's bound). */
  readonly bytes: number;
}

/**
 * The default bound, bytes: the doorkeeper's eighth holds about 22,000 records, the rest about
 * 11,000 tokens of 420 characters with eight claims (`make bench`'s), whose estimate is within
 * 1.25× of the heap they hold (test/features/jwt/token-cache.test.ts). Only tokens seen twice
 * are admitted, and a load of tokens each sent twice held 18.6 MiB of heap with it against
 * 32.4 MiB at 32 MiB, at the same CPU per request (BENCHMARKS.md, issue 17).
 */
export const DEFAULT_TOKEN_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * Heap an entry holds besides its token, claims, headers and principal (which are estimated), bytes:
 * the entry and the objects it passes on, its slot in the verdict list and the map, the key
 * (measured with small tokens: test/features/jwt/token-cache.test.ts).
 */
const ENTRY_OVERHEAD_BYTES = 300;

/** Verdicts kept per signature: one per policy the token was used with, the oldest replaced beyond this. */
const MAX_VERDICTS_PER_SIGNATURE = 8;

/** The doorkeeper's share of the bound: one part in this many. */
export const DOORKEEPER_SHARE = 8;

/** SHA-256 of a token that decoded (so ASCII: its UTF-8 bytes are its characters, one string one digest), as 32 latin1 characters. */
const digestOf = (token: string) => hash("sha256", token, "binary");

/**
 * Base64url characters of a signature segment the entry key is made of: 8 × 6 = 48 bits of r in
 * every ECDSA signature (so both spellings share the entry), more than the key's 30. Each character
 * costs a few nanoseconds (a token is a slice of its header line), and every new token is keyed three times.
 */
const R_PREFIX_CHARS = 8;

/**
 * The entry key: a 30-bit fingerprint (FNV-1a) of the start of the third segment, the signature of
 * a JWS (what follows the second dot; from the start of a string with fewer than two dots). Found with indexOf, not lastIndexOf, which V8 runs in its runtime at about three
 * times the cost. A number is hashed and compared without reading a string, which a miss (every new
 * token) would otherwise pay twice, once per generation of the map. Two starts with one fingerprint
 * share an entry, which answers for a whole token only.
 */
function keyOf(token: string): number {
  const start = token.indexOf(".", token.indexOf(".") + 1) + 1;
  const end = Math.min(start + R_PREFIX_CHARS, token.length);
  return fnv1a(FNV_OFFSET, token, start, end) & 0x3fffffff;
}

export class TokenCache {
  readonly #entries: BoundedMap<number, CachedToken[]>;
  /** The doorkeeper: tokens verified once, by entry key (the whole token by its SHA-256). */
  readonly #seen: Doorkeeper;
  /** Claim and header shapes priced so far: an issuer's tokens share a few (heap-bytes.ts). */
  readonly #shapes = new KnownShapes();
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;

  /**
   * `maxBytes`: the bound on the estimated heap of the verdicts and the doorkeeper's records together
   * (an eighth for the records; 0: nothing is cached or recorded, every token is verified every time).
   */
  constructor(maxBytes = DEFAULT_TOKEN_CACHE_BYTES, maxAgeMs = 60_000) {
    const doorkeeperBytes = Math.floor(maxBytes / DOORKEEPER_SHARE);
    this.#entries = new BoundedMap<number, CachedToken[]>(maxBytes - doorkeeperBytes, weighVerdicts);
    this.#seen = new Doorkeeper(doorkeeperBytes);
    this.#maxBytes = maxBytes;
    this.#maxAgeMs = maxAgeMs;
  }

  /** Estimated heap bytes held by the verdicts and the doorkeeper, at most the bound given. */
  get bytes(): number {
    return this.#entries.weight + this.#seen.bytes;
  }

  /**
   * Whether this exact token (or its other ECDSA spelling) verified earlier under `keys`, the very
   * array the key store selects for it now, and the record is still valid: then its signature
   * need not be checked again (the doorkeeper's answer; every other check is the caller's).
   * `token` must have decoded (verify.ts: ASCII), as for `recordVerified`.
   */
  verifiedBefore(token: string, keys: readonly VerificationKey[], now: number): boolean {
    const key = keyOf(token);
    // No record under the entry key (every new token): no SHA-256 computed.
    if (!this.#seen.holds(key, undefined, keys, now)) return false;
    if (this.#seen.holds(key, digestOf(token), keys, now)) return true;
    const other = otherEcdsaSpelling(token);
    return other !== undefined && this.#seen.holds(key, digestOf(other), keys, now);
  }

  /**
   * Records that `token` verified under `keys` (its first sight; `expiresAt` as for `set`): the
   * doorkeeper's record, which admits it on its second sight.
   */
  recordVerified(token: string, keys: readonly VerificationKey[], now: number, expiresAt: number | undefined): void {
    const validUntil = Math.min(now + this.#maxAgeMs, expiresAt ?? Infinity);
    if (validUntil <= now || this.#maxBytes === 0) return;
    this.#seen.record(keyOf(token), digestOf(token), keys, validUntil);
  }

  /** The verdict for `token` (or for its other ECDSA spelling) under `config`, while still valid. */
  get(token: string, config: CompiledJwt, now: number): CachedToken | undefined {
    const key = keyOf(token);
    const verdicts = this.#entries.get(key);
    if (verdicts === undefined) return undefined;
    const hit = this.#find(key, verdicts, token, config, now);
    if (hit !== undefined || !holdsConfig(verdicts, config)) return hit;
    const other = otherEcdsaSpelling(token);
    return other === undefined ? undefined : this.#find(key, verdicts, other, config, now);
  }

  #find(key: number, verdicts: CachedToken[], token: string, config: CompiledJwt, now: number): CachedToken | undefined {
    // The whole token must match: another payload under a copied signature is another token.
    let i = 0;
    while (i < verdicts.length && (verdicts[i]!.config !== config || verdicts[i]!.token !== token)) i++;
    if (i === verdicts.length) return undefined;
    const hit = verdicts[i]!;
    if (now < hit.validUntil) return hit;
    if (verdicts.length === 1) this.#entries.delete(key);
    else verdicts.splice(i, 1);
    return undefined;
  }

  /**
   * Remembers a verdict (admits the token; call it on its second sight); `expiresAt` is the token's
   * own limit (exp plus skew) in epoch ms, when it has one. Returns the entry, stored or not.
   */
  set(verdict: Omit<CachedToken, "validUntil" | "bytes">, now: number, expiresAt: number | undefined): CachedToken {
    const validUntil = Math.min(now + this.#maxAgeMs, expiresAt ?? Infinity);
    if (validUntil <= now || this.#maxBytes === 0) return { ...verdict, validUntil, bytes: 0 };
    const { token, config, provider, kid, keys, claims, passed } = verdict;
    const { principal, headers } = passed.value;
    const bytes =
      ENTRY_OVERHEAD_BYTES +
      estimatedHeapBytes(token) +
      estimatedHeapBytes(claims, this.#shapes) +
      estimatedHeapBytes(headers, this.#shapes) +
      estimatedHeapBytes(principal);
    const entry: CachedToken = { token, config, provider, kid, keys, claims, passed, validUntil, bytes };
    const key = keyOf(token);
    const earlier = this.#entries.get(key);
    // A new signature (every new token) is one array of one entry.
    this.#entries.set(key, earlier === undefined ? [entry] : withVerdict(earlier, entry));
    return entry;
  }
}

/*
 * The helpers below take what they compare as arguments: a method holding a closure (for filter or
 * some) allocates the closure's context on every call, the usual one without it too, and every new
 * token and every cached check calls these methods. Index loops: for…of may allocate an iterator.
 */

/** Whether `verdicts` hold one under `config`. */
function holdsConfig(verdicts: readonly CachedToken[], config: CompiledJwt): boolean {
  for (let i = 0; i < verdicts.length; i++) if (verdicts[i]!.config === config) return true;
  return false;
}

/** `earlier` verdicts of an entry key but `entry`'s own (its token and configuration), the newest kept, then `entry`. */
function withVerdict(earlier: readonly CachedToken[], entry: CachedToken): CachedToken[] {
  const kept = earlier.filter((v) => v.config !== entry.config || v.token !== entry.token);
  return [...kept.slice(-(MAX_VERDICTS_PER_SIGNATURE - 1)), entry];
}

function weighVerdicts(verdicts: readonly CachedToken[]): number {
  let bytes = 0;
  for (const v of verdicts) bytes += v.bytes;
  return bytes;
}

/** Group order n of each ECDSA algorithm's curve (SEC 2: P-256, P-384, P-521) and the size of r and s. */
const ECDSA_CURVES: Readonly<Record<string, { readonly n: bigint; readonly bytes: number }>> = {
  ES256: { n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n, bytes: 32 },
  ES384: { n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n, bytes: 48 },
  ES512: {
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    bytes: 66,
  },
};

/**
 * The token with its ECDSA signature's s replaced by n − s: the other spelling of the same
 * signature. Undefined unless the header is one decodeJwt accepts naming ES256/ES384/ES512 (its
 * verdict, memoised by segment), the signature segment is the canonical base64url of r || s with
 * 0 < s < n, and the token within MAX_TOKEN_BYTES (anything else never verifies, in either spelling).
 */
export function otherEcdsaSpelling(token: string): string | undefined {
  // A token over the size cap never verifies, in either spelling: its header is not even read.
  if (token.length > MAX_TOKEN_BYTES) return undefined;
  const firstDot = token.indexOf(".");
  const lastDot = token.lastIndexOf(".");
  if (firstDot === -1 || firstDot === lastDot) return undefined;
  const header = headerVerdictOf(token.slice(0, firstDot));
  if (typeof header === "string" || !Object.hasOwn(ECDSA_CURVES, header.alg)) return undefined;
  const curve = ECDSA_CURVES[header.alg]!;
  const segment = token.slice(lastDot + 1);
  const signature = Buffer.from(segment, "base64url");
  if (signature.length !== 2 * curve.bytes || signature.toString("base64url") !== segment) return undefined;
  const s = BigInt(`0x${signature.subarray(curve.bytes).toString("hex")}`);
  if (s === 0n || s >= curve.n) return undefined;
  const other = Buffer.from((curve.n - s).toString(16).padStart(2 * curve.bytes, "0"), "hex");
  return `${token.slice(0, lastDot + 1)}${Buffer.concat([signature.subarray(0, curve.bytes), other]).toString("base64url")}`;
}
