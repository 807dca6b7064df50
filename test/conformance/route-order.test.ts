/**
 * Route order against Envoy Gateway's own golden data: for each case in ./route-order (written by
 * import-route-order-cases.ts from EG's translator testdata, release named in `source`), every
 * virtual host of every listener lists the same routes, rules and matches, in the same order, as
 * the xDS IR EG hands to Envoy, whose first match wins.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { toResources } from "../../controller/api/resources.ts";
import { compile } from "../../controller/compile/index.ts";
import { describeMatch } from "../../controller/snapshot/summary.ts";
import type { RouteEntry, VirtualHosts } from "../../controller/snapshot/types.ts";

export interface RouteOrderCase {
  /** "envoyproxy/gateway <release> <path of the in/out files>". */
  readonly source: string;
  /** Set when EG's input is not in the order EG's provider sorts it, so ties differ from EG's golden order. */
  readonly inputOrder?: string;
  /** The Gateway API objects of EG's input. */
  readonly manifests: readonly object[];
  /** Per IR HTTP listener and virtual host, EG's routes in the order Envoy tries them. */
  readonly tables: readonly {
    readonly gateway: string;
    readonly listener: string;
    readonly port: number;
    /** "*" for routes that accept any host. */
    readonly hostname: string;
    readonly routes: readonly {
      /** "HTTPRoute namespace/name" or "GRPCRoute namespace/name". */
      readonly route: string;
      readonly rule: number;
      /** -1: the rule has no matches. */
      readonly match: number;
      /** The match in Portcullis' summary words. */
      readonly matches: string;
    }[];
  }[];
}

const dir = join(import.meta.dirname, "route-order");
const cases = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((f) => ({ name: f.slice(0, -".yaml".length), value: parse(readFileSync(join(dir, f), "utf8")) as RouteOrderCase }));

/** The entries Envoy would try for `hostname`, as Portcullis indexed them. */
function entriesFor(vhosts: VirtualHosts, hostname: string): readonly RouteEntry[] {
  if (hostname === "*") return vhosts.any;
  return hostname.startsWith("*.") ? (vhosts.wildcard[hostname.slice(1)] ?? []) : (vhosts.exact[hostname] ?? []);
}

/** Portcullis' label of a rule: "ns/name rule <name or index>", GRPCRoute rules prefixed with the kind. */
function ruleLabel(manifests: readonly object[], route: string, rule: number): string {
  const [kind, id] = route.split(" ") as [string, string];
  const [namespace, name] = id.split("/");
  const object = (
    manifests as { kind?: string; metadata?: { namespace?: string; name?: string }; spec?: { rules?: { name?: string }[] } }[]
  ).find((m) => m.kind === kind && (m.metadata?.namespace ?? "default") === namespace && m.metadata?.name === name);
  const ruleName = object?.spec?.rules?.[rule]?.name;
  return `${kind === "GRPCRoute" ? "GRPCRoute " : ""}${id} rule ${ruleName ?? rule}`;
}

describe("route order against Envoy Gateway's xDS IR", () => {
  it("has the cases, each naming the release it comes from", () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
    for (const c of cases) expect(c.value.source).toMatch(/^envoyproxy\/gateway v\d+\.\d+\.\d+ internal\/gatewayapi\/testdata\//);
  });
  for (const { name, value } of cases) {
    it(name, () => {
      const { resources, rejected } = toResources(value.manifests.map((object, i) => ({ object, origin: `manifest ${i}` })));
      expect(rejected).toEqual([]);
      const { snapshot } = compile(resources, { controllerName: "gateway.envoyproxy.io/gatewayclass-controller", gatewayClasses: [] });
      for (const table of value.tables) {
        const vhosts = snapshot.routes.byGateway[table.gateway]?.find((p) => p.port === table.port)?.vhosts;
        const ours = vhosts === undefined ? [] : entriesFor(vhosts, table.hostname).filter((e) => e.listener === table.listener);
        const where = `${table.gateway}/${table.listener} (port ${table.port}), host ${table.hostname}`;
        expect(
          ours.map((e) => `${e.rule}: ${describeMatch(e.match)}`),
          where,
        ).toEqual(table.routes.map((r) => `${ruleLabel(value.manifests, r.route, r.rule)}: ${r.matches}`));
      }
    });
  }
});
