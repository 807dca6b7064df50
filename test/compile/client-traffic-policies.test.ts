/**
 * Which listeners' client address the flags do not find as Envoy does (controller/compile/client-traffic-policies.ts):
 * Envoy Gateway v1.9.0's ClientTrafficPolicy resolution (internal/gatewayapi/clienttrafficpolicy.go and
 * its testdata clienttrafficpolicy-*.in.yaml: a sectionName policy before a Gateway one, the older of
 * two on one target, targetRefs in the policy's own namespace, targetSelectors wherever their namespaces and a
 * ReferenceGrant allow, ListenerSets), and the Warning a policy that reads
 * the address gets there.
 */
import { describe, expect, it } from "vitest";
import type { ClientAddressOptions } from "../../controller/authz/client-address.ts";
import { clientAddressFlags, clientAddressOptionsOfDetection } from "../../controller/compile/client-traffic-policies.ts";
import type { CompileResult } from "../../controller/compile/index.ts";
import { listenerSetWithRoute } from "../support/manifests.ts";
import { compileText, decider } from "../support/world.ts";

const PEER: ClientAddressOptions = { trustedHops: 0, trustedCidrs: [] };
const ONE_HOP: ClientAddressOptions = { trustedHops: 1, trustedCidrs: [] };

/** Gateway apps/gw (`listeners` as YAML flow maps, each with a route api-<name> on it) of class `gatewayClass`. */
function world(listeners: readonly string[], ...objects: string[]): string {
  const names = listeners.map((l) => /name: ([\w-]+)/.exec(l)![1]!);
  return [
    `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps, labels: {edge: "true"}}
spec: {gatewayClassName: eg, listeners: [${listeners.join(", ")}]}
`,
    ...names.map(
      (n) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api-${n}, namespace: apps}
spec: {parentRefs: [{name: gw, sectionName: ${n}}], hostnames: [${n}.example.com]}
`,
    ),
    ...objects,
  ].join("---\n");
}

const HTTP = "{name: http, protocol: HTTP, port: 80}";
const ADMIN = "{name: admin, protocol: HTTP, port: 8080}";
const ENVOY_GATEWAY_CLASS =
  "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: eg}\nspec: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}\n";

/** ClientTrafficPolicy `namespace/name` created at `created` with `target` (a targetRefs entry or `targetSelectors: ...` YAML) and `detection`. */
function ctp(name: string, target: string, detection?: string, { namespace = "apps", created = "2024-01-01T00:00:00Z" } = {}): string {
  return `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: ${name}, namespace: ${namespace}, creationTimestamp: "${created}"}
spec:
  ${target.startsWith("targetSelectors") ? target : `targetRefs: [${target}]`}
${detection === undefined ? "" : `  clientIPDetection: ${detection}\n`}`;
}
const ON_GW = "{group: gateway.networking.k8s.io, kind: Gateway, name: gw}";
const onListener = (section: string) => `{group: gateway.networking.k8s.io, kind: Gateway, name: gw, sectionName: ${section}}`;
const HOPS_1 = "{xForwardedFor: {numTrustedHops: 1}}";

/** listener name → its entries' clientAddressUnknown (one per listener, or "" when unset). */
function unknownByListener(result: CompileResult): Record<string, string> {
  const out: Record<string, string> = {};
  for (const table of result.snapshot.routes.byGateway["apps/gw"] ?? [])
    for (const entries of Object.values(table.vhosts.exact)) for (const e of entries) out[e.listener] = e.clientAddressUnknown ?? "";
  return out;
}
const compiled = (flags: ClientAddressOptions, text: string) => unknownByListener(compileText(text, { clientAddress: flags }));

describe("clientAddressMismatch: each listener's client address detection against the flags", () => {
  it("a Gateway-wide ClientTrafficPolicy's numTrustedHops against Portcullis on the peer: its listeners name the policy and the flags to start with", () => {
    expect(compiled(PEER, world([HTTP], ctp("hops", ON_GW, HOPS_1)))).toEqual({
      http: "ClientTrafficPolicy apps/hops: Envoy finds the client address otherwise than Portcullis, which runs with --xff-trusted-hops 0; start it with --xff-trusted-hops 1",
    });
    expect(compiled(ONE_HOP, world([HTTP], ctp("hops", ON_GW, HOPS_1)))).toEqual({ http: "" });
  });

  it("a ClientTrafficPolicy without clientIPDetection is Envoy's peer: trusted hops Envoy does not have are refused", () => {
    expect(compiled(ONE_HOP, world([HTTP], ctp("plain", ON_GW)))).toEqual({
      http: "ClientTrafficPolicy apps/plain: Envoy finds the client address otherwise than Portcullis, which runs with --xff-trusted-hops 1; start it with --xff-trusted-hops 0",
    });
  });

  it("no ClientTrafficPolicy: an Envoy Gateway class's listeners are on the peer; another class's are left to the flags", () => {
    expect(compiled(ONE_HOP, world([HTTP], ENVOY_GATEWAY_CLASS))).toEqual({
      http: "no ClientTrafficPolicy applies (Envoy's default, the peer): Envoy finds the client address otherwise than Portcullis, which runs with --xff-trusted-hops 1; start it with --xff-trusted-hops 0",
    });
    expect(compiled(ONE_HOP, world([HTTP]))).toEqual({ http: "" });
    expect(compiled(PEER, world([HTTP], ENVOY_GATEWAY_CLASS))).toEqual({ http: "" });
  });

  it("an Envoy Gateway installed under a controllerName of its own (--envoy-gateway-controller-name): its Gateways without a policy are on the peer", () => {
    const ownName = ENVOY_GATEWAY_CLASS.replace("gateway.envoyproxy.io/gatewayclass-controller", "corp.example/envoy");
    const text = world([HTTP], ownName);
    expect(unknownByListener(compileText(text, { clientAddress: ONE_HOP }))).toEqual({ http: "" });
    expect(unknownByListener(compileText(text, { clientAddress: ONE_HOP, envoyGatewayControllers: ["corp.example/envoy"] }))).toEqual({
      http: "no ClientTrafficPolicy applies (Envoy's default, the peer): Envoy finds the client address otherwise than Portcullis, which runs with --xff-trusted-hops 1; start it with --xff-trusted-hops 0",
    });
    expect(unknownByListener(compileText(text, { clientAddress: PEER, envoyGatewayControllers: ["corp.example/envoy"] }))).toEqual({
      http: "",
    });
  });

  it("a policy on a listener (sectionName) takes it from the Gateway-wide one, whichever is older", () => {
    const text = world(
      [HTTP, ADMIN],
      ctp("gateway-wide", ON_GW, HOPS_1, { created: "2024-01-01T00:00:00Z" }),
      ctp("admin-peer", onListener("admin"), undefined, { created: "2024-06-01T00:00:00Z" }),
    );
    expect(compiled(ONE_HOP, text)).toEqual({
      http: "",
      admin:
        "ClientTrafficPolicy apps/admin-peer: Envoy finds the client address otherwise than Portcullis, which runs with --xff-trusted-hops 1; start it with --xff-trusted-hops 0",
    });
    expect(compiled(PEER, text)).toEqual({ http: expect.stringContaining("ClientTrafficPolicy apps/gateway-wide"), admin: "" });
  });

  it("two policies on one target: the older applies (the newer is Conflicted in Envoy Gateway)", () => {
    const older = ctp("older", ON_GW, HOPS_1, { created: "2024-01-01T00:00:00Z" });
    const newer = ctp("newer", ON_GW, "{customHeader: {name: X-Real-IP}}", { created: "2024-02-01T00:00:00Z" });
    expect(compiled(ONE_HOP, world([HTTP], newer, older))).toEqual({ http: "" });
    expect(compiled(PEER, world([HTTP], newer, older))).toEqual({ http: expect.stringContaining("apps/older") });
    const olderOnListener = ctp("older", onListener("http"), HOPS_1, { created: "2024-01-01T00:00:00Z" });
    const newerOnListener = ctp("newer", onListener("http"), "{customHeader: {name: X-Real-IP}}", { created: "2024-02-01T00:00:00Z" });
    expect(compiled(ONE_HOP, world([HTTP], newerOnListener, olderOnListener))).toEqual({ http: "" });
  });

  it("targetSelectors select the Gateways of the policy's namespace by label; a policy of another namespace applies to none", () => {
    const selected = ctp(
      "by-label",
      "targetSelectors: [{group: gateway.networking.k8s.io, kind: Gateway, matchLabels: {edge: 'true'}}]",
      HOPS_1,
    );
    expect(compiled(PEER, world([HTTP], selected))).toEqual({ http: expect.stringContaining("apps/by-label") });
    const otherLabel = ctp("other", "targetSelectors: [{kind: Gateway, matchLabels: {edge: 'false'}}]", HOPS_1);
    expect(compiled(PEER, world([HTTP], otherLabel))).toEqual({ http: "" });
    expect(compiled(PEER, world([HTTP], ctp("elsewhere", ON_GW, HOPS_1, { namespace: "infra" })))).toEqual({ http: "" });
  });

  // Envoy Gateway v1.9.0 resolves targetSelectors' `namespaces` (From All or Selector) with a
  // ReferenceGrant from ClientTrafficPolicy: a policy of infra selecting apps/gw was not read.
  it("targetSelectors with namespaces select Gateways of other namespaces a ReferenceGrant from ClientTrafficPolicy allows", () => {
    const grant = (fromKind: string) => `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: infra-ctp, namespace: apps}
