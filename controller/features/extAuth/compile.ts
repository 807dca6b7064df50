/**
 * Compiles `extAuth` as Envoy Gateway v1.9 translates it (internal/gatewayapi/securitypolicy.go
 * buildExtAuth, ext_service.go, validate.go validateExtServiceBackendReference): the backendRefs
 * become the addresses Portcullis calls, every reference is checked as Envoy Gateway checks it
 * (kind and group, a Service port that exists, a ReferenceGrant across namespaces), and the
 * context extensions are read from their ConfigMaps and Secrets.
 */
import { createHash } from "node:crypto";
import { decodeBase64AsApiServer } from "../../api/base64.ts";
import { parseGatewayDuration } from "../../api/meta.ts";
import type { ClusterSettings } from "../../api/cluster-settings.ts";
import { clusterConnection, resolveBackendRef } from "../../compile/backends.ts";
import type { References } from "../../compile/references.ts";
import { upstreamHeaderName } from "../../lib/headers.ts";
import { fail, ok, type Problems, type Result } from "../../lib/result.ts";
import type { CompileContext } from "../feature.ts";
import type { BackendRef, ExtAuthSpec } from "./schema.ts";
import type { BackendEndpoint, BackendTls } from "../../compile/backends.ts";
import type { CompiledExtAuth, ExtAuthConfig, ExtAuthHookUp, ExtAuthService, SelfService } from "./types.ts";

/** Envoy Gateway's timeout for a call to an external service (internal/xds/translator/utils.go). */
export const DEFAULT_EXT_AUTH_TIMEOUT_MS = 10_000;
/** Envoy's ext_authz `status_on_error` default: 403 Forbidden. */
export const DEFAULT_STATUS_ON_ERROR = 403;

/**
 * `spec` (schema-checked) → the compiled service, or the message Envoy Gateway's translator gives
 * (prefixed "ExtAuth: " as its status condition is). The backendRefs are resolved from the
 * namespace of `ownerOf("extAuth.backendRefs")`, each context extension's valueRef from that of
 * `ownerOf("extAuth.contextExtensions[<name>]")` (in a merged policy, the policy each comes from).
 * With `self` (`--self-service`), backendRefs that all name this Portcullis' own Service compile
 * to the hook-up (ExtAuthHookUp), once checked as any backendRef is (ReferenceGrant, port); naming
 * it beside another service, or on a port that does not lead to its listener for the protocol, is
 * a problem.
 */
