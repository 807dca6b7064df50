/**
 * Which HTTPRoutes and GRPCRoutes attach to which listeners of the served Gateways, and under which host names
 * (the intersection of listener and route host names, as Gateway API defines it).
 */
import { GATEWAY_API_GROUP, type Listener, type ParentRef } from "../api/gatewayapi.ts";
import { keyOf } from "../api/meta.ts";
import type { Gateway, Resources, Route } from "../api/resources.ts";

/** A route attached to one listener; `hostnames` empty means any host. */
export interface Attachment {
  readonly gateway: Gateway;
  readonly listener: Listener;
  readonly route: Route;
  readonly parentRef: ParentRef;
  readonly hostnames: readonly string[];
}

export interface AttachmentResult {
  readonly attachments: readonly Attachment[];
  /** Served Gateways by "namespace/name". */
  readonly servedGateways: ReadonlyMap<string, Gateway>;
  /** Why a route did not attach where its parentRef asked (logged). */
  readonly problems: readonly string[];
  /** The parentRefs (to a served Gateway) that attach their route to no listener, with why. */
  readonly detached: ReadonlyMap<ParentRef, string>;
}

const HTTP_PROTOCOLS = new Set(["HTTP", "HTTPS"]);

export function attachRoutes(resources: Resources, gatewayClasses: readonly string[]): AttachmentResult {
  const served = new Map<string, Gateway>();
  for (const g of resources.gateways) {
    if (gatewayClasses.length === 0 || gatewayClasses.includes(g.spec.gatewayClassName)) served.set(keyOf(g.metadata), g);
  }
  const attachments: Attachment[] = [];
  const problems: string[] = [];
  const detached = new Map<ParentRef, string>();
  for (const route of [...resources.httpRoutes, ...resources.grpcRoutes]) {
    for (const parentRef of route.spec.parentRefs) {
      if ((parentRef.group ?? GATEWAY_API_GROUP) !== GATEWAY_API_GROUP || (parentRef.kind ?? "Gateway") !== "Gateway") continue;
      const gateway = served.get(`${parentRef.namespace ?? route.metadata.namespace}/${parentRef.name}`);
      if (gateway === undefined) continue;
      const listeners = gateway.spec.listeners.filter(
        (l) =>
          (parentRef.sectionName === undefined || l.name === parentRef.sectionName) &&
          (parentRef.port === undefined || l.port === parentRef.port),
      );
      if (listeners.length === 0) {
        detached.set(parentRef, "no listener matches its parentRef");
        problems.push(`${route.kind} ${keyOf(route.metadata)}: no listener of Gateway ${keyOf(gateway.metadata)} matches its parentRef`);
      }
      // Refusals are normal while some listener accepts the route; they matter when none does.
      const refusals: string[] = [];
      for (const listener of listeners) {
        const refusal = listenerRefuses(listener, gateway, route);
        const hostnames = refusal === undefined ? hostnamesOn(listener, gateway.spec.listeners, route.spec.hostnames) : undefined;
        if (hostnames === undefined) {
          refusals.push(`${listener.name}: ${refusal ?? "no host name in common that no other listener on its port names"}`);
          continue;
        }
        attachments.push({ gateway, listener, route, parentRef, hostnames });
      }
      if (listeners.length > 0 && refusals.length === listeners.length) {
        detached.set(parentRef, refusals.join("; "));
        problems.push(`${route.kind} ${keyOf(route.metadata)} attaches to no listener of Gateway ${keyOf(gateway.metadata)} (${refusals.join("; ")})`);
      }
    }
  }
  return { attachments, servedGateways: served, problems, detached };
}

function listenerRefuses(listener: Listener, gateway: Gateway, route: Route): string | undefined {
  if (listener.protocol !== undefined && !HTTP_PROTOCOLS.has(listener.protocol)) return `listener protocol ${listener.protocol} takes no ${route.kind}s`;
  const kinds = listener.allowedRoutes?.kinds;
  if (kinds !== undefined && kinds.length > 0 && !kinds.some((k) => k.kind === route.kind && (k.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP)) {
    return `listener allowedRoutes.kinds excludes ${route.kind}`;
  }
  const from = listener.allowedRoutes?.namespaces?.from ?? "Same";
  if (from === "Same" && route.metadata.namespace !== gateway.metadata.namespace) return "listener allows routes from its own namespace only";
  // Namespace labels are not watched, so a Selector cannot be evaluated: refusing is the safe reading.
  if (from === "Selector") return "allowedRoutes.namespaces.from Selector is not supported";
  return undefined;
}

/**
 * Host names a route serves on a listener; undefined when none. As in Envoy Gateway (computeHosts
 * in internal/gatewayapi/helpers.go), a host name that another listener on the same port names
 * exactly is left to that listener: Envoy's route table for the port sends it there.
 */
function hostnamesOn(listener: Listener, all: readonly Listener[], routeHosts: readonly string[]): string[] | undefined {
  const hostnames = intersectHostnames(listener.hostname, routeHosts);
  if (hostnames === undefined || hostnames.length === 0) return hostnames;
  const claimed = new Set(all.filter((l) => l !== listener && l.port === listener.port && l.hostname !== undefined).map((l) => l.hostname!.toLowerCase()));
  const left = hostnames.filter((h) => !claimed.has(h));
  return left.length === 0 ? undefined : left;
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
