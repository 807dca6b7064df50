/**
 * Request-time route lookup: pick the route tables in scope (Gateway, listener port), in each the
 * virtual host by Host, then the first entry whose match holds (entries are pre-sorted in Envoy
 * Gateway's route order at compile time), as Envoy's route match reads the request, among only the
 * entries whose path match may take the path (route-starts.ts: the linear scan's answer, without a
 * regular expression test per entry of a large virtual host). Here too: the
 * readings a request is looked up on (RouteReading) and the entries its other readings pick.
 * Virtual host selection is in virtual-hosts.ts, a match's semantics in route-match.ts, the list of
 * readings in route-readings.ts.
 */
import { ENVOY_QUERY, foldedName, paramIn, type QueryReading, readsOwnWay } from "./query-readings.ts";
import { headerOf, matches, unreadableBy } from "./route-match.ts";
import { lineReadingsOf, mostLinesOf, readingsBesidesEnvoys } from "./route-readings.ts";
import { candidateListsFor, firstHolding, type RouteStarts, routeStartsFor } from "./route-starts.ts";
import type { CompiledMatch, PortRoutes, RouteEntry, RouteIndex, VirtualHosts } from "./types.ts";
import { selectVirtualHost } from "./virtual-hosts.ts";

/** What route matching reads of a request, already normalised. */
export interface RouteRequest {
  /** Lower-case host without port or trailing dot. */
  readonly host: string;
  /**
   * The host as Envoy's virtual host selection may read it (authz/host-readings.ts), Envoy Gateway's
   * default first, when it reads more than one way; absent when `host` is its only reading (the usual
   * Host: no list of one per request). Read through hostCount and hostAt.
   */
  readonly hosts?: readonly string[] | undefined;
  /** The Host as sent (Envoy's `:authority`, port and case kept): what a header match named `host` reads. */
  readonly authority: string;
  /** Normalised path without the query. */
  readonly path: string;
  readonly method: string;
  /** Each line of the named header (lower-case name), in order, a line holding "," as its pieces (authz/header-values.ts linesUpstreamMayRead). */
  headerLines(name: string): readonly string[];
  /** What follows the first "?" of the request target, as sent (not decoded); undefined without "?". */
  readonly rawQuery: string | undefined;
  /** True when no header was sent on more than one line (the port counted them); undefined when not known. */
  readonly headersOnOneLine?: boolean | undefined;
}

/**
 * One way to read a header for a route's header match: Envoy's route match reads its lines joined
 * with "," ("joined"); an upstream may act on any one of its lines, the ports' pieces of a line
 * holding "," included (authz/header-values.ts linesUpstreamMayRead): the first (Go's Header.Get,
 * Node's for most names), the last (a map filled line by line) or one between (an element of a list
 * it splits, RFC 9110 §5.6.1). A number is that line's index, read in every header at once (lineAt);
 * a map gives each header its own line index (a header it does not name: its first line), as an
 * upstream may take the first line of one header and the last of another (lineIndexIn).
 */
export type HeaderReading = "joined" | number | ReadonlyMap<string, number>;

/** One reading of the request for route matching: how it reads the query and a repeated header. */
export interface RouteReading {
  readonly query: QueryReading;
  readonly header: HeaderReading;
  /** What the reading is, for the audit log. */
  readonly name: string;
}

/** Envoy's reading (the route the proxy takes). */
export const ENVOY_READING: RouteReading = { query: ENVOY_QUERY, header: "joined", name: ENVOY_QUERY.name };

/**
 * The most lines (or pieces of lines, linesUpstreamMayRead) a header whose lines are readings may
 * have: each index is a reading of the whole request, decided in full, so a request with more in a
 * header a route match (Snapshot.headersMatchedByLine, refused by check()) or an authorization rule
 * reads is refused (431) rather than decided thousands of times over a header of commas. Other
 * headers' lines are never readings, however many. Browsers' longest list (Accept) has 8.
 */
export const MAX_HEADER_LINES = 64;

