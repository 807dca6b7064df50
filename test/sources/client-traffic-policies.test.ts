// A folder's ClientTrafficPolicies against the client address flags: the restrict-ip-access and
// geoip-authorization pages of Envoy Gateway's documentation copy one beside their policy.
import { describe, expect, it } from "vitest";
import type { ClientAddressOptions } from "../../controller/authz/client-address.ts";
import { clientIPDetectionLines } from "../../controller/sources/client-traffic-policies.ts";

const ctp = (clientIPDetection?: object, apiVersion = "gateway.envoyproxy.io/v1alpha1") => ({
  origin: "policy.yaml#2",
  object: {
    apiVersion,
    kind: "ClientTrafficPolicy",
    metadata: { name: "enable-client-ip-detection" },
    spec: {
      targetRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "eg" }],
      ...(clientIPDetection === undefined ? {} : { clientIPDetection }),
    },
  },
});
const PEER: ClientAddressOptions = { trustedHops: 0, trustedCidrs: [], peerNotAppended: false };
const ONE_HOP: ClientAddressOptions = { ...PEER, trustedHops: 1 };
const NAME =
  "policy.yaml#2 (ClientTrafficPolicy default/enable-client-ip-detection): Envoy finds the client address as its clientIPDetection says, which Portcullis does not read";

describe("clientIPDetectionLines", () => {
  it("names the flags a ClientTrafficPolicy's numTrustedHops needs when Portcullis runs without them (the doc page's 403 for X-Forwarded-For: 10.0.1.1)", () => {
    expect(clientIPDetectionLines([ctp({ xForwardedFor: { numTrustedHops: 1 } })], PEER)).toEqual([
      `${NAME}: Portcullis runs with --xff-trusted-hops 0; start it with --xff-trusted-hops 1`,
    ]);
  });

  it("says nothing when the flags read the address as the ClientTrafficPolicy does", () => {
    expect(clientIPDetectionLines([ctp({ xForwardedFor: { numTrustedHops: 1 } })], ONE_HOP)).toEqual([]);
    expect(
      clientIPDetectionLines([ctp({ xForwardedFor: { trustedCIDRs: ["10.0.0.0/8"], disableXForwardedForAppend: true } })], {
        ...PEER,
        trustedCidrs: ["10.0.0.0/8"],
        peerNotAppended: true,
      }),
    ).toEqual([]);
    expect(
      clientIPDetectionLines([ctp({ customHeader: { name: "CF-Connecting-IP" } })], { ...PEER, customHeader: "cf-connecting-ip" }),
    ).toEqual([]);
    expect(clientIPDetectionLines([ctp(undefined)], PEER)).toEqual([]);
    expect(clientIPDetectionLines([ctp({ directSourceIP: {} })], PEER)).toEqual([]);
  });

  it("refuses trusted hops Envoy does not have: a ClientTrafficPolicy without clientIPDetection is Envoy's peer", () => {
    expect(clientIPDetectionLines([ctp(undefined)], ONE_HOP)).toEqual([
      `${NAME}: Portcullis runs with --xff-trusted-hops 1; start it with --xff-trusted-hops 0`,
    ]);
  });

  it("names trusted CIDRs, the append switched off and a custom header as the flags spell them", () => {
    expect(
      clientIPDetectionLines(
        [ctp({ xForwardedFor: { trustedCIDRs: ["10.0.0.0/8", "192.168.0.0/16"], disableXForwardedForAppend: true } })],
        PEER,
      ),
    ).toEqual([
      `${NAME}: Portcullis runs with --xff-trusted-hops 0; start it with --xff-trusted-cidrs 10.0.0.0/8,192.168.0.0/16 --xff-peer-not-appended`,
    ]);
    expect(clientIPDetectionLines([ctp({ customHeader: { name: "CF-Connecting-IP", failClosed: true } })], ONE_HOP)[0]).toContain(
      "start it with --client-ip-header cf-connecting-ip",
    );
  });

  it("without flags (compile), names the flags to serve with for each ClientTrafficPolicy that sets clientIPDetection", () => {
    expect(clientIPDetectionLines([ctp({ xForwardedFor: { numTrustedHops: 2 } }), ctp(undefined)])).toEqual([
      `${NAME}: serve with --xff-trusted-hops 2`,
    ]);
  });

  it("reads only Envoy Gateway's ClientTrafficPolicy", () => {
    expect(clientIPDetectionLines([ctp({ xForwardedFor: { numTrustedHops: 1 } }, "example.com/v1")], PEER)).toEqual([]);
  });
});
