/**
 * The transport to external authorization services: one undici Agent (HTTP/1.1 keep-alive) per
 * HTTP service and one gRPC channel per endpoint of a gRPC service, shared by every snapshot that
 * names the same service and closed once the published snapshot names it no more (`retain`). Each call is bounded in time (the policy's `timeout`) and its answer in
 * size; whatever goes wrong is an error value, never an exception and never an allow. What the
 * service answered is not logged here: its headers and body may carry tokens.
 */
import { Client as GrpcClient, credentials, makeClientConstructor, status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { Agent, errors as undiciErrors } from "undici";
import type { ConnectionOptions, PeerCertificate } from "node:tls";
import { carriesOneOf } from "../../keys/fetch-jwks.ts";
import { type Attempt, type Failure, withRetries } from "../../keys/retry.ts";
import { AUTHORIZATION_SERVICE } from "../../api/ext-authz.ts";
import type { BackendEndpoint, BackendTls } from "../../compile/backends.ts";
import type { ExtAuthService } from "./types.ts";

/** Largest answer read from a service (status line aside): a denial's headers and body, or a CheckResponse. */
export const MAX_ANSWER_BYTES = 64 * 1024;
/** Services whose connections are kept; the least recently used beyond this are closed. */
const MAX_SERVICES = 256;

/** An HTTP check as Envoy's ext_authz filter sends it (path with prefix, allowed headers, body). */
export interface HttpCheck {
  readonly method: string;
  readonly path: string;
  /** Lower-case names; `host` is the original request's authority, as Envoy sends it. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | undefined;
}

/** The service's HTTP answer: status, header lines in order (lower-case names, values as text), and body. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
}

/** Why no answer could be had, in words fit for the log (never the service's own text). */
export type Transport<T> = { readonly ok: true; readonly answer: T } | { readonly ok: false; readonly error: string };

export interface ExtAuthTransport {
  /** POSTs nothing of its own: sends `check` to the next endpoint of `service` and reads the answer. */
  http(service: ExtAuthService, check: HttpCheck, timeoutMs: number): Promise<Transport<HttpAnswer>>;
  /** Calls Authorization/Check with `request` (a CheckRequest object) on the next endpoint of `service`. */
  grpc(service: ExtAuthService, request: object, timeoutMs: number): Promise<Transport<unknown>>;
  /**
   * Keeps the connections of the services whose `ExtAuthService.key` is in `keys` (those the
   * published snapshot names) and closes the others: a check still in flight on a closed one
   * finishes (undici and gRPC close gracefully), a check that starts on it afterwards opens it anew.
   */
  retain(keys: ReadonlySet<string>): void;
  /** Closes every connection. */
  close(): Promise<void>;
}

interface Pool {
  /** Calls made so far: the next endpoint is the one this count lands on in the weighted rotation. */
  calls: number;
  /** Checks started and not yet answered, for the circuit breaker limit. */
  inFlight: number;
  readonly totalWeight: number;
  readonly close: () => Promise<void>;
}
interface HttpPool extends Pool {
  readonly agent: Agent;
}
interface GrpcPool extends Pool {
  readonly channels: readonly GrpcClient[];
}

const EMPTY = Buffer.alloc(0);
const AuthorizationClient = makeClientConstructor(AUTHORIZATION_SERVICE, "Authorization");

export function createExtAuthTransport(): ExtAuthTransport {
  const pools = new Map<string, HttpPool | GrpcPool>();

  function pool<P extends HttpPool | GrpcPool>(service: ExtAuthService, open: () => P): P {
    let found = pools.get(service.key) as P | undefined;
    if (found !== undefined) {
      // Most recently used last: eviction takes the first.
      pools.delete(service.key);
      pools.set(service.key, found);
      return found;
    }
    found = open();
    pools.set(service.key, found);
    if (pools.size > MAX_SERVICES) {
      const [oldest, evicted] = pools.entries().next().value!;
      pools.delete(oldest);
      void evicted.close();
    }
    return found;
  }

  return {
    async http(service, check, timeoutMs) {
      const p = pool(service, () => openHttpPool(service));
      const scheme = service.tls === undefined ? "http" : "https";
      return call(p, service, timeoutMs, async (signal) => {
        const endpoint = next(service, p);
        try {
          const response = await p.agent.request({
            origin: `${scheme}://${hostPort(endpoint)}`,
            method: check.method,
            path: check.path,
            headers: check.headers,
            // Else undici names (SNI) and verifies the server as the check's Host, the client's own authority.
            ...(service.tls?.serverName === undefined ? {} : { servername: service.tls.serverName }),
            // undici sends Content-Length with a body, and (as fetch does) none for an empty GET or HEAD.
            body: check.body ?? EMPTY,
            signal,
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
          });
          const body = await readBounded(response.body, MAX_ANSWER_BYTES);
          if (body === undefined)
            return { outcome: { ok: false, error: `the answer is larger than ${MAX_ANSWER_BYTES} bytes` }, failure: "final" };
          // An answer is the service's decision (a 5xx denies); a retry trigger may still ask again.
          const answer: HttpAnswer = { status: response.statusCode, headers: headerLines(response.headers), body };
          return { outcome: { ok: true, answer }, failure: response.statusCode >= 400 ? response.statusCode : undefined };
        } catch (err) {
          return { outcome: { ok: false, error: describeHttpError(err, timeoutMs) }, failure: httpFailure(err) };
        }
      });
    },

    grpc(service, request, timeoutMs) {
      const p = pool(service, () => openGrpcPool(service));
      const deadline = Date.now() + timeoutMs;
      return call(p, service, timeoutMs, (signal) => {
        const channel = p.channels[indexOf(next(service, p), service)]!;
        return new Promise((resolve) => {
          const rpc = (channel as unknown as GrpcCheck).Check(request, { deadline }, (err, response) => {
            if (err !== null) resolve({ outcome: { ok: false, error: describeGrpcError(err) }, failure: grpcFailure(err) });
            else resolve({ outcome: { ok: true, answer: response } });
          });
          signal.addEventListener("abort", () => rpc.cancel(), { once: true });
        });
      });
    },

    retain(keys) {
      for (const [key, p] of pools) {
        if (keys.has(key)) continue;
        pools.delete(key);
        void p.close();
      }
    },

    async close() {
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((p) => p.close()));
    },
  };
}

type GrpcCheck = {
  Check(
    request: object,
    options: { deadline: number },
    callback: (err: ServiceError | null, response: unknown) => void,
  ): { cancel(): void };
};

/** Envoy's default circuit breaker threshold of requests in flight to one cluster. */
const DEFAULT_MAX_IN_FLIGHT = 1024;

/**
 * One check through `p`: refused at once when `service.maxInFlight` checks are in flight (Envoy's
 * circuit breaker overflow), else `attempt` under `service.retry`, every attempt and backoff within
 * `timeoutMs`. What the last attempt gave is the answer: a call whose every retry failed is an error.
 */
async function call<T>(
  p: Pool,
  service: ExtAuthService,
  timeoutMs: number,
  attempt: (signal: AbortSignal) => Promise<Attempt<Transport<T>>>,
): Promise<Transport<T>> {
  if (p.inFlight >= (service.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT))
    return { ok: false, error: "too many checks in flight to the service (circuit breaker overflow)" };
  p.inFlight += 1;
  try {
    const signal = AbortSignal.timeout(timeoutMs);
    const attempted = await withRetries(service.retry, signal, () => attempt(signal));
    if (attempted.last === undefined) return { ok: false, error: `no answer within ${timeoutMs} ms` };
    const { outcome } = attempted.last;
    return attempted.attempts > 1 && !outcome.ok ? { ok: false, error: `${outcome.error} (${attempted.attempts} attempts)` } : outcome;
  } finally {
    p.inFlight -= 1;
  }
}

function openHttpPool(service: ExtAuthService): HttpPool {
  const tls = service.tls;
  const agent = new Agent({
    keepAliveTimeout: 30_000,
    connections: 128,
    connect: { timeout: service.connectTimeoutMs ?? 10_000, ...(tls === undefined ? {} : tlsOptions(tls)) },
  });
  return { agent, calls: 0, inFlight: 0, totalWeight: totalWeight(service), close: () => agent.close() };
}

/** Node TLS options for `tls`: its CA instead of the system store, its server name, its subjectAltNames, its client certificate. */
function tlsOptions(tls: BackendTls): ConnectionOptions {
  const subjectAltNames = tls.subjectAltNames;
  return {
    ...(tls.caPem === undefined ? {} : { ca: tls.caPem }),
    ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
    ...(subjectAltNames === undefined
      ? {}
      : { checkServerIdentity: (_host: string, cert: PeerCertificate) => carriesOneOf(cert, subjectAltNames) }),
    ...(tls.clientCertificate === undefined ? {} : { cert: tls.clientCertificate.cert, key: tls.clientCertificate.key }),
  };
}

function openGrpcPool(service: ExtAuthService): GrpcPool {
  const tls = service.tls;
  const channels = service.endpoints.map((endpoint) => {
    const subjectAltNames = tls?.subjectAltNames;
    const creds =
      tls === undefined
        ? credentials.createInsecure()
        : credentials.createSsl(
            tls.caPem === undefined ? null : Buffer.from(tls.caPem),
            tls.clientCertificate === undefined ? null : Buffer.from(tls.clientCertificate.key),
            tls.clientCertificate === undefined ? null : Buffer.from(tls.clientCertificate.cert),
            subjectAltNames === undefined ? {} : { checkServerIdentity: (_host, cert) => carriesOneOf(cert, subjectAltNames) },
          );
    return new AuthorizationClient(hostPort(endpoint), creds, {
      "grpc.max_receive_message_length": MAX_ANSWER_BYTES,
      ...(tls?.serverName === undefined
        ? {}
        : { "grpc.ssl_target_name_override": tls.serverName, "grpc.default_authority": tls.serverName }),
    });
  });
  return {
    channels,
    calls: 0,
    inFlight: 0,
    totalWeight: totalWeight(service),
    close: async () => {
      for (const c of channels) c.close();
    },
  };
}

function totalWeight(service: ExtAuthService): number {
  return service.endpoints.reduce((n, e) => n + e.weight, 0);
}

/** The endpoint of the pool's next call: endpoints take turns in proportion to their weights. */
function next(service: ExtAuthService, pool: Pool): BackendEndpoint {
  let slot = pool.calls++ % pool.totalWeight;
  for (const e of service.endpoints) {
    if (slot < e.weight) return e;
    slot -= e.weight;
  }
  return service.endpoints[0]!;
}

function indexOf(endpoint: BackendEndpoint, service: ExtAuthService): number {
  return service.endpoints.indexOf(endpoint as ExtAuthService["endpoints"][number]);
}

function hostPort(e: BackendEndpoint): string {
  return `${e.host.includes(":") ? `[${e.host}]` : e.host}:${e.port}`;
}

/** The body, or undefined once it passes `limit` bytes (the rest is not read). */
async function readBounded(body: AsyncIterable<Buffer> & { destroy(): void }, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * The answer's header lines, each value read as UTF-8 text (invalid sequences as U+FFFD), as every
 * value Portcullis sets is text: undici hands them over one character per byte, and a value set
 * upstream as such would go out as the UTF-8 of those characters, not the bytes the service sent.
 */
function headerLines(headers: Record<string, string | string[] | undefined>): [string, string][] {
  const lines: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value])
      lines.push([name.toLowerCase(), BEYOND_ASCII.test(v) ? Buffer.from(v, "latin1").toString("utf8") : v]);
  }
  return lines;
}
const BEYOND_ASCII = /[^\x00-\x7f]/;

