/** The deprecation Warning (issue 14): Envoy Gateway's DeprecatedField condition, in its words, on every ancestor but a Conflicted one. */
import { describe, expect, it } from "vitest";
import { gatewayWithRoute } from "../support/manifests.ts";
import { compileText } from "../support/world.ts";

const policy = (name: string, target: string, extra = "", created = "2026-01-01T00:00:00Z") => `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: ${name}, namespace: apps, creationTimestamp: "${created}"}
spec:
  ${target}
  cors: {allowOrigins: ["https://app.example.com"]}${extra}
`;
const conditionsOf = (text: string, name: string) =>
  compileText(text)
    .statuses.find((s) => s.name === name)!
    .ancestors.map((a) => a.conditions.map((c) => `${c.type} ${c.status} ${c.reason}: ${c.message}`));

describe("the targetRef deprecation Warning", () => {
  it("an accepted policy with targetRef: Warning DeprecatedField, as Envoy Gateway words it", () => {
    const text =
      gatewayWithRoute("api.example.com") + policy("old", "targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}");
    expect(conditionsOf(text, "old")).toEqual([
      [
        "Accepted True Accepted: Policy has been accepted.",
        "Warning True DeprecatedField: spec.targetRef is deprecated, use spec.targetRefs instead",
      ],
    ]);
  });

  it("none with targetRefs", () => {
    const text =
      gatewayWithRoute("api.example.com") + policy("new", "targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}]");
    expect(
      conditionsOf(text, "new")
        .flat()
        .some((c) => c.startsWith("Warning")),
    ).toBe(false);
  });

  it("an invalid policy with targetRef still hears of it, beside its Invalid condition", () => {
    const text =
      gatewayWithRoute("api.example.com") +
      policy(
        "broken",
        "targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}",
        "\n  basicAuth: {users: {name: nowhere}}",
      );
    const [conditions] = conditionsOf(text, "broken");
    expect(conditions![0]).toMatch(/^Accepted False Invalid: /);
    expect(conditions).toContain("Warning True DeprecatedField: spec.targetRef is deprecated, use spec.targetRefs instead");
  });

  it("a Conflicted policy gets none (Envoy Gateway stops at the conflict)", () => {
    const target = "targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}";
    const text = gatewayWithRoute("api.example.com") + policy("first", target) + policy("second", target, "", "2026-01-02T00:00:00Z");
    expect(conditionsOf(text, "second")).toEqual([[expect.stringMatching(/^Accepted False Conflicted: /)]]);
  });
});
