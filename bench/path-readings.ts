/**
 * What a path that an upstream may read otherwise costs a check as the routes grow: a world of N
 * HTTPRoutes on N hosts, each with a PathPrefix of its own (`/svc-<i>`), decided in-process
 * (test/support/world.ts decider: compile, then check) for a plain path, one with a format
 * extension, one with a trailing slash and one in upper case (authz/path-case-readings.ts: each
 * looks up the route path values that may begin it). CPU µs per check, the median and the worst
 * of interleaved rounds, and each path's cost ÷ the plain path's in the same round, per world.
 * A cost that grows with N for the suffix and case paths only is a scan over every route path.
 *
 *   node bench/path-readings.ts [--routes 10,10000] [--checks 20000] [--rounds 5]
 */
import { parseArgs } from "node:util";
import { decider } from "../test/support/world.ts";
import { median } from "./spread.ts";

const { values } = parseArgs({
  options: {
    routes: { type: "string", default: "10,10000" },
    checks: { type: "string", default: "20000" },
    rounds: { type: "string", default: "5" },
  },
});
const checks = Number(values.checks);
const rounds = Number(values.rounds);
const PATHS = { plain: "/svc-7/items", extension: "/svc-7/items.json", "trailing slash": "/svc-7/items/", "upper case": "/SVC-7/items" };

function worldOf(routes: number): string {
  const gateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec: {gatewayClassName: x, listeners: [{name: http, protocol: HTTP, port: 80}]}
`;
  const route = (i: number) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r${i}, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [h${i}.example.com]
  rules: [{matches: [{path: {type: PathPrefix, value: /svc-${i}}}]}]
`;
  return [gateway, ...Array.from({ length: routes }, (_, i) => route(i))].join("---\n");
}

for (const routes of values.routes.split(",").map(Number)) {
  const decide = decider(worldOf(routes));
  const cost: Record<string, number[]> = Object.fromEntries(Object.keys(PATHS).map((k) => [k, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [kind, path] of Object.entries(PATHS)) {
      const request = { path, host: "h7.example.com" };
      for (let i = 0; i < checks / 10; i++) await decide(request);
      const start = process.cpuUsage();
      for (let i = 0; i < checks; i++) await decide(request);
      const used = process.cpuUsage(start);
      cost[kind]!.push((used.user + used.system) / checks);
    }
  }
  for (const kind of Object.keys(PATHS)) {
    const ratios = cost[kind]!.map((c, i) => c / cost.plain![i]!);
    console.log(
      `${routes} routes, ${kind}: ${median(cost[kind]!).toFixed(2)} µs/check (worst ${Math.max(...cost[kind]!).toFixed(2)}), ÷ plain ${median(ratios).toFixed(2)} (worst ${Math.max(...ratios).toFixed(2)})`,
    );
  }
}
