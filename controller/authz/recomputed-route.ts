/**
 * jwt's `recomputeRoute`: Envoy Gateway's jwt_authn clears the route cache once a provider with it
 * added a claim header (Envoy's `clear_route_cache`), and Envoy routes the request again on the
 * headers as they then are; the later filters and the upstream are those of the rule it then picks.
 * The proxy asking Portcullis routes once, on the client's headers. An allow that sets such a
 * header stands only where routing again takes the rules it was decided on.
 */
import { jwt } from "../features/jwt/index.ts";
import { compiledOf } from "../features/feature.ts";
import { findRoutes, type RouteReading } from "../snapshot/route-index.ts";
import type { CompiledPolicy, RouteEntry, Snapshot } from "../snapshot/types.ts";
import { deny, type Decision } from "./decision.ts";
import type { NormalizedRequest } from "./request.ts";

/** The claim headers of a policy's jwt providers with recomputeRoute, found once per policy (a snapshot is immutable). */
const recomputingByPolicy = new WeakMap<CompiledPolicy, readonly string[]>();
const NONE: readonly string[] = Object.freeze([]);

function recomputingHeaders(policy: CompiledPolicy): readonly string[] {
  let headers = recomputingByPolicy.get(policy);
  if (headers === undefined) {
    const providers = compiledOf(policy.features, jwt)?.providers ?? [];
    const names = providers.filter((p) => p.recomputeRoute).flatMap((p) => p.claimToHeaders.map((c) => c.header));
    headers = names.length === 0 ? NONE : Object.freeze([...new Set(names)]);
    recomputingByPolicy.set(policy, headers);
  }
  return headers;
}

/**
 * `decision`, or a 403 route_mismatch when it allows on `entries` (the rules this reading's routing found) and
 * sets a claim header of a provider with recomputeRoute, and routing the request again on its
 * headers as jwt leaves them takes other rules. Two readings of those headers: Envoy's jwt_authn adds
 * the claim beside the client's own copy (the route match reads them joined with ","), the upstream
 * and a proxy clearing its route cache after Portcullis' answer read Portcullis' value alone.
 */
export function unlessRoutedElsewhere(
  decision: Decision,
  snapshot: Snapshot,
  entries: readonly RouteEntry[],
  reading: RouteReading,
  req: NormalizedRequest,
): Decision {
  if (!decision.allowed) return decision;
  let set: Record<string, string> | undefined;
  for (let i = 0; i < entries.length; i++) {
    const policy = entries[i]!.policy;
    if (policy === undefined) continue;
    const headers = recomputingHeaders(policy);
    for (let h = 0; h < headers.length; h++) {
      const name = headers[h]!;
      if (Object.hasOwn(decision.upstreamHeaders, name)) (set ??= {})[name] = decision.upstreamHeaders[name]!;
    }
  }
  if (set === undefined) return decision;
  const appended: Record<string, string> = {};
  for (const name in set) {
    const own = req.source.headers[name];
    const lines = own === undefined ? [] : Array.isArray(own) ? own : [own];
    appended[name] = [...lines, set[name]!].join(",");
  }
  for (const [headers, remove] of [
    [set, decision.removeHeaders],
    [appended, NONE],
  ] as const) {
    const again = req.afterPhase(headers, remove);
    const found = findRoutes(snapshot.routes, again, again.source, reading) ?? [];
    if (!sameRules(found, entries)) {
      const rules = found.length === 0 ? "no rule" : found.map((e) => e.rule).join(", ");
      return {
        ...deny(
          403,
          "route_mismatch",
          `jwt's recomputeRoute routes the request again, on the ${Object.keys(set).join(", ")} it sets, to ${rules}, not to ${entries.map((e) => e.rule).join(", ")}`,
          { route: decision.route, policy: decision.policy },
        ),
        detail:
          "Envoy Gateway routes again after jwt_authn added a claim header (clear_route_cache) and applies the rule it then picks; the proxy asking Portcullis routed once, on the client's headers: the request was decided on the rule only one of them takes",
      };
    }
  }
  return decision;
}

/** Whether two findRoutes answers hold the same entries (the route index's own objects). */
const sameRules = (a: readonly RouteEntry[], b: readonly RouteEntry[]): boolean => a.length === b.length && a.every((e) => b.includes(e));