function describeHttpError(err: unknown, timeoutMs: number): string {
  if (err instanceof DOMException && (err.name === "TimeoutError" || err.name === "AbortError")) return `no answer within ${timeoutMs} ms`;
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError)
    return `no answer within ${timeoutMs} ms`;
  if (err instanceof undiciErrors.ConnectTimeoutError) return "the connection could not be opened in time";
  if (err instanceof undiciErrors.SocketError) return "the connection was closed before the answer was complete";
  const code = (err as { code?: unknown; cause?: { code?: unknown } }).code ?? (err as { cause?: { code?: unknown } }).cause?.code;
  if (code === "ECONNREFUSED") return "the connection was refused";
  if (code === "ECONNRESET") return "the connection was reset";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "the service's host name does not resolve";
  if (typeof code === "string") return `the call failed (${code})`;
  return "the call failed";
}

/** How an HTTP call that threw failed, for the retry triggers: no connection, or one lost (timeouts are never retried: the deadline is spent). */
function httpFailure(err: unknown): Failure {
  if (err instanceof undiciErrors.ConnectTimeoutError) return "connect";
  const code = (err as { code?: unknown }).code ?? (err as { cause?: { code?: unknown } }).cause?.code;
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EHOSTUNREACH") return "connect";
  if (err instanceof undiciErrors.SocketError || code === "ECONNRESET") return "reset";
  return "final";
}

