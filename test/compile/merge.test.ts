import type { CompiledExtAuth } from "../../controller/features/extAuth/types.ts";
import { describe, expect, it } from "vitest";
import type { SecurityPolicySpec } from "../../controller/api/securitypolicy.ts";
import { authorization } from "../../controller/features/authorization/index.ts";
import { basicAuth } from "../../controller/features/basicAuth/index.ts";
import { compiledOf, type Feature } from "../../controller/features/feature.ts";
import { SecurityPolicySpecSchema } from "../../controller/features/index.ts";
import { mergedParts, mergeSpecs, ownerOf } from "../../controller/compile/merge.ts";
import { extAuth } from "../../controller/features/extAuth/index.ts";
import { oidc } from "../../controller/features/oidc/index.ts";
import { aliceKeyPolicy, crossNamespaceMerge, gatewayWithRoute, listenerSetWithRoute } from "../support/manifests.ts";
import { basicAuthAs, decider, goldenDecider } from "../support/world.ts";

const spec = (s: unknown): SecurityPolicySpec => SecurityPolicySpecSchema.parse(s);
const gatewayTarget = { targetRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "gw" }] };
const routeTarget = { targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "r" }] };

describe("mergeSpecs", () => {
  it("keeps the parent's features the child does not set, and the child's targets", () => {
    const parent = spec({ ...gatewayTarget, basicAuth: { users: { name: "users" } } });
    const child = spec({ ...routeTarget, mergeType: "StrategicMerge", cors: { allowOrigins: ["https://a.example"] } });
    expect(mergeSpecs(parent, child, "StrategicMerge")).toEqual({
      basicAuth: { users: { name: "users" } },
      cors: { allowOrigins: ["https://a.example"] },
      ...routeTarget,
      mergeType: "StrategicMerge",
    });
  });

  it("merges inside a feature object, the child's field winning, and replaces lists whole", () => {
    const parent = spec({ ...gatewayTarget, cors: { allowOrigins: ["https://p.example"], allowMethods: ["GET", "PUT"] } });
    const child = spec({ ...routeTarget, mergeType: "JSONMerge", cors: { allowMethods: ["PATCH"], allowHeaders: ["x-h"] } });
    expect(mergeSpecs(parent, child, "JSONMerge").cors).toEqual({
      allowOrigins: ["https://p.example"],
      allowMethods: ["PATCH"],
      allowHeaders: ["x-h"],
    });
  });

  it("leaves the parent's list when the child's is empty, as Go's omitempty drops it", () => {
    const parent = spec({ ...gatewayTarget, cors: { allowOrigins: ["https://p.example"] } });
    const child = spec({ ...routeTarget, mergeType: "JSONMerge", cors: { allowOrigins: [] } });
    expect(mergeSpecs(parent, child, "JSONMerge").cors).toEqual({ allowOrigins: ["https://p.example"] });
  });

  it("clears the parent's authorization.defaultAction when the child's authorization leaves it unset (Go writes null)", () => {
    const parent = spec({ ...gatewayTarget, authorization: { defaultAction: "Allow", rules: [] } });
    const rule = { action: "Deny", principal: { clientCIDRs: ["10.0.0.0/8"] } };
    const child = spec({ ...routeTarget, mergeType: "StrategicMerge", authorization: { rules: [rule] } });
    const merged = mergeSpecs(parent, child, "StrategicMerge").authorization as Record<string, unknown>;
    expect(merged).not.toHaveProperty("defaultAction");
    expect(merged.rules).toHaveLength(1);
  });

  it("replaces authorization rules whole under StrategicMerge too (no patchMergeKey in v1.9.0; envoyproxy/gateway#9053 asks for one)", () => {
    const cidr = (c: string) => ({ name: "office", action: "Allow", principal: { clientCIDRs: [c] } });
    const parent = spec({ ...gatewayTarget, authorization: { defaultAction: "Deny", rules: [cidr("10.0.0.0/8")] } });
    const child = spec({
      ...routeTarget,
      mergeType: "StrategicMerge",
      authorization: { defaultAction: "Deny", rules: [cidr("192.0.2.0/24")] },
    });
    expect((mergeSpecs(parent, child, "StrategicMerge").authorization as { rules: unknown[] }).rules).toEqual([
      { name: "office", action: "Allow", principal: { clientCIDRs: ["192.0.2.0/24"] } },
    ]);
  });

  it("merges extAuth.contextExtensions by name under StrategicMerge and replaces them under JSONMerge", () => {
    const ext = (name: string, value: string) => ({ name, type: "Value", value });
    const parent = spec({ ...gatewayTarget, extAuth: { contextExtensions: [ext("shared", "p"), ext("parent-only", "p")] } });
    const child = spec({
      ...routeTarget,
      mergeType: "StrategicMerge",
      extAuth: { contextExtensions: [ext("shared", "c"), ext("child-only", "c")] },
    });
    expect((mergeSpecs(parent, child, "StrategicMerge").extAuth as { contextExtensions: unknown }).contextExtensions).toEqual([
      ext("shared", "c"),
      ext("parent-only", "p"),
      ext("child-only", "c"),
    ]);
    expect((mergeSpecs(parent, child, "JSONMerge").extAuth as { contextExtensions: unknown }).contextExtensions).toEqual([
      ext("shared", "c"),
      ext("child-only", "c"),
    ]);
  });

  it("never takes the parent's targets", () => {
    const parent = spec({ targetSelectors: [{ kind: "Gateway", matchLabels: { a: "b" } }], cors: {} });
    const child = spec({ ...routeTarget, mergeType: "JSONMerge" });
    expect(mergeSpecs(parent, child, "JSONMerge")).not.toHaveProperty("targetSelectors");
  });
});

