/**
 * Policy attachment: which policy governs a route, as Envoy Gateway attaches policies. The world:
 * Gateway apps/gw requires an API key (policy gateway-key, the oldest); HTTPRoute apps/api
 * (labels tier: web) on api.example.com; a newer route policy `route-cors` (cors only, no
 * identity) finds the route with a `targetSelectors` entry that varies per case. Where the route
 * policy attaches, it replaces the Gateway's (route > Gateway, Envoy Gateway's precedence): the
 * route is open. Where it does not, the API key is asked for. In the sneaky cases, a second route
 * `sneaky` (Exact /a/x, more specific than api's prefix /a) with its own cors-only policy asks to
 * attach in ways Envoy Gateway refuses: /a/x is then api's, and the API key is asked for.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkFolder } from "../../../controller/commands/check.ts";
import { loadConfig, type CheckConfig } from "../../../controller/config.ts";
import { gatewayWithRoute } from "../../support/manifests.ts";
import { decider } from "../../support/world.ts";
import { fromDecision, managedHeadersOf, type Case, type Expected } from "../outcome.ts";

const WORLD = `${gatewayWithRoute("api.example.com", { a: "/a" }).replace(
  "metadata: {name: api, namespace: apps}",
  "metadata: {name: api, namespace: apps, labels: {tier: web}}",
)}---
apiVersion: v1
kind: Namespace
metadata: {name: apps, labels: {team: shop}}
---
apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: apps}
stringData: {alice: alice-key}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: gateway-key, namespace: apps, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key]}]}
`;

/** The route policy, finding routes with the targetSelectors entry `selector` (a YAML flow map without its braces). */
const routeCors = (selector: string) => `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: route-cors, namespace: apps, creationTimestamp: "2024-02-01T00:00:00Z"}
spec:
  targetSelectors: [{kind: HTTPRoute, ${selector}}]
  cors: {allowOrigins: [https://app.example.com]}
`;

const ASKED: Expected = { status: 401, code: "apikey_missing" };
const UNPARSABLE_FIXED =
  "a selector Kubernetes cannot parse was read as written (`NotIn` nothing: every route), so the cors-only route policy replaced the Gateway's API key; it now selects nothing, as Envoy Gateway v1.9.0 reads it (internal/gatewayapi/helpers.go selectorFromTargetSelector: metav1.LabelSelectorAsSelector's error gives labels.Nothing())";

/** Case attach.`id`: `request` decided in the world `manifests`. */
function attachCase(
  id: string,
  title: string,
  expect: Expected,
  manifests: string,
  request: { readonly path: string; readonly host?: string },
  fixed?: string,
): Case {
  return {
    id: `attach.${id}`,
    title,
    expect,
    run: async () => {
      const decide = decider(manifests);
      return fromDecision(await decide(request), managedHeadersOf(decide.result.snapshot.policies));
    },
    ...(fixed === undefined ? {} : { fixed }),
  };
}

const selectedCase = (id: string, title: string, expect: Expected, selector: string, fixed?: string): Case =>
  attachCase(id, title, expect, WORLD + routeCors(selector), { path: "/a" }, fixed);