spec:
  from: [{group: gateway.envoyproxy.io, kind: ${fromKind}, namespace: infra}]
  to: [{group: gateway.networking.k8s.io, kind: Gateway}]
`;
    const namespaces = `apiVersion: v1
kind: Namespace
metadata: {name: apps, labels: {edge: "true"}}
`;
    const selector = (from: string) =>
      `targetSelectors: [{group: gateway.networking.k8s.io, kind: Gateway, matchLabels: {edge: 'true'}, namespaces: ${from}}]`;
    const infra = { namespace: "infra" };
    for (const from of ["{from: All}", "{from: Selector, selector: {matchLabels: {edge: 'true'}}}"])
      expect(compiled(PEER, world([HTTP], namespaces, grant("ClientTrafficPolicy"), ctp("edge", selector(from), HOPS_1, infra)))).toEqual({
        http: expect.stringContaining("ClientTrafficPolicy infra/edge"),
      });
    // No grant for ClientTrafficPolicy (one for SecurityPolicy does not count), or the default From Same: not selected.
    expect(compiled(PEER, world([HTTP], grant("SecurityPolicy"), ctp("edge", selector("{from: All}"), HOPS_1, infra)))).toEqual({
      http: "",
    });
    expect(compiled(PEER, world([HTTP], grant("ClientTrafficPolicy"), ctp("edge", selector("{from: Same}"), HOPS_1, infra)))).toEqual({
      http: "",
    });
  });

  // With --watch-namespaces the ClientTrafficPolicies of other namespaces are not listed, yet one may
  // select a watched Gateway where a ReferenceGrant there allows it: its detection cannot be known.
  it("a ReferenceGrant from ClientTrafficPolicy of a namespace not watched: the Gateway's detection cannot be read", () => {
    const grant = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: infra-ctp, namespace: apps}
spec:
  from: [{group: gateway.envoyproxy.io, kind: ClientTrafficPolicy, namespace: infra}]
  to: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
`;
    const watching = (namespaces: string[], text: string) =>
      unknownByListener(compileText(text, { clientAddress: PEER, watchNamespaces: namespaces }));
    expect(watching(["apps"], world([HTTP], grant))).toEqual({
      http: "ClientTrafficPolicy of namespace infra, which is not watched (--watch-namespaces): its clientIPDetection cannot be read",
    });
    expect(watching(["apps", "infra"], world([HTTP], grant))).toEqual({ http: "" });
    expect(watching(["apps"], world([HTTP]))).toEqual({ http: "" });
  });

  it("HTTP listeners sharing a port share Envoy's connection manager: each is compared with the other's detection too", () => {
    const shared = "{name: admin, protocol: HTTP, port: 80, hostname: admin.example.com}";
    // The Gateway-wide policy gives http one hop; admin, taken by a policy Envoy Gateway refuses, stays on the peer.
    const text = world([HTTP, shared], ctp("gateway-wide", ON_GW, HOPS_1), ctp("admin-own", onListener("admin"), HOPS_1));
    const peer = expect.stringContaining("no ClientTrafficPolicy applies (Envoy's default, the peer)");
    expect(compiled(ONE_HOP, text)).toEqual({ http: peer, admin: peer });
    expect(compiled(PEER, text)).toEqual({
      http: expect.stringContaining("apps/gateway-wide"),
      admin: expect.stringContaining("apps/gateway-wide"),
    });
    // An HTTPS listener on the same port has a connection manager of its own: compared alone.
    const tls = "{name: tls, protocol: HTTPS, port: 80, hostname: tls.example.com}";
    const split = world([HTTP, tls], ctp("tls-peer", onListener("tls"), undefined), ctp("gateway-wide", ON_GW, HOPS_1));
    expect(compiled(ONE_HOP, split)).toEqual({ http: "", tls: expect.stringContaining("apps/tls-peer") });
  });

  it("a policy naming an HTTP listener that shares its port is not applied (Envoy Gateway refuses it): the listener is on the peer", () => {
    const shared = "{name: admin, protocol: HTTP, port: 80, hostname: admin.example.com}";
    const text = world([HTTP, shared], ctp("admin-hops", onListener("admin"), HOPS_1));
    expect(compiled(PEER, text)).toEqual({ http: "", admin: "" });
    const peer = expect.stringContaining("no ClientTrafficPolicy applies (Envoy's default, the peer)");
    expect(compiled(ONE_HOP, text)).toEqual({ http: peer, admin: peer });
  });

  // Envoy Gateway v1.9.0 takes ClientTrafficPolicies on a ListenerSet (whole, or one listener by
  // sectionName, or selected by label): they were not read, so a ListenerSet listener whose policy
  // trusts a hop was decided on the peer, the proxy in front.
  it("a policy on a ListenerSet (targetRefs, sectionName or targetSelectors) applies to its listeners", () => {
    const listenerSet = listenerSetWithRoute("api-ext", "/", "ext.example.com");
    const text = (policy: string) =>
      world([HTTP], listenerSet, policy).replace(
        "spec: {gatewayClassName: eg,",
        "spec: {gatewayClassName: eg, allowedListeners: {namespaces: {from: Same}},",
      );
    const onSet = "{group: gateway.networking.k8s.io, kind: ListenerSet, name: ext}";
    const onSetListener = "{group: gateway.networking.k8s.io, kind: ListenerSet, name: ext, sectionName: ext-http}";
    const bySelector = "targetSelectors: [{group: gateway.networking.k8s.io, kind: ListenerSet, matchLabels: {tier: ext}}]";
    for (const target of [onSet, onSetListener, bySelector]) {
      const found = compiled(PEER, text(ctp("ext-hops", target, HOPS_1)));
      expect(found.http).toBe("");
      expect(Object.entries(found).filter(([l]) => l !== "http")).toEqual([
        [expect.stringContaining("ext-http"), expect.stringContaining("apps/ext-hops")],
      ]);
    }
  });

  it("a sectionName the Gateway does not have applies nowhere (Invalid in Envoy Gateway)", () => {
    expect(compiled(PEER, world([HTTP], ctp("typo", onListener("htp"), HOPS_1)))).toEqual({ http: "" });
  });

  it("a clientIPDetection that cannot be read is a mismatch whatever the flags", () => {
    expect(compiled(PEER, world([HTTP], ctp("odd", ON_GW, '"one hop"')))).toEqual({
      http: "ClientTrafficPolicy apps/odd: its clientIPDetection cannot be read",
    });
  });

  it("without the flags (standalone, compile) nothing is compared", () => {
    expect(unknownByListener(compileText(world([HTTP], ctp("hops", ON_GW, HOPS_1))))).toEqual({ http: "" });
  });
});