describe("ownerOf (Envoy Gateway's securityPolicyOwners)", () => {
  const parent = spec({
    ...gatewayTarget,
    basicAuth: { users: { name: "u" } },
    jwt: { providers: [{ name: "p", remoteJWKS: { uri: "https://i/j" } }] },
    extAuth: {
      http: { backendRefs: [{ name: "authz", port: 80 }] },
      contextExtensions: [
        { name: "shared", type: "Value", value: "p" },
        { name: "parent-only", type: "Value", value: "p" },
      ],
    },
  });

  it("is the child for a part it sets, else the parent", () => {
    const child = spec({ ...routeTarget, mergeType: "JSONMerge", basicAuth: { users: { name: "u" } } });
    expect(ownerOf(child, "basicAuth.users")).toBe("child");
    expect(ownerOf(child, "jwt.providers")).toBe("parent");
  });

  it("gives extAuth's backendRefs to the child only when it names a service, whatever else of extAuth it sets", () => {
    const headersOnly = spec({ ...routeTarget, mergeType: "StrategicMerge", extAuth: { headersToExtAuth: ["x-tenant"] } });
    expect(ownerOf(headersOnly, "extAuth.backendRefs")).toBe("parent");
    const deprecatedRef = spec({ ...routeTarget, mergeType: "StrategicMerge", extAuth: { grpc: { backendRef: { name: "a", port: 9 } } } });
    expect(ownerOf(deprecatedRef, "extAuth.backendRefs")).toBe("child");
  });

  it("gives each context extension to the policy whose list names it", () => {
    const child = spec({
      ...routeTarget,
      mergeType: "StrategicMerge",
      extAuth: {
        contextExtensions: [
          { name: "shared", type: "Value", value: "c" },
          { name: "child-only", type: "Value", value: "c" },
        ],
      },
    });
    expect(ownerOf(child, "extAuth.contextExtensions[shared]")).toBe("child");
    expect(ownerOf(child, "extAuth.contextExtensions[child-only]")).toBe("child");
    expect(ownerOf(child, "extAuth.contextExtensions[parent-only]")).toBe("parent");
  });

  it("gives oidc's clientSecret to the child whenever it sets oidc, its provider's backendRefs only when it names some", () => {
    const child = spec({
      ...routeTarget,
      mergeType: "JSONMerge",
      oidc: { provider: { issuer: "https://idp.example.com" }, clientID: "c", clientSecret: { name: "s" } },
    });
    expect(ownerOf(child, "oidc.clientSecret")).toBe("child");
    expect(ownerOf(child, "oidc.provider.backendRefs")).toBe("parent");
    expect(ownerOf(child, "oidc.clientIDRef")).toBe("parent");
  });

  it("lists the merged spec's reference parts, each with its owner", () => {
    const child = spec({
      ...routeTarget,
      mergeType: "StrategicMerge",
      extAuth: { contextExtensions: [{ name: "shared", type: "Value", value: "c" }] },
    });
    const merged = spec(mergeSpecs(parent, child, "StrategicMerge"));
    expect(mergedParts(parent, child, merged)).toEqual([
      { part: "basicAuth.users", owner: "parent", mixed: false },
      { part: "jwt.providers", owner: "parent", mixed: false },
      { part: "extAuth.backendRefs", owner: "parent", mixed: false },
      { part: "extAuth.contextExtensions[shared]", owner: "child", mixed: false },
      { part: "extAuth.contextExtensions[parent-only]", owner: "parent", mixed: false },
    ]);
  });

  it("marks a reference the merge assembled from both policies' fields as mixed (users {name} merged over users {name, namespace})", () => {
    const shared = spec({ ...gatewayTarget, basicAuth: { users: { name: "gateway-users", namespace: "shared" } } });
    const child = spec({ ...routeTarget, mergeType: "JSONMerge", basicAuth: { users: { name: "mine" } } });
    const merged = spec(mergeSpecs(shared, child, "JSONMerge"));
    expect((merged.basicAuth as { users: unknown }).users).toEqual({ name: "mine", namespace: "shared" });
    expect(mergedParts(shared, child, merged)).toEqual([{ part: "basicAuth.users", owner: "child", mixed: true }]);
  });

  it("marks a deprecated backendRef merged beside the parent's backendRefs as mixed (Envoy Gateway would call the parent's from the child's namespace)", () => {
    const child = spec({ ...routeTarget, mergeType: "StrategicMerge", extAuth: { http: { backendRef: { name: "mine", port: 80 } } } });
    const merged = spec(mergeSpecs(parent, child, "StrategicMerge"));
    expect(mergedParts(parent, child, merged).find((p) => p.part === "extAuth.backendRefs")).toEqual({
      part: "extAuth.backendRefs",
      owner: "child",
      mixed: true,
    });
  });
});

