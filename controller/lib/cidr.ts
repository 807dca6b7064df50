/** CIDR sets and address text, shared by `clientCIDRs` rules and the trusted-proxy configuration. */
import { BlockList, isIP } from "node:net";

export interface CidrSet {
  /**
   * Whether `address` (IPv4 or IPv6 text) is in the set, as Envoy's CidrRange and IP matcher read
   * it: an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is IPv6, in no IPv4 CIDR. False for text
   * that is not an address.
   */
  has(address: string): boolean;
}

/**
 * Throws an Error naming the first entry that is not a CIDR ("10.0.0.0/8", "2001:db8::/32"). An
 * address matches only the CIDRs of its own IP version as written, as Envoy's CidrRange: one
 * BlockList per version, since a BlockList reads an IPv4 address as `::ffff:a.b.c.d`, which `::/0`
 * (or any IPv6 range covering `::ffff:0:0/96`) contains.
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
      const family = isIP(address);
      if (family === 0) return false;
      const version = family === 4 ? "ipv4" : "ipv6";
      return lists[version].check(address, version);
    },
  };
}

/**
 * An address without IPv4 mapping, however it is spelt ("::ffff:10.0.0.1", "::FFFF:a00:1",
 * "0:0:0:0:0:ffff:10.0.0.1", "::ffff:10.0.0.1%1" → "10.0.0.1"): one address, one decision. undefined when the text is
 * not an address.
 */
export function plainAddress(text: string): string | undefined {
  const family = isIP(text);
  if (family === 0) return undefined;
  return family === 6 ? (ipv4Mapped(text) ?? text) : text;
}

/** The IPv4 address an IPv6 address in ::ffff:0:0/96 maps, or undefined. */
function ipv4Mapped(address: string): string | undefined {
  // A zone index (`%1`, `%eth0`) names an interface, no part of the address.
  const lower = address.toLowerCase().replace(/%.*$/, "");
  if (!lower.includes("ffff")) return undefined;
  // A trailing dotted quad is the last two groups.
  const dotted = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(lower);
  const text =
    dotted === null
      ? lower
      : `${dotted[1]}${((Number(dotted[2]) << 8) | Number(dotted[3])).toString(16)}:${((Number(dotted[4]) << 8) | Number(dotted[5])).toString(16)}`;
  const [head = "", tail] = text.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill("0"), ...right];
  const words = all.map((g) => Number.parseInt(g, 16));
  if (words.length !== 8 || words.slice(0, 5).some((w) => w !== 0) || words[5] !== 0xffff) return undefined;
  return [words[6]! >> 8, words[6]! & 0xff, words[7]! >> 8, words[7]! & 0xff].join(".");
}
