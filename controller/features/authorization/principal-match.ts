/**
 * Whether a rule's principal matches (every field set must): client CIDRs, JWT provider, claims and
 * scopes, headers, geolocation, CEL. What cannot be known (the client address, where the client is)
 * does not match in an Allow rule and does in a Deny rule. Apart from check.ts, which runs the rules
 * and their operations, as the largest part of a rule, with one concern per field.
 */
import type { NormalizedRequest } from "../../authz/request.ts";
import { mayHoldInvalidUtf8 } from "../../lib/bytes.ts";
import { plainAddress } from "../../lib/cidr.ts";
import { claimAt } from "../../lib/claims.ts";
import type { RouteReading } from "../../snapshot/route-index.ts";
import { lineAt } from "../../snapshot/route-readings.ts";
import type { CompiledPrincipal, CompiledRule } from "./compile.ts";
import { geoLocationsMatch } from "./geo.ts";
import { headerIn } from "./line-readings.ts";
import { celMismatch, type Facts } from "./rule-facts.ts";

/**
 * The part of a principal's header match the request does not meet in `reading`, or undefined.
 * Envoy's reading compares the lines joined with ","; a line reading stands for every choice of one
 * line (or list element) per header, as an upstream may take the first of one header and the last
 * of another: a Deny rule's header is met when any of its lines is (some choice meets every header
 * of the rule), an Allow rule's only when each of them is (every choice meets it).
 */
function headerMismatch(rule: CompiledRule, h: PrincipalHeader, request: NormalizedRequest, reading: RouteReading): string | undefined {
  if (reading.header === "joined" || h.name === "host") return valueMismatch(rule, h, headerIn(request, h.name, reading));
  const lines = request.headerLines(h.name);
  if (lines.length === 0) return "a header differs";
  const anyLine = rule.action === "Deny";
  let unmet: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    unmet = valueMismatch(rule, h, lineAt(lines, i));
    if ((unmet === undefined) === anyLine) return unmet;
  }
  return unmet;
}

/** The mismatch of one value (Envoy's RBAC header matcher compares bytes) with a header match, or undefined. */
function valueMismatch(rule: CompiledRule, h: PrincipalHeader, value: string | undefined): string | undefined {
  if (value === undefined) return "a header differs";
  if (mayHoldInvalidUtf8(value) && h.values.some(mayHoldInvalidUtf8)) {
    // `\xff` and U+FFFD read alike as text; the bytes Envoy compares may or may not be equal.
    return rule.action === "Allow" ? "a header holds bytes that may not be UTF-8, compared with a value holding U+FFFD" : undefined;
  }
  return h.values.includes(value) ? undefined : "a header differs";
}

/** One header match of a principal: a lower-case name and the values it accepts. */
type PrincipalHeader = NonNullable<CompiledPrincipal["headers"]>[number];

/** Whether a principal reads the client address: `clientCIDRs`, `clientIPGeoLocations`, or `source` in its CEL expression. */
export const principalReadsClientAddress = (p: CompiledPrincipal): boolean =>
  p.clientCIDRs !== undefined || p.geoLocations !== undefined || p.cel?.readsSource === true;

/** The part of the rule's principal the request does not meet (a constant), or undefined when every part set matches. */
export function principalMismatch(rule: CompiledRule, p: CompiledPrincipal, facts: Facts): string | undefined {
  const { request, who, clientAddress } = facts;
  if (principalReadsClientAddress(p)) facts.clientAddressRead = true;
  if (p.clientCIDRs !== undefined) {
    // An address that cannot be determined could be any: it satisfies a Deny rule, never an Allow rule.
    if (clientAddress === undefined && rule.action === "Allow") return "the client address cannot be determined";
    if (clientAddress !== undefined && !inClientCidrs(p.clientCIDRs, clientAddress, rule.action))
      return "the client address is outside clientCIDRs";
  }
  if (p.jwt !== undefined) {
    const jwt = who.jwt;
    if (jwt === undefined || jwt.provider !== p.jwt.provider) return "no token of that jwt provider";
    for (const c of p.jwt.claims) {
      const value = claimAt(facts.jwtPayload()!, c.claim);
      const ok =
        c.valueType === "String"
          ? typeof value === "string" && c.values.includes(value)
          : Array.isArray(value) && value.some((v) => typeof v === "string" && c.values.includes(v));
      if (!ok) return "a jwt claim differs";
    }
    const granted = scopesOf(jwt.claims);
    if (!p.jwt.scopes.every((s) => granted.has(s))) return "a jwt scope is missing";
  }
  const headers = p.headers ?? [];
  for (let i = 0; i < headers.length; i++) {
    const unmet = headerMismatch(rule, headers[i]!, request, facts.reading);
    if (unmet !== undefined) return unmet;
  }
  if (p.geoLocations !== undefined) {
    const location = facts.location();
    // Nothing known of where the client is: it could be anywhere, which satisfies a Deny rule, never an Allow rule.
    if (location === undefined && rule.action === "Allow") return "where the client is cannot be determined";
    if (location !== undefined && !geoLocationsMatch(p.geoLocations, location)) return "the client is located elsewhere";
  }
  if (p.cel === undefined) return undefined;
  // `source.address` that cannot be determined could be any: the expression holds for a Deny rule, never for an Allow rule.
  if (p.cel.readsSource && clientAddress === undefined)
    return rule.action === "Allow" ? "the client address cannot be determined" : undefined;
  return celMismatch(rule, p.cel, facts, "principal");
}

/**
 * Whether `address` is in a rule's clientCIDRs. Envoy reads an IPv4-mapped IPv6 address
 * (`::ffff:10.1.2.3`, as a proxy in front may write the client) as IPv6, outside every IPv4 CIDR
 * (only a CIDR such as `::ffff:0:0/96` takes it); the client it names is the IPv4 address. An Allow
 * rule matches as Envoy reads it; a Deny rule also when the IPv4 address is inside (DESIGN §0: a
 * Deny rule the client escapes only by how a proxy in front spells its address still denies).
 */
function inClientCidrs(cidrs: NonNullable<CompiledPrincipal["clientCIDRs"]>, address: string, action: CompiledRule["action"]): boolean {
  const asEnvoy = cidrs.contains(address);
  if (asEnvoy || action === "Allow") return asEnvoy;
  const ipv4 = plainAddress(address);
  return ipv4 !== undefined && ipv4 !== address && cidrs.contains(ipv4);
}

/** OAuth scopes from `scope` (space-delimited string, RFC 8693) or `scp` (list or string). */
function scopesOf(claims: Readonly<Record<string, unknown>>): Set<string> {
  const out = new Set<string>();
  for (const raw of [claims.scope, claims.scp]) {
    if (typeof raw === "string") for (const s of raw.split(" ")) if (s !== "") out.add(s);
    if (Array.isArray(raw)) for (const s of raw) if (typeof s === "string") out.add(s);
  }
  return out;
}