export function compileExtAuth(
  spec: ExtAuthSpec,
  ownerOf: CompileContext["ownerOf"],
  refs: References,
  self: SelfService | undefined,
): Result<ExtAuthConfig, Problems> {
  const problem = (error: string) => fail([error]);
  const rule = crossFieldRule(spec);
  if (rule !== undefined) return problem(rule);
  const cluster = spec.http ?? spec.grpc!;
  const protocol = spec.http !== undefined ? "http" : "grpc";
  const backendRefs: readonly BackendRef[] =
    (cluster.backendRefs ?? []).length > 0 ? cluster.backendRefs! : cluster.backendRef === undefined ? [] : [cluster.backendRef];
  const namespace = ownerOf("extAuth.backendRefs").namespace;
  const settings = serviceSettings(cluster.backendSettings, `${protocol}.backendSettings`);
  if (!settings.ok) return settings;
  const service = resolveService(protocol, backendRefs, namespace, refs, settings.value);
  if (!service.ok) {
    const own = self !== undefined && backendRefs.some((ref) => isSelf(ref, namespace, self));
    // Portcullis reads its own Service and the ReferenceGrant admitting it only where it watches.
    return problem(
      own
        ? `${service.error} (Portcullis' own Service ${self.namespace}/${self.name}, --self-service: with --watch-namespaces, list ${self.namespace} too)`
        : service.error,
    );
  }

  const headersToBackend: string[] = [];
  for (const [i, name] of (spec.http?.headersToBackend ?? []).entries()) {
    const h = upstreamHeaderName(name, `http.headersToBackend[${i}]`);
    if (!h.ok) return h;
    headersToBackend.push(h.value);
  }
  const hookUp = self === undefined ? undefined : selfReferences(protocol, backendRefs, namespace, self, refs);
  if (hookUp !== undefined) {
    if (!hookUp.ok) return problem(hookUp.error);
    // Envoy sends `path` + the request's path (its path_prefix), or `pathOverride` alone: another path than the client's.
    const moved = spec.http?.path
      ? `path ${spec.http.path}`
      : spec.http?.pathOverride
        ? `pathOverride ${spec.http.pathOverride}`
        : undefined;
    if (moved !== undefined)
      return problem(
        `http.${moved} would make Envoy send this Portcullis' own Service another path than the client's, and Portcullis decides on the path the client sent; remove it`,
      );
    // Envoy clears its route cache after the answer and routes again on the headers Portcullis set
    // or removed: the request may reach a rule (matched on such a header) whose policy was never decided.
    if (spec.recomputeRoute === true)
      return problem(
        "recomputeRoute would make Envoy route again on the headers this Portcullis' answer sets or removes, to a rule whose policy it did not decide; remove it",
      );
    return ok({ protocol, hookUp: hookUp.value, headersToBackend });
  }
  const contextExtensions: Record<string, string> = Object.create(null);
  for (const extension of spec.contextExtensions ?? []) {
    const value = contextExtensionValue(extension, ownerOf(`extAuth.contextExtensions[${extension.name}]`).namespace, refs);
    if (!value.ok) return problem(value.error);
    contextExtensions[extension.name] = value.value;
  }
  return ok({
    protocol,
    service: service.value,
    pathPrefix: spec.http?.path ?? "",
    pathOverride: spec.http?.pathOverride || undefined,
    headersToExtAuth: spec.headersToExtAuth?.map((h) => h.toLowerCase()),
    headersToBackend,
    maxRequestBytes: spec.bodyToExtAuth?.maxRequestBytes,
    timeoutMs: spec.timeout === undefined ? DEFAULT_EXT_AUTH_TIMEOUT_MS : parseGatewayDuration(spec.timeout),
    failOpen: spec.failOpen ?? false,
    statusOnError: spec.statusOnError ?? DEFAULT_STATUS_ON_ERROR,
    contextExtensions,
    includeRouteMetadata: spec.includeRouteMetadata ?? false,
    recomputeRoute: spec.recomputeRoute ?? false,
  });
}

/** Whether an extAuth compiled to the hook-up to this Portcullis (undefined: the policy has no extAuth). */
export function isHookUp(config: ExtAuthConfig | undefined): config is ExtAuthHookUp {
  return config !== undefined && "hookUp" in config;
}

/** The first of the CRD's CEL rules (Envoy Gateway ext_auth_types.go) the spec breaks, in the CRD's words. */
function crossFieldRule(spec: ExtAuthSpec): string | undefined {
  if (spec.grpc === undefined && spec.http === undefined) return "one of grpc or http must be specified";
  if (spec.grpc !== undefined && spec.http !== undefined) return "only one of grpc or http can be specified";
  const cluster = spec.http ?? spec.grpc!;
  if (cluster.backendRef === undefined && (cluster.backendRefs ?? []).length === 0) return "backendRef or backendRefs needs to be set";
  if (spec.http?.path !== undefined && spec.http.pathOverride !== undefined) return "only one of path or pathOverride can be specified";
  for (const e of spec.contextExtensions ?? []) {
    const valueOnly = e.type === "Value" && e.value !== undefined && e.valueRef === undefined;
    const refOnly = e.type === "ValueRef" && e.valueRef !== undefined && e.value === undefined;
    if (!valueOnly && !refOnly) return `contextExtensions ${e.name}: Exactly one of value or valueRef must be set with correct type.`;
    if (e.valueRef !== undefined && (!["ConfigMap", "Secret"].includes(e.valueRef.kind) || !["", "v1"].includes(e.valueRef.group))) {
      return `contextExtensions ${e.name}: Only a reference to an object of kind ConfigMap or Secret belonging to default v1 API group is supported.`;
    }
  }
  return undefined;
}

