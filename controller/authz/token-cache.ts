/**
 * Verified-token cache: a token verified once is not verified again until it expires (or for at
 * most `maxAgeMs`, so keys removed from a JWKS stop being honoured soon). Bounded; the oldest
 * entries go first (bounded-map.ts). Found by the token's signature segment and then compared whole (hashing a
 * whole token costs more than comparing it), then by the policy's jwt configuration, so a token
 * used on routes of several policies keeps one verdict per policy. One cache lives per snapshot,
 * so a policy change never reuses old results.
 */
import type { CompiledJwt } from "../snapshot/types.ts";
import { BoundedMap } from "./bounded-map.ts";
import type { IdentityResult } from "./identity.ts";

export interface CachedToken {
  readonly token: string;
  /** The jwt configuration the token was verified under. */
  readonly config: CompiledJwt;
  /** Index of the provider that verified it. */
  readonly provider: number;
  readonly claims: Readonly<Record<string, unknown>>;
  /** What the jwt phase passes on when this is the request's first token, built once. */
  readonly passed: { readonly ok: true; readonly value: IdentityResult };
  /** Epoch ms after which the entry is no longer used. */
  readonly validUntil: number;
}

/** Verdicts kept per signature: one per policy the token was used with, the oldest replaced beyond this. */
const MAX_VERDICTS_PER_SIGNATURE = 8;

/** The signature segment (what follows the last dot), or the whole string when there is none. */
const keyOf = (token: string) => token.slice(token.lastIndexOf(".") + 1);

export class TokenCache {
  readonly #entries: BoundedMap<string, CachedToken[]>;
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;

  constructor(maxEntries = 10_000, maxAgeMs = 60_000) {
    this.#entries = new BoundedMap(maxEntries);
    this.#maxEntries = maxEntries;
    this.#maxAgeMs = maxAgeMs;
  }

  get(token: string, config: CompiledJwt, now: number): CachedToken | undefined {
    const key = keyOf(token);
    const verdicts = this.#entries.get(key);
    if (verdicts === undefined) return undefined;
    // The whole token must match: another payload under a copied signature is another token.
    const i = verdicts.findIndex((v) => v.config === config && v.token === token);
    if (i === -1) return undefined;
    const hit = verdicts[i]!;
    if (now < hit.validUntil) return hit;
    if (verdicts.length === 1) this.#entries.delete(key);
    else verdicts.splice(i, 1);
    return undefined;
  }

  /**
   * Remembers a verdict; `expiresAt` is the token's own limit (exp plus skew) in epoch ms, when it
   * has one. Returns the entry, stored or not.
   */
  set(verdict: Omit<CachedToken, "validUntil">, now: number, expiresAt: number | undefined): CachedToken {
    const entry = { ...verdict, validUntil: Math.min(now + this.#maxAgeMs, expiresAt ?? Infinity) };
    if (entry.validUntil <= now || this.#maxEntries === 0) return entry;
    const key = keyOf(verdict.token);
    const kept = this.#entries.get(key)?.filter((v) => v.config !== verdict.config || v.token !== verdict.token).slice(-(MAX_VERDICTS_PER_SIGNATURE - 1)) ?? [];
    this.#entries.set(key, [...kept, entry]);
    return entry;
  }
}
