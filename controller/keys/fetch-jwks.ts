/**
 * One bounded fetch of a remote JWKS document: the only network I/O of the key store.
 *
 * Bounds: a deadline on the whole exchange (connect, headers AND body, retries included), a cap on
 * the body size (enforced while streaming, so an oversized body is never buffered), redirects
 * refused (a JWKS endpoint that redirects is answered with an error, never followed), http: and
 * https: only. How the server is reached follows Envoy's remote JWKS cluster as Envoy Gateway
 * builds it from `backendRefs` / `backendSettings` (JwksConnection): other endpoints than the URI's
 * host, a private CA and SNI name, a connect deadline, and retries on Envoy's `retry_on` triggers.
 * The document goes through `parseJwks`, the same parser as local JWKS. Never throws: every
 * problem becomes a short reason that is safe to log (it never contains key material or body text).
 */
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { Agent, buildConnector, fetch } from "undici";
import { parseJwks, type VerificationKey } from "../api/jwks.ts";
import type { JwksConnection, JwksRetry, JwksTls } from "./types.ts";

export interface FetchJwksOptions {
  /** Deadline for the whole fetch, body and retries included, unless `connection.requestTimeoutMs` says otherwise. */
  readonly timeoutMs: number;
  /** A body larger than this is an error; reading stops as soon as it is exceeded. */
  readonly maxBodyBytes: number;
  /** Aborts the fetch early (the store's `close()`). */
  readonly signal?: AbortSignal;
  /** Endpoints, TLS, connect deadline and retries (default: the URI's host, system CAs, no retry). */
  readonly connection?: JwksConnection;
}

export type FetchJwksResult =
  | {
      readonly ok: true;
      readonly keys: readonly VerificationKey[];
      readonly skipped: readonly string[];
      readonly unusable: readonly string[];
    }
  | { readonly ok: false; readonly reason: string };

/** Envoy's default connect timeout (Envoy Gateway `timeout.tcp.connectTimeout`). */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * How one attempt failed, for the retry triggers: no connection (refused, unreachable, connect
 * timeout, TLS handshake or certificate refused), a connection lost before the answer, an HTTP
 * status, or a failure no retry can mend (a bad document, an oversized body, a redirect).
 */
type Failure = "connect" | "reset" | number | "final";
type Attempt = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: string; readonly failure: Failure };

