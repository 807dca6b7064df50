/**
 * The route the proxy says it selected (Envoy Gateway's route metadata, AuthzRequest.proxyRoute):
 * which of the entries a reading found are that route's, and the route_mismatch denial when none is.
 * Apart from route-phase.ts, which asks this only for Envoy's own reading of the request.
 */
import type { RouteEntry } from "../snapshot/types.ts";
import { deny, type Decision } from "./decision.ts";
import type { ProxyRoute } from "./request.ts";

/** Entries of the route the proxy says it selected. */
export function takenBy(taken: ProxyRoute, entries: readonly RouteEntry[]): RouteEntry[] {
  return entries.filter((e) => isTaken(taken, e));
}

/** Whether `entry` is the rule of the route the proxy selected. */
function isTaken(taken: ProxyRoute, entry: RouteEntry): boolean {
  const id = `${taken.namespace}/${taken.name}`;
  // A rule's label ends with "<namespace>/<name> rule <rule name>" (GRPCRoute ones have a prefix).
  return (
    entry.kind === taken.kind &&
    entry.route === id &&
    (taken.sectionName === undefined || entry.rule.endsWith(`${id} rule ${taken.sectionName}`))
  );
}

/**
 * The denial when no route table here picks the rule the proxy selected: the proxy and Portcullis
 * disagree on the request (their routes or route order differ), so neither policy can be trusted
 * to be the one that governs it.
 */
export function routeMismatch(taken: ProxyRoute, entries: readonly RouteEntry[]): Decision {
  const other = entries[0];
  const named = `${taken.kind} ${taken.namespace}/${taken.name}${taken.sectionName === undefined ? "" : ` rule ${taken.sectionName}`}`;
  return deny(403, "route_mismatch", `the proxy selected ${named}, Portcullis matches ${other?.rule ?? "no route"}`, {
    route: other?.rule,
  });
}
