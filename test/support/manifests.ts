/** The world most decision tests start from: Gateway apps/gw with one HTTP listener, and one HTTPRoute on it. */
import { parse, stringify } from "yaml";

export const GATEWAY = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec: {gatewayClassName: portcullis, listeners: [{name: http, protocol: HTTP, port: 80}]}
`;

/**
 * GATEWAY plus HTTPRoute apps/`route` on `host`. Each rule is name → a path prefix ("/keys") or a
 * whole match as a YAML flow map ("{path: {type: Exact, value: /x}, method: GET}"); no rules: one
 * implicit rule matching everything. Ends with a newline, ready for "---" and more documents.
 */
export function gatewayWithRoute(host: string, rules: Readonly<Record<string, string>> = {}, route = "api"): string {
  const lines = Object.entries(rules).map(
    ([name, match]) => `    - {name: ${name}, matches: [${match.startsWith("/") ? `{path: {type: PathPrefix, value: ${match}}}` : match}]}`,
  );
  return `${GATEWAY}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${route}, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [${host}]
${lines.length > 0 ? `  rules:\n${lines.join("\n")}\n` : ""}`;
}

/**
 * ListenerSet apps/ext (labels tier: ext) adding the listener ext-http on port 8081 to Gateway apps/gw
 * (which must allow it: `allowedListeners: {namespaces: {from: Same}}`), and HTTPRoute apps/`route`
 * attached to the ListenerSet on `hostname` (any without), matching the path prefix `path`. Ends
 * with a newline.
 */
export function listenerSetWithRoute(route: string, path = "/", hostname?: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: ext, namespace: apps, labels: {tier: ext}}
spec:
  parentRef: {name: gw}
  listeners: [{name: ext-http, protocol: HTTP, port: 8081}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${route}, namespace: apps}
spec:
  parentRefs: [{group: gateway.networking.k8s.io, kind: ListenerSet, name: ext}]
${hostname === undefined ? "" : `  hostnames: [${hostname}]\n`}  rules: [{matches: [{path: {type: PathPrefix, value: ${path}}}]}]
`;
}

/**
 * Secret apps/keys (client alice, key "alice-key") and SecurityPolicy apps/`name` checking it in
 * X-API-Key on the rule `section` of HTTPRoute apps/api (the whole route without one); `extra` goes
 * into the apiKeyAuth map ("forwardClientIDHeader: x-client-id"). Ends with a newline.
 */
export function aliceKeyPolicy(name: string, section?: string, extra?: string): string {
  return `apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: apps}
data: {alice: ${base64("alice-key")}}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: ${name}, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api${section === undefined ? "" : `, sectionName: ${section}`}}]
  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key]}]${extra === undefined ? "" : `, ${extra}`}}
`;
}

/** `text` base64-encoded, as a Secret's `data` holds it. */
export const base64 = (text: string): string => Buffer.from(text).toString("base64");

/**
 * A Secret in namespace apps holding `values` (written base64-encoded under `data`, which a manifest
 * folder reads, as Envoy Gateway's file provider, where it reads no stringData), and `labels` and
 * `annotations` when given. Ends with a newline.
 */
export function secret(
  name: string,
  values: Readonly<Record<string, string>>,
  metadata: { readonly labels?: Readonly<Record<string, string>>; readonly annotations?: Readonly<Record<string, string>> } = {},
): string {
  const data = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, base64(v)]));
  return stringify({ apiVersion: "v1", kind: "Secret", metadata: { name, namespace: "apps", ...metadata }, data });
}

/** Secret apps/keys of aliceKeyPolicy: client alice, key "alice-key". */
export const ALICE_KEYS = secret("keys", { alice: "alice-key" });
/** The features of aliceKeyPolicy: apiKeyAuth reading ALICE_KEYS' keys from X-API-Key. */
export const ALICE_KEY_AUTH = { apiKeyAuth: { credentialRefs: [{ name: "keys" }], extractFrom: [{ headers: ["X-API-Key"] }] } };

/** The spec fields of a policy: an object, or YAML text of one ("basicAuth: {users: {name: users}}"). */
export type PolicyFeatures = string | Readonly<Record<string, unknown>>;

/**
 * GATEWAY, HTTPRoute apps/api on `host` with one rule per entry of `policies` (named as the entry,
 * matching its `path` prefix) and on each rule with `features` SecurityPolicy apps/<name> holding
 * them (a rule without is one no policy governs); then `objects` (Secrets, ConfigMaps, more
 * policies: YAML documents, each ending with a newline).
 */
export function policiesOnRules(
  host: string,
  policies: Readonly<Record<string, { readonly path: string; readonly features?: PolicyFeatures }>>,
  ...objects: string[]
): string {
  const entries = Object.entries(policies);
  return [
    gatewayWithRoute(host, Object.fromEntries(entries.map(([name, p]) => [name, p.path]))),
    ...entries.flatMap(([name, { features }]) => (features === undefined ? [] : [securityPolicy(name, features, name)])),
    ...objects,
  ].join("---\n");
}

/**
 * SecurityPolicy `namespace`/`name` on HTTPRoute `namespace`/`route` (its rule `section` when
 * given) whose spec holds `features` as written ({ apiKeyAuth: {...}, jwt: {...} }, or that as YAML
 * text). Ends with a newline.
 */
