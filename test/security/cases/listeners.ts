/**
 * Listeners: a request is decided with the policy of the listener it arrived on, never of another
 * one the client names. The worlds are compile golden cases: listeners-per-port (one route on
 * ports 80 and 8080, basicAuth alice on the Gateway, bob on listener `alt` (8080)) and listenerset.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AuthzRequest } from "../../../controller/authz/request.ts";
import { basicAuthAs, decider, goldenDecider } from "../../support/world.ts";
import { fromDecision, managedHeadersOf, type Case, type Expected } from "../outcome.ts";

const world = goldenDecider("listeners-per-port");
/**
 * listeners-per-port with Envoy Gateway's ClientTrafficPolicy `proxyProtocol` on listener `http`
 * (port 80): Envoy takes each connection's destination there from the PROXY header the connection
 * begins with, and reports that as the gRPC check's `attributes.destination`, while it routes the
 * request by the listener that accepted it.
 */
const LISTENERS_PER_PORT = readFileSync(join(import.meta.dirname, "../../compile/testdata/listeners-per-port.in.yaml"), "utf8");
const behindProxyProtocol = decider(`${LISTENERS_PER_PORT}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: behind-nlb, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw, sectionName: http}]
  proxyProtocol: {}
`);
/**
 * listeners-per-port read with `--watch-namespaces apps`, where a ReferenceGrant lets
 * ClientTrafficPolicies of `edge` (not read) select apps/gw: one may give it the PROXY protocol.
 */
const behindUnseenPolicy = decider(
  `${LISTENERS_PER_PORT}---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: edge-ctp, namespace: apps}
spec:
  from: [{group: gateway.envoyproxy.io, kind: ClientTrafficPolicy, namespace: edge}]
  to: [{group: gateway.networking.k8s.io, kind: Gateway}]
`,
  {},
  { watchNamespaces: ["apps"] },
);
/** The compile golden case listenerset: shop/ext adds ports 8081 and 8082 to apps/gw, other/rogue is refused. */
const sets = goldenDecider("listenerset");
/** The compile golden case https-listeners: HTTPS listeners `wild` (*.example.com, protected) and `billing` on port 443. */
const tls = goldenDecider("https-listeners");
/**
 * What a Portcullis run with `--watch-namespaces infra,apps` reads: Gateway infra/gw whose listener
 * `http` takes routes from every namespace (listener `internal`, port 8080, from its own only), an
 * API key required on the whole Gateway, and HTTPRoute apps/site (`/` on shop.example.com and
 * internal.example.com) whose own policy lets everyone in. Envoy also has routes of namespaces
 * Portcullis does not read, such as ops/admin on `/admin`, which the Gateway's policy governs.
 */
const PARTIAL = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: portcullis
  listeners:
    - {name: http, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: All}}}
    - {name: internal, protocol: HTTP, port: 8080, allowedRoutes: {namespaces: {from: Same}}}
---
apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: infra}
data: {alice: YWxpY2Uta2V5}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: keyed, namespace: infra}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key]}], forwardClientIDHeader: x-client-id}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: site, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [shop.example.com]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: status, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: internal}]
  hostnames: [internal.example.com]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: open, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: site}]
  authorization: {defaultAction: Allow}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: status-open, namespace: infra}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: status}]
  authorization: {defaultAction: Allow}
