/**
 * The backends a policy's feature calls (an extAuth service, a remote JWKS, an OIDC provider),
 * resolved as Envoy Gateway v1.9.0 resolves a backendRef (internal/gatewayapi/validate.go
 * validateExtServiceBackendReference, ext_service.go, clustersettings.go): which references are
 * accepted, where each one is reached, how its TLS server is verified, and the parts of
 * `backendSettings` a fetch obeys. Shared by features, so that none imports another's internals.
 */
import { isIP } from "node:net";
import type { BackendEndpointSpec } from "../api/backend.ts";
import type { BackendRef, BackendObjectReference, ClusterSettings } from "../api/cluster-settings.ts";
import { parseGatewayDuration } from "../api/meta.ts";
import type { Backend } from "../api/resources.ts";
import { SECURITY_POLICY_GROUP } from "../api/securitypolicy.ts";
import type { JwksConnection, JwksRetry, JwksTls } from "../keys/types.ts";
import { fail, ok, problem, type Result } from "../lib/result.ts";
import { backendTlsOf } from "./backend-tls.ts";
import type { BackendTarget, References } from "./references.ts";

/** The multicluster ServiceImport group, which Envoy Gateway also accepts (Portcullis cannot resolve it). */
const MULTICLUSTER_GROUP = "multicluster.x-k8s.io";

/** One address a backend answers on. */
export interface BackendEndpoint {
  /** Host name or IP address to connect to. */
  readonly host: string;
  /** TCP port, 1 to 65535. */
  readonly port: number;
}

/**
 * TLS towards a backend: how its certificate is verified (an Envoy Gateway Backend's `tls`, or a
 * BackendTLSPolicy on the Service or Backend), and the client certificate a Backend's
 * `tls.clientCertificateRef` presents. Undefined where it is used: plain text.
 */
export interface BackendTls extends JwksTls {
  /** PEM client certificate and key. */
  readonly clientCertificate?: { readonly cert: string; readonly key: string };
}

export interface ResolvedBackend {
  /** "Service ns/name:port" or "Backend ns/name". */
  readonly name: string;
  readonly endpoints: readonly (BackendEndpoint & { readonly kind: "hostname" | "ip" })[];
  readonly tls: BackendTls | undefined;
}

/**
 * One backendRef, checked as Envoy Gateway's validateExtServiceBackendReference: group core,
 * multicluster or gateway.envoyproxy.io; kind Service, ServiceImport or Backend; a Service needs a
 * port it has (TCP); another namespace needs a ReferenceGrant. A Service is called at its cluster
 * DNS name `<name>.<namespace>.svc:<port>`; a Backend at its endpoints.
 */
export function resolveBackendRef(ref: BackendObjectReference, namespace: string, refs: References): Result<ResolvedBackend, string> {
  const group = ref.group ?? "";
  const kind = ref.kind ?? "Service";
  if (group !== "" && group !== MULTICLUSTER_GROUP && group !== SECURITY_POLICY_GROUP) {
    return fail(
      `group is invalid, only the core API group (specified by omitting the group field or setting it to an empty string), the ${MULTICLUSTER_GROUP} API group, and the ${SECURITY_POLICY_GROUP} API group are supported`,
    );
  }
  if (kind !== "Service" && kind !== "ServiceImport" && kind !== "Backend") {
    return fail(
      "kind is invalid, only Service (specified by omitting the kind field or setting it to 'Service'), ServiceImport, and Backend are supported",
    );
  }
  if (ref.port === undefined && kind !== "Backend") {
    return fail("a valid port number corresponding to a port on the Service must be specified");
  }
  const target = ref.namespace ?? namespace;
  const id = `${target}/${ref.name}`;
  if (kind === "ServiceImport") {
    // A multi-cluster service has no address Portcullis can reach from here.
    return fail(`ServiceImport ${id}: multi-cluster services are not supported by Portcullis`);
  }
  const notPermitted = `backend ref to ${kind} ${id} not permitted by any ReferenceGrant`;
  if (kind === "Service") {
    const found = refs.service(namespace, ref);
    if (!found.ok) return fail(found.error.includes("ReferenceGrant") ? notPermitted : `service ${id} not found`);
    const service = found.value;
    if (service.spec.type === "ExternalName") {
      return fail(
        `Service ${id} is of type ExternalName, which is not supported as a backend; use an Envoy Gateway Backend resource with an FQDN endpoint instead`,
      );
    }
    if (!(service.spec.ports ?? []).some((p) => p.port === ref.port && (p.protocol ?? "TCP") === "TCP")) {
      return fail(`TCP Port ${ref.port} not found on service ${id}`);
    }
    const portName = service.spec.ports?.find((p) => p.port === ref.port)?.name;
    const tls = serviceTls(
      refs,
      { group: "", kind: "Service", namespace: target, name: ref.name, sectionName: portName || undefined },
      undefined,
    );
    if (!tls.ok) return tls;
    return ok({
      name: `Service ${id}:${ref.port}`,
      endpoints: [{ kind: "hostname", host: `${ref.name}.${target}.svc`, port: ref.port! }],
      tls: tls.value,
    });
  }
  const found = refs.backend(namespace, ref);
  if (!found.ok) return fail(found.error.includes("ReferenceGrant") ? notPermitted : `backend ${id} not found`);
  return backendEndpoints(found.value, id, refs);
}