/**
 * Envoy Gateway's open bugs around mergeType, each a case that must hold here (test/compile/
 * testdata/merge-type.in.yaml: a Gateway basicAuth policy and an admin-listener jwt policy, route
 * policies merged into them, and the admin route also on a Gateway without any policy).
 */
describe("mergeType where Envoy Gateway has open bugs", () => {
  const decide = goldenDecider("merge-type");
  const mergedFeature = <C>(feature: Feature<unknown, C>) =>
    compiledOf(decide.result.snapshot.policies["apps/shop-cors merged into infra/gateway-basic"]?.features ?? [], feature);
  const onAdmin = (headers: Record<string, string>) =>
    decide({ method: "GET", host: "admin.example.com", path: "/", port: 8080, gateway: "infra/gw", headers });

  it("envoyproxy/gateway#9958: the parent's jwt is enforced on the merged route (no token 401, a malformed token 401)", async () => {
    const none = await onAdmin({});
    expect([none.status, none.code, none.policy]).toEqual([401, "jwt_missing", "apps/admin-roles merged into infra/listener-admin-jwt"]);
    expect((await onAdmin({ authorization: "Bearer not.a.jwt" })).status).toBe(401);
  });

  it("envoyproxy/gateway#9958: StrategicMerge is reported Merged and enforced as JSONMerge is", async () => {
    const status = decide.result.statuses.find((s) => s.name === "shop-cors")!;
    expect(status.ancestors[0]!.conditions.map((c) => `${c.type} ${c.status}`)).toEqual(["Accepted True", "Merged True"]);
    const d = await decide({ host: "shop.example.com", path: "/", port: 80, gateway: "infra/gw" });
    expect([d.status, d.code]).toEqual([401, "basic_missing"]);
    const signedIn = await decide({ host: "shop.example.com", path: "/", port: 80, gateway: "infra/gw", headers: basicAuthAs("alice") });
    // alice passes basicAuth; the merged authorization (defaultAction reset to Deny) then refuses her.
    expect([signedIn.status, signedIn.code]).toEqual([403, "authz_denied"]);
  });

  it("envoyproxy/gateway#9722: validation runs on the merged policy, so a route principal may name the parent's jwt provider", () => {
    const status = decide.result.statuses.find((s) => s.name === "admin-roles")!;
    const at = (gateway: string) =>
      status.ancestors.find((a) => a.ancestorRef.name === gateway)!.conditions.map((c) => `${c.type} ${c.status} ${c.reason}`);
    expect(at("gw")).toEqual(["Accepted True Accepted", "Merged True Merged"]);
    // Where no parent policy governs the route, the policy applies alone and is invalid alone.
    expect(at("bare")).toEqual(["Accepted False Invalid"]);
  });

  it("the route policy alone, invalid, denies where no parent policy exists", async () => {
    const d = await decide({ host: "admin.example.com", path: "/", gateway: "infra/bare" });
    expect([d.status, d.code, d.policy]).toEqual([403, "policy_invalid", "apps/admin-roles"]);
  });

  it("a feature from the parent resolves its references in the parent's namespace (envoyproxy/gateway securityPolicyOwners)", () => {
    expect(mergedFeature(basicAuth)?.usernames).toEqual(["alice"]);
  });

  it("the child's authorization without defaultAction resets the parent's Allow to Deny, as Envoy Gateway's marshalled null does", () => {
    expect(mergedFeature(authorization)?.defaultAction).toBe("Deny");
  });
});

