/**
 * One bounded fetch of a remote JWKS document: the only network I/O of the key store.
 *
 * Bounds: a deadline on the whole exchange (connect, headers AND body), a cap on the body size
 * (enforced while streaming, so an oversized body is never buffered), redirects refused (a JWKS
 * endpoint that redirects is answered with an error, never followed), http: and https: only.
 * The document goes through `parseJwks`, the same parser as local JWKS. Never throws: every
 * problem becomes a short reason that is safe to log (it never contains key material or body text).
 */
import { parseJwks, type VerificationKey } from "../api/jwks.ts";

export interface FetchJwksOptions {
  /** Deadline for the whole fetch, body included. */
  readonly timeoutMs: number;
  /** A body larger than this is an error; reading stops as soon as it is exceeded. */
  readonly maxBodyBytes: number;
  /** Aborts the fetch early (the store's `close()`). */
  readonly signal?: AbortSignal;
}

export type FetchJwksResult =
  | {
      readonly ok: true;
      readonly keys: readonly VerificationKey[];
      readonly skipped: readonly string[];
      readonly unusable: readonly string[];
    }
  | { readonly ok: false; readonly reason: string };

/** Fetches and parses the JWKS at `uri`; resolves with the keys or a loggable reason. */
export async function fetchJwks(uri: string, options: FetchJwksOptions): Promise<FetchJwksResult> {
  const url = checkUri(uri);
  if (typeof url === "string") return { ok: false, reason: url };
  if (options.signal?.aborted) return { ok: false, reason: "aborted" };

  // One controller per fetch, aborted by the deadline or by the caller's signal. (Not
  // AbortSignal.any: combining with the store's long-lived signal retains every combined signal.)
  const controller = new AbortController();
  const signal = controller.signal;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  const forward = () => controller.abort();
  options.signal?.addEventListener("abort", forward, { once: true });
  // Belt and braces: whatever the HTTP client does with the signal, the caller is released on abort.
  const aborted = new Promise<"aborted">((resolve) => {
    signal.addEventListener("abort", () => resolve("aborted"), { once: true });
  });
  const abortReason = () => (timedOut ? `timed out after ${options.timeoutMs} ms` : "aborted");
  try {
    const text = await Promise.race([readDocument(url, signal, options.maxBodyBytes), aborted]);
    if (text === "aborted") return { ok: false, reason: abortReason() };
    if (typeof text !== "string") return text;
    const parsed = parseJwks(text);
    if (!parsed.ok) return { ok: false, reason: safeParseError(parsed.error) };
    return { ok: true, keys: Object.freeze([...parsed.keys]), skipped: parsed.skipped, unusable: parsed.unusable };
  } catch (e) {
    if (signal.aborted) return { ok: false, reason: abortReason() };
    return { ok: false, reason: networkReason(e) };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", forward);
  }
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

async function readDocument(url: URL, signal: AbortSignal, maxBodyBytes: number): Promise<string | FetchJwksResult> {
  const response = await fetch(url, {
    signal,
    redirect: "error",
    headers: { accept: "application/jwk-set+json, application/json;q=0.9, */*;q=0.1" },
  });
  const body = response.body;
  const discard = () => void body?.cancel().catch(() => {});
  if (response.status !== 200) {
    discard();
    const text = response.statusText === "" ? "" : ` ${response.statusText}`;
    return { ok: false, reason: `HTTP ${response.status}${text}` };
  }
  const tooLarge: FetchJwksResult = { ok: false, reason: `body exceeds ${maxBodyBytes} bytes` };
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBodyBytes) {
    discard();
    return tooLarge;
  }
  if (body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
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
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    return { ok: false, reason: "body is not valid UTF-8" };
  }
}

/** undici reports "fetch failed" with the interesting part (ECONNREFUSED, redirect, TLS) in `cause`. */
function networkReason(e: unknown): string {
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
