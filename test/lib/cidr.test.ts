import { describe, expect, it } from "vitest";
import { cidrSet, plainAddress } from "../../controller/lib/cidr.ts";

describe("cidrSet", () => {
  it("matches an address only against CIDRs of its own IP version, as Envoy's CidrRange", () => {
    expect(cidrSet(["::/0"]).has("10.1.1.1")).toBe(false);
    expect(cidrSet(["::ffff:0:0/96"]).has("10.1.1.1")).toBe(false);
    expect(cidrSet(["::/0"]).has("2001:db8::1")).toBe(true);
    expect(cidrSet(["0.0.0.0/0"]).has("2001:db8::1")).toBe(false);
  });
  it("reads an IPv4-mapped IPv6 address as IPv6, as Envoy parses it: in no IPv4 CIDR", () => {
    expect(cidrSet(["10.0.0.0/8"]).has("::ffff:10.1.1.1")).toBe(false);
    expect(cidrSet(["10.0.0.0/8"]).has("::ffff:a01:101")).toBe(false);
    expect(cidrSet(["::ffff:0:0/96"]).has("::ffff:10.1.1.1")).toBe(true);
    expect(cidrSet(["10.0.0.0/8"]).has("not-an-address")).toBe(false);
    expect(cidrSet(["10.0.0.0/8", "2001:db8::/32"]).has("10.1.1.1")).toBe(true);
    expect(cidrSet(["10.0.0.0/8", "2001:db8::/32"]).has("2001:db8::5")).toBe(true);
  });
  it("names the first entry that is not a CIDR", () => {
    expect(() => cidrSet(["10.0.0.0/8", "10.0.0.0/33"])).toThrow('"10.0.0.0/33" is not a CIDR');
    expect(() => cidrSet(["example.com/8"])).toThrow("is not a CIDR");
  });
});

describe("plainAddress", () => {
  it("unmaps IPv4-mapped IPv6 and refuses text that is not an address", () => {
    expect(plainAddress("::ffff:192.168.1.1")).toBe("192.168.1.1");
    expect(plainAddress("::FFFF:192.168.1.1")).toBe("192.168.1.1");
    expect(plainAddress("::ffff:c0a8:101")).toBe("192.168.1.1");
    expect(plainAddress("0:0:0:0:0:ffff:c0a8:0101")).toBe("192.168.1.1");
    expect(plainAddress("0::ffff:192.168.1.1")).toBe("192.168.1.1");
    expect(plainAddress("::ffff:0:c0a8:101")).toBe("::ffff:0:c0a8:101");
    expect(plainAddress("64:ff9b::c0a8:101")).toBe("64:ff9b::c0a8:101");
    expect(plainAddress("2001:db8::1")).toBe("2001:db8::1");
    expect(plainAddress("unknown")).toBeUndefined();
  });
  it("unmaps an address written with a zone index, whatever its spelling (a wrong allow: `::ffff:192.168.1.1%1` escaped a Deny rule's IPv4 reading)", () => {
    expect(plainAddress("::ffff:192.168.1.1%1")).toBe("192.168.1.1");
    expect(plainAddress("::ffff:c0a8:101%eth0")).toBe("192.168.1.1");
    expect(plainAddress("fe80::1%eth0")).toBe("fe80::1%eth0");
  });
});
