import { describe, expect, it } from "vitest";
import type { SecurityPolicySpec } from "../../controller/api/securitypolicy.ts";
import { authorization } from "../../controller/features/authorization/index.ts";
import { basicAuth } from "../../controller/features/basicAuth/index.ts";
import { compiledOf, type Feature } from "../../controller/features/feature.ts";
import { SecurityPolicySpecSchema } from "../../controller/features/index.ts";
import { featureOwner, mergeSpecs } from "../../controller/compile/merge.ts";
import { basicAuthAs, goldenDecider } from "../support/world.ts";

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

  it("replaces authorization rules whole under StrategicMerge too (their type has no patchMergeKey in v1.9.0)", () => {
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
    const child = spec({ ...routeTarget, mergeType: "JSONMerge", basicAuth: { users: { name: "u" } } });
    expect(featureOwner(child, "basicAuth")).toBe("child");
    expect(featureOwner(child, "jwt")).toBe("parent");
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