function backendEndpoints(backend: Backend, id: string, refs: References): Result<ResolvedBackend, string> {
  if (backend.spec.type === "DynamicResolver") return fail(`dynamic resolver backend ${id} is not supported`);
  const endpoints: (BackendEndpoint & { kind: "hostname" | "ip" })[] = [];
  for (const [i, e] of (backend.spec.endpoints ?? []).entries()) {
    const endpoint = backendEndpoint(e);
    if (!endpoint.ok) return fail(`Backend ${id}: spec.endpoints[${i}]: ${endpoint.error}`);
    endpoints.push(endpoint.value);
  }
  if (endpoints.length === 0) return fail(`Backend ${id} has no endpoints`);
  if (endpoints.some((e) => e.kind === "hostname") && endpoints.some((e) => e.kind === "ip"))
    return fail(`Backend ${id}: fqdn endpoints cannot be mixed with ip endpoints in one Backend`);
  const [namespace, name] = id.split("/") as [string, string];
  const tls = serviceTls(refs, { group: SECURITY_POLICY_GROUP, kind: "Backend", namespace, name }, backend.spec.tls ?? undefined);
  if (!tls.ok) return tls;
  return ok({ name: `Backend ${id}`, endpoints, tls: tls.value });
}

/** An FQDN host name as Envoy Gateway's CRD admits it: a lower-case DNS subdomain, optionally ending in a dot. */
const FQDN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\.?$/;

/**
 * One Backend endpoint, checked as Envoy Gateway's CRD checks it (its CEL rules included, which
 * Portcullis' own CRD cannot state on a 1.20 API server): exactly one of fqdn, ip or unix, a host
 * name or IP address that is one, a port that can be connected to. A Unix socket is refused: it is
 * on the proxy's host, which Portcullis does not share.
 */
function backendEndpoint(e: BackendEndpointSpec): Result<BackendEndpoint & { kind: "hostname" | "ip" }, string> {
  const given = [e.fqdn, e.ip, e.unix].filter((x) => x !== undefined).length;
  if (given === 0) return fail("sets none of fqdn, ip or unix; exactly one is needed");
  if (given > 1) return fail("sets more than one of fqdn, ip or unix; exactly one is allowed");
  if (e.unix !== undefined) return fail("a unix domain socket is on the proxy's host, which Portcullis does not share");
  const [kind, host, port] =
    e.fqdn !== undefined ? (["hostname", e.fqdn.hostname, e.fqdn.port] as const) : (["ip", e.ip!.address, e.ip!.port] as const);
  if (kind === "hostname" && !FQDN.test(host)) return fail(`fqdn.hostname ${JSON.stringify(host)} is not a valid DNS name`);
  if (kind === "ip" && isIP(host) === 0) return fail(`ip.address ${JSON.stringify(host)} is not an IPv4 or IPv6 address`);
  if (port < 1 || port > 65535)
    return fail(`${kind === "hostname" ? "fqdn" : "ip"}.port ${port} is not a port that can be connected to (1 to 65535)`);
  return ok({ kind, host, port });
}

/**
 * How the service's TLS server is verified (compile/backend-tls.ts: the Backend's `tls`, then a
 * BackendTLSPolicy on the backend), with the client certificate of a Backend's
 * `tls.clientCertificateRef` (a kubernetes.io/tls Secret in the Backend's namespace).
 */
function serviceTls(refs: References, target: BackendTarget, backendTls: unknown): Result<BackendTls | undefined, string> {
  const verification = backendTlsOf(refs, target, backendTls);
  if (!verification.ok) return verification;
  const clientRef = (backendTls as { clientCertificateRef?: { name?: unknown; namespace?: unknown } } | undefined)?.clientCertificateRef;
  if (clientRef === undefined) return verification;
  if (typeof clientRef.name !== "string") return fail(`Backend ${target.namespace}/${target.name}: tls.clientCertificateRef needs a name`);
  const secret = refs.secret(target.namespace, {
    name: clientRef.name,
    namespace: typeof clientRef.namespace === "string" ? clientRef.namespace : undefined,
  });
  if (!secret.ok) return fail(`Backend ${target.namespace}/${target.name}: tls.clientCertificateRef: ${secret.error}`);
  const cert = secret.value.data["tls.crt"];
  const key = secret.value.data["tls.key"];
  if (cert === undefined || key === undefined) {
    return fail(`Backend ${target.namespace}/${target.name}: tls.clientCertificateRef: the Secret needs tls.crt and tls.key`);
  }
  return ok({ ...verification.value, clientCertificate: { cert, key } });
}

