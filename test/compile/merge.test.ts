import { describe, expect, it } from "vitest";
import type { SecurityPolicySpec } from "../../controller/api/securitypolicy.ts";
import { authorization } from "../../controller/features/authorization/index.ts";
import { basicAuth } from "../../controller/features/basicAuth/index.ts";
import { compiledOf, type Feature } from "../../controller/features/feature.ts";
import { SecurityPolicySpecSchema } from "../../controller/features/index.ts";
import { featureOwner, mergeSpecs } from "../../controller/compile/merge.ts";
import { aliceKeyPolicy, gatewayWithRoute } from "../support/manifests.ts";
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

describe("featureOwner", () => {
  it("is the child for a feature it sets, else the parent", () => {
    const parent = spec({
      ...gatewayTarget,
      basicAuth: { users: { name: "u" } },
      jwt: { providers: [{ name: "p", remoteJWKS: { uri: "https://i/j" } }] },
    });
    const child = spec({ ...routeTarget, mergeType: "JSONMerge", basicAuth: { users: { name: "u" } } });
    expect(featureOwner(parent, child, "basicAuth")).toBe("child");
    expect(featureOwner(parent, child, "jwt")).toBe("parent");
  });

  it("is both for extAuth set by both, whose parts Envoy Gateway resolves each in its own policy's namespace", () => {
    const parent = spec({ ...gatewayTarget, extAuth: { http: { backendRefs: [{ name: "authz", port: 80 }] } } });
    const child = spec({ ...routeTarget, mergeType: "StrategicMerge", extAuth: { headersToExtAuth: ["x-tenant"] } });
    expect(featureOwner(parent, child, "extAuth")).toBe("both");
    expect(featureOwner(spec({ ...gatewayTarget, cors: {} }), child, "extAuth")).toBe("child");
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
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: ext, namespace: apps}
spec:
  parentRef: {name: gw}
  listeners: [{name: ext-http, protocol: HTTP, port: 8081}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: apps}
spec:
  parentRefs: [{group: gateway.networking.k8s.io, kind: ListenerSet, name: ext}]
  rules: [{matches: [{path: {type: PathPrefix, value: /}}]}]
---
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

describe("a merge of a feature whose parts have their own owners", () => {
  it("is Invalid when both policies set extAuth: the parent's Service is never looked up in the child's namespace", async () => {
    const extAuth = (extra: string) => `  extAuth: {http: {backendRefs: [{name: authz, port: 80}]}${extra}}\n`;
    const decide = decider(`${gatewayWithRoute("api.example.com")}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: gateway-authz, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
${extAuth("")}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: route-authz, namespace: apps}
spec:
  mergeType: StrategicMerge
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}]
${extAuth(", headersToExtAuth: [x-tenant]")}`);
    const d = await decide({ path: "/", headers: {} });
    expect([d.status, d.code]).toEqual([403, "policy_invalid"]);
    expect(decide.result.snapshot.policies["apps/route-authz merged into apps/gateway-authz"]?.invalid).toContain(
      "spec.extAuth: set by both this policy and SecurityPolicy apps/gateway-authz",
    );
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
