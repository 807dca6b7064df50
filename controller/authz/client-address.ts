/**
 * The client's address as Envoy determines it (HTTP connection manager with `use_remote_address`,
 * or Envoy Gateway's ClientTrafficPolicy `clientIPDetection.xForwardedFor`, which programs Envoy's
 * `original_ip_detection.xff` extension), from what reaches Portcullis:
 * - the *peer*: the address of whatever connected to Envoy. gRPC ext_authz states it
 *   (`attributes.source`); on the HTTP ports it is the X-Forwarded-For entry Envoy appended last.
 * - the *received entries*: X-Forwarded-For as it reached Envoy (everything left of the peer).
 * Rules, as Envoy's:
 * - `numTrustedHops` N (Envoy Gateway's meaning): N = 0, the peer; else the Nth received entry
 *   from the right; fewer than N entries, or that entry not an address: the peer.
 * - `trustedCIDRs`: a peer outside them is the client; else the received entries are walked from
 *   the right, skipping trusted ones, and the first other one is the client; all trusted: the
 *   leftmost; an entry that is not an address, or none at all: the peer.
 * Addresses are Envoy's text: an IPv4-mapped IPv6 address stays IPv6 (`::ffff:10.0.0.1`), as Envoy
 * parses it, so a trusted proxy's IPv4 CIDR does not take it; rules read it both ways
 * (authorization's clientCIDRs).
 * `undefined` when no peer is known (no X-Forwarded-For on an HTTP port): the caller must then
 * let no Allow rule match on the address and every Deny rule match (DESIGN §0).
 */
import { isIP } from "node:net";
import { cidrSet, plainAddress } from "../lib/cidr.ts";
import { headerValue } from "./header-values.ts";
import type { AuthzRequest } from "./request.ts";

export interface ClientAddressDetection {
  /** The client's address (IPv4 or IPv6 text), or undefined when it cannot be determined. */
  of(request: AuthzRequest): string | undefined;
}

export interface ClientAddressOptions {
  /** Envoy Gateway `xForwardedFor.numTrustedHops`: proxies in front of Envoy, 0 = none. */
  readonly trustedHops: number;
  /** Envoy Gateway `xForwardedFor.trustedCIDRs` ("10.0.0.0/8"); excludes `trustedHops` > 0. */
  readonly trustedCidrs: readonly string[];
  /**
   * Envoy Gateway `clientIPDetection.customHeader.name`, lower-case: the client address is that
   * header's value, X-Forwarded-For is not read; excludes the other two.
   */
  readonly customHeader?: string | undefined;
  /**
   * Envoy Gateway `xForwardedFor.disableXForwardedForAppend`: Envoy appends no entry, so every
   * X-Forwarded-For entry is a received one and the peer is known only where Envoy states it (gRPC);
   * with trusted hops or CIDRs only.
   */
  readonly peerNotAppended?: boolean | undefined;
}

/** The options the client address flags give (serve and check: `--xff-trusted-hops`, `--xff-trusted-cidrs`, `--client-ip-header`, `--xff-peer-not-appended`). */
export function clientAddressOptionsOf(flags: {
  readonly xffTrustedHops: number;
  readonly xffTrustedCidrs: readonly string[];
  readonly clientIpHeader?: string | undefined;
  readonly xffPeerNotAppended: boolean;
}): ClientAddressOptions {
  return {
    trustedHops: flags.xffTrustedHops,
    trustedCidrs: flags.xffTrustedCidrs,
    customHeader: flags.clientIpHeader,
    peerNotAppended: flags.xffPeerNotAppended,
  };
}

