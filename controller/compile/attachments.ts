/**
 * Which HTTPRoutes and GRPCRoutes attach to which listeners of the served Gateways (their own, and
 * those of the ListenerSets they allow), and under which host names (the intersection of listener
 * and route host names, as Gateway API defines it).
 */
import { GATEWAY_API_GROUP, type Listener, type ParentRef } from "../api/gatewayapi.ts";
import { keyOf, selectorMatches, type LabelSelector } from "../api/meta.ts";
import type { Gateway, ListenerSet, Resources, Route } from "../api/resources.ts";

/** A listener of a served Gateway: one of its own, or one a ListenerSet attached to it adds. */
export interface GatewayListener {
  readonly gateway: Gateway;
  readonly listener: Listener;
  /** The ListenerSet that adds it; undefined for the Gateway's own listeners. */
  readonly listenerSet: ListenerSet | undefined;
}

/** A route attached to one listener; `hostnames` empty means any host. */
export interface Attachment extends GatewayListener {
  readonly route: Route;
  readonly parentRef: ParentRef;
  readonly hostnames: readonly string[];
}

/** A ListenerSet whose parent is a served Gateway that takes no listeners from it. */
export interface RefusedListenerSet {
  readonly listenerSet: ListenerSet;
  /** "Gateway ns/name takes no listeners from it: its allowedListeners allows none". */
  readonly why: string;
}

export interface AttachmentResult {
  readonly attachments: readonly Attachment[];
  /** Every listener of the served Gateways: their own, then those of the ListenerSets they take. */
  readonly listeners: readonly GatewayListener[];
  /** Served Gateways by "namespace/name". */
  readonly servedGateways: ReadonlyMap<string, Gateway>;
  /** ListenerSets whose listeners a served Gateway takes, by "namespace/name". */
  readonly attachedListenerSets: ReadonlyMap<string, ListenerSet>;
  /** ListenerSets a served Gateway refuses (allowedListeners), by "namespace/name": their listeners serve nothing. */
  readonly refusedListenerSets: ReadonlyMap<string, RefusedListenerSet>;
  /** Why a route or ListenerSet did not attach where it asked (logged). */
  readonly problems: readonly string[];
  /** The parentRefs (to a served Gateway, or a ListenerSet of one) that attach their route to no listener, with why. */
  readonly detached: ReadonlyMap<ParentRef, string>;
}

const HTTP_PROTOCOLS = new Set(["HTTP", "HTTPS"]);

/** How a listener is named in the route index and in decisions: "http", or "ns/listenerset/http". */
export const listenerLabel = (l: GatewayListener): string =>
  l.listenerSet === undefined ? l.listener.name : `${keyOf(l.listenerSet.metadata)}/${l.listener.name}`;

/**
 * Whether a reference names a ListenerSet: gateway.networking.k8s.io's, the only one Envoy Gateway
 * v1.9.0 reads (the experimental XListenerSet of gateway.networking.x-k8s.io is no longer served by
 * the Gateway API v1.6.1 it ships, and a reference to one attaches nothing there).
 */
