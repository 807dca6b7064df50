/** The compiled form of `extAuth`: what check() needs to call the service as Envoy's ext_authz filter would. */
import type { BackendEndpoint, BackendTls } from "../../compile/backends.ts";
import type { JwksRetry } from "../../keys/types.ts";

/** Where the service runs: the endpoints of its backendRefs, called in weighted rotation. */
export interface ExtAuthService {
  /** In backendRefs order; a backendRef's weight (default 1; 0: never called) goes to each of its endpoints. */
  readonly endpoints: readonly (BackendEndpoint & { readonly weight: number })[];
  /**
   * Identifies the connection pool: services with the same key share one (an undici Agent or one
   * gRPC channel per endpoint). Holds the protocol, endpoints and TLS settings, never a secret.
   */
  readonly key: string;
  /** "Service ns/name:port" or "Backend ns/name" of each backendRef, for logs and the summary. */
  readonly names: readonly string[];
  readonly tls: BackendTls | undefined;
  /** Deadline of one connection (`backendSettings.timeout.tcp.connectTimeout`); undefined: Envoy's 10 s. */
  readonly connectTimeoutMs?: number;
  /** Retries within the call's `timeout` (`backendSettings.retry`, keys/retry.ts); undefined: one attempt. */
  readonly retry?: JwksRetry;
  /**
   * Checks in flight beyond which a new one fails at once, as Envoy's circuit breaker overflows
   * (`maxParallelRequests`, or `maxConnections` + `maxPendingRequests` if lower; Envoy's 1024 each by default).
   */
  readonly maxInFlight?: number;
}

export interface CompiledExtAuth {
  readonly protocol: "http" | "grpc";
  readonly service: ExtAuthService;
  /** HTTP: prepended to the request's path (`path`); "" when not set. */
  readonly pathPrefix: string;
  /** HTTP: replaces the request's path and query (`pathOverride`). */
  readonly pathOverride: string | undefined;
  /**
   * Lower-case names of the client headers sent (`headersToExtAuth`); undefined: Envoy's default
   * (HTTP: Authorization and the request line only; gRPC: every header).
   */
  readonly headersToExtAuth: readonly string[] | undefined;
  /** HTTP: lower-case names of the service's answer headers copied upstream on an allow (`headersToBackend`). */
  readonly headersToBackend: readonly string[];
  /** Bytes of the request body sent with the check (`bodyToExtAuth.maxRequestBytes`); undefined: no body. */
  readonly maxRequestBytes: number | undefined;
  /** Milliseconds the service has to answer (default 10 s, Envoy Gateway's). */
  readonly timeoutMs: number;
  /** A service that fails, times out or answers garbage lets the request through (`failOpen`). */
  readonly failOpen: boolean;
  /** The status a client gets when the service fails (default 403, Envoy's). */
  readonly statusOnError: number;
  /** gRPC CheckRequest `context_extensions` (values may come from Secrets: never shown). */
  readonly contextExtensions: Readonly<Record<string, string>>;
  /** gRPC: Envoy Gateway's route metadata (the route Envoy selected) goes in the CheckRequest. */
  readonly includeRouteMetadata: boolean;
  /** Envoy recomputes the route after the service's headers are applied; Portcullis keeps the route it matched (README). */
  readonly recomputeRoute: boolean;
}

/**
 * This Portcullis' own Service (`--self-service`), and the listeners behind it: an extAuth naming
 * it is how the proxy reaches Portcullis, not a service Portcullis should call.
 */
export interface SelfService {
  readonly namespace: string;
  readonly name: string;
  /**
   * The ext_authz listeners, by protocol: the container port numbers Portcullis listens on, and the
   * container port names the chart and deploy/base give them. A Service port leads to one when its
   * `targetPort` (or, without one, its `port`) is that number or name.
   */
  readonly listeners: { readonly [P in CompiledExtAuth["protocol"]]: { readonly port: number; readonly name: string } };
}

/**
 * An extAuth whose every backendRef is this Portcullis' own Service, on the ext_authz port of its
 * protocol (`--self-service`): the call that brought the request here. It is never made; the
 * policy's other features decide, as they would inside that call.
 */
export interface ExtAuthHookUp {
  readonly protocol: CompiledExtAuth["protocol"];
  /** "Service ns/name:port" of each backendRef, for the summary and the trace. */
  readonly hookUp: readonly string[];
  /** HTTP: `headersToBackend`; the client's copies are still removed, as for any extAuth. */
  readonly headersToBackend: readonly string[];
}

/** What `extAuth` compiles to: a service to call, or the hook-up to this Portcullis. */
export type ExtAuthConfig = CompiledExtAuth | ExtAuthHookUp;
