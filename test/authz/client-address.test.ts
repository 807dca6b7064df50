import { BlockList, isIP } from "node:net";
import fc from "fast-check";
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
  it("an entry whose IPv6 zone is named, not numbered (Envoy reads it only where it has that interface): undetermined; a numbered zone is an address", () => {
    expect(hops(1).of(request("fd00::1%bogus, 10.0.0.1"))).toBeUndefined();
    expect(hops(1).of(request("fe80::1%eth0, 10.0.0.1"))).toBeUndefined();
    expect(hops(1).of(request("fe80::1%2, 10.0.0.1"))).toBe("fe80::1%2");
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
    expect(cidrs("10.0.0.0/8").of(request("10.9.9.9", "pipe:/tmp/envoy.sock"))).toBeUndefined();
  });
  it("a stated peer that is not an address appended no entry (Envoy appends only an IP peer): the hops count from the last entry", () => {
    expect(hops(1).of(request("10.9.9.9, 198.51.100.7", "pipe:/tmp/envoy.sock"))).toBe("198.51.100.7");
    expect(hops(2).of(request("10.9.9.9, 198.51.100.7", "envoy-internal:edge"))).toBe("10.9.9.9");
    expect(hops(3).of(request("10.9.9.9, 198.51.100.7", "pipe:/tmp/envoy.sock"))).toBeUndefined();
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
  it("an entry whose IPv6 zone is named on the way: undetermined (Envoy stops there, or walks on if it has the interface)", () => {
    expect(lb.of(request("203.0.113.9, fd00::1%bogus, 10.1.1.1, 10.0.0.2"))).toBeUndefined();
    expect(cidrs("10.0.0.0/8", "fe80::/10").of(request("203.0.113.9, fe80::1%eth0, 10.0.0.2"))).toBeUndefined();
  });
  it("an IPv4-mapped IPv6 entry is not in an IPv4 trusted CIDR (Envoy's CidrRange): the walk stops at it", () => {
    expect(lb.of(request("203.0.113.9, ::ffff:10.1.1.1, 10.0.0.2"))).toBe("::ffff:10.1.1.1");
    expect(cidrs("::ffff:0:0/96").of(request("203.0.113.9, ::ffff:10.1.1.1", "::ffff:10.0.0.2"))).toBe("203.0.113.9");
  });
});

describe("customHeader (Envoy Gateway's clientIPDetection.customHeader)", () => {
  const header = clientAddressDetection({ trustedHops: 0, trustedCidrs: [], customHeader: "x-real-ip" });
  const withHeader = (value: string | string[] | undefined, xff = "10.9.9.9, 203.0.113.7") => ({
    ...request(xff),
    headers: { "x-forwarded-for": xff, ...(value === undefined ? {} : { "x-real-ip": value }) },
  });
  it("the header's address, whatever X-Forwarded-For says", () => {
    expect(header.of(withHeader("198.51.100.7"))).toBe("198.51.100.7");
    expect(header.of(withHeader("2001:db8::7"))).toBe("2001:db8::7");
  });
  it("no header, one that is not an address, or one sent twice: undetermined (never X-Forwarded-For)", () => {
    expect(header.of(withHeader(undefined))).toBeUndefined();
    expect(header.of(withHeader("unknown"))).toBeUndefined();
    expect(header.of(withHeader("198.51.100.7:4711"))).toBeUndefined();
    expect(header.of(withHeader(["198.51.100.7", "10.1.1.1"]))).toBeUndefined();
    expect(header.of(withHeader("198.51.100.7,10.1.1.1"))).toBeUndefined();
    expect(header.of(withHeader("fd00::7%eth0"))).toBeUndefined();
  });
});

describe("disableXForwardedForAppend (Envoy appends no entry)", () => {
  const noAppend = (options: { hops?: number; cidrs?: string[] }) =>
    clientAddressDetection({ trustedHops: options.hops ?? 0, trustedCidrs: options.cidrs ?? [], peerNotAppended: true });
  it("every entry is a received one: the Nth from the right", () => {
    expect(noAppend({ hops: 1 }).of(request("10.9.9.9, 203.0.113.9"))).toBe("203.0.113.9");
    expect(noAppend({ hops: 2 }).of(request("10.9.9.9, 203.0.113.9"))).toBe("10.9.9.9");
  });
  it("where Envoy takes its peer: the one gRPC states, else undetermined", () => {
    expect(noAppend({ hops: 2 }).of(request("203.0.113.9"))).toBeUndefined();
    expect(noAppend({ hops: 2 }).of(request("203.0.113.9", "10.0.0.2"))).toBe("10.0.0.2");
    expect(noAppend({ cidrs: ["10.0.0.0/8"] }).of(request("203.0.113.9, 10.1.1.1"))).toBeUndefined();
    expect(noAppend({ cidrs: ["10.0.0.0/8"] }).of(request("203.0.113.9, 10.1.1.1", "10.0.0.2"))).toBe("203.0.113.9");
  });
});

