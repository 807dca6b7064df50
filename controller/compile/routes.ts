/**
 * Builds the route index: entries bucketed by Gateway, listener port and host, and sorted in Envoy Gateway's route order
 * (internal/gatewayapi/sort.go and the HTTPRoute/GRPCRoute translation of route.go, v1.9.0).
 */
import { GRPC_METHOD_NAME, GRPC_SERVICE_NAME, type GRPCRouteMatch, type HTTPRouteMatch, type HTTPRouteRule } from "../api/gatewayapi.ts";
import { compareAge, compareCodeUnits } from "../api/meta.ts";
import type { Route } from "../api/resources.ts";
import type { CompiledMatch, PathMatch, PortRoutes, RouteEntry, RouteIndex, ValueMatch, VirtualHosts } from "../snapshot/types.ts";
import { builtRe2, compileRe2, type Re2 } from "../lib/regex.ts";
import { lookupTable } from "../lib/lookup-table.ts";
import { fail, ok, type Result } from "../lib/result.ts";
import { sortInPlace } from "../lib/sort.ts";
import { matchReadsByLine } from "../snapshot/route-index.ts";

/** An entry with what sorting and bucketing need. */
export interface PendingEntry {
  /** Compile's own new entry; its managedHeaders are widened in place to their scope (scopeManagedHeaders) before it is published. */
  readonly entry: Omit<RouteEntry, "managedHeaders"> & { managedHeaders: readonly string[] };
  /** Host names it serves; empty means any host. */
  readonly hostnames: readonly string[];
  readonly route: Route;
  /** Envoy Gateway's count of "characters in the path match" (see RankedMatch.pathCount). */
  readonly pathCount: number;
  /** Rule index, match index, then 0 for the match and 1 for its CORS preflight route: the last tie-breaker. */
  readonly order: readonly [number, number, number];
  /**
   * Set for an HTTPS listener: Envoy gives each its own filter chain (chosen by SNI) and route
   * table, where the HTTP listeners of a port share one.
   */
  readonly tlsListener: string | undefined;
}

/** A compiled match with what Envoy Gateway ranks it by among matches of the same path type. */
export interface RankedMatch {
  readonly match: CompiledMatch;
  /**
   * The length of the path value as written (a PathPrefix keeps its trailing slash here), 0 for
   * the prefix "/" and for no path match at all.
   */
  readonly pathCount: number;
}

/** A ranked match, or why it cannot be served. */
export type MatchResult = Result<RankedMatch, string>;

const NO_VALUE_MATCHES: readonly ValueMatch[] = Object.freeze([]);
const ANY_PATH: PathMatch = Object.freeze({ type: "PathPrefix", value: "" });
/** A route rule without matches: every request (Envoy Gateway's implicit "/" prefix). */
export const EVERY_REQUEST: CompiledMatch = Object.freeze({ path: ANY_PATH, headers: NO_VALUE_MATCHES, queryParams: NO_VALUE_MATCHES });

/**
 * compileMatch with one shared object per distinct plain match (a path and maybe a method, no
 * header, query or regex): thousands of routes repeat `PathPrefix /v1`, and every object of the
 * snapshot costs memory and a freeze.
 */
export function createMatchCompiler(): (m: HTTPRouteMatch) => MatchResult {
  // By path value, then a short list by type and method: no key string to build per match (30,000 at 10,000 routes).
  const plain = new Map<string | undefined, { type: string | undefined; method: string | undefined; result: MatchResult }[]>();
  return (m) => {
    if (m.path?.type === "RegularExpression" || (m.headers?.length ?? 0) > 0 || (m.queryParams?.length ?? 0) > 0) return compileMatch(m);
    const type = m.path?.type;
    const { method } = m;
    let known = plain.get(m.path?.value);
    if (known === undefined) plain.set(m.path?.value, (known = []));
    for (let i = 0; i < known.length; i++) if (known[i]!.type === type && known[i]!.method === method) return known[i]!.result;
    const result = compileMatch(m);
    known.push({ type, method, result });
    return result;
  };
}

