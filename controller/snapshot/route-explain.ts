/**
 * The route lookup explained, for a decision's trace (authz/trace.ts): which virtual host each route
 * table in scope selected, the entries tried with the part of each match the request fails, the one
 * picked and those it wins over. It reads the tables exactly as route-index.ts's lookup does (its
 * host selection and match helpers), kept apart because only a traced decision needs it.
 */
import { paramIn } from "./query-readings.ts";
import { ENVOY_READING, hostAt, hostCount, portCovers, type RouteReading, type RouteRequest, type RouteScope } from "./route-index.ts";
import { headerOf, pathMatches, valueMatches } from "./route-match.ts";
import { describeMatch } from "./summary.ts";
import type { CompiledMatch, RouteIndex, VirtualHosts } from "./types.ts";
import { selectVirtualHost, wildcardSuffix } from "./virtual-hosts.ts";

/** How many entries that do not match a trace lists before the one picked (a virtual host may hold hundreds). */
const TRACED_MISSES = 20;

/**
 * For a decision's trace (authz/trace.ts): per route table in scope, the virtual host the Host
 * selected and the entries in Envoy Gateway's route order up to the one picked, each with what did
 * not match in `reading` (Envoy's unless said); then the entries that also match but come later,
 * which the picked one wins over.
 */
export function explainRoutes(
  index: RouteIndex,
  request: RouteRequest,
  scope: RouteScope,
  reading: RouteReading = ENVOY_READING,
): object[] {
  const tables: object[] = [];
  for (const [gateway, ports] of Object.entries(index.byGateway)) {
    if (scope.gateway !== undefined && gateway !== scope.gateway) continue;
    for (const table of ports) {
      if (!portCovers(table, scope.port)) continue;
      for (let h = 0; h < hostCount(request); h++) {
        const host = hostAt(request, h);
        const where = { gateway, port: table.port, ...(hostCount(request) === 1 ? {} : { host }) };
        tables.push({ ...where, ...explainVirtualHost(table.vhosts, host, request, scope.route, reading) });
      }
    }
  }
  return tables;
}

/** The trace of one route table read with Host `host` in `reading`: its virtual host, the entries tried, the one picked. */
function explainVirtualHost(
  vhosts: VirtualHosts,
  host: string,
  request: RouteRequest,
  route: string | undefined,
  reading: RouteReading,
): object {
  const suffix = vhosts.exact[host] === undefined ? wildcardSuffix(vhosts, host) : undefined;
  const virtualHost =
    vhosts.exact[host] !== undefined ? host : suffix !== undefined ? `*${suffix}` : vhosts.any.length > 0 ? "(any host)" : undefined;
  const entries = selectVirtualHost(vhosts, host);
  if (entries === undefined) return { virtualHost: "none: no route of this listener port has this host" };
  const misses: string[] = [];
  let missed = 0;
  let picked: string | undefined;
  const alsoMatching: string[] = [];
  for (const entry of entries) {
    const label = `${entry.rule} (${describeMatch(entry.match)})`;
    const why = route !== undefined && entry.route !== route ? "not the route the proxy named" : mismatchOf(entry.match, request, reading);
    if (why === undefined && picked === undefined) picked = label;
    else if (why === undefined) alsoMatching.push(label);
    else if (picked === undefined && misses.length < TRACED_MISSES) misses.push(`${label}: ${why}`);
    else if (picked === undefined) missed++;
  }
  return {
    virtualHost,
    tried: missed === 0 ? misses : [...misses, `… and ${missed} more that do not match`],
    picked: picked ?? "none: no entry matches",
    ...(alsoMatching.length === 0 ? {} : { alsoMatchingLater: alsoMatching }),
  };
}

/** What part of `match` the request fails, or undefined when it matches. */
function mismatchOf(match: CompiledMatch, request: RouteRequest, reading: RouteReading): string | undefined {
  if (!pathMatches(match.path, request.path))
    return `path ${request.path} is not ${match.path.type} ${match.path.value === "" ? "/" : match.path.value}`;
  for (const h of match.headers)
    if (!valueMatches(h, headerOf(request, h.name, reading.header)))
      return h.name === ":method" ? `method is not ${h.value}` : `header ${h.name} is not ${h.type} ${h.value}`;
  for (const q of match.queryParams)
    if (!valueMatches(q, paramIn(request.rawQuery, q.name, reading.query))) return `query parameter ${q.name} is not ${q.type} ${q.value}`;
  return undefined;
}