describe("configuration", () => {
  it("refuses both rules at once and malformed CIDRs", () => {
    expect(() => clientAddressDetection({ trustedHops: 1, trustedCidrs: ["10.0.0.0/8"] })).toThrow(/not two/);
    expect(() => clientAddressDetection({ trustedHops: 0, trustedCidrs: ["10.0.0.0/8"], customHeader: "x-real-ip" })).toThrow(/not two/);
    expect(() => cidrs("10.0.0.0/33")).toThrow(/not a CIDR/);
    expect(() => clientAddressDetection({ trustedHops: 0, trustedCidrs: [], peerNotAppended: true })).toThrow(/only with trusted/);
  });
});

/**
 * Envoy's own steps, written out as its code takes them (HTTP connection manager before its
 * append; Envoy Gateway's xff extension: `getLastAddressFromXFF` with numTrustedHops − 1 commas
 * skipped from the right, `getLastNonTrustedAddressFromXFF` split at every comma), over the
 * X-Forwarded-For Envoy received (`undefined`: none) and the peer: the address it takes.
 */
function envoyClientAddress(
  options: { hops: number; trusted: readonly string[] },
  received: string | undefined,
  peer: string | undefined,
): string | undefined {
  const trim = (text: string) => text.replace(/^[ \t\f\v\n\r]+|[ \t\f\v\n\r]+$/g, "");
  const parsed = (text: string) => (isIP(text) === 0 ? undefined : text);
  if (options.trusted.length > 0) {
    const lists = { 4: new BlockList(), 6: new BlockList() };
    for (const cidr of options.trusted) {
      const [address, bits] = cidr.split("/") as [string, string];
      const family = isIP(address) as 4 | 6;
      lists[family].addSubnet(address, Number(bits), family === 4 ? "ipv4" : "ipv6");
    }
    const isTrusted = (address: string) => {
      const family = isIP(address) as 4 | 6;
      return lists[family].check(address, family === 4 ? "ipv4" : "ipv6");
    };
    if (peer === undefined || !isTrusted(peer) || received === undefined) return peer;
    let leftmost: string | undefined;
    for (const entry of received.split(",").reverse()) {
      const address = parsed(trim(entry));
      if (address === undefined) return peer;
      if (!isTrusted(address)) return address;
      leftmost = address;
    }
    return leftmost ?? peer;
  }
  if (options.hops === 0 || received === undefined) return peer;
  let rest = received;
  for (let i = 0; i < options.hops - 1; i++) {
    const comma = rest.lastIndexOf(",");
    if (comma === -1) return peer;
    rest = rest.slice(0, comma);
  }
  const comma = rest.lastIndexOf(",");
  if (comma !== -1 && comma + 1 < rest.length) rest = rest.slice(comma + 1);
  return parsed(trim(rest)) ?? peer;
}

describe("against Envoy's own steps (fast-check, fixed seed)", () => {
  const entry = fc.constantFrom(
    "10.1.1.1",
    "203.0.113.9",
    "192.168.1.1",
    "::ffff:10.2.2.2",
    "2001:db8::1",
    "",
    " ",
    "\t198.51.100.7 ",
    "10.9.9.9\u00a0",
    "unknown",
    "10.0.0.2",
  );
  const received = fc.option(
    fc.tuple(fc.array(entry, { minLength: 1, maxLength: 5 }), fc.constantFrom(",", ", ")).map(([entries, sep]) => entries.join(sep)),
    { nil: undefined },
  );
  const peer = fc.constantFrom("10.0.0.2", "203.0.113.5", "::ffff:10.0.0.3", "2001:db8::2");
  const options = fc.oneof(
    fc.record({ hops: fc.integer({ min: 0, max: 4 }), trusted: fc.constant([] as string[]) }),
    fc.record({ hops: fc.integer({ min: 1, max: 4 }), trusted: fc.constant([] as string[]), notAppended: fc.constant(true) }),
    fc.record({ hops: fc.constant(0), trusted: fc.constant(["10.0.0.0/8"]), notAppended: fc.constant(true) }),
    fc.record({
      hops: fc.constant(0),
      trusted: fc.constantFrom(["10.0.0.0/8"], ["10.0.0.0/8", "::ffff:0:0/96"], ["::/0"], ["2001:db8::/32", "192.168.0.0/16"]),
    }),
  );
  it("takes the address Envoy takes for every X-Forwarded-For, trusted hops and CIDRs", () => {
    fc.assert(
      fc.property(options, received, peer, fc.boolean(), (o, xff, p, grpc) => {
        const notAppended = "notAppended" in o;
        // On the HTTP ports the header ends with Envoy's append of the peer (no "," before it when none
        // was received), unless its append is off; gRPC states the peer (and the header holds the append too).
        const sent = notAppended ? xff : xff === undefined || xff === "" ? p : `${xff},${p}`;
        const detection = clientAddressDetection({ trustedHops: o.hops, trustedCidrs: o.trusted, peerNotAppended: notAppended });
        const known = grpc || !notAppended ? p : undefined;
        expect(detection.of(request(sent, grpc ? p : undefined))).toBe(envoyClientAddress(o, xff === "" ? undefined : xff, known));
      }),
      { seed: 20_261_201, numRuns: 2000 },
    );
  });
});
