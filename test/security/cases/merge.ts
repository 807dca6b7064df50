/**
 * mergeType: a Gateway policy requires a JWT from the world's issuer; route-rule policies with
 * mergeType merge into it. A child may replace a feature with its own (that is the merge), but it
 * can never take the parent's jwt away by writing less: `null`, an empty jwt or one without
 * providers make it Invalid (denying), and its own authorization runs only after the parent's
 * identity check. Across namespaces (crossNamespaceMergeCases), a child never reads the parent's
 * objects by naming them, nor makes the parent's parts read its own.
 */
import { createHash } from "node:crypto";
import type { Decision } from "../../../controller/authz/decision.ts";
import { createExtAuthTransport } from "../../../controller/features/extAuth/client.ts";
import type { Keys } from "../world.ts";
import { ISSUER, jwksOf, token } from "../world.ts";
import { grpcService } from "../../support/ext-auth-services.ts";
import { base64, crossNamespaceMerge, gatewayWithRoute } from "../../support/manifests.ts";
import { basicAuthAs, decider, type Decider } from "../../support/world.ts";
import { fromDecision, managedHeadersOf, type Case, type Expected, type Outcome } from "../outcome.ts";

const RULES = { merged: "/merged", "jwt-null": "/jwt-null", "jwt-empty": "/jwt-empty", "jwt-optional": "/jwt-optional", allow: "/allow" };

function gatewayJwt(keys: Keys, extra = ""): string {
  return `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: gateway-jwt, namespace: apps, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  jwt: {providers: [{name: idp, issuer: ${ISSUER}, localJWKS: {inline: '${jwksOf(keys.es)}'}${extra}}]}
`;
}

/** A route-rule policy with mergeType on `rule`; `spec` is YAML indented by two spaces. */
const child = (rule: keyof typeof RULES, spec: string, mergeType = "JSONMerge") => `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: ${rule}, namespace: apps, creationTimestamp: "2024-02-01T00:00:00Z"}
spec:
  mergeType: ${mergeType}
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api, sectionName: ${rule}}]
${spec}`;

const CHILDREN =
  child("merged", "  cors: {allowOrigins: [https://app.example.com]}\n", "StrategicMerge") +
  child("jwt-null", "  jwt: null\n") +
  child("jwt-empty", "  jwt: {}\n") +
  child("jwt-optional", "  jwt: {optional: true}\n") +
  child("allow", "  authorization: {defaultAction: Allow}\n");

/** Compiles the merge world (with `parent` as the Gateway policy) and asks `path` with `headers`. */
async function ask(keys: Keys, path: string, headers: Record<string, string>, parent = gatewayJwt(keys)): Promise<Outcome> {
  const decide = decider(gatewayWithRoute("api.example.com", RULES) + parent + CHILDREN);
  return outcomeOf(decide, await decide({ path, headers }));
}

/** The decision, with every Accepted=False condition of the world ("<policy>: <message>"). */
function outcomeOf(decide: Decider, decision: Decision): Outcome {
  const { statuses, snapshot } = decide.result;
  const conditions = statuses.flatMap((s) =>
    s.ancestors.flatMap((a) => a.conditions.filter((c) => c.status === "False").map((c) => `${s.name}: ${c.message}`)),
  );
  return fromDecision(decision, managedHeadersOf(snapshot.policies), conditions.join("; "));
}

const INVALID = (condition: string): Expected => ({ status: 403, code: "policy_invalid", condition });

function m(id: string, title: string, expect: Expected, run: (keys: Keys) => Promise<Outcome>): Case {
  return { id: `merge.${id}`, title, expect, run: (ctx) => run(ctx.keys) };
}

export const mergeCases: readonly Case[] = [
  m("no-token", "a route policy (cors) merged into the Gateway's jwt policy, no token", { status: 401, code: "jwt_missing" }, (keys) =>
    ask(keys, "/merged", {}),
  ),
  m("valid-token", "the same merged route with a valid token", { status: 200, code: "allowed" }, (keys) =>
    ask(keys, "/merged", { authorization: `Bearer ${token({}, {}, undefined, keys)}` }),
  ),
  m("jwt-null", "the child writes `jwt: null` to drop the parent's jwt", INVALID("jwt-null: spec.jwt"), (keys) =>
    ask(keys, "/jwt-null", {}),
  ),
  m("jwt-empty", "the child writes `jwt: {}`", INVALID("jwt-empty: spec.jwt.providers"), (keys) => ask(keys, "/jwt-empty", {})),
  m(
    "jwt-optional",
    "the child writes `jwt: {optional: true}` to make the parent's providers optional",
    INVALID("jwt-optional: spec.jwt.providers"),
    (keys) => ask(keys, "/jwt-optional", {}),
  ),
  m(
    "authorization-allow",
    "the child adds `authorization: {defaultAction: Allow}`, no token",
    { status: 401, code: "jwt_missing" },
    (keys) => ask(keys, "/allow", {}),
  ),
  m(
    "parent-invalid",
    "the parent policy is invalid (a typo in its jwt provider): the merged route",
    INVALID("merged: merges into SecurityPolicy apps/gateway-jwt, which is invalid"),
    (keys) => ask(keys, "/merged", { authorization: `Bearer ${token({}, {}, undefined, keys)}` }, gatewayJwt(keys, ", issuers: [x]")),
  ),
];

/**
 * Merges across namespaces: the Gateway infra/gw's policy (infra) and route policies in apps, where
 * apps holds objects named as infra's. Each part of a merged policy resolves its references from
 * the namespace of the policy it comes from (Envoy Gateway's securityPolicyOwners): a child never
 * reads infra's objects by naming them, and the parent's parts never read apps' objects. `extra`:
 * more documents, starting with "---".
 */
