/**
 * The contract between the snapshot (which names JWKS sources) and the key store (which holds
 * their keys). Key material that must be fetched never lives in the snapshot.
 */
import type { VerificationKey } from "../api/jwks.ts";

/** Where a JWT provider's keys come from, as compiled into the snapshot. */
export type JwksSource =
  | {
      readonly kind: "remote";
      /** The JWKS URI; also the key-store cache key, so providers sharing a URI share one fetch. */
      readonly uri: string;
      /** How long fetched keys stay fresh before a background refetch (spec `cacheDuration`). */
      readonly cacheDurationMs: number;
    }
  | {
      readonly kind: "local";
      /** Keys validated and imported at compile time (inline JWKS or a ConfigMap's `jwks`). */
      readonly keys: readonly VerificationKey[];
    };

/** Holds the keys of every remote JWKS the current snapshot uses. */
export interface KeyStore {
  /**
   * Makes the store match the sources of a newly published snapshot: new URIs start fetching,
   * URIs no longer used are dropped. Resolves once every new URI has had its first fetch
   * attempt (success or failure), so a snapshot can be served with its keys already present.
   */
  sync(sources: readonly JwksSource[]): Promise<void>;
  /**
   * Keys of `source` that may have signed a token with header `kid` (all keys when the token has
   * no kid). Synchronous when the answer is in hand; a Promise only when an unknown kid triggers
   * a refetch, which is bounded by the fetch timeout and limited by a per-URI cooldown.
   */
  resolve(source: JwksSource, kid: string | undefined): readonly VerificationKey[] | Promise<readonly VerificationKey[]>;
  /** Stops timers and in-flight fetches. */
  close(): void;
}