/** The route tables a request may have been routed by, as far as the proxy says. */
export interface RouteScope {
  /** The Gateway ("namespace/name") the proxy names; undefined: any served Gateway. */
  readonly gateway?: string | undefined;
  /** The port the request arrived on, as the proxy states it; undefined: any listener port. */
  readonly port?: number | undefined;
  /** Only entries of this HTTPRoute ("namespace/name") qualify, when the proxy names it. */
  readonly route?: string | undefined;
}

/**
 * Envoy Gateway binds a listener on a privileged port (below 1024) to that port + 10000 in its
 * container (internal/gatewayapi/listener.go), and Envoy reports that local port as the destination.
 */
const PRIVILEGED_PORTS = 1024;
const CONTAINER_PORT_SHIFT = 10_000;

/** Whether `table` can have served a request the proxy says arrived on port `stated`. */
export function portCovers(table: PortRoutes, stated: number | undefined): boolean {
  const { port } = table;
  return (
    stated === undefined ||
    port === stated ||
    (port < PRIVILEGED_PORTS && port + CONTAINER_PORT_SHIFT === stated) ||
    table.anyStatedPort === true
  );
}

/**
 * The entry each route table in scope picks, in Gateway then port order; tables where nothing
 * matches contribute nothing. More than one entry means the request could have taken any of them
 * (which Gateway or port it arrived on is not known). Undefined when the named Gateway is not served.
 */
export function findRoutes(
  index: RouteIndex,
  request: RouteRequest,
  scope: RouteScope,
  reading: RouteReading = ENVOY_READING,
): readonly RouteEntry[] | undefined {
  const tables = tablesInScope(index, scope);
  if (tables === undefined) return undefined;
  // Usually one table picks an entry: held as `lone`, and answered as its list of one built once (listOfOne);
  // a list only for a second entry. Index loops: an iterator's result objects would be allocated on every request.
  let found: RouteEntry[] | undefined;
  let lone: RouteEntry | undefined;
  const hosts = hostCount(request);
  for (let t = 0; t < tables.length; t++) {
    const table = tables[t]!;
    if (!portCovers(table, scope.port)) continue;
    // A Host read two ways (a trailing dot) may select two virtual hosts: each entry is a reading.
    for (let h = 0; h < hosts; h++) {
      const entry = findRoute(table.vhosts, hostAt(request, h), request, scope.route, reading);
      if (entry === undefined || entry === lone || found?.includes(entry)) continue;
      if (lone === undefined) lone = entry;
      else (found ??= [lone]).push(entry);
    }
  }
  return found ?? (lone === undefined ? NO_ENTRIES : listOfOne(lone));
}

const NO_ENTRIES: readonly RouteEntry[] = Object.freeze([]);

/** The list of `entry` alone, built once per entry (a snapshot is immutable): the usual lookup finds one entry. */
function listOfOne(entry: RouteEntry): readonly RouteEntry[] {
  let list = listsOfOne.get(entry);
  if (list === undefined) listsOfOne.set(entry, (list = Object.freeze([entry])));
  return list;
}
const listsOfOne = new WeakMap<RouteEntry, readonly RouteEntry[]>();

/** What virtual host selection reads of a request: its Host and the Host's readings. */
export type HostReadings = Pick<RouteRequest, "host" | "hosts">;

/** How many readings the request's Host has (RouteRequest.hosts). */
export const hostCount = (request: HostReadings): number => request.hosts?.length ?? 1;

/** The Host's reading `h` (below hostCount): `host` itself when it is the only one. */
export const hostAt = (request: HostReadings, h: number): string => request.hosts?.[h] ?? request.host;

/**
 * The route tables of the Gateway `scope` names (every served Gateway's without one), or undefined
 * when that Gateway is not served; a table serves the request only where its port covers the
 * scope's (portCovers).
 */
export const tablesInScope = (index: RouteIndex, scope: RouteScope): readonly PortRoutes[] | undefined =>
  scope.gateway === undefined ? everyTable(index) : index.byGateway[scope.gateway];

/** Every route table of an index, Gateway by Gateway: listed once per index (a snapshot is immutable), not on every request. */
const tablesByIndex = new WeakMap<RouteIndex, readonly PortRoutes[]>();

