/**
 * A MaxMind DB writer for tests, after the MaxMind DB File Format Specification 2.0
 * (https://maxmind.github.io/MaxMind-DB/): tests build the GeoIP databases they read, so no
 * third-party database file is needed. Layout: a binary search tree over the address bits (24-bit
 * records), 16 zero bytes, the data section, then "\xAB\xCD\xEFMaxMind.com" and the metadata map.
 * An IPv6 database holds IPv4 networks at `::a.b.c.d/96+n`, as MaxMind's own databases do; unlike
 * them it has no `::ffff:0:0/96` alias, so an IPv4-mapped address is found only if the reader maps
 * it to IPv4 first.
 */
import { isIP } from "node:net";

/** A value of the data section: strings, integers (uint32, or int32 when negative), doubles, booleans, arrays, maps. */
export type MmdbValue = string | number | boolean | readonly MmdbValue[] | { readonly [key: string]: MmdbValue };

export interface MmdbNetwork {
  /** "81.2.69.0/24", "2001:db8::/32"; an address alone is a /32 or /128. */
  readonly network: string;
  readonly data: MmdbValue;
}

export interface MmdbOptions {
  /** The metadata `database_type`, e.g. "GeoIP2-Country", "GeoLite2-ASN", "GeoIP2-Anonymous-IP". */
  readonly databaseType: string;
  /** 6 (the default) holds both families; 4 holds IPv4 networks only. */
  readonly ipVersion?: 4 | 6;
  readonly networks: readonly MmdbNetwork[];
}

/** The database file's bytes. Throws on a network that is not one, overlaps one before it, or is IPv6 in an IPv4 database. */
export function writeMmdb(options: MmdbOptions): Buffer {
  const ipVersion = options.ipVersion ?? 6;
  const root: Trie = {};
  const data = new DataSection();
  for (const { network, data: value } of options.networks) {
    const [prefix, length] = networkBits(network, ipVersion);
    let node = root;
    for (let i = 0; i < length - 1; i++) {
      const side = prefix[i] === 1 ? "right" : "left";
      const next = node[side];
      if (typeof next === "number") throw new Error(`${network} lies inside a network given before it`);
      node = node[side] = next ?? {};
    }
    const side = prefix[length - 1] === 1 ? "right" : "left";
    if (node[side] !== undefined) throw new Error(`${network} holds or repeats a network given before it`);
    node[side] = data.add(value);
  }
  const nodes: Trie[] = [];
  const number = new Map<Trie, number>();
  const queue = [root];
  while (queue.length > 0) {
    const node = queue.shift()!;
    number.set(node, nodes.length);
    nodes.push(node);
    for (const child of [node.left, node.right]) if (typeof child === "object") queue.push(child);
  }
  const nodeCount = nodes.length;
  const record = (child: Trie | number | undefined) =>
    child === undefined ? nodeCount : typeof child === "number" ? nodeCount + 16 + child : number.get(child)!;
  const tree = Buffer.alloc(nodeCount * 6);
  nodes.forEach((node, i) => {
    tree.writeUIntBE(record(node.left), i * 6, 3);
    tree.writeUIntBE(record(node.right), i * 6 + 3, 3);
  });
  const metadata = encode({
    node_count: { uint32: nodeCount },
    record_size: { uint16: 24 },
    ip_version: { uint16: ipVersion },
    database_type: options.databaseType,
    languages: ["en"],
    binary_format_major_version: { uint16: 2 },
    binary_format_minor_version: { uint16: 0 },
    build_epoch: { uint64: 1_700_000_000n },
    description: { en: `${options.databaseType} written by Portcullis' tests` },
  });
  return Buffer.concat([tree, Buffer.alloc(16), data.bytes(), Buffer.from("abcdef4d61784d696e642e636f6d", "hex"), metadata]);
}

/** A trie node; a number is an offset in the data section. */
interface Trie {
  left?: Trie | number;
  right?: Trie | number;
}