/**
 * An HTTPRoute match as Envoy Gateway translates it: the path as written, header matches, query
 * matches, and `method` as one more header match, the exact `:method`, which ranks it like any
 * exact header match (Gateway API's own text ranks method above headers; Envoy does not).
 */
export function compileMatch(m: HTTPRouteMatch): MatchResult {
  const type = m.path?.type ?? "PathPrefix";
  const value = m.path?.value ?? "/";
  let path: PathMatch;
  if (type === "RegularExpression") {
    const regex = routeRegex("path regular expression", value);
    if (!regex.ok) return regex;
    path = { type, value, regex: regex.value };
  } else {
    if (!value.startsWith("/")) return fail(`path ${JSON.stringify(value)} does not start with /`);
    path = type === "Exact" ? { type, value } : { type, value: value.replace(/\/+$/, "") };
  }
  const headers = compileValueMatches(m.headers, true);
  if (typeof headers === "string") return fail(headers);
  const queryParams = compileValueMatches(m.queryParams, false);
  if (typeof queryParams === "string") return fail(queryParams);
  const withMethod = m.method === undefined ? headers : [...headers, { type: "Exact" as const, name: ":method", value: m.method }];
  return ok({
    match: { path, headers: withMethod, queryParams },
    pathCount: type === "PathPrefix" && value === "/" ? 0 : value.length,
  });
}

/** The compiled RE2 pattern of a route's regular expression, or why RE2 refuses it (Envoy Gateway then drops the rule). */
function routeRegex(what: string, pattern: string): Result<Re2, string> {
  const regex = compileRe2(pattern);
  return regex.ok ? regex : fail(`${what} ${JSON.stringify(pattern)} ${regex.error}`);
}

/**
 * A GRPCRoute match as Envoy Gateway translates it (the request path is `/<service>/<method>`):
 *  - Exact service and method: the Exact path; Exact service: the PathPrefix `/<service>`;
 *    Exact method: no path match, a `:path` header ending in `/<method>`;
 *  - RegularExpression: the path pattern `/<service>/<method>`, a missing part replaced by the
 *    pattern of any valid service or method name (the service one ends with case-insensitive
 *    matching, so a method pattern after it matches in any case);
 *  - header matches as for HTTPRoute; no method match: any path.
 */
export function compileGrpcMatch(m: GRPCRouteMatch): MatchResult {
  const headers = compileValueMatches(m.headers, true);
  if (typeof headers === "string") return fail(headers);
  const method = m.method;
  if (method === undefined) return ok({ match: { path: ANY_PATH, headers, queryParams: NO_VALUE_MATCHES }, pathCount: 0 });
  const { service, method: name } = method;
  const compiled = (path: PathMatch, extra: readonly ValueMatch[] = []): MatchResult =>
    ok({
      match: { path, headers: [...headers, ...extra], queryParams: NO_VALUE_MATCHES },
      pathCount: path === ANY_PATH ? 0 : path.value.length,
    });
  if (method.type === "Exact") {
    if (service !== undefined && name !== undefined) return compiled({ type: "Exact", value: `/${service}/${name}` });
    if (service !== undefined) return compiled({ type: "PathPrefix", value: `/${service}` });
    return compiled(ANY_PATH, [{ type: "Suffix", name: ":path", value: `/${name}` }]);
  }
  for (const [part, pattern] of [
    ["service", service],
    ["method", name],
  ] as const) {
    const regex = pattern === undefined ? undefined : routeRegex(`${part} regular expression`, pattern);
    if (regex?.ok === false) return regex;
  }
  const written = `/${service ?? GRPC_SERVICE_NAME}/${name ?? GRPC_METHOD_NAME}`;
  const regex = routeRegex("method regular expression", written);
  if (!regex.ok) return regex;
  return compiled({ type: "RegularExpression", value: written, regex: regex.value });
}

