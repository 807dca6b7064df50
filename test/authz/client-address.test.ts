import { describe, expect, it } from "vitest";
import { clientAddressDetection } from "../../controller/authz/client-address.ts";
import type { AuthzRequest } from "../../controller/authz/request.ts";

const request = (xff: string | undefined, clientAddress?: string): AuthzRequest => ({
  method: "GET",
  scheme: "http",
  host: "h",
  path: "/",
  gateway: undefined,
  clientAddress,
  headers: xff === undefined ? {} : { "x-forwarded-for": xff },
});
const hops = (n: number) => clientAddressDetection({ trustedHops: n, trustedCidrs: [] });
const cidrs = (...c: string[]) => clientAddressDetection({ trustedHops: 0, trustedCidrs: c });

describe("numTrustedHops (HTTP ports: the last X-Forwarded-For entry is the peer Envoy appended)", () => {
  it("0 hops: the peer", () => {
    expect(hops(0).of(request("10.9.9.9, 203.0.113.7"))).toBe("203.0.113.7");
  });
  it("N hops: the Nth received entry from the right (Envoy Gateway's example)", () => {
    const xff = "203.0.113.128, 203.0.113.10, 203.0.113.1, 10.0.0.2";
    expect(hops(2).of(request(xff))).toBe("203.0.113.10");
    expect(hops(1).of(request(xff))).toBe("203.0.113.1");
    expect(hops(3).of(request(xff))).toBe("203.0.113.128");
  });
  it("issue 11 situation 5: too few entries falls back to the peer, as Envoy does", () => {
    expect(hops(1).of(request("192.168.1.1"))).toBe("192.168.1.1");
    expect(hops(4).of(request("203.0.113.1, 192.168.1.1"))).toBe("192.168.1.1");
  });
  it("the chosen entry not an address falls back to the peer", () => {
    expect(hops(1).of(request("unknown, 192.168.1.1"))).toBe("192.168.1.1");
  });
  it("no X-Forwarded-For at all: the address cannot be determined", () => {
    expect(hops(0).of(request(undefined))).toBeUndefined();
    expect(hops(1).of(request(""))).toBeUndefined();
    expect(hops(0).of(request("not-an-address"))).toBeUndefined();
  });
  it("entries as Envoy splits them: an empty one counts, and is no address where it is chosen", () => {
    expect(hops(2).of(request("203.0.113.9,,10.1.1.1"))).toBe("203.0.113.9");
    expect(hops(1).of(request("203.0.113.9,,10.1.1.1"))).toBe("10.1.1.1");
    expect(hops(1).of(request("203.0.113.9, ,10.1.1.1"))).toBe("10.1.1.1");
  });
  it("entries trimmed of Envoy's whitespace only: a no-break space makes no address", () => {
    expect(hops(1).of(request("\t198.51.100.7 , 10.0.0.1"))).toBe("198.51.100.7");
    expect(hops(1).of(request("198.51.100.7\u00a0, 10.0.0.1"))).toBe("10.0.0.1");
  });
  it("an IPv4-mapped IPv6 entry stays as Envoy parses it, IPv6 (rules read it both ways)", () => {
    expect(hops(1).of(request("::ffff:198.51.100.7, 10.0.0.1"))).toBe("::ffff:198.51.100.7");
  });
});

describe("gRPC: Envoy states the peer (attributes.source)", () => {
  it("the peer, also when X-Forwarded-For ends with it (Envoy's append) or lacks it", () => {
    expect(hops(0).of(request("10.9.9.9, 192.168.1.1", "192.168.1.1"))).toBe("192.168.1.1");
    expect(hops(1).of(request("198.51.100.7, 192.168.1.1", "192.168.1.1"))).toBe("198.51.100.7");
    expect(hops(1).of(request("198.51.100.7", "192.168.1.1"))).toBe("198.51.100.7");
    expect(hops(1).of(request(undefined, "192.168.1.1"))).toBe("192.168.1.1");
    // Envoy's append spelt otherwise than the stated peer is still the peer.
    expect(hops(1).of(request("198.51.100.7, ::ffff:192.168.1.1", "192.168.1.1"))).toBe("198.51.100.7");
  });
  it("a stated peer that is not an address: undetermined, never the client's header", () => {
    expect(hops(0).of(request("10.9.9.9", "pipe:/tmp/envoy.sock"))).toBeUndefined();
  });
});

describe("trustedCIDRs", () => {
  const lb = cidrs("10.0.0.0/8");
  it("an untrusted peer is the client, whatever X-Forwarded-For says", () => {
    expect(lb.of(request("10.9.9.9, 203.0.113.5"))).toBe("203.0.113.5");
  });
  it("behind a trusted peer: the first untrusted entry from the right", () => {
    expect(lb.of(request("198.51.100.1, 203.0.113.9, 10.1.1.1, 10.0.0.2"))).toBe("203.0.113.9");
  });
  it("every entry trusted: the leftmost; none received: the peer", () => {
    expect(lb.of(request("10.1.1.1, 10.2.2.2, 10.0.0.2"))).toBe("10.1.1.1");
    expect(lb.of(request("10.0.0.2"))).toBe("10.0.0.2");
  });
  it("an entry that is not an address on the way: the peer", () => {
    expect(lb.of(request("203.0.113.9, garbage, 10.0.0.2"))).toBe("10.0.0.2");
  });
  it("an IPv4-mapped IPv6 entry is not in an IPv4 trusted CIDR (Envoy's CidrRange): the walk stops at it", () => {
    expect(lb.of(request("203.0.113.9, ::ffff:10.1.1.1, 10.0.0.2"))).toBe("::ffff:10.1.1.1");
    expect(cidrs("::ffff:0:0/96").of(request("203.0.113.9, ::ffff:10.1.1.1", "::ffff:10.0.0.2"))).toBe("203.0.113.9");
  });
});

describe("configuration", () => {
  it("refuses both rules at once and malformed CIDRs", () => {
    expect(() => clientAddressDetection({ trustedHops: 1, trustedCidrs: ["10.0.0.0/8"] })).toThrow(/not both/);
    expect(() => cidrs("10.0.0.0/33")).toThrow(/not a CIDR/);
  });
});
