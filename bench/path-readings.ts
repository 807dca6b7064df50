/**
 * What a path that an upstream may read otherwise costs a check as the routes grow, decided
 * in-process (test/support/world.ts decider: compile, then check) for a plain path, one with a
 * format extension, one with a trailing slash and ones with upper-case letters
 * (authz/path-case-readings.ts: each looks up the route and rule path values that may read it, authz/case-path-values.ts).
 * Worlds, for each N of --routes:
 *   - prefix: N HTTPRoutes on N hosts, each with a PathPrefix of its own (`/svc-<i>`);
 *   - regex-spread: N HTTPRoutes spread over N/10 hosts, each with a RegularExpression of its own
 *     holding an upper-case letter (`/Svc-<i>/[a-z]+`);
 *   - regex-one-host: the same N routes all on one host;
 *   - regex-anchored-one-host: the same with each pattern anchored as Envoy Gateway users often
 *     write it (`^/Svc-<i>/[a-z]+`), which RE2 gives no literal prefix (route-starts.ts reads past it).
 * CPU µs per check, the median and the worst of interleaved rounds, and each path's cost ÷ the plain
 * path's in the same round. A cost that grows with N for the suffix and case paths only is a scan
 * over every route path. Each round checks a path until --checks checks or 200 ms of CPU, whichever
 * comes first (at least 5: a scan over 10,000 patterns costs tens of ms a check). The first check of
 * each world and tree, which builds the path values a snapshot's checks look up, is shown apart, with
 * the heap it leaves held when node runs with --expose-gc.
 *
 * With --lookup, each path's route lookup alone too (the tree's normalizeRequest and findRoutes over
 * the same snapshot, Envoy's reading only): what a check costs before any path reading or policy.
 *
 * With --tree name=dir (repeatable), each tree's own compile and check() (its test/support/world.ts)
 * decides the same requests in the same process, the trees taking turns within each round, so a
 * before/after is one run: `git archive <commit> | tar -x -C /tmp/before` and a symlink to an
 * installed node_modules make a tree. Without --tree, this tree alone.
 *
 *   node bench/path-readings.ts [--routes 10,10000] [--worlds prefix,regex-spread,regex-one-host]
 *                               [--checks 20000] [--rounds 5] [--lookup] [--tree before=/tmp/before --tree after=.]
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { AuthzRequest } from "../controller/authz/request.ts";
import type { RouteRequest } from "../controller/snapshot/route-index.ts";
import type { Snapshot } from "../controller/snapshot/types.ts";
import { median } from "./spread.ts";

const { values } = parseArgs({
  options: {
    routes: { type: "string", default: "10,10000" },
    worlds: { type: "string", default: "prefix,regex-spread,regex-one-host" },
    checks: { type: "string", default: "20000" },
    rounds: { type: "string", default: "5" },
    tree: { type: "string", multiple: true, default: ["this=."] },
    lookup: { type: "boolean", default: false },
  },
});
const checks = Number(values.checks);
const rounds = Number(values.rounds);
const ROUND_CPU_US = 200_000;
const MIN_CHECKS = 5;

/** The paths the RegularExpression worlds are checked on: those of the PathPrefix world, and one no route takes. */
const REGEX_PATHS = {
  plain: "/svc-7/items",
  extension: "/svc-7/items.json",
  "trailing slash": "/svc-7/items/",
  "upper case": "/SVC-7/items",
  "/X (no route)": "/X",
} as const;

/** The requests each world is checked on: a path and the host it is sent to. */
const WORLDS = {
  prefix: {
    host: "h7.example.com",
    paths: {
      plain: REGEX_PATHS.plain,
      extension: REGEX_PATHS.extension,
      "trailing slash": REGEX_PATHS["trailing slash"],
      "upper case": REGEX_PATHS["upper case"],
    },
  },
  "regex-spread": { host: "h7.example.com", paths: REGEX_PATHS },
  "regex-one-host": { host: "h0.example.com", paths: REGEX_PATHS },
  "regex-anchored-one-host": { host: "h0.example.com", paths: REGEX_PATHS },
} as const;
type WorldName = keyof typeof WORLDS;

function worldOf(name: WorldName, routes: number): string {
  const gateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec: {gatewayClassName: x, listeners: [{name: http, protocol: HTTP, port: 80}]}
`;
  const hosts = name === "prefix" ? routes : name === "regex-spread" ? Math.max(1, Math.floor(routes / 10)) : 1;
  const anchor = name === "regex-anchored-one-host" ? "^" : "";
  const match = (i: number) =>
    name === "prefix" ? `{type: PathPrefix, value: /svc-${i}}` : `{type: RegularExpression, value: '${anchor}/Svc-${i}/[a-z]+'}`;
  const route = (i: number) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r${i}, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [h${i % hosts}.example.com]
  rules: [{matches: [{path: ${match(i)}}]}]
`;
  return [gateway, ...Array.from({ length: routes }, (_, i) => route(i))].join("---\n");
}