/** HTTPRoute `namespace`/sneaky (Exact /a/x on api.example.com, parentRef `parentRef`) and its cors-only policy. */
const sneaky = (namespace: string, parentRef: string) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: sneaky, namespace: ${namespace}}
spec:
  parentRefs: [${parentRef}]
  hostnames: [api.example.com]
  rules: [{matches: [{path: {type: Exact, value: /a/x}}]}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: sneaky-cors, namespace: ${namespace}}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: sneaky}]
  cors: {allowOrigins: [https://app.example.com]}
`;

const sneakyCase = (id: string, title: string, expect: Expected, namespace: string, parentRef: string): Case =>
  attachCase(id, title, expect, WORLD + sneaky(namespace, parentRef), { path: "/a/x" });

/**
 * Gateway apps/gw with listeners `any` (port 80, no host name: route site, every host) and `open`
 * (port 80, a.example.com, written with `open`: route sneaky, whose own cors-only policy lets
 * everyone in); the Gateway requires an API key. Where Envoy Gateway does not program `open`,
 * a.example.com is `any`'s: the key is asked for.
 */
const listenerWorld = (open: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec:
  gatewayClassName: portcullis
  listeners:
    - {name: any, protocol: HTTP, port: 80}
    - {name: open, protocol: HTTP, port: 80, hostname: a.example.com, ${open}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: site, namespace: apps}
spec:
  parentRefs: [{name: gw, sectionName: any}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: sneaky, namespace: apps}
spec:
  parentRefs: [{name: gw, sectionName: open}]
---
apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: apps}
stringData: {alice: alice-key}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: gateway-key, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key]}]}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: sneaky-cors, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: sneaky}]
  cors: {allowOrigins: [https://app.example.com]}
`;

const UNPROGRAMMED_FIXED =
  "routes attached to a listener Envoy Gateway does not program (validateListenerSpec in internal/gatewayapi/listener.go, v1.9.0: allowedRoutes.kinds naming a kind an HTTP listener cannot take, tls on an HTTP listener), so its host name was decided on its open route while Envoy routes it in the other listener's table; such a listener now takes no route";

const listenerCase = (id: string, title: string, expect: Expected, open: string, fixed?: string): Case =>
  attachCase(id, title, expect, listenerWorld(open), { path: "/x", host: "a.example.com" }, fixed);

/**
 * A manifest folder: Gateway apps/gw with listener `admin` (port 80, a.example.com, routes `from:
 * Selector` written `selector`: route ops/admin, API key required by its own policy) and listener
 * `any` (port 80, no host name: route apps/site, no policy); `portcullis check` asks GET
 * a.example.com/x.
 */
const FOLDER_WORLD = (selector: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: portcullis}
spec: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec:
  gatewayClassName: portcullis
  listeners:
    - {name: any, protocol: HTTP, port: 80}
    - {name: admin, protocol: HTTP, port: 80, hostname: a.example.com, allowedRoutes: {namespaces: {from: Selector, selector: ${selector}}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: site, namespace: apps}
spec: {parentRefs: [{name: gw, sectionName: any}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: admin, namespace: ops}
spec: {parentRefs: [{name: gw, namespace: apps, sectionName: admin}]}
---
apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: ops}
data: {alice: YWxpY2Uta2V5}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: admin-key, namespace: ops}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: admin}]
  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key]}]}