export const isListenerSetKind = (group: string | undefined, kind: string | undefined): boolean =>
  (group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP && kind === "ListenerSet";

/**
 * `unlabelledNamespaces`: every namespace exists without labels, as in a manifest folder: Envoy
 * Gateway's file provider makes a Namespace (no labels) for the namespace of each object it loads
 * (internal/gatewayapi/resource/load.go), so a `from: Selector` that matches no labels (`{}`,
 * `DoesNotExist`, `NotIn`) takes routes of every namespace there.
 */
export function attachRoutes(
  resources: Resources,
  gatewayClasses: readonly string[],
  { unlabelledNamespaces = false }: { readonly unlabelledNamespaces?: boolean } = {},
): AttachmentResult {
  const served = new Map<string, Gateway>();
  for (const g of resources.gateways) {
    if (gatewayClasses.length === 0 || gatewayClasses.includes(g.spec.gatewayClassName)) served.set(keyOf(g.metadata), g);
  }
  const namespaceLabels: NamespaceLabels = unlabelledNamespaces
    ? { get: () => undefined, has: () => true }
    : new Map(resources.namespaces.map((n) => [n.metadata.name, n.metadata.labels]));
  const problems: string[] = [];
  // Every listener of each served Gateway; a ListenerSet's come after the Gateway's own, as in Envoy Gateway.
  const listeners = new Map<Gateway, GatewayListener[]>(
    [...served.values()].map((g) => [g, g.spec.listeners.map((listener) => ({ gateway: g, listener, listenerSet: undefined }))]),
  );
  const attachedListenerSets = new Map<string, ListenerSet>();
  const refusedListenerSets = new Map<string, RefusedListenerSet>();
  for (const ls of resources.listenerSets) {
    const p = ls.spec.parentRef;
    if ((p.group ?? GATEWAY_API_GROUP) !== GATEWAY_API_GROUP || (p.kind ?? "Gateway") !== "Gateway") continue;
    const gateway = served.get(`${p.namespace ?? ls.metadata.namespace}/${p.name}`);
    if (gateway === undefined) continue;
    const refusal = listenerSetRefused(gateway, ls, namespaceLabels);
    if (refusal !== undefined) {
      const why = `Gateway ${keyOf(gateway.metadata)} takes no listeners from it: ${refusal}`;
      refusedListenerSets.set(keyOf(ls.metadata), { listenerSet: ls, why });
      problems.push(`ListenerSet ${keyOf(ls.metadata)}: ${why}`);
      continue;
    }
    attachedListenerSets.set(keyOf(ls.metadata), ls);
    for (const listener of ls.spec.listeners) listeners.get(gateway)!.push({ gateway, listener, listenerSet: ls });
  }

  const attachments: Attachment[] = [];
  const detached = new Map<ParentRef, string>();
  // Per listener, the host names other listeners on its port name (the same for every route that attaches to it).
  const claimedFrom = new Map<Listener, ReadonlySet<string>>();
  const claimedOn = (listener: Listener, all: readonly GatewayListener[]): ReadonlySet<string> => {
    let claimed = claimedFrom.get(listener);
    if (claimed === undefined) claimedFrom.set(listener, (claimed = hostnamesClaimedBeside(listener, all)));
    return claimed;
  };
  // Index loops: this function runs once, its loops mostly before V8 optimizes them, and each for…of step then allocates.
  const routes = [...resources.httpRoutes, ...resources.grpcRoutes];
  for (let r = 0; r < routes.length; r++) {
    const route = routes[r]!;
    for (let p = 0; p < route.spec.parentRefs.length; p++) {
      const parentRef = route.spec.parentRefs[p]!;
      const parentId = `${parentRef.namespace ?? route.metadata.namespace}/${parentRef.name}`;
      let gateway: Gateway | undefined;
      let listenerSet: ListenerSet | undefined;
      if (isListenerSetKind(parentRef.group, parentRef.kind)) {
        listenerSet = attachedListenerSets.get(parentId);
        // A route of a refused ListenerSet is reported not attached there (its policies' status says why).
        if (listenerSet === undefined) {
          const refused = refusedListenerSets.get(parentId);
          if (refused !== undefined) detached.set(parentRef, refused.why);
        }
        gateway =
          listenerSet === undefined
            ? undefined
            : served.get(`${listenerSet.spec.parentRef.namespace ?? listenerSet.metadata.namespace}/${listenerSet.spec.parentRef.name}`);
      } else if ((parentRef.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP && (parentRef.kind ?? "Gateway") === "Gateway") {
        gateway = served.get(parentId);
      }
      if (gateway === undefined) continue;
      const all = listeners.get(gateway)!;
      // A Gateway parentRef reaches the Gateway's own listeners, a ListenerSet parentRef that set's.
      const candidates: GatewayListener[] = [];
      for (let i = 0; i < all.length; i++) {
        const l = all[i]!;
        if (
          l.listenerSet === listenerSet &&
          (parentRef.sectionName === undefined || l.listener.name === parentRef.sectionName) &&
          (parentRef.port === undefined || l.listener.port === parentRef.port)
        )
          candidates.push(l);
      }
      if (candidates.length === 0) {
        detached.set(parentRef, "no listener matches its parentRef");
        problems.push(`${route.kind} ${keyOf(route.metadata)}: no listener of ${parentLabel(gateway, listenerSet)} matches its parentRef`);
      }
      // Refusals are normal while some listener accepts the route; they matter when none does.
      const refusals: string[] = [];
      for (let i = 0; i < candidates.length; i++) {
        const candidate = candidates[i]!;
        const refusal = listenerRefuses(candidate, route, namespaceLabels);
        const hostnames =
          refusal === undefined ? hostnamesOn(candidate.listener, claimedOn(candidate.listener, all), route.spec.hostnames) : undefined;
        if (hostnames === undefined) {
          refusals.push(`${candidate.listener.name}: ${refusal ?? "no host name in common that no other listener on its port names"}`);
          continue;
        }
        attachments.push({ ...candidate, route, parentRef, hostnames });
      }
      if (candidates.length > 0 && refusals.length === candidates.length) {
        detached.set(parentRef, refusals.join("; "));
        problems.push(
          `${route.kind} ${keyOf(route.metadata)} attaches to no listener of ${parentLabel(gateway, listenerSet)} (${refusals.join("; ")})`,
        );
      }
    }
  }
  return {
    attachments,
    listeners: [...listeners.values()].flat(),
    servedGateways: served,
    attachedListenerSets,
    refusedListenerSets,
    problems,
    detached,
  };
}

/** The Gateway or ListenerSet a parentRef names, as problems name it (made only for a problem: most routes have none). */
function parentLabel(gateway: Gateway, listenerSet: ListenerSet | undefined): string {
  return listenerSet === undefined ? `Gateway ${keyOf(gateway.metadata)}` : `ListenerSet ${keyOf(listenerSet.metadata)}`;
}

/**
 * Whether an HTTP(S) listener may take routes of namespaces other than its owner's: its
 * allowedRoutes say `from: All` or `from: Selector`. With `--watch-namespaces`, some of those
 * namespaces may not be read (nor their labels known): the proxy serves routes Portcullis never sees.
 */
export function takesRoutesOfOtherNamespaces(l: GatewayListener): boolean {
  if (l.listener.protocol !== undefined && !HTTP_PROTOCOLS.has(l.listener.protocol)) return false;
  const from = l.listener.allowedRoutes?.namespaces?.from ?? "Same";
  return from === "All" || from === "Selector";
}

/** Whether a Gateway may take ListenerSets of namespaces other than its own (`allowedListeners` `from: All` or `from: Selector`). */
export function takesListenerSetsOfOtherNamespaces(gateway: Gateway): boolean {
  const from = gateway.spec.allowedListeners?.namespaces?.from ?? "None";
  return from === "All" || from === "Selector";
}

/** Namespace → its labels (undefined: none); a namespace it does not have does not exist. */
type NamespaceLabels = Pick<ReadonlyMap<string, Readonly<Record<string, string>> | undefined>, "get" | "has">;

/** Whether `namespace` is one `from` (and `selector`) allows, relative to the owner's namespace. */
function namespaceAllowed(
  from: string,
  selector: LabelSelector | undefined,
  owner: string,
  namespace: string,
  labels: NamespaceLabels,
): boolean {
  if (from === "All") return true;
  if (from === "Same") return namespace === owner;
  // A namespace without a Namespace object (or a Selector without a selector) matches nothing.
  if (from === "Selector") return selector !== undefined && labels.has(namespace) && selectorMatches(selector, labels.get(namespace));
  return false;
}

/** Gateway API `allowedListeners`: absent means no ListenerSet may attach. */
function listenerSetRefused(gateway: Gateway, ls: ListenerSet, labels: NamespaceLabels): string | undefined {
  const allowed = gateway.spec.allowedListeners?.namespaces;
  const from = allowed?.from ?? "None";
  if (namespaceAllowed(from, allowed?.selector, gateway.metadata.namespace, ls.metadata.namespace, labels)) return undefined;
  return from === "None" ? "its allowedListeners allows none" : `its allowedListeners does not allow namespace ${ls.metadata.namespace}`;
}

function listenerRefuses(l: GatewayListener, route: Route, labels: NamespaceLabels): string | undefined {
  const { listener } = l;
  if (listener.protocol !== undefined && !HTTP_PROTOCOLS.has(listener.protocol))
    return `listener protocol ${listener.protocol} takes no ${route.kind}s`;
  const unprogrammed = notProgrammed(listener);
  if (unprogrammed !== undefined) return unprogrammed;
  const kinds = listener.allowedRoutes?.kinds;
  if (
    kinds !== undefined &&
    kinds.length > 0 &&
    !kinds.some((k) => k.kind === route.kind && (k.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP)
  ) {
    return `listener allowedRoutes.kinds excludes ${route.kind}`;
  }
  const namespaces = listener.allowedRoutes?.namespaces;
  // "Same" is the namespace of the object that holds the listener: the Gateway, or the ListenerSet.
  const owner = (l.listenerSet ?? l.gateway).metadata.namespace;
  if (namespaceAllowed(namespaces?.from ?? "Same", namespaces?.selector, owner, route.metadata.namespace, labels)) return undefined;
  return namespaces?.from === "Selector"
    ? `listener allowedRoutes.namespaces.selector does not match namespace ${route.metadata.namespace}`
    : "listener allows routes from its own namespace only";
}

/** The route kinds Envoy Gateway's HTTP and HTTPS listeners take (allowedRouteKindsForProtocol). */
const HTTP_LISTENER_ROUTE_KINDS: ReadonlySet<string> = new Set(["HTTPRoute", "GRPCRoute"]);

/**
 * Why Envoy Gateway v1.9.0 does not program an HTTP(S) listener at all (validateListenerSpec in
 * internal/gatewayapi/listener.go; the listener gets no route, and its host names go to the other
 * listeners of its port), for what Portcullis would otherwise attach routes to: `allowedRoutes.kinds`
 * naming a kind or group such a listener cannot take (beside one it can), or `tls` on an HTTP
 * listener. Undefined when it is programmed as far as these go.
 */
function notProgrammed(listener: Listener): string | undefined {
  const foreign = (listener.allowedRoutes?.kinds ?? []).find(
    (k) => (k.group ?? GATEWAY_API_GROUP) !== GATEWAY_API_GROUP || !HTTP_LISTENER_ROUTE_KINDS.has(k.kind),
  );
  if (foreign !== undefined)
    return `listener allowedRoutes.kinds names ${foreign.kind}${(foreign.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP ? "" : ` of group "${foreign.group}"`}, which an ${listener.protocol ?? "HTTP"} listener cannot take: Envoy Gateway programs no route on it`;
  if (listener.protocol === "HTTP" && (listener as { readonly tls?: unknown }).tls != null)
    return "listener has tls but protocol HTTP: Envoy Gateway programs no route on it";
  return undefined;
}

/**
 * Host names a route serves on a listener; undefined when none. As in Envoy Gateway (computeHosts
 * in internal/gatewayapi/helpers.go), a host name that another listener on the same port names
 * exactly (`claimed`, hostnamesClaimedBeside) is left to that listener: Envoy's route table for the port sends it there.
 */
function hostnamesOn(listener: Listener, claimed: ReadonlySet<string>, routeHosts: readonly string[]): string[] | undefined {
  const hostnames = intersectHostnames(listener.hostname, routeHosts);
  if (hostnames === undefined || hostnames.length === 0 || claimed.size === 0) return hostnames;
  const left = hostnames.filter((h) => !claimed.has(h));
  return left.length === 0 ? undefined : left;
}

/** The host names (lower case) the other listeners of `all` on `listener`'s port name. */
function hostnamesClaimedBeside(listener: Listener, all: readonly GatewayListener[]): ReadonlySet<string> {
  const claimed = new Set<string>();
  for (const { listener: l } of all)
    if (l !== listener && l.port === listener.port && l.hostname !== undefined) claimed.add(l.hostname.toLowerCase());
  return claimed;
}

/** Host names a route serves on a listener; undefined when they do not overlap at all. */
export function intersectHostnames(listenerHost: string | undefined, routeHosts: readonly string[]): string[] | undefined {
  const listener = listenerHost?.toLowerCase();
  if (routeHosts.length === 0) return listener === undefined ? [] : [listener];
  if (listener === undefined) return routeHosts.map((h) => h.toLowerCase());
  const out = new Set<string>();
  for (const raw of routeHosts) {
    const host = raw.toLowerCase();
    if (host === listener || wildcardCovers(listener, host)) out.add(host);
    else if (wildcardCovers(host, listener)) out.add(listener);
  }
  return out.size === 0 ? undefined : [...out];
}

/** "*.example.com" covers "a.example.com", "a.b.example.com" and the narrower "*.b.example.com". */
function wildcardCovers(pattern: string, host: string): boolean {
  if (!pattern.startsWith("*.")) return false;
  const suffix = pattern.slice(1);
  return host.endsWith(suffix) && host.length > suffix.length && host !== pattern;
}
