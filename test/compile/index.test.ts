/**
 * compile() with `watchNamespaces` (controller/compile/index.ts): a listener that takes routes of
 * other namespaces gets an entry standing for the routes of namespaces not read, under the
 * listener's policy, in a table of its own; none without the option or on a `from: Same` listener.
 */
import { describe, expect, it } from "vitest";
import type { CompileOptions } from "../../controller/compile/index.ts";
import { summarizeSnapshot } from "../../controller/snapshot/summary.ts";
import { compileText, decider } from "../support/world.ts";

/** Gateway infra/gw: `open` (port 80, from All), `tls` (443, HTTPS, from Selector), `own` (8080, from Same); basicAuth on the Gateway. */
const WORLD = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: portcullis
  listeners:
    - {name: open, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: All}}}
    - {name: tls, protocol: HTTPS, port: 443, hostname: "*.example.com", allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: shop}}}}}
    - {name: own, protocol: HTTP, port: 8080}
---
apiVersion: v1
kind: Secret
metadata: {name: users, namespace: infra}
stringData: {.htpasswd: "alice:{SHA}+ZfWYXZYbWIIzRfl2ZLP6w/ZHYQ="}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: gw-users, namespace: infra}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  basicAuth: {users: {name: users}}
`;

/** WORLD plus HTTPRoute infra/site (every request) on listener `open`. */
const WITH_SITE = `${WORLD}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: site, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: open}]
`;

function unreadTables(options: Partial<CompileOptions>) {
  const { snapshot } = compileText(WORLD, options);
  return (snapshot.routes.byGateway["infra/gw"] ?? []).flatMap((table) => {
    const entries = [...table.vhosts.any, ...Object.values(table.vhosts.exact).flat(), ...Object.values(table.vhosts.wildcard).flat()];
    return entries
      .filter((e) => e.unread === true)
      .map((e) => ({ port: table.port, tls: table.tlsListener, policy: e.policy?.id, rule: e.rule }));
  });
}

describe("routes of namespaces not read (--watch-namespaces)", () => {
  it("stand for every request of each listener that takes other namespaces' routes, under the Gateway's policy", () => {
    expect(unreadTables({ watchNamespaces: ["infra"] })).toEqual([
      {
        port: 80,
        tls: undefined,
        policy: "infra/gw-users",
        rule: "any route of a namespace not read (--watch-namespaces) on listener open",
      },
      { port: 443, tls: "tls", policy: "infra/gw-users", rule: "any route of a namespace not read (--watch-namespaces) on listener tls" },
    ]);
  });

  it("have their own table in the snapshot summary, beside the port's routes read", () => {
    const { snapshot } = compileText(WITH_SITE, { watchNamespaces: ["infra"] });
    expect(Object.keys((summarizeSnapshot(snapshot) as { routes: Record<string, object> }).routes["infra/gw"]!)).toEqual([
      "port 80",
      "port 80 (routes of namespaces not read, listener open)",
      "port 443 (HTTPS listener tls) (routes of namespaces not read, listener tls)",
    ]);
  });

  it("stand for the listeners of ListenerSets of namespaces not read, on each port, when the Gateway may take them", () => {
    const world = WORLD.replace(
      "gatewayClassName: portcullis",
      "gatewayClassName: portcullis\n  allowedListeners: {namespaces: {from: All}}",
    );
    const { snapshot } = compileText(world, { watchNamespaces: ["infra"] });
    const tables = (snapshot.routes.byGateway["infra/gw"] ?? []).map((t) => `${t.port} ${t.unreadOn}`);
    const listenerSets = "(a namespace not read)/(any ListenerSet)/(any listener)";
    expect(tables).toEqual([`80 ${listenerSets}`, "80 open", `443 ${listenerSets}`, "443 tls", `8080 ${listenerSets}`]);
    const entry = snapshot.routes.byGateway["infra/gw"]![4]!.vhosts.any[0]!;
    expect(entry).toMatchObject({ unread: true, policy: { id: "infra/gw-users" } });
  });

  it("do not exist when every namespace is read", () => {
    expect(unreadTables({})).toEqual([]);
    expect(unreadTables({ watchNamespaces: [] })).toEqual([]);
  });

  it("never decide alone: a request no route read matches gets --on-no-route", async () => {
    const d = decider(WORLD, {}, { watchNamespaces: ["infra"] });
    expect(await d({ path: "/", port: 80, headers: {} })).toMatchObject({ status: 403, code: "route_not_found" });
  });

  it("are not the route the proxy names (gRPC route metadata): a route not read is a mismatch, denied", async () => {
    const d = decider(WITH_SITE, {}, { watchNamespaces: ["infra"] });
    const proxyRoute = { kind: "HTTPRoute" as const, namespace: "ops", name: "admin", sectionName: undefined };
    expect(await d({ path: "/admin", port: 80, proxyRoute })).toMatchObject({ status: 403, code: "route_mismatch" });
  });
});
