/** The kinds read, ignored or refused, by API group and version (controller/api/kinds.ts), as toResources reports them. */
import { describe, expect, it } from "vitest";
import { toResources } from "../../controller/api/resources.ts";

describe("kinds", () => {
  const raw = (apiVersion: string, kind: unknown) => ({
    object: { apiVersion, kind, metadata: { name: "p", namespace: "apps" } },
    origin: "p.yaml#1",
  });
  it("a kind its API group does not have is rejected, naming the group's nearest kind whatever the letter case", () => {
    const { rejected } = toResources([
      raw("gateway.networking.k8s.io/v1", "httproutes"),
      raw("gateway.envoyproxy.io/v1alpha1", "ClientTraficPolicy"),
    ]);
    expect(rejected.map((r) => [r.object, r.reason])).toEqual([
      [
        "httproutes apps/p",
        'gateway.networking.k8s.io has no kind "httproutes" (the nearest is HTTPRoute); the API server would refuse it',
      ],
      [
        "ClientTraficPolicy apps/p",
        'gateway.envoyproxy.io has no kind "ClientTraficPolicy" (the nearest is ClientTrafficPolicy); the API server would refuse it',
      ],
    ]);
  });
  it("a core kind Portcullis reads at a version other than v1 is rejected, naming the core API's version (not a CRD's)", () => {
    expect(toResources([raw("v2", "Secret")]).rejected.map((r) => r.reason)).toEqual([
      "apiVersion v2: Secret is served as v1 only (Kubernetes' core API); the API server would refuse it",
    ]);
  });
  it("a kind an older release served under another group is rejected, naming the kind that replaced it (XListenerSet: ListenerSet v1)", () => {
    expect(toResources([raw("gateway.networking.x-k8s.io/v1alpha1", "XListenerSet")]).rejected.map((r) => r.reason)).toEqual([
      'gateway.networking.x-k8s.io has no kind "XListenerSet" any more: Gateway API v1.6.1 serves gateway.networking.k8s.io/v1 ListenerSet in its place; the API server would refuse it',
    ]);
  });
  it("a kind of those groups Portcullis does not read, or a kind of another group, is not rejected", () => {
    const { rejected } = toResources([
      raw("gateway.envoyproxy.io/v1alpha1", "EnvoyPatchPolicy"),
      raw("gateway.networking.k8s.io/v1", "TLSRoute"),
      raw("apps/v1", "Deployment"),
    ]);
    expect(rejected).toEqual([]);
  });
  it("an apiVersion that is a group's name without its version is a core version no scheme has: rejected, whatever the kind (a wrong allow if ignored)", () => {
    expect(
      toResources([raw("gateway.envoyproxy.io", "SecurityPolicy"), raw("gateway.envoyproxy.io", "SecurityPolicys")]).rejected.map(
        (r) => r.reason,
      ),
    ).toEqual([
      "no kind SecurityPolicy is registered for gateway.envoyproxy.io in Envoy Gateway, whose file provider refuses the whole load over it (keep only Gateway API, Envoy Gateway and Kubernetes objects in a manifest folder)",
      "no kind SecurityPolicys is registered for gateway.envoyproxy.io in Envoy Gateway, whose file provider refuses the whole load over it (keep only Gateway API, Envoy Gateway and Kubernetes objects in a manifest folder)",
    ]);
  });
});