function everyTable(index: RouteIndex): readonly PortRoutes[] {
  let tables = tablesByIndex.get(index);
  if (tables === undefined) tablesByIndex.set(index, (tables = Object.values(index.byGateway).flat()));
  return tables;
}

/** The first matching entry of one route table for Host `host`; with `route`, only entries of that HTTPRoute qualify. */
function findRoute(
  vhosts: VirtualHosts,
  host: string,
  request: RouteRequest,
  route: string | undefined,
  reading: RouteReading,
): RouteEntry | undefined {
  const entries = selectVirtualHost(vhosts, host);
  if (entries === undefined) return undefined;
  const starts = routeStartsFor(entries);
  if (starts === undefined) {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if ((route === undefined || entry.route === route) && matches(entry.match, request, reading)) return entry;
    }
    return undefined;
  }
  return findIndexedRoute(entries, starts, request, route, reading);
}

/**
 * findRoute over a virtual host with route starts: only the entries whose path match may take the
 * path (route-starts.ts), still in order, so the first that matches is the linear scan's. A function
 * of its own: the closure's context, allocated on entry to the function that holds it, would cost
 * every lookup of a small host 64 B (bench/alloc-sites.ts).
 */
function findIndexedRoute(
  entries: readonly RouteEntry[],
  starts: RouteStarts,
  request: RouteRequest,
  route: string | undefined,
  reading: RouteReading,
): RouteEntry | undefined {
  const found = firstHolding(candidateListsFor(starts, request.path), (i) => {
    const entry = entries[i]!;
    return (route === undefined || entry.route === route) && matches(entry.match, request, reading);
  });
  return found === -1 ? undefined : entries[found];
}

/**
 * Builds the route starts (route-starts.ts) of every virtual host of `index` that has enough
 * entries for one, before its snapshot answers checks: the first lookup of a host otherwise pays
 * for it.
 */
export function prepareRouteLookup(index: RouteIndex): void {
  for (const entries of entryListsOf(index)) routeStartsFor(entries);
}

/** A reading of the request other than Envoy's and the entries it picks (findRoutes). */
export interface RouteReadingRoutes {
  readonly reading: RouteReading;
  readonly entries: readonly RouteEntry[];
}

/**
 * The entries each other reading of the request picks (OTHER_QUERY_READINGS where a virtual host in
 * scope has a query match and the request has a query; each line of a header that a header match
 * in scope names, where one has several), where they are not `picked` (Envoy's
 * reading's entries) nor another reading's, and are some entry (a reading that picks no rule adds
 * nothing: no rule governs what an upstream does there). Undefined, without any lookup, when no
 * such reading applies: the usual request costs one look at each virtual host.
 */
export function otherRouteReadings(
  index: RouteIndex,
  request: RouteRequest,
  scope: RouteScope,
  picked: readonly RouteEntry[],
): RouteReadingRoutes[] | undefined {
  // Without a query and with every header on one line, each reading reads the request as Envoy's does.
  if (request.rawQuery === undefined && request.headersOnOneLine === true) return undefined;
  const inScope = matchesInScope(index, request, scope);
  if (inScope === undefined) return undefined;
  const readQuery = inScope.query && request.rawQuery !== undefined;
  const lines = request.headersOnOneLine === true ? 1 : mostLinesOf(request, inScope.headers);
  if (!readQuery && lines === 1) return undefined;
  let found: RouteReadingRoutes[] | undefined;
  for (const reading of lines === 1 ? readingsBesidesEnvoys(1) : lineReadingsOf(request, inScope.headers, lines)) {
    if (reading.query !== ENVOY_QUERY && !readQuery) continue;
    if (readQuery && !readsOwnWay(reading.query, request.rawQuery!, inScope.queryNameInUpperCase)) continue;
    const entries = findRoutes(index, request, scope, reading) ?? [];
    if (entries.length === 0 || sameEntries(entries, picked) || found?.some((f) => sameEntries(f.entries, entries))) continue;
    (found ??= []).push({ reading, entries });
  }
  return found;
}

