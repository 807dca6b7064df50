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
import { type Attempt, type Failure, withRetries } from "./retry.ts";
import type { JwksConnection, JwksTls } from "./types.ts";

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

/** One attempt's document text, or why there is none. */
type Read = { readonly text: string } | { readonly reason: string };

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
  const dispatcher = connectionDispatcher(connection);
  try {
    const attempted = await withRetries(connection.retry, signal, () => readDocument(url, signal, options.maxBodyBytes, dispatcher));
    const counted = (reason: string) => (attempted.attempts > 1 ? `${reason} (${attempted.attempts} attempts)` : reason);
    if (attempted.last === undefined) return { ok: false, reason: counted(timedOut ? `timed out after ${timeoutMs} ms` : "aborted") };
    const read = attempted.last.outcome;
    if ("reason" in read) return { ok: false, reason: counted(read.reason) };
    const parsed = parseJwks(read.text);
    if (!parsed.ok) return { ok: false, reason: counted(safeParseError(parsed.error)) };
    return { ok: true, keys: Object.freeze([...parsed.keys]), skipped: parsed.skipped, unusable: parsed.unusable };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", forward);
    void dispatcher.destroy().catch(() => {});
  }
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

async function readDocument(url: URL, signal: AbortSignal, maxBodyBytes: number, dispatcher: Agent): Promise<Attempt<Read>> {
  let response: Awaited<ReturnType<typeof fetch>>;
  try {
    response = await fetch(url, {
      signal,
      redirect: "error",
      dispatcher,
      headers: { accept: "application/jwk-set+json, application/json;q=0.9, */*;q=0.1" },
    });
  } catch (e) {
    return { outcome: { reason: networkReason(e) }, failure: networkFailure(e) };
  }
  const body = response.body;
  const discard = () => void body?.cancel().catch(() => {});
  if (response.status !== 200) {
    discard();
    const text = response.statusText === "" ? "" : ` ${response.statusText}`;
    return { outcome: { reason: `HTTP ${response.status}${text}` }, failure: response.status };
  }
  const tooLarge: Attempt<Read> = { outcome: { reason: `body exceeds ${maxBodyBytes} bytes` }, failure: "final" };
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBodyBytes) {
    discard();
    return tooLarge;
  }
  if (body === null) return { outcome: { text: "" } };
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
    return { outcome: { reason: networkReason(e) }, failure: "reset" };
  }
  try {
    return { outcome: { text: new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks)) } };
  } catch {
    return { outcome: { reason: "body is not valid UTF-8" }, failure: "final" };
  }
}

/** Error codes of a connection that was never established (Node, undici and OpenSSL certificate checks). */
const CONNECT_FAILURES =
  /^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT|ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/** How a fetch that threw failed: a redirect refused is final; an error before the connection a connect failure; any other a reset. */
export function networkFailure(e: unknown): Failure {
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
