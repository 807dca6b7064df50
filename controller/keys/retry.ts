/**
 * Retries of one call to a backend, as Envoy's `RetryPolicy` of a non-route call (Envoy Gateway
 * `backendSettings.retry`, translated by internal/xds/translator buildNonRouteRetryPolicy): shared
 * by a remote JWKS fetch, an OIDC provider's calls and an extAuth service's check. A call that still
 * fails after its retries is still a failure: the caller decides on it exactly as on one attempt.
 */
import type { JwksRetry } from "./types.ts";

/**
 * How one attempt failed, for the retry triggers: no connection (refused, unreachable, connect
 * timeout, TLS handshake or certificate refused), a connection lost before the answer, an HTTP
 * status, a gRPC status name (lower case, as Envoy's triggers spell them: "unavailable"), or a
 * failure no retry can mend (a bad document, an oversized body, a redirect).
 */
export type Failure = "connect" | "reset" | number | GrpcFailure | "final";
/** The gRPC statuses Envoy's gRPC retry triggers name. */
export type GrpcFailure = "cancelled" | "deadline-exceeded" | "internal" | "resource-exhausted" | "unavailable";

/** One attempt: what it produced, and how it failed (undefined: it did not). */
export interface Attempt<T> {
  readonly outcome: T;
  readonly failure?: Failure;
}

/** The last attempt made (none when `signal` ended the call first) and how many attempts were started. */
export type Attempted<T> = { readonly last: Attempt<T> | undefined; readonly attempts: number };

/**
 * Makes `attempt` until one succeeds, its failure matches none of `retry.on`, `retry.numRetries`
 * retries were made, or `signal` aborts (the call's deadline, which bounds every attempt and wait).
 * Between attempts, Envoy's fully jittered exponential backoff. `discard` releases the outcome of
 * an attempt that is retried (an unread response body). Without `retry`: one attempt.
 */
export async function withRetries<T>(
  retry: JwksRetry | undefined,
  signal: AbortSignal,
  attempt: () => Promise<Attempt<T>>,
  discard: (outcome: T) => void = () => {},
): Promise<Attempted<T>> {
  if (signal.aborted) return { last: undefined, attempts: 0 };
  // Whatever the attempt does with the signal, the caller is released on abort.
  const aborted = new Promise<"aborted">((resolve) => signal.addEventListener("abort", () => resolve("aborted"), { once: true }));
  let attempts = 0;
  for (;;) {
    attempts += 1;
    const last = await Promise.race([attempt(), aborted]);
    if (last === "aborted") return { last: undefined, attempts };
    if (last.failure === undefined || retry === undefined || attempts > retry.numRetries || !retriable(last.failure, retry.on))
      return { last, attempts };
    discard(last.outcome);
    if ((await Promise.race([sleep(backoffMs(retry, attempts), signal), aborted])) === "aborted") return { last: undefined, attempts };
  }
}

/**
 * Whether a failed attempt is retried under Envoy's `retry_on` (router semantics, an HTTP/1.1 or
 * gRPC call): `5xx` any 5xx or no answer; `gateway-error` 502, 503, 504 or no answer; `reset` a
 * lost connection or none; `connect-failure` and `reset-before-request` no connection;
 * `retriable-4xx` 409; `refused-stream` never over HTTP/1.1; the gRPC triggers their status.
 * `retriable-status-codes` names no code (Envoy Gateway lists none for a non-route call).
 */
export function retriable(failure: Failure, on: readonly string[]): boolean {
  const noAnswer = failure === "connect" || failure === "reset";
  return on.some((trigger) => {
    switch (trigger) {
      case "5xx":
        return noAnswer || (typeof failure === "number" && failure >= 500);
      case "gateway-error":
        return noAnswer || failure === 502 || failure === 503 || failure === 504;
      case "reset":
        return noAnswer;
      case "connect-failure":
      case "reset-before-request":
        return failure === "connect";
      case "retriable-4xx":
        return failure === 409;
      case "cancelled":
      case "deadline-exceeded":
      case "internal":
      case "resource-exhausted":
      case "unavailable":
        return failure === trigger;
      default:
        return false;
    }
  });
}

/** Envoy's fully jittered exponential backoff: a random wait below base × 2^(retry − 1), capped at the maximum. */
function backoffMs(retry: JwksRetry, retriesSoFar: number): number {
  const ceiling = Math.min(retry.baseIntervalMs * 2 ** Math.min(retriesSoFar - 1, 30), retry.maxIntervalMs);
  return Math.floor(Math.random() * ceiling);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
  });
}
