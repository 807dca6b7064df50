/** Hand-built route tables and requests for the route lookup's tests (snapshot/route-index.ts, route-explain.ts). */
import type { RouteRequest } from "../../controller/snapshot/route-index.ts";
import type { CompiledMatch, PortRoutes, RouteEntry, RouteIndex, VirtualHosts } from "../../controller/snapshot/types.ts";

export const ANY_PATH: CompiledMatch = { path: { type: "PathPrefix", value: "" }, headers: [], queryParams: [] };

export function entry(rule: string, match: CompiledMatch = ANY_PATH, port = 80): RouteEntry {
  return {
    gateway: "apps/gw",
    listener: "http",
    port,
    kind: "HTTPRoute",
    route: `apps/${rule.split(" ")[0]}`,
    rule,
    match,
    policy: undefined,
    origin: undefined,
    managedHeaders: [],
  };
}

export function vhosts(parts: Partial<VirtualHosts>): VirtualHosts {
  const wildcard = parts.wildcard ?? {};
  const maxLabels = Math.max(0, ...Object.keys(wildcard).map((suffix) => suffix.split(".").length - 1));
  return { exact: {}, any: [], ...parts, wildcard, wildcardMaxLabels: maxLabels };
}

export function index(tables: Record<string, PortRoutes[]>): RouteIndex {
  return { byGateway: tables };
}

export function table(port: number, v: VirtualHosts): PortRoutes {
  return { port, tlsListener: undefined, vhosts: v };
}

export function request(host: string, path = "/", more: Partial<RouteRequest> & { lines?: Record<string, string[]> } = {}): RouteRequest {
  const lines = more.lines ?? {};
  return {
    host,
    hosts: [host],
    authority: host,
    path,
    method: "GET",
    rawQuery: undefined,
    headerLines: (name) => lines[name] ?? [],
    ...more,
  };
}
