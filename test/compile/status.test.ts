/** Statuses compile gives: the deprecation Warning (issue 14), Envoy Gateway's DeprecatedField condition in its words on every ancestor but a Conflicted one; and TargetNotFound for a ListenerSet its Gateway does not take. */
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

/** Gateway apps/gw (`allowed`: its allowedListeners, if any), ListenerSet `lsNamespace`/ls on it, and HTTPRoute `lsNamespace`/r attached only through ls. */
const refusedListenerSetWorld = (allowed: string, lsNamespace = "apps") => `apiVersion: v1
kind: Namespace
metadata: {name: ${lsNamespace}, labels: {team: shop}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec: {gatewayClassName: portcullis, ${allowed} listeners: [{name: http, protocol: HTTP, port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: ls, namespace: ${lsNamespace}, labels: {exposed: "true"}}
spec:
  parentRef: {name: gw, namespace: apps}
  listeners: [{name: ls-http, protocol: HTTP, port: 8081}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ${lsNamespace}}
spec:
  parentRefs: [{group: gateway.networking.k8s.io, kind: ListenerSet, name: ls, sectionName: ls-http}]
`;
const ancestorsOf = (text: string, name: string) =>
  compileText(text)
    .statuses.find((s) => s.name === name)!
    .ancestors.map((a) => ({
      ancestorRef: a.ancestorRef,
      conditions: a.conditions.map((c) => `${c.type} ${c.status} ${c.reason}: ${c.message}`),
    }));
const listenerSetRef = (namespace: string, sectionName?: string) => ({
  group: "gateway.networking.k8s.io",
  kind: "ListenerSet",
  namespace,
  name: "ls",
  ...(sectionName === undefined ? {} : { sectionName }),
});
const REFUSED = "Gateway apps/gw takes no listeners from it: its allowedListeners allows none";

// Envoy Gateway v1.9.0 reports these Accepted (it resolves a ListenerSet target without asking
// whether its Gateway takes it); Portcullis says why they govern no request instead of nothing.
describe("a ListenerSet its Gateway does not take (allowedListeners)", () => {
  it("a policy targeting it, or one of its listeners, is TargetNotFound on that ancestor, saying why", () => {
    const text =
      refusedListenerSetWorld("") +
      policy("on-ls", "targetRefs: [{group: gateway.networking.k8s.io, kind: ListenerSet, name: ls}]") +
      policy("on-listener", "targetRefs: [{group: gateway.networking.k8s.io, kind: ListenerSet, name: ls, sectionName: ls-http}]");
    expect(ancestorsOf(text, "on-ls")).toEqual([
      {
        ancestorRef: listenerSetRef("apps"),
        conditions: [`Accepted False TargetNotFound: ListenerSet apps/ls serves no request: ${REFUSED}`],
      },
    ]);
    expect(ancestorsOf(text, "on-listener")).toEqual([
      {
        ancestorRef: listenerSetRef("apps", "ls-http"),
        conditions: [`Accepted False TargetNotFound: ListenerSet apps/ls serves no request: ${REFUSED}`],
      },
    ]);
  });

  it("a policy on a route attached only through it is TargetNotFound on the ListenerSet its parentRef names", () => {
    const text =
      refusedListenerSetWorld("") + policy("on-route", "targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]");
    expect(ancestorsOf(text, "on-route")).toEqual([
      {
        ancestorRef: listenerSetRef("apps", "ls-http"),
        conditions: [
          `Accepted False TargetNotFound: HTTPRoute apps/r is not attached to ListenerSet apps/ls (${REFUSED}), so this policy is not enforced there`,
        ],
      },
    ]);
  });

  it("one a targetSelector finds in another namespace is reported under the ListenerSet's own namespace", () => {
    const text =
      refusedListenerSetWorld("allowedListeners: {namespaces: {from: Same}},", "shop") +
      `---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: policies, namespace: shop}
spec:
  from: [{group: gateway.envoyproxy.io, kind: SecurityPolicy, namespace: apps}]
  to: [{group: gateway.networking.k8s.io, kind: ListenerSet}]
` +
      policy(
        "selects",
        "targetSelectors: [{group: gateway.networking.k8s.io, kind: ListenerSet, namespaces: {from: All}, matchLabels: {exposed: 'true'}}]",
      );
    expect(ancestorsOf(text, "selects")).toEqual([
      {
        ancestorRef: listenerSetRef("shop"),
        conditions: [
          "Accepted False TargetNotFound: ListenerSet shop/ls serves no request: Gateway apps/gw takes no listeners from it: its allowedListeners does not allow namespace shop",
        ],
      },
    ]);
  });

  it("once the Gateway takes it, the same policies are Accepted there", () => {
    const text =
      refusedListenerSetWorld("allowedListeners: {namespaces: {from: Same}},") +
      policy("on-ls", "targetRefs: [{group: gateway.networking.k8s.io, kind: ListenerSet, name: ls}]") +
      policy("on-route", "targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]");
    expect(ancestorsOf(text, "on-ls").map((a) => a.conditions[0])).toEqual(["Accepted True Accepted: Policy has been accepted."]);
    expect(ancestorsOf(text, "on-route")).toEqual([
      { ancestorRef: listenerSetRef("apps", "ls-http"), conditions: ["Accepted True Accepted: Policy has been accepted."] },
    ]);
  });
});