/**
 * The backendRefs (already resolved) that name this Portcullis' own Service: undefined when none
 * does; their names when all do, each on a Service port whose targetPort is Portcullis' ext_authz
 * listener for `protocol`; else why they cannot be the hook-up. A mix would send some checks to
 * another service by weight, and a port leading elsewhere (the forward-auth or admin port, or the
 * other protocol's listener) would make every check Envoy sends fail.
 */
function selfReferences(
  protocol: CompiledExtAuth["protocol"],
  backendRefs: readonly BackendRef[],
  namespace: string,
  self: SelfService,
  refs: References,
): Result<string[], string> | undefined {
  const own = backendRefs.filter((ref) => isSelf(ref, namespace, self));
  if (own.length === 0) return undefined;
  const id = `${self.namespace}/${self.name}`;
  if (own.length < backendRefs.length) {
    return fail(
      `backendRefs name this Portcullis' own Service ${id} (the hook-up that brings requests to it) together with another service, which would get some of the checks; name either only ${id} or only other services`,
    );
  }
  const listener = self.listeners[protocol];
  const label = protocol === "grpc" ? "gRPC" : "HTTP";
  const names: string[] = [];
  for (const ref of own) {
    const found = refs.service(namespace, ref);
    const port = found.ok ? (found.value.spec.ports ?? []).find((p) => p.port === ref.port) : undefined;
    const target = port?.targetPort ?? port?.port;
    if (target !== listener.port && target !== listener.name) {
      return fail(
        `port ${ref.port} of this Portcullis' own Service ${id} does not lead to its ${label} ext_authz listener (targetPort ${listener.name} or ${listener.port}), so the proxy's ${label} checks would not reach Portcullis`,
      );
    }
    names.push(`Service ${id}:${ref.port}`);
  }
  return ok(names);
}

/** Whether `ref`, of a policy part from `namespace`, names this Portcullis' own Service. */
function isSelf(ref: BackendRef, namespace: string, self: SelfService): boolean {
  return (
    (ref.group ?? "") === "" &&
    (ref.kind ?? "Service") === "Service" &&
    (ref.namespace ?? namespace) === self.namespace &&
    ref.name === self.name
  );
}

/** Every backendRef checked and resolved to its endpoints, as Envoy Gateway's translateExtServiceBackendRefs. */
function resolveService(
  protocol: "http" | "grpc",
  backendRefs: readonly BackendRef[],
  namespace: string,
  refs: References,
  settings: ServiceSettings,
): Result<ExtAuthService, string> {
  if (backendRefs.length === 0) return fail("no backendRefs found for external service");
  const endpoints: (BackendEndpoint & { weight: number })[] = [];
  const names: string[] = [];
  const endpointKinds = new Set<string>();
  let tls: BackendTls | undefined;
  for (const [i, ref] of backendRefs.entries()) {
    const resolved = resolveBackendRef(ref, namespace, refs);
    if (!resolved.ok) return resolved;
    names.push(resolved.value.name);
    // Envoy Gateway leaves a weight-0 backend out of the cluster (it is still validated).
    const weight = ref.weight ?? 1;
    if (weight === 0) continue;
    for (const e of resolved.value.endpoints) endpointKinds.add(e.kind);
    if (i > 0 && (resolved.value.tls === undefined) !== (tls === undefined)) {
      return fail("external service backends with and without TLS are not supported together");
    }
    tls = resolved.value.tls;
    for (const { host, port } of resolved.value.endpoints) endpoints.push({ host, port, weight });
  }
  if (endpointKinds.size > 1) return fail("external service destinations having multiple endpoint types are not supported");
  if (endpoints.length === 0) return fail("every backendRef of the external service has weight 0");
  // TLS settings may hold a client key: the pool key holds their digest.
  const tlsDigest = tls === undefined ? undefined : createHash("sha256").update(JSON.stringify(tls)).digest("base64url");
  const key = JSON.stringify({
    protocol,
    endpoints: endpoints.map((e) => `${e.host}:${e.port}`),
    tls: tlsDigest,
    connectTimeoutMs: settings.connectTimeoutMs,
    maxInFlight: settings.maxInFlight,
  });
  return ok({ key, endpoints, names, tls, ...settings });
}

