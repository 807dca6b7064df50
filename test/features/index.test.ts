/** The feature list: what check() and compile loop over. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FEATURES, SecurityPolicySpecSchema } from "../../controller/features/index.ts";

describe("FEATURES", () => {
  it("is in Envoy Gateway's HTTP filter order, so phases run as Envoy's filters do", () => {
    const orders = FEATURES.map((f) => f.order);
    expect(orders).toEqual([...orders].sort((a, b) => a - b));
    expect(new Set(orders).size).toBe(orders.length);
  });

  it("names each spec field once", () => {
    const fields = FEATURES.map((f) => f.field);
    expect(new Set(fields).size).toBe(fields.length);
  });

  it("assembles a spec schema that reads every feature's field and still refuses an unknown one", () => {
    const targetRefs = [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "app" }];
    for (const f of FEATURES) {
      const parsed = SecurityPolicySpecSchema.safeParse({ targetRefs, [f.field]: "not an object" });
      expect(parsed.success, f.field).toBe(false);
    }
    expect(SecurityPolicySpecSchema.safeParse({ targetRefs, apiKeyAuths: {} }).success).toBe(false);
    expect(SecurityPolicySpecSchema.safeParse({ targetRefs }).success).toBe(true);
  });

  it("is shown in README's Layout section as features/index.ts declares it", () => {
    const line = (file: string) => readFileSync(new URL(file, import.meta.url), "utf8").match(/^export const FEATURES\b.*$/m)?.[0];
    expect(line("../../README.md")).toBe(line("../../controller/features/index.ts"));
  });
});