type Decide = (request: { path: string; host: string }) => unknown;
type Decider = Decide & { readonly result: { readonly snapshot: Snapshot } };
const trees = await Promise.all(
  values.tree.map(async (spec) => {
    const [name, dir] = spec.includes("=") ? [spec.slice(0, spec.indexOf("=")), spec.slice(spec.indexOf("=") + 1)] : [spec, spec];
    const from = (file: string) => import(pathToFileURL(resolve(dir!, file)).href);
    const [world, request, index] = await Promise.all([
      from("test/support/world.ts"),
      from("controller/authz/request.ts"),
      from("controller/snapshot/route-index.ts"),
    ]);
    const normalizeRequest = request.normalizeRequest as (source: AuthzRequest) => RouteRequest;
    const findRoutes = index.findRoutes as (routes: Snapshot["routes"], request: RouteRequest, scope: AuthzRequest) => unknown;
    /** The route lookup alone, on the request the decider would check. */
    const lookupIn = (decide: Decider): Decide => {
      const { routes } = decide.result.snapshot;
      return ({ path, host }) => {
        const source: AuthzRequest = { method: "GET", scheme: "http", host, path, headers: {}, gateway: undefined };
        return findRoutes(routes, normalizeRequest(source), source);
      };
    };
    return { name: name!, decider: world.decider as (text: string) => Decider, lookupIn };
  }),
);

/** The V8 heap in use after a full collection, when node runs with --expose-gc. */
function heapAfterGc(): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return undefined;
  gc();
  return process.memoryUsage().heapUsed;
}

/** CPU µs per check of `request` by `decide`: until `checks` checks or ROUND_CPU_US, at least MIN_CHECKS. */
async function costOf(decide: Decide, request: { path: string; host: string }): Promise<number> {
  for (let i = 0; i < Math.min(checks / 10, MIN_CHECKS); i++) await decide(request);
  const start = process.cpuUsage();
  let done = 0;
  let used = 0;
  while (done < checks && (done < MIN_CHECKS || used < ROUND_CPU_US)) {
    await decide(request);
    done++;
    if (done % 16 === 0 || done < MIN_CHECKS * 2) {
      const u = process.cpuUsage(start);
      used = u.user + u.system;
    }
  }
  const u = process.cpuUsage(start);
  return (u.user + u.system) / done;
}

for (const world of values.worlds.split(",") as WorldName[]) {
  const { host, paths } = WORLDS[world];
  for (const routes of values.routes.split(",").map(Number)) {
    const text = worldOf(world, routes);
    const decides = trees.flatMap((t) => {
      const decide = t.decider(text);
      return values.lookup
        ? [
            { name: t.name, decide },
            { name: `${t.name} lookup`, decide: t.lookupIn(decide) },
          ]
        : [{ name: t.name, decide }];
    });
    // The first check builds the path values (as prepareCaseReadings does when the pipeline publishes).
    for (const { name, decide } of decides) {
      const heapBefore = heapAfterGc();
      const start = process.cpuUsage();
      await decide({ path: "/SVC-7/items", host });
      const used = process.cpuUsage(start);
      const held = heapBefore === undefined ? "" : `, ${((heapAfterGc()! - heapBefore) / 2 ** 20).toFixed(1)} MiB more heap held`;
      console.log(`${world}, ${routes} routes, ${name}, first check: ${((used.user + used.system) / 1000).toFixed(1)} ms of CPU${held}`);
    }
    const cost: Record<string, number[]> = {};
    for (let round = 0; round < rounds; round++) {
      // The trees take turns, forwards then backwards, so a ratio compares runs moments apart.
      const order = round % 2 === 0 ? decides : [...decides].reverse();
      for (const [kind, path] of Object.entries(paths))
        for (const { name, decide } of order) (cost[`${name} ${kind}`] ??= []).push(await costOf(decide, { path, host }));
    }
    for (const { name } of decides) {
      for (const kind of Object.keys(paths)) {
        const own = cost[`${name} ${kind}`]!;
        const ratios = own.map((c, i) => c / cost[`${name} plain`]![i]!);
        console.log(
          `${world}, ${routes} routes, ${name}, ${kind}: ${median(own).toFixed(2)} µs/check (worst ${Math.max(...own).toFixed(2)}), ÷ plain ${median(ratios).toFixed(2)} (worst ${Math.max(...ratios).toFixed(2)})`,
        );
      }
    }
  }
}
