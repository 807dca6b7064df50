/**
 * The contract between the snapshot (which names JWKS sources) and the key store (which holds
 * their keys). Key material that must be fetched never lives in the snapshot.
 */
import { createHash } from "node:crypto";
import type { VerificationKey } from "../api/jwks.ts";

/**
 * Retries inside one fetch, as Envoy's `RetryPolicy` of a remote JWKS (Envoy Gateway
 * `backendSettings.retry`): up to `numRetries` more attempts, each after a fully jittered
 * exponential backoff (a random wait below `baseIntervalMs` doubling per attempt, capped at
 * `maxIntervalMs`), when the failure matches one of `on`. The fetch deadline bounds them all.
 */
export interface JwksRetry {
  readonly numRetries: number;
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
  /** Envoy `retry_on` triggers (Envoy Gateway TriggerEnum values); gRPC ones never match an HTTP fetch. */
  readonly on: readonly string[];
}

/** How the TLS server of an https JWKS is verified (BackendTLSPolicy, or an Envoy Gateway Backend's `tls`). */
export interface JwksTls {
  /** PEM CA bundle trusted instead of the system store; undefined: the system store. */
  readonly caPem?: string;
  /** Name sent as SNI and required in the certificate (unless `subjectAltNames`); undefined: the URI's host. */
  readonly serverName?: string;
  /** Names one of which the certificate must carry instead of `serverName` (BackendTLSPolicy `subjectAltNames`). */
  readonly subjectAltNames?: readonly { readonly hostname?: string; readonly uri?: string }[];
}

/** Where and how to reach a remote JWKS (Envoy Gateway `backendRefs` and `backendSettings`). */
export interface JwksConnection {
  /** Addresses connected to in order (one per attempt, round robin); the URI still gives the Host header and path. */
  readonly endpoints?: readonly { readonly host: string; readonly port: number }[];
  /** Deadline of the whole fetch, retries included (`timeout.http.requestTimeout`); undefined: the store's default. */
  readonly requestTimeoutMs?: number;
  /** Deadline of one connection, TCP and TLS handshakes (`timeout.tcp.connectTimeout`). */
  readonly connectTimeoutMs?: number;
  readonly retry?: JwksRetry;
  readonly tls?: JwksTls;
}

/** A remote JWKS as compiled into the snapshot; build it with `remoteJwksSource`. */
export interface RemoteJwksSource {
  readonly kind: "remote";
  /** The JWKS URI. */
  readonly uri: string;
  /** How long fetched keys stay fresh before a background refetch (spec `cacheDuration`). */
  readonly cacheDurationMs: number;
  /** How soon a failed fetch is tried again (spec `failedRefetchDuration`; Envoy's default 1 s). */
  readonly failedRefetchMs: number;
  readonly connection: JwksConnection;
  /**
   * The key-store cache key: the URI, plus a digest of `connection` when it is not the default,
   * so providers fetching the same URI the same way share one fetch, and a provider trusting
   * another CA or reaching another endpoint never gets keys fetched the other way.
   */
  readonly cacheKey: string;
}

/** Envoy's `failed_refetch_duration` default. */
export const DEFAULT_FAILED_REFETCH_MS = 1000;

/** A remote source with its cache key. */
export function remoteJwksSource(
  uri: string,
  cacheDurationMs: number,
  failedRefetchMs = DEFAULT_FAILED_REFETCH_MS,
  connection: JwksConnection = {},
): RemoteJwksSource {
  const settings = JSON.stringify(connection);
  const cacheKey = settings === "{}" ? uri : `${uri} ${createHash("sha256").update(settings).digest("hex").slice(0, 16)}`;
  return { kind: "remote", uri, cacheDurationMs, failedRefetchMs, connection, cacheKey };
}

/** Where a JWT provider's keys come from, as compiled into the snapshot. */
export type JwksSource =
  | RemoteJwksSource
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
  /**
   * What the store holds for `source`, for the audit line of a token no key matched: the URI
   * (redacted), the kids in hand, when keys were last fetched and the last failure. Never key material.
   */
  stateOf(source: JwksSource): string;
  /** Stops timers and in-flight fetches. */
  close(): void;
}