`;

function folderCase(id: string, title: string, expect: Expected, selector: string, fixed?: string): Case {
  return {
    id: `attach.${id}`,
    title,
    expect,
    async run() {
      const dir = mkdtempSync(join(tmpdir(), "portcullis-attach-"));
      try {
        writeFileSync(join(dir, "world.yaml"), FOLDER_WORLD(selector));
        const config = loadConfig(["check", "--manifests", dir, "GET", "http://a.example.com/x"], {}) as CheckConfig;
        return fromDecision((await checkFolder(config, () => {})).decision, []);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    ...(fixed === undefined ? {} : { fixed }),
  };
}

export const attachmentCases: readonly Case[] = [
  selectedCase(
    "selector-matches",
    "`matchLabels: {tier: web}` selects the route: its cors-only policy replaces the Gateway's, no key (Envoy Gateway's precedence)",
    { status: 200, code: "allowed" },
    "matchLabels: {tier: web}",
  ),
  selectedCase(
    "selector-other-labels",
    "`matchLabels: {tier: db}` selects no route: the Gateway's API key",
    ASKED,
    "matchLabels: {tier: db}",
  ),
  selectedCase(
    "selector-not-in-nothing",
    "`{key: tier, operator: NotIn, values: []}` (Kubernetes refuses NotIn without values; the API server does not check a selector inside a SecurityPolicy)",
    ASKED,
    "matchExpressions: [{key: tier, operator: NotIn, values: []}]",
    UNPARSABLE_FIXED,
  ),
  selectedCase(
    "selector-exists-with-values",
    "`{key: tier, operator: Exists, values: [web]}` (Exists takes no values)",
    ASKED,
    "matchExpressions: [{key: tier, operator: Exists, values: [web]}]",
    `see attach.selector-not-in-nothing`,
  ),
  selectedCase(
    "selector-bad-key",
    "`{key: 'no such key', operator: DoesNotExist}` (a key with spaces is no label key)",
    ASKED,
    "matchExpressions: [{key: 'no such key', operator: DoesNotExist}]",
    `see attach.selector-not-in-nothing`,
  ),
  selectedCase(
    "selector-namespaces-unparsable",
    "`matchLabels: {tier: web}` in `namespaces: {from: Selector}` whose selector is `{key: team, operator: NotIn, values: []}`",
    ASKED,
    "matchLabels: {tier: web}, namespaces: {from: Selector, selector: {matchExpressions: [{key: team, operator: NotIn, values: []}]}}",
    "the namespaces selector was read as written (every namespace); it now selects none, as Envoy Gateway v1.9.0 (targetNamespaceLabelSelector: labels.Nothing() on an error)",
  ),
  selectedCase(
    "selector-namespaces-matches",
    "`matchLabels: {tier: web}` in `namespaces: {from: Selector, selector: {matchLabels: {team: shop}}}`: the route policy attaches",
    { status: 200, code: "allowed" },
    "matchLabels: {tier: web}, namespaces: {from: Selector, selector: {matchLabels: {team: shop}}}",
  ),
  sneakyCase(
    "sneaky-attached",
    "/a/x when apps/sneaky attaches (parentRef `{name: gw}`): its own cors-only policy governs, no key",
    { status: 200, code: "allowed" },
    "apps",
    "{name: gw}",
  ),
  sneakyCase(
    "sneaky-other-namespace",
    "/a/x when the route is other/sneaky (parentRef `{name: gw, namespace: apps}`), and the listener takes routes of its own namespace only: not attached, api's prefix /a",
    ASKED,
    "other",
    "{name: gw, namespace: apps}",
  ),
  sneakyCase(
    "sneaky-parent-port",
    "/a/x when apps/sneaky's parentRef names port 8080, where gw has no listener (Envoy Gateway GetReferencedListeners: no listener, not attached)",
    ASKED,
    "apps",
    "{name: gw, port: 8080}",
  ),
  sneakyCase(
    "sneaky-parent-section",
    "/a/x when apps/sneaky's parentRef names listener `https`, which gw does not have",
    ASKED,
    "apps",
    "{name: gw, sectionName: https}",
  ),
  sneakyCase(
    "sneaky-parent-kind",
    "/a/x when apps/sneaky's parentRef names kind Service `gw` (a parent of no Gateway API kind)",
    ASKED,
    "apps",
    '{group: "", kind: Service, name: gw}',
  ),
  listenerCase(
    "listener-programmed",
    "a.example.com when listener `open` has `allowedRoutes: {kinds: [{kind: HTTPRoute}]}`: its route sneaky, open by its own policy",
    { status: 200, code: "allowed" },
    "allowedRoutes: {kinds: [{kind: HTTPRoute}]}",
  ),
  listenerCase(
    "listener-kinds-tcproute",
    "a.example.com when listener `open` has `allowedRoutes: {kinds: [{kind: HTTPRoute}, {kind: TCPRoute}]}` (Envoy Gateway: ResolvedRefs False, InvalidRouteKinds; the listener is not programmed)",
    ASKED,
    "allowedRoutes: {kinds: [{kind: HTTPRoute}, {kind: TCPRoute}]}",
    UNPROGRAMMED_FIXED,
  ),
  listenerCase(
    "listener-http-with-tls",
    "a.example.com when HTTP listener `open` has `tls: {certificateRefs: [{name: cert}]}` (Envoy Gateway: Programmed False, “Listener must not have TLS set when protocol is HTTP”)",
    ASKED,
    "tls: {certificateRefs: [{name: cert}]}",
    "see attach.listener-kinds-tcproute",
  ),
  folderCase(
    "folder-selector-every-namespace",
    "manifest folder: a.example.com when listener `admin` takes routes `from: Selector` with `selector: {}` (Envoy Gateway's file provider makes a Namespace without labels for ops, which `{}` matches: route ops/admin is attached)",
    ASKED,
    "{}",
    "a namespace was never matched by a Selector in a manifest folder (no Namespace objects), so ops/admin did not attach and a.example.com fell to listener any's open route; in a folder every namespace now exists without labels, as Envoy Gateway v1.9.0's file provider makes them (internal/gatewayapi/resource/load.go)",
  ),
  folderCase(
    "folder-selector-no-namespace",
    "manifest folder: the same with `selector: {matchLabels: {team: ops}}` (no labels in a folder: ops/admin is not attached, and a.example.com is listener any's route site)",
    { status: 200, code: "allowed" },
    "{matchLabels: {team: ops}}",
  ),
];