describe("the Warning of a policy that reads the client address where it cannot be determined", () => {
  const policy = (name: string, features: string) => `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: ${name}, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api-http}]
  ${features}
`;
  const warnings = (result: CompileResult, name: string) =>
    result.statuses
      .find((s) => s.name === name)!
      .ancestors.flatMap((a) =>
        a.conditions
          .filter((c) => c.type === "Warning")
          .map((c) => `${a.ancestorRef.name}/${a.ancestorRef.sectionName}: ${c.reason}: ${c.message}`),
      );

  it("names the policy and the flags on the route's Gateway and listener; a policy that reads no address gets none", () => {
    const cidrs = policy("office", "authorization: {rules: [{action: Allow, principal: {clientCIDRs: [10.0.0.0/8]}}]}");
    const text = world([HTTP], ctp("hops", ON_GW, HOPS_1), cidrs);
    expect(warnings(compileText(text, { clientAddress: PEER }), "office")).toEqual([
      "gw/http: ClientAddressUnknown: rules on the client address decide as if it could be any address (an Allow rule on it never applies, a Deny rule always does; code client_address_unknown) until Portcullis finds it as Envoy does: ClientTrafficPolicy apps/hops: Envoy finds the client address otherwise than Portcullis, which runs with --xff-trusted-hops 0; start it with --xff-trusted-hops 1",
    ]);
    expect(warnings(compileText(text, { clientAddress: ONE_HOP }), "office")).toEqual([]);
    const headers = policy("headers", "authorization: {rules: [{action: Allow, principal: {headers: [{name: x-team, values: [a]}]}}]}");
    expect(warnings(compileText(world([HTTP], ctp("hops", ON_GW, HOPS_1), headers), { clientAddress: PEER }), "headers")).toEqual([]);
  });

  it("principal.cel naming source reads the address; one that does not, does not", () => {
    const source = policy("source", `authorization: {rules: [{action: Allow, principal: {cel: "source.address.startsWith('10.')"}}]}`);
    const path = policy("path", `authorization: {rules: [{action: Allow, principal: {cel: "request.path == '/a'"}}]}`);
    expect(warnings(compileText(world([HTTP], ctp("hops", ON_GW, HOPS_1), source), { clientAddress: PEER }), "source")).toHaveLength(1);
    expect(warnings(compileText(world([HTTP], ctp("hops", ON_GW, HOPS_1), path), { clientAddress: PEER }), "path")).toEqual([]);
  });
});

