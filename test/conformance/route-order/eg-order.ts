/**
 * An oracle of Envoy Gateway's route order and Envoy's route match, written from their rules and
 * not from Portcullis' index (envoyproxy/gateway v1.9.0: internal/gatewayapi/sort.go, the route
 * translation of internal/gatewayapi/route.go, resource.Sort; Envoy's RouteMatch). Routes are in
 * EG's xDS IR shape, so EG's golden IR can be fed to it as it is.
 */

/** One of EG's IR string matches: exactly one of exact, prefix, suffix, safeRegex is set. */
export interface IrStringMatch {
  readonly name?: string;
  readonly exact?: string;
  readonly prefix?: string;
  readonly suffix?: string;
  readonly safeRegex?: string;
}

/** The match part of one of EG's IR HTTP routes. */
export interface IrRoute {
  readonly name: string;
  readonly pathMatch?: IrStringMatch | undefined;
  readonly headerMatches?: readonly IrStringMatch[] | undefined;
  readonly queryParamMatches?: readonly IrStringMatch[] | undefined;
}

const pathCount = (p: IrStringMatch | undefined): number =>
  p === undefined
    ? 0
    : p.exact !== undefined
      ? p.exact.length
      : p.safeRegex !== undefined
        ? p.safeRegex.length
        : p.prefix !== undefined
          ? p.prefix === "/"
            ? 0
            : p.prefix.length
          : 0;
const exacts = (list: readonly IrStringMatch[] | undefined) => (list ?? []).filter((m) => m.exact !== undefined).length;

/** sort.go's Less: whether `i` ranks below `j` (Envoy tries `j` first). */
export function lessEG(i: IrRoute, j: IrRoute): boolean {
  const pi = i.pathMatch;
  const pj = j.pathMatch;
  if (pi !== undefined) {
    if (pi.exact !== undefined && pj !== undefined && (pj.safeRegex !== undefined || pj.prefix !== undefined)) return false;
    if (pi.safeRegex !== undefined && pj !== undefined) {
      if (pj.exact !== undefined) return true;
      if (pj.prefix !== undefined) return false;
    }
    if (pi.prefix !== undefined && pj !== undefined && (pj.exact !== undefined || pj.safeRegex !== undefined)) return true;
  }
  const keys: [number, number][] = [
    [pathCount(pi), pathCount(pj)],
    [(i.headerMatches ?? []).length, (j.headerMatches ?? []).length],
    [exacts(i.headerMatches), exacts(j.headerMatches)],
    [(i.queryParamMatches ?? []).length, (j.queryParamMatches ?? []).length],
  ];
  for (const [a, b] of keys) if (a !== b) return a < b;
  return exacts(i.queryParamMatches) < exacts(j.queryParamMatches);
}

/** sort.Stable(sort.Reverse(routes)): highest first, ties in translation order. */
export function sortEG<T extends IrRoute>(routes: readonly T[]): T[] {
  return [...routes].sort((a, b) => (lessEG(b, a) ? -1 : lessEG(a, b) ? 1 : 0));
}

interface Meta {
  readonly namespace?: string;
  readonly name: string;
  readonly creationTimestamp?: string;
}

