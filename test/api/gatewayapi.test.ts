/** GRPCRoute as Portcullis loads it (controller/api/gatewayapi.ts, resources.ts): Gateway API's validation, its defaults. */
import { describe, expect, it } from "vitest";
import { toResources } from "../../controller/api/resources.ts";

const grpcRoute = (spec: object) => ({
  object: { apiVersion: "gateway.networking.k8s.io/v1", kind: "GRPCRoute", metadata: { name: "orders", namespace: "apps" }, spec },
  origin: "test",
});

describe("GRPCRoute", () => {
  it("loads with its kind, and no rules means no rules (Gateway API gives GRPCRoute none by default)", () => {
    const { resources, rejected } = toResources([grpcRoute({ parentRefs: [{ name: "gw" }] })]);
    expect(rejected).toEqual([]);
    expect(resources.grpcRoutes.map((r) => [r.kind, r.spec.rules])).toEqual([["GRPCRoute", []]]);
  });
  it("refuses a method match naming neither service nor method, and Exact names Gateway API does not allow", () => {
    const reasons = [
      { method: { type: "Exact" } },
      { method: { service: "orders/v1" } },
      { method: { service: "orders", method: "Get.*" } },
    ].map((m) => toResources([grpcRoute({ rules: [{ matches: [m] }] })]).rejected.map((r) => r.reason));
    expect(reasons).toEqual([
      ["spec.rules[0].matches[0].method: one of service or method is required"],
      ["spec.rules[0].matches[0].method.service: an Exact service must be a dotted name of letters, digits and _"],
      ["spec.rules[0].matches[0].method.method: an Exact method must be a name of letters, digits and _"],
    ]);
  });
  it("validates an Exact service as the API server's RE2 does: (?i) folds the long s and the Kelvin sign onto ASCII letters", () => {
    const rejected = (service: string) =>
      toResources([grpcRoute({ rules: [{ matches: [{ method: { service, method: "Get" } }] }] })]).rejected.length > 0;
    expect(["orders.v1.OrderService", "Orders", "_x.y", "order\u017f", "\u212aeys"].map(rejected)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(["1orders", "orders.", "orders..v1", "ordérs"].map(rejected)).toEqual([true, true, true, true]);
  });
  it("takes any pattern in a RegularExpression match (compile decides whether it can be served)", () => {
    expect(
      toResources([grpcRoute({ rules: [{ matches: [{ method: { type: "RegularExpression", service: "orders/.*" } }] }] })]).rejected,
    ).toEqual([]);
  });
});