describe("gatewaysKeepingSlashes: Gateways where Envoy may route a path with its slashes unmerged", () => {
  const kept = (...objects: string[]) => compileText(world([HTTP], ...objects)).snapshot.slashesKeptOn;
  const withPath = (target: string, path: string) => `${ctp("paths", target)}  path: ${path}\n`;

  it("lists a Gateway a ClientTrafficPolicy with path.disableMergeSlashes (or a path it cannot read) names or selects, and no other", () => {
    expect(kept()).toBeUndefined();
    expect(kept(withPath(ON_GW, "{disableMergeSlashes: false, escapedSlashesAction: KeepUnchanged}"))).toBeUndefined();
    expect(kept(withPath(ON_GW, "{disableMergeSlashes: true}"))).toEqual(["apps/gw"]);
    expect(kept(withPath(onListener("http"), "{disableMergeSlashes: true}"))).toEqual(["apps/gw"]);
    expect(kept(withPath(ON_GW, "keep"))).toEqual(["apps/gw"]);
    expect(kept(withPath(ON_GW, '{disableMergeSlashes: "yes"}'))).toEqual(["apps/gw"]);
    const selector = "targetSelectors: [{group: gateway.networking.k8s.io, kind: Gateway, matchLabels: {edge: 'true'}}]";
    expect(kept(withPath(selector, "{disableMergeSlashes: true}"))).toEqual(["apps/gw"]);
    expect(kept(withPath("{group: gateway.networking.k8s.io, kind: Gateway, name: other}", "{disableMergeSlashes: true}"))).toBeUndefined();
  });

  it("lists a Gateway a ClientTrafficPolicy of a namespace not read may select (a ReferenceGrant allows one from there)", () => {
    const grant = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: edge-ctp, namespace: apps}
spec:
  from: [{group: gateway.envoyproxy.io, kind: ClientTrafficPolicy, namespace: edge}]
  to: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
`;
    expect(compileText(world([HTTP], grant), { watchNamespaces: ["apps"] }).snapshot.slashesKeptOn).toEqual(["apps/gw"]);
    expect(compileText(world([HTTP], grant)).snapshot.slashesKeptOn).toBeUndefined();
  });

  it("makes check() refuse adjacent slashes only for that Gateway's requests (any Gateway's when none is named)", async () => {
    const other = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: other, namespace: apps}
spec: {gatewayClassName: eg, listeners: [${HTTP}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: on-other, namespace: apps}
spec: {parentRefs: [{name: other}], hostnames: [http.example.com]}
`;
    const d = decider(world([HTTP], other, withPath(ON_GW, "{disableMergeSlashes: true}")));
    const answer = async (path: string, gateway?: string) => {
      const decision = await d({ host: "http.example.com", path, ...(gateway === undefined ? {} : { gateway }) });
      return decision.allowed ? "allowed" : decision.code;
    };
    expect(await answer("//x", "apps/gw")).toBe("request_invalid");
    expect(await answer("/x%2F%2Fy", "apps/gw")).toBe("request_invalid");
    expect(await answer("/x/%5C/y", "apps/gw")).toBe("request_invalid");
    expect(await answer("//x")).toBe("request_invalid");
    expect(await answer("//x", "apps/other")).toBe("allowed");
    expect(await answer("/x/y?z=//", "apps/gw")).toBe("allowed");
  });
});