/** resource.Sort's order of one kind: creation time, then namespace, then name. */
export function compareResources(a: Meta, b: Meta): number {
  const ta = a.creationTimestamp === undefined ? 0 : Date.parse(a.creationTimestamp);
  const tb = b.creationTimestamp === undefined ? 0 : Date.parse(b.creationTimestamp);
  if (ta !== tb) return ta - tb;
  const [na, nb] = [a.namespace ?? "default", b.namespace ?? "default"];
  if (na !== nb) return na < nb ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

type Match = Readonly<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any -- Gateway API YAML, read structurally
const stringMatch = (m: Match): IrStringMatch =>
  (m.type ?? "Exact") === "Exact" ? { name: m.name, exact: String(m.value) } : { name: m.name, safeRegex: String(m.value) };

/** An HTTPRouteMatch as route.go translates it (a missing path is the API server's default, PathPrefix /). */
function translateHTTPRouteMatch(name: string, m: Match): IrRoute {
  const path = m.path ?? { type: "PathPrefix", value: "/" };
  const type = path.type ?? "PathPrefix";
  const value = path.value ?? "/";
  const headers = (m.headers ?? []).map(stringMatch);
  if (m.method !== undefined) headers.push({ name: ":method", exact: m.method });
  return {
    name,
    pathMatch: type === "Exact" ? { exact: value } : type === "RegularExpression" ? { safeRegex: value } : { prefix: value },
    headerMatches: headers,
    queryParamMatches: (m.queryParams ?? []).map(stringMatch),
  };
}

/**
 * One IR route per match, each followed by the CORS preflight route route.go adds when the rule
 * has a CORS filter and the match a method other than OPTIONS.
 */
export function translateHTTPRouteMatches(name: string, matches: readonly Match[], filters: readonly Match[] = []): IrRoute[] {
  const cors = filters.some((f) => f.type === "CORS" && f.cors != null);
  return matches.flatMap((m, j) => {
    const ir = translateHTTPRouteMatch(`${name} ${j}`, m);
    if (!cors || m.method === undefined || m.method === "OPTIONS") return [ir];
    const preflight: IrRoute = {
      name: `${name} ${j} cors-preflight`,
      pathMatch: ir.pathMatch,
      queryParamMatches: ir.queryParamMatches,
      headerMatches: [
        ...(ir.headerMatches ?? []).filter((h) => h.name !== ":method"),
        { name: ":method", exact: "OPTIONS" },
        { name: "origin", safeRegex: ".*" },
        { name: "access-control-request-method", safeRegex: ".*" },
      ],
    };
    return [ir, preflight];
  });
}

const SERVICE = String.raw`(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*`;
const METHOD = "[A-Za-z_][A-Za-z_0-9]*";

/** A GRPCRouteMatch as route.go translates it. */
export function translateGRPCRouteMatch(name: string, m: Match): IrRoute {
  const headers = (m.headers ?? []).map(stringMatch);
  const method = m.method;
  let pathMatch: IrStringMatch | undefined;
  if (method !== undefined) {
    const { service, method: rpc } = method;
    if ((method.type ?? "Exact") === "Exact") {
      if (service !== undefined && rpc !== undefined) pathMatch = { exact: `/${service}/${rpc}` };
      else if (rpc !== undefined) headers.push({ name: ":path", suffix: `/${rpc}` });
      else pathMatch = { prefix: `/${service}` };
    } else {
      pathMatch = { safeRegex: `/${service ?? SERVICE}/${rpc ?? METHOD}` };
    }
  }
  return { name, pathMatch, headerMatches: headers, queryParamMatches: [] };
}

/** A request as Envoy's route match sees it: the path already normalised, the query as sent. */
export interface EnvoyRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
}

/** RE2 full match; `(?i)` at the start is the only RE2-only syntax the oracle meets. */
const fullMatch = (pattern: string, value: string) =>
  pattern.startsWith("(?i)")
    ? new RegExp(`^(?:${pattern.slice(4)})$`, "i").test(value)
    : pattern.includes("(?i)")
      ? new RegExp(`^(?:${pattern.replace("(?i)", "")})$`, "i").test(value) && caseSensitivePartsMatch(pattern, value)
      : new RegExp(`^(?:${pattern})$`).test(value);

/** `(?i)` in the middle of a pattern folds case only after it: check the part before it as written. */
function caseSensitivePartsMatch(pattern: string, value: string): boolean {
  const at = pattern.indexOf("(?i)");
  return new RegExp(`^(?:${pattern.slice(0, at)})`).test(value);
}

function stringMatches(m: IrStringMatch, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (m.exact !== undefined) return value === m.exact;
  if (m.suffix !== undefined) return value.endsWith(m.suffix);
  if (m.prefix !== undefined) return value.startsWith(m.prefix);
  return fullMatch(m.safeRegex!, value);
}

/** Envoy's RouteMatch as EG programs it (a prefix other than "/" is a path-separated prefix). */
export function envoyMatches(route: IrRoute, request: EnvoyRequest): boolean {
  const p = route.pathMatch;
  if (p !== undefined) {
    if (p.exact !== undefined && request.path !== p.exact) return false;
    if (p.safeRegex !== undefined && !fullMatch(p.safeRegex, request.path)) return false;
    if (p.prefix !== undefined && p.prefix !== "/") {
      const prefix = p.prefix.replace(/\/$/, "");
      if (request.path !== prefix && !request.path.startsWith(`${prefix}/`)) return false;
    }
  }
  const header = (name: string) => {
    const lower = name.toLowerCase();
    if (lower === ":method") return request.method;
    if (lower === ":path") return request.query === undefined ? request.path : `${request.path}?${request.query}`;
    return request.headers[lower];
  };
  for (const h of route.headerMatches ?? []) if (!stringMatches(h, header(h.name!))) return false;
  const firstParam = (name: string) => {
    for (const pair of (request.query ?? "").split("&")) {
      if (request.query === undefined) break;
      const eq = pair.indexOf("=");
      if ((eq === -1 ? pair : pair.slice(0, eq)) === name) return eq === -1 ? "" : pair.slice(eq + 1);
    }
    return undefined;
  };
  for (const q of route.queryParamMatches ?? []) if (!stringMatches(q, firstParam(q.name!))) return false;
  return true;
}
