/** CIDR sets and address text, shared by `clientCIDRs` rules and the trusted-proxy configuration. */
import { BlockList, isIP } from "node:net";

export interface CidrSet {
  /** Whether `address` (IPv4 or IPv6 text; IPv4-mapped IPv6 is read as its IPv4 address) is in the set. */
  has(address: string): boolean;
}

/**
 * Throws an Error naming the first entry that is not a CIDR ("10.0.0.0/8", "2001:db8::/32"). An
 * address matches only the CIDRs of its own IP version, as Envoy's CidrRange: one BlockList per
 * version, since a BlockList reads an IPv4 address as `::ffff:a.b.c.d`, which `::/0` (or any IPv6
 * range covering `::ffff:0:0/96`) contains.
 */
export function cidrSet(cidrs: readonly string[]): CidrSet {
  const lists = { ipv4: new BlockList(), ipv6: new BlockList() };
  for (const cidr of cidrs) {
    const [address = "", bits = ""] = cidr.split("/");
    const family = isIP(address);
    const prefix = Number(bits);
    if (family === 0 || !/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128))
      throw new Error(`${JSON.stringify(cidr)} is not a CIDR`);
    const version = family === 4 ? "ipv4" : "ipv6";
    lists[version].addSubnet(address, prefix, version);
  }
  return {
    has(address) {
      const plain = plainAddress(address);
      if (plain === undefined) return false;
      const version = isIP(plain) === 4 ? "ipv4" : "ipv6";
      return lists[version].check(plain, version);
    },
  };
}

/** An address without IPv4 mapping ("::ffff:10.0.0.1" → "10.0.0.1"); undefined when the text is not an address. */
export function plainAddress(text: string): string | undefined {
  const plain = text.startsWith("::ffff:") && isIP(text.slice(7)) === 4 ? text.slice(7) : text;
  return isIP(plain) === 0 ? undefined : plain;
}