describe("mergeType through a ListenerSet", () => {
  // A route attached through a ListenerSet that has no policy of its own: its parent policy is the Gateway's.
  const world = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec:
  gatewayClassName: portcullis
  allowedListeners: {namespaces: {from: Same}}
  listeners: [{name: http, protocol: HTTP, port: 80}]
---
${listenerSetWithRoute("api")}---
${aliceKeyPolicy("gateway-keys").replace("kind: HTTPRoute, name: api", "kind: Gateway, name: gw")}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: route-cors, namespace: apps}
spec:
  mergeType: StrategicMerge
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}]
  cors: {allowOrigins: [https://app.example.com]}
`;
  const decide = decider(world);

  it("envoyproxy/gateway#9409 and #9411: the route policy merges into the Gateway's, which is enforced", async () => {
    const d = await decide({ path: "/", port: 8081, gateway: "apps/gw", headers: {} });
    expect([d.status, d.code, d.policy]).toEqual([401, "apikey_missing", "apps/route-cors merged into apps/gateway-keys"]);
    const status = decide.result.statuses.find((s) => s.name === "route-cors")!;
    const merged = status.ancestors.find((a) => a.ancestorRef.sectionName === "ext-http")!;
    expect([merged.ancestorRef.kind, merged.conditions.map((c) => c.type)]).toEqual(["ListenerSet", ["Merged"]]);
  });
});

describe("a merge across namespaces (golden merge-owners: the Gateway policy in infra, route policies in apps)", () => {
  const decide = goldenDecider("merge-owners");
  const merged = (child: string) => decide.result.snapshot.policies[`apps/${child} merged into infra/gateway-policy`]!;

  it("resolves each context extension from the policy its list entry comes from (StrategicMerge by name)", () => {
    const compiled = compiledOf(merged("shop-context").features, extAuth) as CompiledExtAuth;
    expect({ ...compiled.contextExtensions }).toEqual({ tenant: "apps-tenant", region: "eu", team: "shop" });
  });

  it("calls the parent's service when the child names none, and the child's own when it names one", () => {
    expect((compiledOf(merged("shop-context").features, extAuth) as CompiledExtAuth).service.names).toEqual(["Service infra/authz:80"]);
    expect((compiledOf(merged("billing-service").features, extAuth) as CompiledExtAuth).service.names).toEqual(["Service apps/authz:80"]);
  });

  it("never reads the parent's references from the child's namespace (apps/users holds mallory)", () => {
    expect(compiledOf(merged("shop-context").features, basicAuth)!.usernames).toEqual(["alice"]);
  });

  it("records where each part's references were resolved from", () => {
    expect(merged("billing-service").referencesFrom).toEqual({
      "basicAuth.users": "infra/gateway-policy",
      "extAuth.backendRefs": "apps/billing-service",
      "extAuth.contextExtensions[team]": "apps/billing-service",
    });
  });
});

describe("ReferenceGrants in a merge", () => {
  const SERVICE = "  extAuth: {http: {backendRefs: [{name: authz, namespace: shared, port: 80}]}}\n";
  const world = (child: string) => `${crossNamespaceMerge(SERVICE, child)}---
apiVersion: v1
kind: Service
metadata: {name: authz, namespace: shared}
spec: {ports: [{name: http, port: 80, protocol: TCP}]}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: infra-policies, namespace: shared}
spec:
  from: [{group: gateway.envoyproxy.io, kind: SecurityPolicy, namespace: infra}]
  to: [{group: "", kind: Service}]
`;
  const merged = (child: string) => decider(world(child)).result.snapshot.policies["apps/route-policy merged into infra/gateway-policy"]!;

  it("checks the parent's reference against the grant to the parent's namespace", () => {
    const policy = merged("  extAuth: {headersToExtAuth: [x-tenant]}\n");
    expect((compiledOf(policy.features, extAuth) as CompiledExtAuth).service.names).toEqual(["Service shared/authz:80"]);
  });

  it("checks the child's own reference against a grant to the child's namespace, which the parent's does not give", () => {
    expect(merged(SERVICE).invalid).toBe("ExtAuth: backend ref to Service shared/authz not permitted by any ReferenceGrant");
  });
});

describe("oidc in a merge", () => {
  const OIDC = (secret: string) =>
    `  oidc: {provider: {issuer: "https://idp.example.com"}, clientID: web, clientSecret: {name: ${secret}}}\n`;
  const world = (child: string) => `${crossNamespaceMerge(OIDC("oidc-client"), child)}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: other, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [other.example.com]
  rules: [{matches: [{path: {type: PathPrefix, value: /}}]}]
---
apiVersion: v1
kind: Secret
metadata: {name: oidc-client, namespace: infra}
stringData: {client-secret: infra-secret}
---
apiVersion: v1
kind: Secret
metadata: {name: oidc-client, namespace: apps}
stringData: {client-secret: apps-secret}
`;
  const sessions = (child: string) => {
    const { policies } = decider(world(child)).result.snapshot;
    const session = (id: string) => {
      const o = compiledOf(policies[id]!.features, oidc)!;
      return { cookie: o.cookieName, key: o.sessionKey, secret: o.clientSecret };
    };
    return { parent: session("infra/gateway-policy"), merged: session("apps/route-policy merged into infra/gateway-policy") };
  };

  it("is the parent's login where the child does not set oidc: its secret, cookie and session key (Envoy Gateway's oidc owner)", () => {
    const { parent, merged } = sessions("  cors: {allowOrigins: [https://app.example.com]}\n");
    expect(merged).toEqual(parent);
    expect(merged.secret).toBe("infra-secret");
  });

  it("is the child's own login where it sets oidc: its namespace's secret, a cookie and session key of its own", () => {
    const { parent, merged } = sessions(OIDC("oidc-client"));
    expect(merged.secret).toBe("apps-secret");
    expect(merged.cookie).not.toBe(parent.cookie);
    expect(merged.key).not.toEqual(parent.key);
  });

  it("is Invalid when the child's clientID merges over the parent's clientIDRef (Envoy Gateway would take clientID; a README difference)", () => {
    const parent = OIDC("oidc-client").replace("clientID: web", "clientIDRef: {name: oidc-client-id}");
    const { policies } = decider(crossNamespaceMerge(parent, OIDC("oidc-client"))).result.snapshot;
    expect(policies["apps/route-policy merged into infra/gateway-policy"]?.invalid).toContain("only one of clientID or clientIDRef");
  });
});

describe("a merged reference that cannot be told apart", () => {
  const world = (parentUsers: string, childUsers: string) =>
    crossNamespaceMerge(`  basicAuth: {users: ${parentUsers}}\n`, `  basicAuth: {users: ${childUsers}}\n`, "JSONMerge");
  const MERGED = "apps/route-policy merged into infra/gateway-policy";

  it("is Invalid when the child's users name merges over the parent's users namespace, naming both policies", async () => {
    const decide = decider(world("{name: users, namespace: shared}", "{name: mine}"));
    const d = await decide({ path: "/", gateway: "infra/gw", headers: basicAuthAs("alice") });
    expect([d.status, d.code]).toEqual([403, "policy_invalid"]);
    expect(decide.result.snapshot.policies[MERGED]?.invalid).toBe(
      "spec.basicAuth.users: the merge combines fields of this policy and of SecurityPolicy infra/gateway-policy, which Envoy Gateway " +
        "would resolve from the namespace of this policy alone; set the whole reference in one of them",
    );
  });

  it("is compiled when the child writes the whole reference", () => {
    const decide = decider(world("{name: users, namespace: shared}", "{name: mine, namespace: apps}"));
    expect(decide.result.snapshot.policies[MERGED]?.invalid).toBe("BasicAuth: users: Secret apps/mine not found");
  });
});

describe("a route rule policy with mergeType", () => {
  it("merges into the Gateway's policy, never into its route's policy, which it replaces on that rule", async () => {
    const decide = decider(`${gatewayWithRoute("api.example.com", { orders: "/orders" })}---
${aliceKeyPolicy("gateway-keys").replace("kind: HTTPRoute, name: api", "kind: Gateway, name: gw")}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: route-cors, namespace: apps, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}]
  cors: {allowOrigins: [https://route.example.com]}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: orders-csrf, namespace: apps, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  mergeType: JSONMerge
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api, sectionName: orders}]
  csrf: {}
`);
    const d = await decide({ path: "/orders", method: "POST", headers: { origin: "https://api.example.com" } });
    expect([d.status, d.code, d.policy]).toEqual([401, "apikey_missing", "apps/orders-csrf merged into apps/gateway-keys"]);
    const route = decide.result.statuses.find((s) => s.name === "route-cors")!;
    expect(route.ancestors[0]!.conditions.map((c) => c.type)).toEqual(["Accepted", "Overridden"]);
  });
});