function sameEntries(a: readonly RouteEntry[], b: readonly RouteEntry[]): boolean {
  return a.length === b.length && a.every((e) => b.includes(e));
}

/** Every list of route entries `index` holds: each virtual host table's exact, wildcard and catch-all lists. */
export function entryListsOf(index: RouteIndex): (readonly RouteEntry[])[] {
  const tables = Object.values(index.byGateway).flatMap((ports) => ports.map((p) => p.vhosts));
  return tables.flatMap((v) => [...Object.values(v.exact), ...Object.values(v.wildcard), v.any]);
}

/**
 * Whether a header match naming `name` (lower-case) reads the header's lines and list elements as
 * readings of their own (headerOf): every header but the pseudo-headers and `host`, which are read
 * from the request's method, path and authority, never repeated.
 */
export const matchReadsByLine = (name: string): boolean => !name.startsWith(":") && name !== "host";

/** What the match of a virtual host's entries reads that another reading may read otherwise. */
interface ReadMatches {
  /** Whether an entry has a query match. */
  readonly query: boolean;
  /** Whether a query match's name has an upper-case letter (readsOwnWay). */
  readonly queryNameInUpperCase: boolean;
  /** The headers (lower-case) an entry's header match names, pseudo-headers and `host` left out (never repeated). */
  readonly headers: readonly string[];
}

const NO_READ_MATCHES: ReadMatches = { query: false, queryNameInUpperCase: false, headers: [] };

/** What the virtual hosts the request may select in scope match on (ReadMatches, merged); undefined when nothing. */
function matchesInScope(index: RouteIndex, request: RouteRequest, scope: RouteScope): ReadMatches | undefined {
  const tables = tablesInScope(index, scope);
  if (tables === undefined) return undefined;
  let merged: ReadMatches | undefined;
  for (let t = 0; t < tables.length; t++) {
    if (!portCovers(tables[t]!, scope.port)) continue;
    for (let h = 0; h < hostCount(request); h++) {
      const entries = selectVirtualHost(tables[t]!.vhosts, hostAt(request, h));
      const read = entries === undefined ? NO_READ_MATCHES : readMatchesOf(entries);
      if (read === NO_READ_MATCHES) continue;
      merged =
        merged === undefined
          ? read
          : {
              query: merged.query || read.query,
              queryNameInUpperCase: merged.queryNameInUpperCase || read.queryNameInUpperCase,
              headers: [...merged.headers, ...read.headers],
            };
    }
  }
  return merged;
}

/** ReadMatches of a virtual host's entries: found once per virtual host (a snapshot is immutable). */
const readMatchesByHost = new WeakMap<readonly RouteEntry[], ReadMatches>();

function readMatchesOf(entries: readonly RouteEntry[]): ReadMatches {
  let read = readMatchesByHost.get(entries);
  if (read === undefined) {
    const query = entries.some((e) => e.match.queryParams.length > 0);
    const queryNameInUpperCase = entries.some((e) => e.match.queryParams.some((q) => foldedName(q.name) !== q.name));
    const headers = [...new Set(entries.flatMap((e) => e.match.headers.map((h) => h.name)).filter(matchReadsByLine))];
    read = query || headers.length > 0 ? { query, queryNameInUpperCase, headers } : NO_READ_MATCHES;
    readMatchesByHost.set(entries, read);
  }
  return read;
}

/**
 * The header or query parameter of `match` whose comparison cannot be told from the text (see
 * unreadableBy), or undefined: the match may or may not be Envoy's.
 */
export function unreadableMatch(match: CompiledMatch, request: RouteRequest, reading: RouteReading = ENVOY_READING): string | undefined {
  for (let i = 0; i < match.headers.length; i++) {
    const h = match.headers[i]!;
    if (unreadableBy(h, headerOf(request, h.name, reading.header) ?? "")) return `header ${h.name}`;
  }
  for (let i = 0; i < match.queryParams.length; i++) {
    const q = match.queryParams[i]!;
    if (unreadableBy(q, paramIn(request.rawQuery, q.name, reading.query) ?? "")) return `query parameter ${q.name}`;
  }
  return undefined;
}
