/**
 * The authorization phase (controller/features/authorization/check.ts) where the client address
 * cannot be determined: on a listener whose ClientTrafficPolicy finds it otherwise than the flags
 * (Where.clientAddressUnknown, client_address_unknown), and for `source` in principal.cel when no
 * address is known at all. Rules that do not read the address decide as before.
 */
import { describe, expect, it } from "vitest";
import { clientAddressDetection, type ClientAddressOptions } from "../../../controller/authz/client-address.ts";
import { policiesOnRules } from "../../support/manifests.ts";
import { decider } from "../../support/world.ts";

const PEER: ClientAddressOptions = { trustedHops: 0, trustedCidrs: [] };

/** Envoy Gateway's restrict-ip-access page: one proxy in front of Envoy. */
const ONE_HOP_CTP = `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: enable-client-ip-detection, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  clientIPDetection: {xForwardedFor: {numTrustedHops: 1}}
`;

const rules = {
  office: {
    path: "/office",
    features: "authorization: {defaultAction: Deny, rules: [{action: Allow, principal: {clientCIDRs: [10.0.0.0/8]}}]}",
  },
  lan: {
    path: "/lan",
    features: "authorization: {defaultAction: Allow, rules: [{name: deny-lan, action: Deny, principal: {clientCIDRs: [192.168.1.0/24]}}]}",
  },
  team: {
    path: "/team",
    features:
      "authorization: {defaultAction: Deny, rules: [{name: team, action: Allow, principal: {headers: [{name: x-team, values: [a]}]}}, {action: Allow, principal: {clientCIDRs: [10.0.0.0/8]}}]}",
  },
  source: { path: "/source", features: `authorization: {rules: [{action: Allow, principal: {cel: "source.address != '192.0.2.66'"}}]}` },
  notsource: {
    path: "/notsource",
    features: `authorization: {defaultAction: Allow, rules: [{name: not-office, action: Deny, principal: {cel: "!source.address.startsWith('10.')"}}]}`,
  },
};

describe("a listener whose ClientTrafficPolicy the flags contradict", () => {
  const d = decider(policiesOnRules("api.example.com", rules, ONE_HOP_CTP), {}, { clientAddress: PEER });
  // A client at 203.0.113.9 behind the office proxy 10.1.2.3: Envoy (one trusted hop) sees 203.0.113.9, the flags the proxy.
  const viaOfficeProxy = { "x-forwarded-for": "203.0.113.9, 10.1.2.3" };

  it("an Allow rule on clientCIDRs no longer lets the proxy's network in: 403 client_address_unknown, the flags in the detail only", async () => {
    const r = await d({ path: "/office", headers: viaOfficeProxy });
    expect([r.status, r.code, r.message]).toEqual([
      403,
      "client_address_unknown",
      "the authorization rules read the client address, which cannot be determined on this listener",
    ]);
    expect(r.detail).toBe(
      "ClientTrafficPolicy apps/enable-client-ip-detection: Envoy finds the client address otherwise than Portcullis, which runs with --xff-trusted-hops 0; start it with --xff-trusted-hops 1",
    );
  });

  it("the explained decision's authorization step says why the address is unknown", async () => {
    const { trace } = await d.explain({ path: "/office", headers: viaOfficeProxy });
    expect(trace.steps.find((s) => s.phase === "authorization")).toMatchObject({
      clientAddressUnknown: expect.stringContaining("start it with --xff-trusted-hops 1"),
      clientAddress: "(cannot be determined)",
    });
  });

  it("a Deny rule on clientCIDRs applies to every request: the address could be the denied one", async () => {
    const r = await d({ path: "/lan", headers: { "x-forwarded-for": "203.0.113.9, 10.1.2.3" } });
    expect([r.status, r.code]).toEqual([403, "client_address_unknown"]);
  });

  it("a rule before the address rule still decides alone: x-team a is allowed, as the address is never read", async () => {
    expect((await d({ path: "/team", headers: { ...viaOfficeProxy, "x-team": "a" } })).code).toBe("allowed");
    expect((await d({ path: "/team", headers: viaOfficeProxy })).code).toBe("client_address_unknown");
  });

  it("principal.cel reading source: an Allow rule never holds, a Deny rule always does", async () => {
    expect((await d({ path: "/source", headers: viaOfficeProxy })).code).toBe("client_address_unknown");
    expect((await d({ path: "/notsource", headers: viaOfficeProxy })).code).toBe("client_address_unknown");
  });

  it("once the flags say what the ClientTrafficPolicy says, the same requests are decided on Envoy's address", async () => {
    const oneHop = decider(
      policiesOnRules("api.example.com", rules, ONE_HOP_CTP),
      { clientAddress: clientAddressDetection({ ...PEER, trustedHops: 1 }) },
      { clientAddress: { ...PEER, trustedHops: 1 } },
    );
    expect(
      oneHop.result.snapshot.routes.byGateway["apps/gw"]![0]!.vhosts.exact["api.example.com"]![0]!.clientAddressUnknown,
    ).toBeUndefined();
    expect((await oneHop({ path: "/office", headers: viaOfficeProxy })).code).toBe("authz_denied");
    expect((await oneHop({ path: "/office", headers: { "x-forwarded-for": "10.9.9.9, 10.1.2.3" } })).code).toBe("allowed");
  });
});

describe("source in principal.cel where no address is known (no X-Forwarded-For on an HTTP port)", () => {
  const d = decider(policiesOnRules("api.example.com", rules));

  it("an Allow rule on source.address does not hold for an empty address", async () => {
    expect((await d({ path: "/source" })).code).toBe("authz_denied");
    expect((await d({ path: "/source", headers: { "x-forwarded-for": "198.51.100.1" } })).code).toBe("allowed");
  });

  it("a Deny rule on source.address holds", async () => {
    const r = await d({ path: "/notsource" });
    expect([r.code, r.message]).toEqual(["authz_denied", "denied by authorization rule not-office"]);
    expect((await d({ path: "/notsource", headers: { "x-forwarded-for": "10.1.2.3" } })).code).toBe("allowed");
  });
});
