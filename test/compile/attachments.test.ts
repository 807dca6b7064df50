/**
 * Which virtual host a listener's routes make, as Envoy Gateway v1.9.0 builds them: virtual hosts
 * come from route host names only (internal/xds/translator/translator.go, one per IR route
 * Hostname), so a listener without routes adds none; a route without host names serves `*`
 * (or its listener's host name); and a route host name that another listener on the same port
 * names exactly is dropped from it (computeHosts in internal/gatewayapi/helpers.go).
 */
import { describe, expect, it } from "vitest";
import { decider } from "../support/world.ts";

/** Gateway apps/gw: listener `wild` (no host name) and `foo` (foo.example.com, no route) on port 80, `other` (bar.example.com) on 8080. */
const gateway = (protocol: "HTTP" | "HTTPS") => {
  const tls = protocol === "HTTPS" ? ", tls: {certificateRefs: [{name: cert}]}" : "";
  const port = protocol === "HTTPS" ? 443 : 80;
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec:
  gatewayClassName: portcullis
  listeners:
    - {name: wild, protocol: ${protocol}, port: ${port}${tls}}
    - {name: foo, protocol: ${protocol}, port: ${port}, hostname: foo.example.com${tls}}
    - {name: other, protocol: ${protocol}, port: 8080, hostname: bar.example.com${tls}}
`;
};
/** HTTPRoute apps/r on listener `wild`, `/` for `hostnames` (none: the field left out). */
const wildRoute = (hostnames: readonly string[]) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: apps}
spec:
  parentRefs: [{name: gw, sectionName: wild}]
${hostnames.length === 0 ? "" : `  hostnames: [${hostnames.join(", ")}]\n`}  rules: [{matches: [{path: {type: PathPrefix, value: /}}]}]
`;
const codeFor = async (world: string, host: string, scheme = "http") => (await decider(world)({ host, scheme, path: "/x" })).code;

describe("a listener with a host name and no route (Envoy Gateway v1.9.0)", () => {
  for (const protocol of ["HTTP", "HTTPS"] as const) {
    const scheme = protocol.toLowerCase();
    it(`${protocol}: adds no virtual host, so its host name takes the wildcard listener's route without host names (*)`, async () => {
      expect(await codeFor(gateway(protocol) + wildRoute([]), "foo.example.com", scheme)).toBe("allowed");
    });
    it(`${protocol}: a host name the wildcard listener's route names is dropped where a listener on the same port names it exactly: no route`, async () => {
      const world = gateway(protocol) + wildRoute(["foo.example.com", "bar.example.com", "baz.example.com"]);
      expect(await codeFor(world, "foo.example.com", scheme)).toBe("route_not_found");
      expect(await codeFor(world, "baz.example.com", scheme)).toBe("allowed");
      // Listener `other` names bar.example.com on another port: the route keeps it on port 80.
      expect(await codeFor(world, "bar.example.com", scheme)).toBe("allowed");
    });
  }
});

describe("a listener Envoy Gateway v1.9.0 does not program takes no route (validateListenerSpec)", () => {
  /** Gateway apps/gw whose one listener `foo` (foo.example.com) has `extra`, and HTTPRoute apps/f on it. */
  const world = (protocol: "HTTP" | "HTTPS", extra: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec:
  gatewayClassName: portcullis
  listeners: [{name: foo, protocol: ${protocol}, port: 80, hostname: foo.example.com${extra}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: f, namespace: apps}
spec:
  parentRefs: [{name: gw, sectionName: foo}]
`;
  const TLS = ", tls: {certificateRefs: [{name: cert}]}";
  const refused: [string, "HTTP" | "HTTPS", string, string][] = [
    [
      "allowedRoutes.kinds naming TCPRoute beside HTTPRoute",
      "HTTP",
      ", allowedRoutes: {kinds: [{kind: HTTPRoute}, {kind: TCPRoute}]}",
      "names TCPRoute",
    ],
    [
      "allowedRoutes.kinds naming HTTPRoute of another group",
      "HTTP",
      ", allowedRoutes: {kinds: [{group: example.com, kind: HTTPRoute}]}",
      'of group "example.com"',
    ],
    ["tls on an HTTP listener", "HTTP", TLS, "tls but protocol HTTP"],
    [
      "allowedRoutes.kinds naming TLSRoute on an HTTPS listener",
      "HTTPS",
      `${TLS}, allowedRoutes: {kinds: [{kind: HTTPRoute}, {kind: TLSRoute}]}`,
      "names TLSRoute",
    ],
  ];
  it.each(refused)("%s: the route is not attached, and says why", async (_, protocol, extra, why) => {
    const decide = decider(world(protocol, extra));
    expect((await decide({ host: "foo.example.com", scheme: protocol.toLowerCase(), path: "/x" })).code).toBe("route_not_found");
    expect(decide.result.problems.join("\n")).toContain(why);
  });
  it("allowedRoutes.kinds naming only HTTPRoute and GRPCRoute: the route is attached", async () => {
    const extra = ", allowedRoutes: {kinds: [{kind: HTTPRoute}, {group: gateway.networking.k8s.io, kind: GRPCRoute}]}";
    expect(await codeFor(world("HTTP", extra), "foo.example.com")).toBe("allowed");
  });
});

describe("a manifest folder's namespaces exist without labels (Envoy Gateway v1.9.0's file provider makes them so)", () => {
  const world = (selector: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec:
  gatewayClassName: portcullis
  listeners: [{name: http, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: Selector, selector: ${selector}}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ops}
spec: {parentRefs: [{name: gw, namespace: apps}]}
`;
  const code = async (selector: string, fromManifestFolder: boolean) =>
    (await decider(world(selector), {}, { fromManifestFolder })({ host: "a.example.com", path: "/x" })).code;
  it("a Selector that holds for no labels takes a route of any namespace there; from Kubernetes, a namespace without its Namespace object is taken by none", async () => {
    for (const selector of [
      "{}",
      "{matchExpressions: [{key: team, operator: DoesNotExist}]}",
      "{matchExpressions: [{key: team, operator: NotIn, values: [a]}]}",
    ]) {
      expect(await code(selector, true)).toBe("allowed");
      expect(await code(selector, false)).toBe("route_not_found");
    }
  });
  it("a Selector that needs a label takes none there", async () => {
    expect(await code("{matchLabels: {team: ops}}", true)).toBe("route_not_found");
    expect(await code("{matchExpressions: [{key: team, operator: Exists}]}", true)).toBe("route_not_found");
  });
});