/**
 * How a gRPC call failed, for the retry triggers: a connection never established is a connect
 * failure (Envoy's router sees no stream at all); otherwise the status, as Envoy's gRPC triggers name it.
 */
function grpcFailure(err: ServiceError): Failure {
  if (err.code === GrpcStatus.UNAVAILABLE && /No connection established|ECONNREFUSED|connect/i.test(err.details)) return "connect";
  switch (err.code) {
    case GrpcStatus.UNAVAILABLE:
      return "unavailable";
    case GrpcStatus.CANCELLED:
      return "cancelled";
    case GrpcStatus.DEADLINE_EXCEEDED:
      return "deadline-exceeded";
    case GrpcStatus.INTERNAL:
      return "internal";
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return "resource-exhausted";
    default:
      return "final";
  }
}

function describeGrpcError(err: ServiceError): string {
  switch (err.code) {
    case GrpcStatus.DEADLINE_EXCEEDED:
      return "no answer within the timeout";
    case GrpcStatus.UNAVAILABLE:
      return "the service is unavailable (connection refused, reset or closed)";
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return `the answer is larger than ${MAX_ANSWER_BYTES} bytes`;
    case GrpcStatus.INTERNAL:
      return "the answer could not be read as a CheckResponse";
    default:
      return `the call failed with gRPC status ${GrpcStatus[err.code] ?? err.code}`;
  }
}
