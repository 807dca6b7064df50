/** The "did you mean" suffix of TargetNotFound messages; which namespaces a targetSelector's `namespaces` takes. */
import { describe, expect, it } from "vitest";
import { didYouMean, namespaceSelected } from "../../controller/compile/targets.ts";

describe("didYouMean", () => {
  it("names the closest candidate within two edits", () => {
    expect(didYouMean("shpo", ["shop", "orders", "shopping"])).toBe(' (did you mean "shop"?)');
    expect(didYouMean("maas-gatway", ["maas-gateway", "other"])).toBe(' (did you mean "maas-gateway"?)');
  });
  it("suggests nothing for a name unlike every candidate, or too short to tell a typo from another name", () => {
    expect(didYouMean("payments", ["shop", "orders"])).toBe("");
    expect(didYouMean("a", ["b"])).toBe("");
    expect(didYouMean("abc", ["xyz"])).toBe("");
    expect(didYouMean("anything", [])).toBe("");
  });
  it("prefers the nearer candidate, then the first in byte order", () => {
    expect(didYouMean("gatewy", ["gateways", "gateway"])).toBe(' (did you mean "gateway"?)');
    expect(didYouMean("abcd", ["abce", "abcf"])).toBe(' (did you mean "abce"?)');
  });
});

describe("namespaceSelected", () => {
  const labels = new Map<string, Readonly<Record<string, string>>>([
    ["shop", { team: "payments" }],
    ["bare", {}],
  ]);
  const selector = (s: object) => ({ from: "Selector" as const, selector: s });
  it("Same takes the policy's namespace, All every one, Selector those whose labels match", () => {
    expect(namespaceSelected(undefined, "apps", "apps", labels)).toBe(true);
    expect(namespaceSelected({ from: "Same" }, "apps", "shop", labels)).toBe(false);
    expect(namespaceSelected({ from: "All" }, "apps", "nowhere", labels)).toBe(true);
    expect(namespaceSelected(selector({ matchLabels: { team: "payments" } }), "apps", "shop", labels)).toBe(true);
    expect(namespaceSelected(selector({ matchLabels: { team: "ops" } }), "apps", "shop", labels)).toBe(false);
  });
  it("Selector takes no namespace without labels or without a Namespace object, even for a selector that holds for no labels (Envoy Gateway's targetSelectorNamespacesMatch)", () => {
    for (const s of [{}, { matchExpressions: [{ key: "zone", operator: "DoesNotExist" as const }] }]) {
      expect(namespaceSelected(selector(s), "apps", "bare", labels)).toBe(false);
      expect(namespaceSelected(selector(s), "apps", "nowhere", labels)).toBe(false);
      expect(namespaceSelected(selector(s), "apps", "shop", labels)).toBe(true);
    }
  });
});