function crossNamespaceWorld(parent: string, child: string, extra = ""): string {
  return `${crossNamespaceMerge(parent, child)}---
apiVersion: v1
kind: Service
metadata: {name: authz, namespace: infra}
spec: {ports: [{name: http, port: 80, protocol: TCP}]}
---
apiVersion: v1
kind: Secret
metadata: {name: users, namespace: infra}
data: {.htpasswd: ${base64(htpasswd("alice"))}}
---
apiVersion: v1
kind: Secret
metadata: {name: gateway-users, namespace: infra}
data: {.htpasswd: ${base64(htpasswd("mallory"))}, token: aW5mcmEtdG9rZW4=}
---
apiVersion: v1
kind: Secret
metadata: {name: users, namespace: apps}
data: {.htpasswd: ${base64(htpasswd("mallory"))}}
${extra}`;
}

/** An htpasswd line for `user` with password `<user>-pass` (the tests' basicAuthAs). */
function htpasswd(user: string): string {
  return `${user}:{SHA}${createHash("sha1").update(`${user}-pass`).digest("base64")}`;
}

const PARENT_BASIC = "  basicAuth: {users: {name: users}}\n";

/** Compiles the cross-namespace world around `parent` and `child` (their feature fields) and asks GET / with `headers`. */
async function askAcross(parent: string, child: string, headers: Record<string, string> = {}): Promise<Outcome> {
  const decide = decider(crossNamespaceWorld(parent, child));
  return outcomeOf(decide, await decide({ path: "/", gateway: "infra/gw", headers }));
}

/** The parent's gRPC service allows only when it receives infra's tenant; the child plants apps/ctx with another. */
async function askContextExtension(): Promise<Outcome> {
  const service = await grpcService((request) => {
    const tenant = (request.attributes as { context_extensions?: Record<string, string> }).context_extensions?.tenant;
    return { status: { code: tenant === "infra-tenant" ? 0 : 7 } };
  });
  const transport = createExtAuthTransport();
  try {
    const parent = `  extAuth:
    grpc: {backendRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: authz}]}
    contextExtensions: [{name: tenant, type: ValueRef, valueRef: {group: "", kind: ConfigMap, name: ctx, key: tenant}}]
`;
    const extra = `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: authz, namespace: infra}
spec: {endpoints: [{ip: {address: 127.0.0.1, port: ${service.port}}}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ctx, namespace: infra}
data: {tenant: infra-tenant}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ctx, namespace: apps}
data: {tenant: apps-tenant}
`;
    const decide = decider(crossNamespaceWorld(parent, "  extAuth: {headersToExtAuth: [x-tenant]}\n", extra), { extAuth: transport });
    return outcomeOf(decide, await decide({ path: "/", gateway: "infra/gw" }));
  } finally {
    await Promise.all([transport.close(), service.close()]);
  }
}

const MERGED_INVALID = (condition: string): Expected => INVALID(`route-policy: ${condition}`);

export const crossNamespaceMergeCases: readonly Case[] = [
  m(
    "ns-planted-secret",
    "the child (apps) merges cors only; apps holds a Secret `users` with mallory: mallory signs in",
    { status: 401, code: "basic_invalid" },
    () => askAcross(PARENT_BASIC, "  cors: {allowOrigins: [https://app.example.com]}\n", basicAuthAs("mallory")),
  ),
  m(
    "ns-parent-secret-by-name",
    "the child names `users: {name: gateway-users}`, a Secret of the parent's namespace only",
    MERGED_INVALID("BasicAuth: users: Secret apps/gateway-users not found"),
    () => askAcross(PARENT_BASIC, "  basicAuth: {users: {name: gateway-users}}\n", basicAuthAs("mallory")),
  ),
  m(
    "ns-parent-secret-cross-namespace",
    "the child names `users: {name: gateway-users, namespace: infra}`, no ReferenceGrant",
    MERGED_INVALID("BasicAuth: users: Secret infra/gateway-users is in another namespace and no ReferenceGrant in infra allows it"),
    () => askAcross(PARENT_BASIC, "  basicAuth: {users: {name: gateway-users, namespace: infra}}\n", basicAuthAs("mallory")),
  ),
  m(
    "ns-mixed-reference",
    "the parent writes `users: {name: users, namespace: infra}`, the child `users: {name: gateway-users}`: merged, infra/gateway-users",
    MERGED_INVALID("spec.basicAuth.users: the merge combines fields of this policy and of SecurityPolicy infra/gateway-policy"),
    () =>
      askAcross(
        "  basicAuth: {users: {name: users, namespace: infra}}\n",
        "  basicAuth: {users: {name: gateway-users}}\n",
        basicAuthAs("mallory"),
      ),
  ),
  m(
    "ns-child-context-secret",
    "the child adds a context extension from Secret `gateway-users`, which only the parent's namespace holds",
    MERGED_INVALID(`ExtAuth: can't find the referenced secret "gateway-users" in namespace "apps"`),
    () =>
      askAcross(
        "  extAuth: {http: {backendRefs: [{name: authz, port: 80}]}}\n",
        '  extAuth: {contextExtensions: [{name: t, type: ValueRef, valueRef: {group: "", kind: Secret, name: gateway-users, key: token}}]}\n',
      ),
  ),
  m(
    "ns-planted-context",
    "the parent's context extension reads ConfigMap `ctx`; the child merges extAuth and apps holds its own `ctx`: the service gets infra's",
    { status: 200, code: "allowed" },
    () => askContextExtension(),
  ),
];
