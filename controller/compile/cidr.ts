/** CIDR sets and address text, shared by `clientCIDRs` rules and the trusted-proxy configuration. */
import { BlockList, isIP } from "node:net";

export interface CidrSet {
  /** Whether `address` (IPv4 or IPv6 text; IPv4-mapped IPv6 is read as its IPv4 address) is in the set. */
  has(address: string): boolean;
}

/** Throws an Error naming the first entry that is not a CIDR ("10.0.0.0/8", "2001:db8::/32"). */
export function cidrSet(cidrs: readonly string[]): CidrSet {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = "", bits = ""] = cidr.split("/");
    const family = isIP(address);
    const prefix = Number(bits);
    if (family === 0 || !/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) throw new Error(`${JSON.stringify(cidr)} is not a CIDR`);
    list.addSubnet(address, prefix, family === 4 ? "ipv4" : "ipv6");
  }
  return {
    has(address) {
      const plain = plainAddress(address);
      return plain !== undefined && list.check(plain, isIP(plain) === 4 ? "ipv4" : "ipv6");
    },
  };
}

/** An address without IPv4 mapping ("::ffff:10.0.0.1" → "10.0.0.1"); undefined when the text is not an address. */
export function plainAddress(text: string): string | undefined {
  const plain = text.startsWith("::ffff:") && isIP(text.slice(7)) === 4 ? text.slice(7) : text;
  return isIP(plain) === 0 ? undefined : plain;
}