`;
const partial = decider(PARTIAL, {}, { watchNamespaces: ["infra", "apps"] });
/** The same Gateway taking ListenerSets of every namespace: one not read may add a listener for any host name on port 8080. */
const partialSets = decider(
  PARTIAL.replace("gatewayClassName: portcullis", "gatewayClassName: portcullis\n  allowedListeners: {namespaces: {from: All}}"),
  {},
  { watchNamespaces: ["infra", "apps"] },
);

/**
 * Two Gateways serving api.example.com, the one a request came through not named by the proxy (no
 * `x-portcullis-gateway`): each decides. On Gateway `a-public`, /r takes API keys and sends the
 * client as x-client-id; on `b-partner`, /r takes the partner's keys, among them the same key
 * string for client partner-bob, also sent as x-client-id, and /p sends its client as
 * x-partner-tier. /s is open on both.
 */
const TWO_GATEWAYS = ["a-public", "b-partner"]
  .map(
    (gw, i) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${gw}, namespace: apps}
spec: {gatewayClassName: portcullis, listeners: [{name: http, protocol: HTTP, port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${gw}, namespace: apps}
spec:
  parentRefs: [{name: ${gw}}]
  hostnames: [api.example.com]
  rules:
    - name: r
      matches: [{path: {type: PathPrefix, value: /r}}]
    - name: s
      matches: [{path: {type: PathPrefix, value: /s}}]
    - name: p
      matches: [{path: {type: PathPrefix, value: /p}}]
---
apiVersion: v1
kind: Secret
metadata: {name: ${gw}-keys, namespace: apps}
data: {${i === 0 ? "alice" : "partner-bob"}: YWxpY2Uta2V5}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: ${gw}, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: ${gw}, sectionName: r}]
  apiKeyAuth:
    credentialRefs: [{name: ${gw}-keys}]
    extractFrom: [{headers: [X-API-Key]}]
    forwardClientIDHeader: x-client-id
${
  i === 0
    ? ""
    : `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: ${gw}-tier, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: ${gw}, sectionName: p}]
  apiKeyAuth: {credentialRefs: [{name: ${gw}-keys}], extractFrom: [{headers: [X-API-Key]}], forwardClientIDHeader: x-partner-tier}
`
}`,
  )
  .join("---\n");
const twoGateways = decider(TWO_GATEWAYS);

const WRONG_USER: Expected = { status: 401, code: "basic_invalid" };
const NO_ROUTE: Expected = { status: 403, code: "route_not_found" };

function c(id: string, title: string, expect: Expected, request: Partial<AuthzRequest>, fixed?: string, on = world): Case {
  return {
    id: `listener.${id}`,
    title,
    expect,
    run: async () =>
      fromDecision(await on({ host: "shop.example.com", path: "/orders", ...request }), managedHeadersOf(on.result.snapshot.policies)),
    ...(fixed === undefined ? {} : { fixed }),
  };
}

