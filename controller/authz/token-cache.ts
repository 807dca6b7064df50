/**
 * Verified-token cache: a token verified once is not verified again until it expires (or for at
 * most `maxAgeMs`, so keys removed from a JWKS stop being honoured soon). Bounded by tokens; the
 * oldest goes first. Keyed by the token itself, then by the policy's jwt configuration, so a
 * token used on routes of several policies keeps one verdict per policy. One cache lives per
 * snapshot, so a policy change never reuses old results.
 */
import type { CompiledJwt } from "../snapshot/types.ts";
import type { IdentityResult } from "./identity.ts";

export interface CachedToken {
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

/** Verdicts kept per token: one per policy it was used with, the oldest replaced beyond this. */
const MAX_CONFIGS_PER_TOKEN = 8;

export class TokenCache {
  readonly #entries = new Map<string, CachedToken[]>();
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;

  constructor(maxEntries = 10_000, maxAgeMs = 60_000) {
    this.#maxEntries = maxEntries;
    this.#maxAgeMs = maxAgeMs;
  }

  get(token: string, config: CompiledJwt, now: number): CachedToken | undefined {
    const verdicts = this.#entries.get(token);
    if (verdicts === undefined) return undefined;
    const i = verdicts.findIndex((v) => v.config === config);
    if (i === -1) return undefined;
    const hit = verdicts[i]!;
    if (now < hit.validUntil) return hit;
    if (verdicts.length === 1) this.#entries.delete(token);
    else verdicts.splice(i, 1);
    return undefined;
  }

  /**
   * Remembers a verdict; `expiresAt` is the token's own limit (exp plus skew) in epoch ms, when it
   * has one. Returns the entry, stored or not.
   */
  set(token: string, verdict: Omit<CachedToken, "validUntil">, now: number, expiresAt: number | undefined): CachedToken {
    const entry = { ...verdict, validUntil: Math.min(now + this.#maxAgeMs, expiresAt ?? Infinity) };
    if (entry.validUntil <= now || this.#maxEntries === 0) return entry;
    const verdicts = this.#entries.get(token);
    if (verdicts !== undefined) {
      const kept = verdicts.filter((v) => v.config !== verdict.config).slice(-(MAX_CONFIGS_PER_TOKEN - 1));
      this.#entries.set(token, [...kept, entry]);
      return entry;
    }
    if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(token, [entry]);
    return entry;
  }

  /** Tokens held. */
  get size(): number {
    return this.#entries.size;
  }
}