/** The matches of one route rule; a rule without matches has one that matches every request. */
export function compileRuleMatches(route: Route, ruleIndex: number, compileHttpMatch: (m: HTTPRouteMatch) => MatchResult): MatchResult[] {
  if (route.kind === "HTTPRoute") {
    const matches = route.spec.rules[ruleIndex]?.matches ?? [];
    return (matches.length === 0 ? [{}] : matches).map(compileHttpMatch);
  }
  const matches = route.spec.rules[ruleIndex]?.matches ?? [];
  return (matches.length === 0 ? [{}] : matches).map(compileGrpcMatch);
}

const ANY_VALUE = builtRe2(".*");

/**
 * The route Envoy Gateway adds after a match with a `method` other than OPTIONS when its rule has
 * a CORS filter, so that the browser's preflight reaches the rule: the match's path and query,
 * its headers without `:method`, then `:method` OPTIONS and any `origin` and
 * `access-control-request-method`. Undefined when Envoy Gateway adds none.
 */
export function corsPreflightMatch(rule: HTTPRouteRule, ranked: RankedMatch): RankedMatch | undefined {
  const filters = (rule as { filters?: unknown }).filters;
  // Most rules have no filters: nothing more to look at.
  if (!Array.isArray(filters) || !filters.some((f) => typeof f === "object" && f !== null && f.type === "CORS" && f.cors != null))
    return undefined;
  const method = ranked.match.headers.find((h) => h.name === ":method");
  if (method === undefined || method.value === "OPTIONS") return undefined;
  const headers: ValueMatch[] = [
    ...ranked.match.headers.filter((h) => h.name !== ":method"),
    { type: "Exact", name: ":method", value: "OPTIONS" },
    { type: "RegularExpression", name: "origin", value: ".*", regex: ANY_VALUE },
    { type: "RegularExpression", name: "access-control-request-method", value: ".*", regex: ANY_VALUE },
  ];
  return { match: { ...ranked.match, headers }, pathCount: ranked.pathCount };
}

type StringMatches = HTTPRouteMatch["headers"];

/** Header (names lower-cased) or query parameter matches, or why one cannot be served. */
function compileValueMatches(list: StringMatches, lowerCaseNames: boolean): readonly ValueMatch[] | string {
  if (list === undefined || list.length === 0) return NO_VALUE_MATCHES;
  const out: ValueMatch[] = [];
  for (const v of list) {
    const name = lowerCaseNames ? v.name.toLowerCase() : v.name;
    if (v.type === "Exact") {
      out.push({ type: "Exact", name, value: v.value });
      continue;
    }
    const regex = routeRegex(`regular expression for ${v.name}`, v.value);
    if (!regex.ok) return regex.error;
    out.push({ type: "RegularExpression", name, value: v.value, regex: regex.value });
  }
  return out;
}

/**
 * Envoy Gateway ranks path match types Exact, then RegularExpression, then PathPrefix. Portcullis
 * must pick the rule Envoy routes to: with regexes after prefixes, an open `PathPrefix /` would
 * decide a request Envoy sends to a protected `RegularExpression /admin/.*`.
 */
const PATH_RANK = { Exact: 0, RegularExpression: 1, PathPrefix: 2 } as const;
/** Envoy Gateway translates every HTTPRoute before any GRPCRoute, and its sort keeps ties in that order. */
const KIND_RANK = { HTTPRoute: 0, GRPCRoute: 1 } as const;

const exactCount = (list: readonly ValueMatch[]) => list.reduce((n, v) => n + Number(v.type === "Exact"), 0);

/**
 * Envoy Gateway's route order, highest first: path match type (above); more characters in the path
 * match; more header matches, then more of them Exact; more query matches, then more of them
 * Exact. Ties keep translation order: HTTPRoutes before GRPCRoutes, each oldest first (creation
 * time, then namespace, then name), then rule and match order.
 */