/** Fetches and parses the JWKS at `uri`; resolves with the keys or a loggable reason. */
export async function fetchJwks(uri: string, options: FetchJwksOptions): Promise<FetchJwksResult> {
  const url = checkUri(uri);
  if (typeof url === "string") return { ok: false, reason: url };
  if (options.signal?.aborted) return { ok: false, reason: "aborted" };
  const connection = options.connection ?? {};
  const timeoutMs = connection.requestTimeoutMs ?? options.timeoutMs;

  // One controller per fetch, aborted by the deadline or by the caller's signal. (Not
  // AbortSignal.any: combining with the store's long-lived signal retains every combined signal.)
  const controller = new AbortController();
  const signal = controller.signal;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const forward = () => controller.abort();
  options.signal?.addEventListener("abort", forward, { once: true });
  // Belt and braces: whatever the HTTP client does with the signal, the caller is released on abort.
  const aborted = new Promise<"aborted">((resolve) => {
    signal.addEventListener("abort", () => resolve("aborted"), { once: true });
  });
  const dispatcher = connectionDispatcher(connection);
  let attempts = 0;
  const counted = (reason: string) => (attempts > 1 ? `${reason} (${attempts} attempts)` : reason);
  const abortReason = () => counted(timedOut ? `timed out after ${timeoutMs} ms` : "aborted");
  try {
    for (;;) {
      attempts += 1;
      const attempt = await Promise.race([readDocument(url, signal, options.maxBodyBytes, dispatcher), aborted]);
      if (attempt === "aborted") return { ok: false, reason: abortReason() };
      if (attempt.ok) {
        const parsed = parseJwks(attempt.text);
        if (!parsed.ok) return { ok: false, reason: counted(safeParseError(parsed.error)) };
        return { ok: true, keys: Object.freeze([...parsed.keys]), skipped: parsed.skipped, unusable: parsed.unusable };
      }
      const retry = connection.retry;
      if (retry === undefined || attempts > retry.numRetries || !retriable(attempt.failure, retry.on))
        return { ok: false, reason: counted(attempt.reason) };
      if ((await Promise.race([sleep(backoffMs(retry, attempts), signal), aborted])) === "aborted")
        return { ok: false, reason: abortReason() };
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", forward);
    void dispatcher.destroy().catch(() => {});
  }
}

/**
 * Whether a failed attempt is retried under Envoy's `retry_on` (router filter semantics, for an
 * HTTP/1.1 fetch): `5xx` any 5xx or no answer; `gateway-error` 502, 503, 504 or no answer; `reset`
 * a lost connection or none; `connect-failure` and `reset-before-request` no connection;
 * `retriable-4xx` 409. `retriable-status-codes` names no code here (Envoy Gateway refuses
 * `httpStatusCodes` for a JWKS fetch), and the gRPC triggers never match an HTTP answer.
 */
function retriable(failure: Failure, on: readonly string[]): boolean {
  return on.some((trigger) => {
    switch (trigger) {
      case "5xx":
        return failure === "connect" || failure === "reset" || (typeof failure === "number" && failure >= 500);
      case "gateway-error":
        return failure === "connect" || failure === "reset" || failure === 502 || failure === 503 || failure === 504;
      case "reset":
        return failure === "connect" || failure === "reset";
      case "connect-failure":
      case "reset-before-request":
        return failure === "connect";
      case "retriable-4xx":
        return failure === 409;
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

/**
 * An HTTP client reaching a server as Envoy's cluster for `connection` would: TLS verified against
 * `tls.caPem` (instead of the system store) for `tls.serverName` (instead of the URI's host), each
 * new connection to the next of `endpoints` (so a retry after a failed connection tries another
 * one). Used for one JWKS fetch here, and for an OIDC provider's calls (features/oidc/provider.ts).
 */
export function connectionDispatcher(connection: JwksConnection): Agent {
  const subjectAltNames = connection.tls?.subjectAltNames;
  const connector = buildConnector({
    ...(connection.tls?.caPem === undefined ? {} : { ca: connection.tls.caPem }),
    ...(subjectAltNames === undefined
      ? {}
      : { checkServerIdentity: (_host: string, cert: PeerCertificate) => carriesOneOf(cert, subjectAltNames) }),
    timeout: connection.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
  });
  const endpoints = connection.endpoints ?? [];
  const serverName = connection.tls?.serverName;
  let next = 0;
  return new Agent({
    connect: (opts, callback) => {
      const endpoint = endpoints.length === 0 ? undefined : endpoints[next++ % endpoints.length];
      connector(
        {
          ...opts,
          ...(endpoint === undefined ? {} : { hostname: endpoint.host, port: String(endpoint.port) }),
          ...(serverName === undefined ? {} : { servername: serverName }),
        },
        callback,
      );
    },
  });
}

function checkUri(uri: string): URL | string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return "invalid URI";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `unsupported URI scheme "${url.protocol.slice(0, -1)}" (only http and https)`;
  }
  if (url.username !== "" || url.password !== "") return "URI must not contain credentials";
  return url;
}

/** undefined when the certificate names one of `names` (a DNS name as TLS matches it, or an exact URI SAN). */
export function carriesOneOf(cert: PeerCertificate, names: NonNullable<JwksTls["subjectAltNames"]>): Error | undefined {
  const uris = (cert.subjectaltname ?? "").split(", ").filter((san) => san.startsWith("URI:"));
  const matches = names.some((n) =>
    n.hostname !== undefined ? checkServerIdentity(n.hostname, cert) === undefined : n.uri !== undefined && uris.includes(`URI:${n.uri}`),
  );
  return matches
    ? undefined
    : Object.assign(new Error("certificate names none of the subjectAltNames asked for"), { code: "ERR_TLS_CERT_ALTNAME_INVALID" });
}

async function readDocument(url: URL, signal: AbortSignal, maxBodyBytes: number, dispatcher: Agent): Promise<Attempt> {
  let response: Awaited<ReturnType<typeof fetch>>;
  try {
    response = await fetch(url, {
      signal,
      redirect: "error",
      dispatcher,
      headers: { accept: "application/jwk-set+json, application/json;q=0.9, */*;q=0.1" },
    });
  } catch (e) {
    return { ok: false, reason: networkReason(e), failure: networkFailure(e) };
  }
  const body = response.body;
  const discard = () => void body?.cancel().catch(() => {});
  if (response.status !== 200) {
    discard();
    const text = response.statusText === "" ? "" : ` ${response.statusText}`;
    return { ok: false, reason: `HTTP ${response.status}${text}`, failure: response.status };
  }
  const tooLarge: Attempt = { ok: false, reason: `body exceeds ${maxBodyBytes} bytes`, failure: "final" };
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBodyBytes) {
    discard();
    return tooLarge;
  }
  if (body === null) return { ok: true, text: "" };
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBodyBytes) {
        void reader.cancel().catch(() => {});
        return tooLarge;
      }
      chunks.push(value);
    }
  } catch (e) {
    return { ok: false, reason: networkReason(e), failure: "reset" };
  }
  try {
    return { ok: true, text: new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks)) };
  } catch {
    return { ok: false, reason: "body is not valid UTF-8", failure: "final" };
  }
}

/** Error codes of a connection that was never established (Node, undici and OpenSSL certificate checks). */
const CONNECT_FAILURES =
  /^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT|ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/** A redirect refused is final; an error before the connection is a connect failure; any other a reset. */
function networkFailure(e: unknown): Failure {
  const cause = e instanceof Error ? e.cause : undefined;
  if (!(cause instanceof Error)) return "final";
  const code = (cause as { code?: unknown }).code;
  if (typeof code !== "string") return /redirect/i.test(cause.message) ? "final" : "reset";
  return CONNECT_FAILURES.test(code) ? "connect" : "reset";
}

/**
 * A failed fetch's reason, one line, fit for the log: undici reports "fetch failed" with the
 * interesting part (ECONNREFUSED, redirect, TLS) in `cause`.
 */
export function networkReason(e: unknown): string {
  const error = e instanceof Error ? e : new Error(String(e));
  const cause = error.cause;
  if (!(cause instanceof Error)) return oneLine(error.message);
  const code = (cause as { code?: unknown }).code;
  if (typeof code !== "string") return `${error.message}: ${oneLine(cause.message)}`;
  // OpenSSL's messages are internal dumps; its code says it all (ERR_SSL_WRONG_VERSION_NUMBER).
  if (code.startsWith("ERR_SSL_")) return `${error.message}: ${code}`;
  const message = oneLine(cause.message);
  return `${error.message}: ${message.includes(code) ? message : `${code} ${message}`}`;
}

function oneLine(text: string): string {
  const line = (text.split("\n", 1)[0] ?? "").trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/**
 * `parseJwks` embeds the JSON parser's message, which quotes part of the document; a reason is
 * logged, so only the fixed part is kept.
 */
function safeParseError(error: string): string {
  const prefix = "JWKS is not valid JSON";
  return error.startsWith(prefix) ? prefix : error;
}
