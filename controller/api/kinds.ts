/**
 * The kinds Portcullis reads, and the API groups, kinds and versions the API server serves (Envoy
 * Gateway v1.9.0's CRDs and scheme, the Gateway API v1.6.1 CRDs it ships): which objects are read,
 * ignored or refused, and why.
 */
import { distance } from "fastest-levenshtein";
import { GATEWAY_API_GROUP } from "./gatewayapi.ts";
import type { KindName, RejectedObject } from "./resources.ts";
import { SECURITY_POLICY_GROUP } from "./securitypolicy.ts";
import { fail, type Failure } from "../lib/result.ts";

/** The core API group ("v1"), whose kinds Portcullis reads at v1. */
const CORE_GROUP = "";

/** The kinds Portcullis reads, each in one API group (at the versions SERVED gives it; core kinds at v1), and its list in Resources. */
export const KINDS: Record<string, { readonly group: string; readonly list: KindName; readonly clusterScoped?: true }> = {
  SecurityPolicy: { group: SECURITY_POLICY_GROUP, list: "securityPolicies" },
  Gateway: { group: GATEWAY_API_GROUP, list: "gateways" },
  GatewayClass: { group: GATEWAY_API_GROUP, list: "gatewayClasses", clusterScoped: true },
  HTTPRoute: { group: GATEWAY_API_GROUP, list: "httpRoutes" },
  GRPCRoute: { group: GATEWAY_API_GROUP, list: "grpcRoutes" },
  ListenerSet: { group: GATEWAY_API_GROUP, list: "listenerSets" },
  ReferenceGrant: { group: GATEWAY_API_GROUP, list: "referenceGrants" },
  Secret: { group: CORE_GROUP, list: "secrets" },
  ConfigMap: { group: CORE_GROUP, list: "configMaps" },
  Namespace: { group: CORE_GROUP, list: "namespaces", clusterScoped: true },
  Service: { group: CORE_GROUP, list: "services" },
  Backend: { group: SECURITY_POLICY_GROUP, list: "backends" },
  BackendTLSPolicy: { group: GATEWAY_API_GROUP, list: "backendTLSPolicies" },
  ClientTrafficPolicy: { group: SECURITY_POLICY_GROUP, list: "clientTrafficPolicies" },
};

/**
 * Every kind of the API groups Portcullis reads from, with the versions their CRDs serve: Envoy
 * Gateway v1.9.0's API (`api/v1alpha1`) and the Gateway API v1.6.1 CRDs it ships (its go.mod;
 * `charts/gateway-crds-helm`), experimental channel, which serves every version the standard one
 * does and more (BackendTLSPolicy v1alpha3, TCPRoute v1alpha2). A kind or version not listed is one
 * the API server and Envoy Gateway's file provider (its local CRD validation) refuse: ignoring it
 * would make a policy or route vanish and open what it protected, so it is rejected. A listed kind
 * Portcullis does not read (EnvoyProxy, TCPRoute) is ignored.
 */
const SERVED: ReadonlyMap<string, Readonly<Record<string, readonly string[]>>> = new Map([
  [
    SECURITY_POLICY_GROUP,
    Object.fromEntries(
      [
        "Backend",
        "BackendTrafficPolicy",
        "ClientTrafficPolicy",
        "EnvoyExtensionPolicy",
        "EnvoyGateway",
        "EnvoyPatchPolicy",
        "EnvoyProxy",
        "HTTPRouteFilter",
        "SecurityPolicy",
      ].map((kind) => [kind, ["v1alpha1"]]),
    ),
  ],
  [
    GATEWAY_API_GROUP,
    {
      BackendTLSPolicy: ["v1", "v1alpha3"],
      Gateway: ["v1", "v1beta1"],
      GatewayClass: ["v1", "v1beta1"],
      GRPCRoute: ["v1"],
      HTTPRoute: ["v1", "v1beta1"],
      ListenerSet: ["v1"],
      ReferenceGrant: ["v1", "v1beta1"],
      TCPRoute: ["v1", "v1alpha2"],
      TLSRoute: ["v1", "v1alpha2", "v1alpha3"],
      UDPRoute: ["v1", "v1alpha2"],
    },
  ],
  ["gateway.networking.x-k8s.io", { XBackend: ["v1alpha1"], XBackendTrafficPolicy: ["v1alpha1"], XMesh: ["v1alpha1"] }],
]);

/**
 * The other API groups of Envoy Gateway v1.9.0's scheme (internal/envoygateway/scheme.go: client-go's
 * built-in groups, the multicluster ServiceImport's, CustomResourceDefinitions'). Its file provider
 * loads their objects and uses none; Portcullis ignores them too, whatever their kind and version
 * (none can carry a policy; a misspelt core kind Portcullis reads, a Secret, leaves its policy
 * Invalid). An object of any other group (`networking.istio.io/v1 Gateway`, a misspelt
 * `gateway.envoyproxy.io`) is one Envoy Gateway's file provider refuses (no such kind is registered)
 * and with it the whole load: it is rejected.
 */
const OTHER_SCHEME_GROUPS: ReadonlySet<string> = new Set([
  CORE_GROUP,
  "admissionregistration.k8s.io",
  "apiextensions.k8s.io",
  "apps",
  "authentication.k8s.io",
  "authorization.k8s.io",
  "autoscaling",
  "batch",
  "certificates.k8s.io",
  "coordination.k8s.io",
  "discovery.k8s.io",
  "events.k8s.io",
  "extensions",
  "flowcontrol.apiserver.k8s.io",
  "internal.apiserver.k8s.io",
  "multicluster.x-k8s.io",
  "networking.k8s.io",
  "node.k8s.io",
  "policy",
  "rbac.authorization.k8s.io",
  "resource.k8s.io",
  "scheduling.k8s.io",
  "storage.k8s.io",
  "storagemigration.k8s.io",
]);

