/** Builds the route index: entries bucketed by Gateway, listener port and host, and sorted by Gateway API match precedence. */
import type { HTTPRouteMatch } from "../api/gatewayapi.ts";
import { compareAge } from "../api/meta.ts";
import type { HTTPRoute } from "../api/resources.ts";
import type { CompiledMatch, PortRoutes, RouteEntry, RouteIndex, ValueMatch, VirtualHosts } from "../snapshot/types.ts";
import { fullMatchRegex } from "./regex.ts";

/** An entry with what sorting and bucketing need. */
export interface PendingEntry {
  readonly entry: RouteEntry;
  /** Host names it serves; empty means any host. */
  readonly hostnames: readonly string[];
  readonly route: HTTPRoute;
  /** Rule index then match index, the last tie-breaker. */
  readonly order: readonly [number, number];
}

type MatchResult = { ok: true; value: CompiledMatch } | { ok: false; error: string };

const NO_VALUE_MATCHES: readonly ValueMatch[] = Object.freeze([]);

/**
 * compileMatch with one shared object per distinct plain match (a path and maybe a method, no
 * header, query or regex): thousands of routes repeat `PathPrefix /v1`, and every object of the
 * snapshot costs memory and a freeze.
 */
export function createMatchCompiler(): (m: HTTPRouteMatch) => MatchResult {
  const plain = new Map<string, MatchResult>();
  return (m) => {
    if (m.path?.type === "RegularExpression" || (m.headers?.length ?? 0) > 0 || (m.queryParams?.length ?? 0) > 0) return compileMatch(m);
    const key = `${m.path?.type}\0${m.path?.value}\0${m.method}`;
    let result = plain.get(key);
    if (result === undefined) plain.set(key, (result = compileMatch(m)));
    return result;
  };
}

export function compileMatch(m: HTTPRouteMatch): MatchResult {
  const type = m.path?.type ?? "PathPrefix";
  const value = m.path?.value ?? "/";
  let path: CompiledMatch["path"];
  if (type === "RegularExpression") {
    const regex = fullMatchRegex(value);
    if (!(regex instanceof RegExp)) return { ok: false, error: `path regular expression ${JSON.stringify(value)} ${regex.error}` };
    path = { type, value, regex };
  } else {
    if (!value.startsWith("/")) return { ok: false, error: `path ${JSON.stringify(value)} does not start with /` };
    path = type === "Exact" ? { type, value } : { type, value: value.replace(/\/+$/, "") };
  }
  const values = (list: HTTPRouteMatch["headers"], lower: boolean): readonly ValueMatch[] | string => {
    if (list === undefined || list.length === 0) return NO_VALUE_MATCHES;
    const out: ValueMatch[] = [];
    for (const v of list) {
      const name = lower ? v.name.toLowerCase() : v.name;
      if (v.type === "Exact") {
        out.push({ type: "Exact", name, value: v.value });
        continue;
      }
      const regex = fullMatchRegex(v.value);
      if (!(regex instanceof RegExp)) return `regular expression ${JSON.stringify(v.value)} for ${v.name} ${regex.error}`;
      out.push({ type: "RegularExpression", name, value: v.value, regex });
    }
    return out;
  };
  const headers = values(m.headers, true);
  if (typeof headers === "string") return { ok: false, error: headers };
  const queryParams = values(m.queryParams, false);
  if (typeof queryParams === "string") return { ok: false, error: queryParams };
  return { ok: true, value: { path, method: m.method?.toUpperCase(), headers, queryParams } };
}

/**
 * Envoy Gateway's order (internal/gatewayapi/sort.go): Exact, then RegularExpression, then
 * PathPrefix. Portcullis must pick the rule Envoy routes to: with regexes after prefixes, an open
 * `PathPrefix /` would decide a request Envoy sends to a protected `RegularExpression /admin/.*`.
 */
const PATH_RANK = { Exact: 0, RegularExpression: 1, PathPrefix: 2 } as const;

/** Precedence: path type (above), longest path value, method, most header and query matches, oldest route, rule order. */
function comparePrecedence(a: PendingEntry, b: PendingEntry): number {
  const ma = a.entry.match;
  const mb = b.entry.match;
  return (
    PATH_RANK[ma.path.type] - PATH_RANK[mb.path.type] ||
    mb.path.value.length - ma.path.value.length ||
    Number(mb.method !== undefined) - Number(ma.method !== undefined) ||
    mb.headers.length - ma.headers.length ||
    mb.queryParams.length - ma.queryParams.length ||
    compareAge(a.route, b.route) ||
    a.order[0] - b.order[0] ||
    a.order[1] - b.order[1]
  );
}

/** Entries grouped by Gateway, then by listener port (one Envoy route table each), each table sorted. */
export function buildRouteIndex(pending: readonly PendingEntry[]): RouteIndex {
  const tables = new Map<string, Map<number, PendingEntry[]>>();
  for (const p of pending) {
    let ports = tables.get(p.entry.gateway);
    if (ports === undefined) tables.set(p.entry.gateway, (ports = new Map()));
    const list = ports.get(p.entry.port);
    if (list === undefined) ports.set(p.entry.port, [p]);
    else list.push(p);
  }
  const byGateway: Record<string, readonly PortRoutes[]> = Object.create(null);
  for (const g of [...tables.keys()].sort()) {
    const ports = tables.get(g)!;
    byGateway[g] = [...ports.keys()].sort((a, b) => a - b).map((port) => ({ port, vhosts: buildVirtualHosts(ports.get(port)!) }));
  }
  return { byGateway };
}

function buildVirtualHosts(pending: readonly PendingEntry[]): VirtualHosts {
  const exact = new Map<string, PendingEntry[]>();
  const wildcard = new Map<string, PendingEntry[]>();
  const any: PendingEntry[] = [];
  const push = (map: Map<string, PendingEntry[]>, key: string, p: PendingEntry) => {
    const list = map.get(key);
    if (list === undefined) map.set(key, [p]);
    else list.push(p);
  };
  for (const p of pending) {
    if (p.hostnames.length === 0) any.push(p);
    for (const h of p.hostnames) {
      if (h.startsWith("*.")) push(wildcard, h.slice(1), p);
      else push(exact, h, p);
    }
  }
  const sorted = (list: PendingEntry[]) => list.sort(comparePrecedence).map((p) => p.entry);
  const table = (map: Map<string, PendingEntry[]>) => {
    const out: Record<string, readonly RouteEntry[]> = Object.create(null);
    for (const key of [...map.keys()].sort()) out[key] = sorted(map.get(key)!);
    return out;
  };
  const wildcardMaxLabels = Math.max(0, ...[...wildcard.keys()].map((s) => s.split(".").length - 1));
  return { exact: table(exact), wildcard: table(wildcard), wildcardMaxLabels, any: sorted(any) };
}