/** Envoy's default backoff of a `RetryPolicy` without `retry_back_off`: 1 s, at most ten times that. */
const DEFAULT_RETRY_BASE_MS = 1000;
/**
 * Envoy Gateway's retry triggers when `retryOn` names none (internal/xds/translator/route.go,
 * retryDefaultRetryOn); `retriable-status-codes` lists no code for a JWKS fetch, so only a failed
 * connection is retried.
 */
const DEFAULT_RETRY_ON = ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"];

/**
 * The parts of `backendSettings` a fetch obeys, as Envoy Gateway's translator sets them on Envoy's
 * remote JWKS (internal/xds/translator/jwt.go): `timeout.http.requestTimeout` bounds the fetch,
 * retries included; `timeout.tcp.connectTimeout` one connection; `retry` the attempts (backoff
 * checked as internal/gatewayapi/clustersettings.go buildRetry does).
 */
export function clusterConnection(settings: ClusterSettings, field: string): Result<JwksConnection> {
  const requestTimeout = settings.timeout?.http?.requestTimeout;
  const connectTimeout = settings.timeout?.tcp?.connectTimeout;
  let retry: JwksRetry | undefined;
  if (settings.retry !== undefined) {
    const backOff = settings.retry.perRetry?.backOff;
    const base = backOff?.baseInterval === undefined ? undefined : parseGatewayDuration(backOff.baseInterval);
    const max = backOff?.maxInterval === undefined ? undefined : parseGatewayDuration(backOff.maxInterval);
    if (base === 0) return problem(`${field}.retry.perRetry.backOff: baseInterval cannot be set to 0s`);
    if (max === 0) return problem(`${field}.retry.perRetry.backOff: maxInterval cannot be set to 0s`);
    if (base !== undefined && max !== undefined && base > max)
      return problem(`${field}.retry.perRetry.backOff: maxInterval cannot be less than baseInterval`);
    const baseIntervalMs = base ?? DEFAULT_RETRY_BASE_MS;
    retry = {
      numRetries: settings.retry.numRetries,
      baseIntervalMs,
      maxIntervalMs: max ?? baseIntervalMs * 10,
      on: settings.retry.retryOn?.triggers ?? DEFAULT_RETRY_ON,
    };
  }
  return ok({
    ...(requestTimeout === undefined ? {} : { requestTimeoutMs: parseGatewayDuration(requestTimeout) }),
    ...(connectTimeout === undefined ? {} : { connectTimeoutMs: parseGatewayDuration(connectTimeout) }),
    ...(retry === undefined ? {} : { retry }),
  });
}

/**
 * Where a remote JWKS (or an OIDC provider) is fetched from when `backendRefs` name it (Envoy
 * Gateway's cluster for it): the endpoints of each Service or Backend, weight 0 left out, and how
 * their TLS server is verified (a BackendTLSPolicy, a Backend's `tls`); the URI still gives the
 * Host header, path and scheme. Errors name `field`.
 */
export function backendsConnection(
  backendRefs: readonly BackendRef[],
  field: string,
  namespace: string,
  refs: References,
): Result<JwksConnection> {
  const endpoints: { host: string; port: number }[] = [];
  let tls: JwksTls | undefined;
  for (const [i, ref] of backendRefs.entries()) {
    const resolved = resolveBackendRef(ref, namespace, refs);
    if (!resolved.ok) return problem(`${field}.backendRefs[${i}]: ${resolved.error}`);
    if (ref.weight === 0) continue;
    const { clientCertificate, ...verification } = resolved.value.tls ?? {};
    if (clientCertificate !== undefined)
      return problem(
        `${field}.backendRefs[${i}]: a client certificate (tls.clientCertificateRef) is not supported for a fetch by Portcullis`,
      );
    if (endpoints.length > 0 && (tls === undefined) !== (resolved.value.tls === undefined))
      return problem(`${field}.backendRefs: backends with and without TLS are not supported together`);
    tls = resolved.value.tls === undefined ? undefined : verification;
    for (const { host, port } of resolved.value.endpoints) endpoints.push({ host, port });
  }
  if (endpoints.length === 0) return problem(`${field}.backendRefs: every backendRef has weight 0`);
  return ok({ endpoints, ...(tls === undefined ? {} : { tls }) });
}