/**
 * Kinds an older release served that a newer one serves under another group or name (keyed
 * "group kind"), with that apiVersion and kind: an object written for the older release is told
 * what to write, where the nearest kind by spelling would mislead (XListenerSet's is XBackend).
 */
const SUCCESSORS: ReadonlyMap<string, string> = new Map([
  ["gateway.networking.x-k8s.io XListenerSet", `${GATEWAY_API_GROUP}/v1 ListenerSet`],
]);

/** An apiVersion's group and version: without a "/", a version of the core group (as the API server reads it). */
function groupVersionOf(apiVersion: string): { readonly group: string; readonly version: string } {
  const slash = apiVersion.indexOf("/");
  return slash === -1
    ? { group: CORE_GROUP, version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** The versions `kind` of `group` is served at (SERVED; v1 for the core kinds Portcullis reads), or undefined for none. */
export function servedVersions(group: string, kind: string): readonly string[] | undefined {
  if (group === CORE_GROUP) return KINDS[kind]?.group === CORE_GROUP ? ["v1"] : undefined;
  const kinds = SERVED.get(group);
  return kinds !== undefined && Object.hasOwn(kinds, kind) ? kinds[kind] : undefined;
}

/**
 * Whether `kind` at `apiVersion` is served by the CRDs of Envoy Gateway v1.9.0 and the Gateway API
 * v1.6.1 it ships (SERVED; a core kind Portcullis reads at v1): what a manifest may say, and what
 * the Kubernetes source may watch.
 */
export function isServed(apiVersion: string, kind: string): boolean {
  const { group, version } = groupVersionOf(apiVersion);
  return servedVersions(group, kind)?.includes(version) === true;
}

/** Whether an object of `apiVersion` and `kind` is one Portcullis reads (a kind of KINDS, in its group, at any version). */
export function isWatchedKind(apiVersion: unknown, kind: unknown): boolean {
  return (
    typeof kind === "string" &&
    Object.hasOwn(KINDS, kind) &&
    typeof apiVersion === "string" &&
    KINDS[kind]!.group === groupVersionOf(apiVersion).group
  );
}

/**
 * Undefined when `o`, of a kind Portcullis does not read, is ignored: a kind SERVED lists, at a
 * version served, or any object of OTHER_SCHEME_GROUPS (the core group at v1). Else its rejection,
 * naming the object `name` (its " namespace/name", or ""): no apiVersion or kind, a group Envoy
 * Gateway's scheme does not have, a kind the group does not have (naming the group's kind nearest
 * to it: fewest edits, letter case aside) or a version its CRD does not serve.
 */
export function rejectUnknownKind(
  o: Record<string, unknown>,
  name: string,
): Failure<Pick<RejectedObject, "object" | "reason">> | undefined {
  if (typeof o.apiVersion !== "string" || o.apiVersion === "" || typeof o.kind !== "string" || o.kind === "") {
    return fail({
      object: `${typeof o.kind === "string" && o.kind !== "" ? o.kind : "(no kind)"}${name}`,
      reason: "apiVersion and kind must both be set",
    });
  }
  const { apiVersion, kind } = o as { apiVersion: string; kind: string };
  const object = `${kind}${name}`;
  const { group, version } = groupVersionOf(apiVersion);
  // The core group has one version: "gateway.envoyproxy.io" alone (no "/") is a version of it that no scheme has.
  if (OTHER_SCHEME_GROUPS.has(group) && (group !== CORE_GROUP || version === "v1")) return undefined;
  const kinds = SERVED.get(group);
  if (kinds === undefined) {
    return fail({
      object,
      reason: `no kind ${kind} is registered for ${apiVersion} in Envoy Gateway, whose file provider refuses the whole load over it (keep only Gateway API, Envoy Gateway and Kubernetes objects in a manifest folder)`,
    });
  }
  const versions = servedVersions(group, kind);
  const successor = SUCCESSORS.get(`${group} ${kind}`);
  if (versions === undefined && successor !== undefined) {
    return fail({
      object,
      reason: `${group} has no kind ${JSON.stringify(kind)} any more: Gateway API v1.6.1 serves ${successor} in its place; the API server would refuse it`,
    });
  }
  if (versions === undefined) {
    const edits = (k: string) => distance(kind.toLowerCase(), k.toLowerCase());
    const nearest = Object.keys(kinds).reduce((best, k) => (edits(k) < edits(best) ? k : best));
    return fail({
      object,
      reason: `${group} has no kind ${JSON.stringify(kind)} (the nearest is ${nearest}); the API server would refuse it`,
    });
  }
  return versions.includes(version) ? undefined : fail({ object, reason: notServed(group, kind, versions) });
}

/** Why an apiVersion of a known kind is refused: the versions its CRD serves. */
export const notServed = (group: string, kind: string, versions: readonly string[]) =>
  group === CORE_GROUP
    ? `${kind} is served as ${versions.join(", ")} only (Kubernetes' core API); the API server would refuse it`
    : `${kind} is served as ${versions.map((v) => `${group}/${v}`).join(", ")} only (Gateway API v1.6.1 and Envoy Gateway v1.9.0's CRDs); the API server would refuse it`;