describe("gatewaysTakingProxyProtocol: Gateways whose route tables a request stating any port may have taken", () => {
  const markedReading = (watchNamespaces: string[], ...objects: string[]) =>
    Object.fromEntries(
      Object.entries(compileText(world([HTTP], ...objects), { watchNamespaces }).snapshot.routes.byGateway).map(([g, ports]) => [
        g,
        ports.map((p) => p.anyStatedPort === true),
      ]),
    );
  const marked = (...objects: string[]) => markedReading([], ...objects);
  const withSetting = (target: string, setting: string) => `${ctp("edge", target)}  ${setting}\n`;

  it("marks every table of a Gateway a ClientTrafficPolicy with proxyProtocol or enableProxyProtocol names or selects, and no other", () => {
    expect(marked()).toEqual({ "apps/gw": [false] });
    expect(marked(withSetting(ON_GW, "enableProxyProtocol: false"))).toEqual({ "apps/gw": [false] });
    expect(marked(withSetting(ON_GW, "proxyProtocol: {}"))).toEqual({ "apps/gw": [true] });
    expect(marked(withSetting(ON_GW, "proxyProtocol: {optional: true}"))).toEqual({ "apps/gw": [true] });
    expect(marked(withSetting(onListener("http"), "enableProxyProtocol: true"))).toEqual({ "apps/gw": [true] });
    expect(marked(withSetting(ON_GW, 'enableProxyProtocol: "yes"'))).toEqual({ "apps/gw": [true] });
    const other = "{group: gateway.networking.k8s.io, kind: Gateway, name: other}";
    expect(marked(withSetting(other, "proxyProtocol: {}"))).toEqual({ "apps/gw": [false] });
  });

  it("marks a Gateway a ClientTrafficPolicy of a namespace not read may select (a ReferenceGrant allows one from there)", () => {
    const grant = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: edge-ctp, namespace: apps}
spec:
  from: [{group: gateway.envoyproxy.io, kind: ClientTrafficPolicy, namespace: edge}]
  to: [{group: gateway.networking.k8s.io, kind: Gateway}]
`;
    expect(markedReading(["apps"], grant)).toEqual({ "apps/gw": [true] });
    expect(markedReading(["apps", "edge"], grant)).toEqual({ "apps/gw": [false] });
    expect(markedReading(["apps"])).toEqual({ "apps/gw": [false] });
  });
});

describe("clientAddressOptionsOfDetection and clientAddressFlags", () => {
  it("read each clientIPDetection form as the flags that give it", () => {
    const flags = (d: unknown) => clientAddressFlags(clientAddressOptionsOfDetection(d)!);
    expect(flags(undefined)).toBe("--xff-trusted-hops 0");
    expect(flags({ xForwardedFor: { numTrustedHops: 2 } })).toBe("--xff-trusted-hops 2");
    expect(flags({ xForwardedFor: { trustedCIDRs: ["10.0.0.0/8"], disableXForwardedForAppend: true } })).toBe(
      "--xff-trusted-cidrs 10.0.0.0/8 --xff-peer-not-appended",
    );
    expect(flags({ customHeader: { name: "CF-Connecting-IP" } })).toBe("--client-ip-header cf-connecting-ip");
    expect(clientAddressOptionsOfDetection("x")).toBeUndefined();
  });
});