type ServiceSettings = Pick<ExtAuthService, "connectTimeoutMs" | "retry" | "maxInFlight">;

/** Envoy's default circuit breaker thresholds (max_connections, max_pending_requests, max_requests). */
const ENVOY_CIRCUIT_LIMIT = 1024;

/**
 * The parts of `backendSettings` that reach the ext_authz call as Envoy Gateway v1.9 translates
 * them (internal/xds/translator/extauth.go, cluster.go): `retry` becomes the call's retry policy
 * (buildNonRouteRetryPolicy: `perRetry.timeout` and `retryOn.httpStatusCodes` are left out),
 * `timeout.tcp.connectTimeout` the cluster's connect timeout, and the circuit breaker's request
 * limits how many calls may be in flight before Envoy fails one at once (an HTTP/1.1 connection
 * carries one call: those beyond `maxConnections` wait, up to `maxPendingRequests`).
 */
function serviceSettings(settings: ClusterSettings | undefined, field: string): Result<ServiceSettings, Problems> {
  if (settings === undefined) return ok({});
  const connection = clusterConnection(settings, field);
  if (!connection.ok) return connection;
  const breaker = settings.circuitBreaker;
  const maxInFlight = Math.min(
    breaker?.maxParallelRequests ?? ENVOY_CIRCUIT_LIMIT,
    (breaker?.maxConnections ?? ENVOY_CIRCUIT_LIMIT) + (breaker?.maxPendingRequests ?? ENVOY_CIRCUIT_LIMIT),
  );
  const { connectTimeoutMs, retry } = connection.value;
  return ok({
    ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
    ...(retry === undefined ? {} : { retry }),
    ...(breaker === undefined ? {} : { maxInFlight }),
  });
}

type ContextExtension = NonNullable<ExtAuthSpec["contextExtensions"]>[number];

/**
 * A context extension's value: `value`, or the key of a ConfigMap or Secret in `namespace` (that
 * of the policy the extension comes from). A Secret's value is base64-decoded once more, as Envoy Gateway's translator does
 * (getContextExtensionValueFromRef), so the service receives what it receives behind Envoy Gateway.
 */
function contextExtensionValue(extension: ContextExtension, namespace: string, refs: References): Result<string, string> {
  if (extension.valueRef === undefined) return ok(extension.value ?? "");
  const { kind, name, key } = extension.valueRef;
  if (kind === "ConfigMap") {
    const cm = refs.configMap(namespace, { name });
    if (!cm.ok) return fail(`can't find the referenced configmap "${name}" in namespace "${namespace}"`);
    const value = cm.value.data[key];
    return value === undefined ? fail(`can't find the key "${key}" in the referenced configmap "${name}"`) : ok(value);
  }
  const secret = refs.secret(namespace, { name });
  if (!secret.ok) return fail(`can't find the referenced secret "${name}" in namespace "${namespace}"`);
  const text = secret.value.data[key];
  if (text === undefined) return fail(`can't find the key "${key}" in the referenced secret "${name}"`);
  const decoded = decodeBase64AsApiServer(text);
  if (decoded === undefined) return fail(`error decoding the base64 value of the key "${key}" in the referenced secret "${name}"`);
  return ok(decoded.toString("utf8"));
}