export const listenerCases: readonly Case[] = [
  c(
    "gateway-unknown-other-identities",
    "Gateway not named; a key valid on both Gateways' /r, for client alice on one and partner-bob on the other: each would tell its upstream another client",
    { status: 403, code: "identity_unforwardable", reason: "would set x-client-id upstream to different values" },
    { host: "api.example.com", path: "/r", headers: { "x-api-key": "alice-key" } },
    "when every reading allowed, the first reading's allow was answered: the request went upstream as alice (x-client-id) whichever Gateway took it, though on the other the key is partner-bob's; readings that allow with other headers upstream are now refused",
    twoGateways,
  ),
  c(
    "gateway-unknown-client-copy",
    "Gateway not named; open /s on both, the client's own `x-partner-tier: gold` (a header only the second Gateway's policies set)",
    { status: 200, code: "allowed" },
    { host: "api.example.com", path: "/s", headers: { "x-partner-tier": "gold" } },
    "when every reading allowed, the first reading's allow was answered, which removes only the headers its own Gateway's policies set: the client's x-partner-tier reached the other Gateway's upstream, which takes it for a client its policy established (open rules of one policy counted as one reading whatever their Gateway); every header any reading removes is now removed",
    twoGateways,
  ),
  c(
    "other-listeners-user",
    "port 8080 (Envoy's gRPC destination) with alice, a user of the Gateway-wide policy only",
    WRONG_USER,
    { port: 8080, headers: basicAuthAs("alice") },
    "every listener's routes shared one table, so a request on port 8080 was decided with the Gateway-wide policy; each listener port now has its own route table, as in Envoy",
  ),
  c(
    "proxy-protocol-stated-port",
    "bob (the 8080 listener's user) connects to listener `http` (port 80, PROXY protocol) with a PROXY header naming destination port 8080: Envoy routes by port 80's table (alice only) and states 8080 as the destination",
    WRONG_USER,
    { port: 8080, headers: basicAuthAs("bob") },
    "the stated destination port chose the route table, but behind the PROXY protocol Envoy states the port the PROXY header names (which whoever reaches Envoy writes), not the listener's: bob passed with port 8080's policy; on a Gateway a ClientTrafficPolicy gives the PROXY protocol, every table is now a reading whatever port is stated",
    behindProxyProtocol,
  ),
  c(
    "proxy-protocol-unseen-policy",
    "`--watch-namespaces apps`; a ReferenceGrant lets ClientTrafficPolicies of `edge` (not read) select the Gateway; bob on port 8080 as stated",
    WRONG_USER,
    { port: 8080, headers: basicAuthAs("bob") },
    "a ClientTrafficPolicy Portcullis does not read may give the Gateway the PROXY protocol, so the stated port may name no listener: it was believed, and bob passed with port 8080's policy; such a Gateway's tables are now all read whatever port is stated (and its paths with adjacent slashes refused)",
    behindUnseenPolicy,
  ),
  c("host-port", "`Host: shop.example.com:8080` with bob (the 8080 listener's user), port not stated", WRONG_USER, {
    host: "shop.example.com:8080",
    headers: basicAuthAs("bob"),
  }),
  c("port-unknown", "alice, port not stated: the 8080 listener's policy refuses her", WRONG_USER, { headers: basicAuthAs("alice") }),
  c("container-port", "bob on port 10080 (Envoy Gateway binds listener port 80 there)", WRONG_USER, {
    port: 10080,
    headers: basicAuthAs("bob"),
  }),
  c(
    "listenerset-refused",
    "a ListenerSet from a namespace the Gateway's allowedListeners refuses, with a route on its port 8083",
    NO_ROUTE,
    { host: "cart.example.com", path: "/", port: 8083, headers: basicAuthAs("alice") },
    undefined,
    sets,
  ),
  c(
    "listenerset-foreign-route",
    "a route from another namespace on a ListenerSet listener that allows its own namespace only",
    NO_ROUTE,
    { host: "spy.example.com", path: "/", port: 8082, headers: basicAuthAs("alice") },
    undefined,
    sets,
  ),
  c(
    "listenerset-sibling-policy",
    "alice (the Gateway listener `ext-admin`'s user) on the ListenerSet's listener of the same name",
    WRONG_USER,
    { host: "cart.example.com", path: "/", port: 8082, headers: basicAuthAs("alice") },
    undefined,
    sets,
  ),
  c(
    "sni-fronting",
    "port 443, `Host: billing.example.com` (open on the HTTPS listener `billing`), no credentials: with another SNI Envoy routes it in `wild`'s table, to the protected wildcard route",
    { status: 401, code: "basic_missing" },
    { host: "billing.example.com", path: "/status", port: 443 },
    "a port's HTTPS listeners shared one table, where the exact host name won; Envoy picks each HTTPS listener's table by SNI, which Portcullis does not see, so each is now a reading",
    tls,
  ),
  c(
    "unwatched-namespace-route",
    "`--watch-namespaces infra,apps`, `/admin` without a key: Envoy may route it to ops/admin (a namespace not read), which the Gateway's API-key policy governs, though the open route apps/site also matches it here",
    { status: 401, code: "apikey_missing" },
    { path: "/admin" },
    "the request was decided on the routes of the watched namespaces only, by apps/site's open policy; on a listener that takes routes from other namespaces, a route Portcullis cannot see is now a reading, governed by the listener's policy",
    partial,
  ),
  c(
    "unwatched-namespace-route-key",
    "the same with alice's key: every reading (apps/site, a route not read) allows, with apps/site's headers (none: a client's `x-client-id` is removed)",
    { status: 200, code: "allowed", upstream: {} },
    { path: "/admin", headers: { "x-api-key": "alice-key" } },
    undefined,
    partial,
  ),
  c(
    "unwatched-namespace-no-route",
    "the same, on a host no route Portcullis reads serves (only an unseen route could): no route here",
    NO_ROUTE,
    { host: "other.example.com", path: "/", headers: { "x-api-key": "alice-key" } },
    undefined,
    partial,
  ),
  c(
    "watched-namespaces-only",
    "port 8080, whose listener takes routes from its own (watched) namespace only, without a key: its open route alone decides",
    { status: 200, code: "allowed" },
    { host: "internal.example.com", path: "/admin", port: 8080 },
    undefined,
    partial,
  ),
  c(
    "unwatched-namespace-listenerset",
    "the same on a Gateway that takes ListenerSets of every namespace: one not read may add a listener for internal.example.com on port 8080, whose routes the Gateway's API-key policy governs",
    { status: 401, code: "apikey_missing" },
    { host: "internal.example.com", path: "/admin", port: 8080 },
    "decided by the open route read here alone; the listeners of ListenerSets not read are now a reading on each port of a Gateway that may take them",
    partialSets,
  ),
];