export function securityPolicy(
  name: string,
  features: PolicyFeatures,
  section?: string,
  { namespace = "apps", route = "api" }: { readonly namespace?: string; readonly route?: string } = {},
): string {
  const target = {
    group: "gateway.networking.k8s.io",
    kind: "HTTPRoute",
    name: route,
    ...(section === undefined ? {} : { sectionName: section }),
  };
  return stringify({
    apiVersion: "gateway.envoyproxy.io/v1alpha1",
    kind: "SecurityPolicy",
    metadata: { name, namespace },
    spec: { targetRefs: [target], ...(typeof features === "string" ? parse(features) : features) },
  });
}

/**
 * A merge across namespaces: Gateway infra/gw (its listener admits routes of every namespace),
 * HTTPRoute apps/api on it (api.example.com, one rule matching everything), SecurityPolicy
 * infra/gateway-policy on the Gateway and apps/route-policy with `mergeType` on the route.
 * `parent` and `child` are their feature fields, YAML indented by two spaces, each ending with a
 * newline. Ends with a newline.
 */
export function crossNamespaceMerge(parent: string, child: string, mergeType = "StrategicMerge"): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: portcullis
  listeners: [{name: http, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: All}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [api.example.com]
  rules: [{matches: [{path: {type: PathPrefix, value: /}}]}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: gateway-policy, namespace: infra}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
${parent}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: route-policy, namespace: apps}
spec:
  mergeType: ${mergeType}
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}]
${child}`;
}

/**
 * HTTPRoute apps/api on api.example.com (gatewayWithRoute) and SecurityPolicy apps/ext whose
 * `extAuth` (a YAML flow map) names Backend apps/authz: an ip endpoint at 127.0.0.1:`port`, or
 * `endpoint` as written. Ends with a newline.
 */
export function extAuthBackendWorld(port: number, extAuth: string, endpoint = `{ip: {address: 127.0.0.1, port: ${port}}}`): string {
  return `${gatewayWithRoute("api.example.com")}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: authz, namespace: apps}
spec: {endpoints: [${endpoint}]}
---
${securityPolicy("ext", `\n  extAuth: ${extAuth}\n`)}`;
}

/** A header name as a policy may write it: "x-user-id" → "X-User-Id" (Envoy and HTTP match names case-insensitively). */
export const capitalised = (name: string): string => name.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase());

/**
 * Every field where a policy or route names a request or upstream header, each name written by
 * `spell` (capitalised, or as is): HTTPRoute apps/api on api.example.com with rule admin (PathPrefix
 * /api and header x-role: admin; apiKeyAuth), open (/api, no policy), keys (/keys: apiKeyAuth from
 * x-api-key with forwardClientIDHeader x-client-id and Secret apps/keys' header.x-tier annotation,
 * and a Deny rule on header x-role: admin), basic (/basic: forwardUsernameHeader x-user-name), jwt
 * (/jwt: token in x-token, claimToHeaders x-user-id), ext (/ext: extAuth with headersToExtAuth
 * x-forward-me and headersToBackend x-ext-user) and web (/web: oidc forwardIDToken x-id-token,
 * denyRedirect on x-requested-with). `jwks` is the jwt provider's inline key set. Ends with a newline.
 */
export function headersNamedIn(spell: (lowerCaseName: string) => string, jwks: string): string {
  const apiKey = (extra: string) =>
    `  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [${spell("x-api-key")}]}]${extra}}\n`;
  const on = (rule: string, features: string) => securityPolicy(rule, `\n${features}`, rule);
  return [
    gatewayWithRoute("api.example.com", {
      admin: `{path: {type: PathPrefix, value: /api}, headers: [{name: ${spell("x-role")}, value: admin}]}`,
      open: "/api",
      keys: "/keys",
      basic: "/basic",
      jwt: "/jwt",
      ext: "/ext",
      web: "/web",
    }),
    `apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: apps, annotations: {portcullis.io/header.${spell("x-tier")}: gold}}
data: {alice: ${base64("alice-key")}}
`,
    secret("users", { ".htpasswd": "carol:$2b$04$gFFTOaLbYg2l1Ehc7R6cMeKyHj.t4uWtJ9Ut/b16Hm1OS4MJYDPFK\n" }),
    secret("web-client", { "client-secret": "a-client-secret" }),
    `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: authz, namespace: apps}
spec: {endpoints: [{ip: {address: 127.0.0.1, port: 9}}]}
`,
    on("admin", apiKey("")),
    on(
      "keys",
      `${apiKey(`, forwardClientIDHeader: ${spell("x-client-id")}`)}  authorization:
    defaultAction: Allow
    rules: [{name: no-admin, action: Deny, principal: {headers: [{name: ${spell("x-role")}, values: [admin]}]}}]
`,
    ),
    on("basic", `  basicAuth: {users: {name: users}, forwardUsernameHeader: ${spell("x-user-name")}}\n`),
    on(
      "jwt",
      `  jwt:
    providers:
      - name: idp
        issuer: https://idp.example.com
        localJWKS: {inline: '${jwks}'}
        extractFrom: {headers: [{name: ${spell("x-token")}, valuePrefix: "Bearer "}]}
        claimToHeaders: [{claim: sub, header: ${spell("x-user-id")}}]
`,
    ),
    on(
      "ext",
      `  extAuth:
    http: {backendRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: authz}], headersToBackend: [${spell("x-ext-user")}]}
    headersToExtAuth: [${spell("x-forward-me")}]
`,
    ),
    on(
      "web",
      `  oidc:
    provider: {issuer: "http://127.0.0.1:9"}
    clientID: web
    clientSecret: {name: web-client}
    forwardIDToken: {header: ${spell("x-id-token")}}
    denyRedirect: {headers: [{name: ${spell("x-requested-with")}, value: XMLHttpRequest}]}
`,
    ),
  ].join("---\n");
}