/** Throws an Error naming the first CIDR that is not one, or when two rules are set (as Envoy Gateway refuses). */
export function clientAddressDetection(options: ClientAddressOptions): ClientAddressDetection {
  const rules = [options.trustedHops > 0, options.trustedCidrs.length > 0, options.customHeader !== undefined].filter(Boolean).length;
  if (rules > 1) throw new Error("set one of the trusted hops, the trusted CIDRs and the client address header, not two");
  if (options.peerNotAppended === true && options.trustedHops === 0 && options.trustedCidrs.length === 0)
    throw new Error("Envoy's append can be off only with trusted hops or trusted CIDRs");
  const { customHeader } = options;
  // Envoy's custom_header extension takes the header's first line whole: an address, or none (then
  // Envoy refuses the request with failClosed, or takes the peer, never X-Forwarded-For's entries).
  // Lines Envoy's HTTP check joined with "," are no address: undetermined, as is a missing header,
  // whose peer (the CDN in front) is not the client either.
  if (customHeader !== undefined) return { of: (request) => unlessZoneNamed(addressIn(headerValue(request.headers, customHeader) ?? "")) };
  const trusted = options.trustedCidrs.length === 0 ? undefined : cidrSet(options.trustedCidrs);
  const { trustedHops } = options;
  const appended = options.peerNotAppended !== true;
  return {
    of(request) {
      // An unknown peer (undefined) is what falls back to it gives: undetermined.
      const { peer, received } = hopsOf(request, appended);
      if (trusted !== undefined) {
        if (peer === undefined || !trusted.has(peer)) return peer;
        for (let i = received.length - 1; i >= 0; i--) {
          const entry = addressIn(received[i]!);
          if (entry === undefined) return peer;
          // Envoy may stop here (no address) or walk on: either way another address than this one's.
          if (namesZone(entry)) return undefined;
          if (!trusted.has(entry)) return entry;
        }
        return received.length === 0 ? peer : addressIn(received[0]!);
      }
      if (trustedHops === 0 || received.length < trustedHops) return peer;
      const chosen = addressIn(received[received.length - trustedHops]!);
      return chosen === undefined ? peer : unlessZoneNamed(chosen);
    },
  };
}

/**
 * The peer and the received entries. gRPC names the peer; when X-Forwarded-For also ends with it,
 * that entry is Envoy's append and not a received one. On HTTP the last entry is the peer, or,
 * when Envoy appends none (`appended` false), every entry is a received one and the peer unknown.
 */
function hopsOf(request: AuthzRequest, appended: boolean): { peer: string | undefined; received: string[] } {
  const xff = headerValue(request.headers, "x-forwarded-for");
  // As Envoy splits it: at every ",", an empty entry counted (and no address), each trimmed of
  // Envoy's whitespace only (a no-break space stays, and makes the entry no address).
  const entries = xff === undefined ? [] : xff.split(",").map((entry) => entry.replace(ENVOY_WHITESPACE, ""));
  const stated = request.clientAddress === undefined || request.clientAddress === "" ? undefined : addressIn(request.clientAddress);
  if (stated !== undefined) {
    // The same address however it is spelt (`::ffff:a00:1` and `10.0.0.1`): Envoy's append of it.
    const last = entries.length === 0 ? undefined : plainAddress(entries[entries.length - 1]!);
    if (appended && last !== undefined && last === plainAddress(stated)) entries.pop();
    return { peer: stated, received: entries };
  }
  // A stated peer that is no IP address (a pipe, an internal listener): Envoy appends no entry for it, so every entry is a received one.
  if (request.clientAddress !== undefined && request.clientAddress !== "") return { peer: undefined, received: entries };
  if (!appended) return { peer: undefined, received: entries };
  const last = entries.pop();
  return { peer: last === undefined ? undefined : addressIn(last), received: entries };
}

/** What Envoy's StringUtil::trim removes from both ends: " \t\f\v\n\r". */
const ENVOY_WHITESPACE = /^[ \t\f\v\n\r]+|[ \t\f\v\n\r]+$/g;

/** `text` when it is an IPv4 or IPv6 address (kept as written), else undefined. */
const addressIn = (text: string): string | undefined => (isIP(text) === 0 ? undefined : text);

/**
 * Whether an address (as Node's isIP reads one) names its IPv6 zone rather than numbering it
 * (`fe80::1%eth0`, `fd00::1%bogus`): Envoy's getaddrinfo reads such a text as an address only where
 * its host has that interface (and, by name, only for a link-local address), and falls back to the
 * peer otherwise, which Portcullis cannot tell apart.
 */
const namesZone = (address: string): boolean => /%(?![0-9]+$)/.test(address);

/** `address` unless it names its zone (namesZone): then undetermined. */
const unlessZoneNamed = (address: string | undefined): string | undefined =>
  address === undefined || !namesZone(address) ? address : undefined;