export function comparePrecedence(a: PendingEntry, b: PendingEntry): number {
  const ma = a.entry.match;
  const mb = b.entry.match;
  return (
    PATH_RANK[ma.path.type] - PATH_RANK[mb.path.type] ||
    b.pathCount - a.pathCount ||
    mb.headers.length - ma.headers.length ||
    exactCount(mb.headers) - exactCount(ma.headers) ||
    mb.queryParams.length - ma.queryParams.length ||
    exactCount(mb.queryParams) - exactCount(ma.queryParams) ||
    KIND_RANK[a.route.kind] - KIND_RANK[b.route.kind] ||
    compareAge(a.route, b.route) ||
    a.order[0] - b.order[0] ||
    a.order[1] - b.order[1] ||
    a.order[2] - b.order[2]
  );
}

/** Entries grouped by Gateway, then by listener port (one Envoy route table each), each table sorted. */
export function buildRouteIndex(pending: readonly PendingEntry[], proxyProtocolOn: ReadonlySet<string> = new Set()): RouteIndex {
  const tables = new Map<string, Map<string, PendingEntry[]>>();
  for (let i = 0; i < pending.length; i++) {
    const p = pending[i]!;
    let ports = tables.get(p.entry.gateway);
    if (ports === undefined) tables.set(p.entry.gateway, (ports = new Map()));
    // The routes of namespaces not read on a listener are a table of their own: a reading beside the routes read, not one of them.
    const key = `${p.entry.port}\0${p.tlsListener ?? ""}${p.entry.unread === true ? `\0${p.entry.listener}` : ""}`;
    const list = ports.get(key);
    if (list === undefined) ports.set(key, [p]);
    else list.push(p);
  }
  // Looked up by the Gateway a check request names (x-portcullis-gateway, a gRPC context extension).
  const byGateway = lookupTable(
    [...tables.keys()].sort().map((g) => {
      const tablesOf = [...tables.get(g)!.values()].map((list) => ({
        port: list[0]!.entry.port,
        tlsListener: list[0]!.tlsListener,
        ...(list[0]!.entry.unread === true ? { unreadOn: list[0]!.entry.listener } : {}),
        ...(proxyProtocolOn.has(g) ? { anyStatedPort: true as const } : {}),
        vhosts: buildVirtualHosts(list),
      }));
      const sortedTables: readonly PortRoutes[] = tablesOf.sort(
        (a, b) =>
          a.port - b.port || (a.tlsListener ?? "").localeCompare(b.tlsListener ?? "") || (a.unreadOn ?? "").localeCompare(b.unreadOn ?? ""),
      );
      return [g, sortedTables] as const;
    }),
  );
  return { byGateway };
}

/** Snapshot.headersMatchedByLine of the entries `pending` holds: the headers their header matches read line by line, sorted. */
export function headersMatchedByLine(pending: readonly PendingEntry[]): string[] {
  const names = new Set<string>();
  for (let i = 0; i < pending.length; i++) {
    const headers = pending[i]!.entry.match.headers;
    for (let h = 0; h < headers.length; h++) if (matchReadsByLine(headers[h]!.name)) names.add(headers[h]!.name);
  }
  return [...names].sort(compareCodeUnits);
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
  for (let i = 0; i < pending.length; i++) {
    const p = pending[i]!;
    if (p.hostnames.length === 0) any.push(p);
    for (let n = 0; n < p.hostnames.length; n++) {
      const h = p.hostnames[n]!;
      if (h.startsWith("*.")) push(wildcard, h.slice(1), p);
      else push(exact, h, p);
    }
  }
  const sorted = (list: PendingEntry[]) => sortInPlace(list, comparePrecedence).map((p) => p.entry);
  const table = (map: Map<string, PendingEntry[]>): Record<string, readonly RouteEntry[]> =>
    lookupTable([...map.keys()].sort(compareCodeUnits).map((key) => [key, sorted(map.get(key)!)] as const));
  const wildcardMaxLabels = Math.max(0, ...[...wildcard.keys()].map((s) => s.split(".").length - 1));
  return { exact: table(exact), wildcard: table(wildcard), wildcardMaxLabels, any: sorted(any) };
}
