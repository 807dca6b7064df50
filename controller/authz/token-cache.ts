/**
 * Verified-token cache: a token verified once is not verified again until it expires (or for at
 * most `maxAgeMs`, so keys removed from a JWKS stop being honoured soon). Bounded; the oldest
 * entry goes first. One cache lives per snapshot, so a policy change never reuses old results.
 */
export interface CachedIdentity {
  readonly provider: number;
  readonly claims: Readonly<Record<string, unknown>>;
  /** Epoch ms after which the entry is no longer used. */
  readonly validUntil: number;
}

export class TokenCache {
  readonly #entries = new Map<string, CachedIdentity>();
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;

  constructor(maxEntries = 10_000, maxAgeMs = 60_000) {
    this.#maxEntries = maxEntries;
    this.#maxAgeMs = maxAgeMs;
  }

  get(key: string, now: number): CachedIdentity | undefined {
    const hit = this.#entries.get(key);
    if (hit === undefined) return undefined;
    if (now >= hit.validUntil) {
      this.#entries.delete(key);
      return undefined;
    }
    return hit;
  }

  /** `expiresAt` is the token's own limit (exp plus skew) in epoch ms, when it has one. */
  set(key: string, identity: Omit<CachedIdentity, "validUntil">, now: number, expiresAt: number | undefined): void {
    const validUntil = Math.min(now + this.#maxAgeMs, expiresAt ?? Infinity);
    if (validUntil <= now || this.#maxEntries === 0) return;
    if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { ...identity, validUntil });
  }

  get size(): number {
    return this.#entries.size;
  }
}