class DataSection {
  readonly #chunks: Buffer[] = [];
  #size = 0;
  /** The offset of `value`, encoded and appended. */
  add(value: MmdbValue): number {
    const offset = this.#size;
    const bytes = encode(value);
    this.#chunks.push(bytes);
    this.#size += bytes.length;
    return offset;
  }
  bytes(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}

function networkBits(network: string, ipVersion: 4 | 6): [number[], number] {
  const [address = "", length] = network.split("/");
  const family = isIP(address);
  if (family === 0) throw new Error(`${network} is not a network`);
  if (family === 6 && ipVersion === 4) throw new Error(`${network}: an IPv6 network in an IPv4 database`);
  let bits = family === 4 ? ipv4Bits(address) : ipv6Bits(address);
  let prefix = length === undefined ? bits.length : Number(length);
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > bits.length) throw new Error(`${network} has no usable prefix length`);
  if (family === 4 && ipVersion === 6) {
    bits = [...new Array<number>(96).fill(0), ...bits];
    prefix += 96;
  }
  return [bits, prefix];
}

function ipv4Bits(address: string): number[] {
  return address.split(".").flatMap((octet) => byteBits(Number(octet)));
}

function ipv6Bits(address: string): number[] {
  const [head = "", tail] = address.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return all.flatMap((group) => {
    const n = Number.parseInt(group, 16);
    return [...byteBits(n >> 8), ...byteBits(n & 0xff)];
  });
}

function byteBits(byte: number): number[] {
  return Array.from({ length: 8 }, (_, i) => (byte >> (7 - i)) & 1);
}

/** Metadata needs exact integer types; the data section infers them. */
type Typed = { uint16: number } | { uint32: number } | { uint64: bigint };
type Encodable = MmdbValue | Typed | { readonly [key: string]: Encodable };

const TYPE = { string: 2, double: 3, uint16: 5, uint32: 6, map: 7, int32: 8, uint64: 9, array: 11, boolean: 14 } as const;

function encode(value: Encodable): Buffer {
  if (typeof value === "string") {
    const bytes = Buffer.from(value, "utf8");
    return Buffer.concat([control(TYPE.string, bytes.length), bytes]);
  }
  if (typeof value === "boolean") return control(TYPE.boolean, value ? 1 : 0);
  if (typeof value === "number") {
    if (!Number.isInteger(value)) {
      const bytes = Buffer.alloc(8);
      bytes.writeDoubleBE(value);
      return Buffer.concat([control(TYPE.double, 8), bytes]);
    }
    return value < 0 ? integer(TYPE.int32, BigInt(value >>> 0)) : integer(TYPE.uint32, BigInt(value));
  }
  if (Array.isArray(value)) return Buffer.concat([control(TYPE.array, value.length), ...value.map((v) => encode(v as Encodable))]);
  const object = value as Record<string, Encodable>;
  const keys = Object.keys(object);
  if (keys.length === 1 && keys[0] === "uint16" && typeof object.uint16 === "number") return integer(TYPE.uint16, BigInt(object.uint16));
  if (keys.length === 1 && keys[0] === "uint32" && typeof object.uint32 === "number") return integer(TYPE.uint32, BigInt(object.uint32));
  if (keys.length === 1 && keys[0] === "uint64" && typeof object.uint64 === "bigint") return integer(TYPE.uint64, object.uint64);
  return Buffer.concat([control(TYPE.map, keys.length), ...keys.flatMap((k) => [encode(k), encode(object[k]!)])]);
}

/** An unsigned big-endian integer in as few bytes as it needs (int32 is its two's complement). */
function integer(type: number, value: bigint): Buffer {
  const bytes: number[] = [];
  for (let v = value; v > 0n; v >>= 8n) bytes.unshift(Number(v & 0xffn));
  return Buffer.concat([control(type, bytes.length), Buffer.from(bytes)]);
}

/** The control byte(s): type in the top 3 bits (0 and a second byte for extended types), then the size. */
function control(type: number, size: number): Buffer {
  const extended = type > 7;
  const head = (extended ? 0 : type << 5) | (size < 29 ? size : size < 285 ? 29 : size < 65_821 ? 30 : 31);
  const out = [head];
  if (extended) out.push(type - 7);
  if (size >= 65_821) out.push(((size - 65_821) >> 16) & 0xff, ((size - 65_821) >> 8) & 0xff, (size - 65_821) & 0xff);
  else if (size >= 285) out.push(((size - 285) >> 8) & 0xff, (size - 285) & 0xff);
  else if (size >= 29) out.push(size - 29);
  return Buffer.from(out);
}
