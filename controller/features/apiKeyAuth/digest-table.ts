/**
 * The table of an apiKeyAuth key table's clients by the SHA-256 digest of their keys (the lookup
 * check() makes: SECURITY.md, "API keys and timing"), with its digests computed at its first read
 * instead of at compile time.
 *
 * Compile still reads every key and reports each problem of a credential Secret (an invalid client
 * id, an empty key, a key no header can carry or that is not UTF-8, two clients with the same key,
 * a Secret above the size limit): it finds two clients with the same key by the keys themselves,
 * which share a digest exactly when they are equal. What waits is only the hashing, 100,000
 * SHA-256 digests at 10,000 policies (about 50 ms of a cold compile), and the table of them, until
 * a request looks a key up in this Secret's table (its first request pays for its keys: 20 keys,
 * about 15 µs). Then the keys are dropped and only the digests kept, as a table built by compile did.
 */
import { hash } from "node:crypto";

/** The digest an API key is indexed by; check() computes the same over what a client presents. */
export function apiKeyDigest(key: string): string {
  // One-shot hashing: the same SHA-256, without a Hash object per call (hot path and 100k-key compiles).
  return hash("sha256", key, "base64url");
}

/** Client ids by the digests of their keys, hashed at the first read. */
export class ClientsByDigest implements ReadonlyMap<string, string> {
  /** Each served key → its client id, until the first read; then undefined. */
  #byKey: Map<string, string> | undefined;
  /** Each digest → its client id, from the first read on. */
  #byDigest: Map<string, string> | undefined;

  /** `byKey`: each served key → its client id (distinct keys), which this table keeps until its first read. */
  constructor(byKey: Map<string, string>) {
    this.#byKey = byKey;
    Object.freeze(this);
  }

  /** The digest table, built at the first call (then the keys are dropped). */
  #table(): Map<string, string> {
    if (this.#byDigest !== undefined) return this.#byDigest;
    const byDigest = new Map<string, string>();
    for (const [key, clientID] of this.#byKey!) byDigest.set(apiKeyDigest(key), clientID);
    this.#byDigest = byDigest;
    this.#byKey = undefined;
    return byDigest;
  }

  get size(): number {
    return this.#byDigest?.size ?? this.#byKey!.size;
  }
  get(digest: string): string | undefined {
    return this.#table().get(digest);
  }
  has(digest: string): boolean {
    return this.#table().has(digest);
  }
  forEach(callback: (clientID: string, digest: string, table: ReadonlyMap<string, string>) => void, thisArg?: unknown): void {
    this.#table().forEach((clientID, digest) => callback.call(thisArg, clientID, digest, this));
  }
  entries(): MapIterator<[string, string]> {
    return this.#table().entries();
  }
  keys(): MapIterator<string> {
    return this.#table().keys();
  }
  values(): MapIterator<string> {
    return this.#table().values();
  }
  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.#table()[Symbol.iterator]();
  }
  /** Whether the digests have been computed (a read has happened): for tests. */
  get built(): boolean {
    return this.#byDigest !== undefined;
  }
}
