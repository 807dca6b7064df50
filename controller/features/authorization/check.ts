/**
 * The authorization phase (Envoy Gateway semantics): rules in order, the first whose operation
 * and principal match decides; none: `defaultAction`. Within a principal every field set must
 * match. What cannot be known never allows: a CEL expression that fails to evaluate, or
 * `clientCIDRs` when the client address cannot be determined, does not match in an Allow rule and
 * does match in a Deny rule. The rules are decided on Envoy's reading of the request and again on
 * every route reading (snapshot/route-index.ts) that changes what they read, and the request is
 * allowed only if every reading allows (DESIGN §0): `principal.cel`'s `request.query` is first
 * read as Envoy's route match reads the query (the first value of a name, split at "&", names and
 * values as sent), then as upstreams read it (the last value, split at ";" too, percent-decoded,
 * names as PHP registers them: `tenant.id` is `tenant_id`);
 * a header sent on several lines, or holding "," (linesUpstreamMayRead), is first read as Envoy
 * joins it (","), then line by line, each piece a line (an upstream may read any line or list
 * element: a Deny rule on `x-role: admin` is not escaped by sending it twice, nor by
 * `x-role: user, admin`; an Allow rule on `accept: a, b` never holds, as `a` is a reading), and as
 * an upstream may take the first line of one header and the last of another: a rule's header
 * matches take any line of each header for a Deny rule, every line for an Allow rule
 * (headerMismatch); each choice of one line of each header a CEL expression names by a literal key
 * is a reading of its own (so `x-role: admin,user` with `x-team: blue,red` is read as admin of team
 * red), the headers it does not name read joined; an expression that reads headers by keys it does
 * not name (`cel.bind(h, request.headers, ...)`) is decided, where it is reached on a line reading,
 * on every choice of one line of every header (Facts.celMatches). A rule's `cel` reads
 * `request.query` as Envoy's CEL does, the query text as sent, which no reading changes. A request
 * is refused (431 `request_invalid`) rather than decided on each reading where a header the rules
 * read has more than MAX_HEADER_LINES lines or elements, or the choices of the headers CEL names,
 * or (where such an expression is evaluated) of every header, number more than that; other headers'
 * lines are never readings here, so a browser's Accept lists cost nothing to a rule on x-role.
 * The readings are found in line-readings.ts; what CEL expressions evaluate over, in cel-context.ts.
 */
import type { CheckContext } from "../../authz/context.ts";
import { deny } from "../../authz/decision.ts";
import { tooManyHeaderLines } from "../../authz/header-values.ts";
import type { NormalizedRequest } from "../../authz/request.ts";
import { mayHoldInvalidUtf8 } from "../../lib/bytes.ts";
import { plainAddress } from "../../lib/cidr.ts";
import { claimAt } from "../../lib/claims.ts";
import { fail } from "../../lib/result.ts";
import { ENVOY_READING, type RouteReading } from "../../snapshot/route-index.ts";
import { pathMatches } from "../../snapshot/route-match.ts";
import { lineAt } from "../../snapshot/route-readings.ts";
import { NOTHING, type IdentityAttributes, type Pass, type PhaseResult, type Where } from "../feature.ts";
import type { GeoLocation } from "../../geoip/database.ts";
import type { CompiledCel } from "./cel.ts";
import { celMatches, envoyAttributesOf, jwtAuthnPayload, principalVariablesOf } from "./cel-context.ts";
import type { CompiledAuthorization, CompiledPrincipal, CompiledRule } from "./compile.ts";
import { describeRule } from "./describe.ts";
import { geoLocationsMatch } from "./geo.ts";
import { everyLineChoice, headerIn, lineReadingsOf, otherReadings } from "./line-readings.ts";
import type { QueryReading } from "../../snapshot/query-readings.ts";
import { Trace } from "../../authz/trace.ts";

/** The phase: over the identities every phase before it passed on (their attributes merged) and the client address. */
export function checkAuthorization(
  config: CompiledAuthorization,
  request: NormalizedRequest,
  where: Where,
  passed: readonly Pass[],
  ctx: CheckContext,
): PhaseResult {
  // Each choice of a line of the headers the rules read is a reading of its own, decided in full (as check() refuses for route matches).
  const lineReadings = lineReadingsOf(config, request);
  if (lineReadings === undefined) return fail(tooManyHeaderLines(where));
  const who: IdentityAttributes = Object.assign({}, ...passed.map((r) => r.attributes));
  // Where Envoy finds the client address otherwise than the flags, it could be any address (DESIGN §0).
  const unknown = where.clientAddressUnknown;
  if (unknown !== undefined) ctx.trace?.note({ clientAddressUnknown: unknown });
  const clientAddress = unknown === undefined ? ctx.clientAddress.of(request.arrived) : undefined;
  const now = ctx.now();
  const verdict = authorize(config, request, who, clientAddress, now, lineReadings, ctx.trace);
  if (verdict === TOO_MANY_LINE_CHOICES) return fail(tooManyHeaderLines(where));
  if (verdict.allowed) return NOTHING;
  // The client is told authz_denied (server/envoy-response.ts), as Envoy's rbac filter would answer; the operator, which flags to start with.
  if (verdict.readClientAddress === true && unknown !== undefined)
    return fail({
      ...deny(
        403,
        "client_address_unknown",
        "the authorization rules read the client address, which cannot be determined on this listener",
        where,
      ),
      detail: unknown,
    });
  const reading = verdict.reading === undefined ? "" : ` (reading ${verdict.reading})`;
  if (verdict.by !== "defaultAction") return fail(deny(403, "authz_denied", `denied by authorization rule ${verdict.by}${reading}`, where));
  // The audit line says why no rule applied on the reading that denied, rule by rule: decided again
  // with an account of each (a denial's cost only, never an allow's). It names rules and
  // configuration, so it is the operator's `detail`, never sent to the client.
  const account = new Trace();
  account.step("authorization");
  authorize(config, request, who, clientAddress, now, lineReadings, account);
  const step = account.steps[0]!;
  const denying =
    verdict.reading === undefined
      ? step.rules
      : (step.otherReadings as { reading: string; rules: string[] }[]).find((r) => r.reading === verdict.reading)!.rules;
  const rules = (denying as string[]).slice(0, -1);
  return fail({
    ...deny(403, "authz_denied", `no authorization rule allows the request${reading}`, where),
    ...(rules.length === 0 ? {} : { detail: `rules tried: ${rules.join("; ")}` }),
  });
}

export interface Verdict {
  readonly allowed: boolean;
  /** The rule that decided, or "defaultAction". */
  readonly by: string;
  /** The reading (RouteReading.name) it was decided on, when not Envoy's. */
  readonly reading?: string;
  /** Set when a rule tried read the client address (clientCIDRs, clientIPGeoLocations, `source` in principal.cel). */
  readonly readClientAddress?: true;
}

/**
 * The verdict of a rule whose CEL expression reads headers by unknown keys, evaluated on a line
 * reading of a request whose headers have more than MAX_HEADER_LINES choices of one line each:
 * refused (431) rather than decided on a few of them.
 */
export const TOO_MANY_LINE_CHOICES: Verdict = Object.freeze({ allowed: false, by: "too many choices of header lines" });

/**
 * `now`: the request's time in epoch milliseconds (Envoy's `request.time`). `lineReadings`: the
 * readings of the lines of the headers the rules read (lineReadingsOf). `trace`: each rule tried on
 * Envoy's reading is noted (`rules`), with the first part of it the request does not meet, then each
 * other reading decided with its own rules (`otherReadings`). TOO_MANY_LINE_CHOICES when a rule that
 * reads headers by unknown keys is reached on a request of too many.
 */
export function authorize(
  config: CompiledAuthorization,
  request: NormalizedRequest,
  who: IdentityAttributes,
  clientAddress: string | undefined,
  now: number,
  lineReadings: readonly RouteReading[],
  trace?: Trace,
): Verdict {
  trace?.note({ clientAddress: clientAddress ?? "(cannot be determined)" });
  const anyHeader = config.celReadsAnyHeader ? new AnyHeaderVerdicts() : undefined;
  const first = decide(config, request, who, clientAddress, now, ENVOY_READING, anyHeader, trace);
  if (!first.allowed) return first;
  for (const reading of otherReadings(config, request, lineReadings)) {
    // Each reading's rules in a list of their own, under this step (the phase's outcome is noted on it after).
    const own = trace === undefined ? undefined : new Trace();
    own?.step("authorization");
    const verdict = decide(config, request, who, clientAddress, now, reading, anyHeader, own);
    trace?.add("otherReadings", { reading: reading.name, rules: own!.steps[0]!.rules });
    if (verdict === TOO_MANY_LINE_CHOICES) return verdict;
    if (!verdict.allowed) return { ...verdict, reading: reading.name };
  }
  return first;
}

/**
 * What the expressions that read headers by unknown keys decided over every choice of one line of
 * every header, by expression and query reading (no other part of a line reading changes it), and
 * those choices, found once: one authorize() call's.
 */
class AnyHeaderVerdicts {
  #choices: { readonly value: readonly ReadonlyMap<string, number>[] | undefined } | undefined;
  readonly #matches = new Map<CompiledCel, Map<QueryReading, boolean | undefined>>();

  /** Every choice of one line of every header (everyLineChoice); undefined when there are too many. */
  choices(request: NormalizedRequest): readonly ReadonlyMap<string, number>[] | undefined {
    return (this.#choices ??= { value: everyLineChoice(request) }).value;
  }

  /** Whether `cel` matched on `query` (undefined: too many choices), found with `evaluate` the first time. */
  matches(cel: CompiledCel, query: QueryReading, evaluate: () => boolean | undefined): boolean | undefined {
    let byQuery = this.#matches.get(cel);
    if (byQuery === undefined) this.#matches.set(cel, (byQuery = new Map()));
    if (!byQuery.has(query)) byQuery.set(query, evaluate());
    return byQuery.get(query);
  }
}

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

/**
 * What the rules of one reading decide on. The costly parts are computed when a rule first needs
 * them, once: a class, so a decision on rules that need none of them allocates one object.
 */
class Facts {
  readonly request: NormalizedRequest;
  readonly who: IdentityAttributes;
  readonly clientAddress: string | undefined;
  readonly #geo: CompiledAuthorization["geo"];
  readonly #now: number;
  readonly reading: RouteReading;
  readonly #anyHeader: AnyHeaderVerdicts | undefined;
  #principalVariables: Record<string, unknown> | undefined;
  #envoyAttributes: Record<string, unknown> | undefined;
  #location: { readonly value: GeoLocation | undefined } | undefined;
  #jwtPayload: Readonly<Record<string, unknown>> | undefined;
  /** Set when a rule read the client address (Verdict.readClientAddress). */
  clientAddressRead = false;

  constructor(
    config: CompiledAuthorization,
    request: NormalizedRequest,
    who: IdentityAttributes,
    clientAddress: string | undefined,
    now: number,
    reading: RouteReading,
    anyHeader: AnyHeaderVerdicts | undefined,
  ) {
    this.request = request;
    this.who = who;
    this.clientAddress = clientAddress;
    this.#geo = config.geo;
    this.#now = now;
    this.reading = reading;
    this.#anyHeader = anyHeader;
  }

  /**
   * Whether `cel`, of `rule`, matches on this reading (celMatches): over the variables of
   * `principal.cel` or Envoy's attributes (`over`). An expression that reads headers by unknown keys
   * is decided on a line reading over every choice of one line of every header, as a header match
   * is over every line (headerMismatch): a Deny rule's matches when it does on any choice, an Allow
   * rule's only when it does on each. undefined when there are more than MAX_HEADER_LINES choices.
   */
  celMatches(rule: CompiledRule, cel: CompiledCel, over: "principal" | "envoy"): boolean | undefined {
    if (cel.headersNamed !== undefined || this.reading.header === "joined") {
      const variables =
        over === "principal"
          ? (this.#principalVariables ??= this.#variablesIn(over, this.reading))
          : (this.#envoyAttributes ??= this.#variablesIn(over, this.reading));
      return celMatches(rule, cel, variables);
    }
    const anyHeader = this.#anyHeader!;
    return anyHeader.matches(cel, this.reading.query, () => {
      const choices = anyHeader.choices(this.request);
      if (choices === undefined) return undefined;
      const anyChoice = rule.action === "Deny";
      for (const header of choices) {
        const reading = { query: this.reading.query, header, name: this.reading.name };
        if (celMatches(rule, cel, this.#variablesIn(over, reading)) === anyChoice) return anyChoice;
      }
      return !anyChoice;
    });
  }

  /** The variables of `principal.cel`, or Envoy's attributes for a rule's `cel`, in `reading`. */
  #variablesIn(over: "principal" | "envoy", reading: RouteReading): Record<string, unknown> {
    return over === "principal"
      ? principalVariablesOf(this.request, this.who, this.clientAddress, reading)
      : envoyAttributesOf(this.request, this.who, this.jwtPayload(), this.#now, reading);
  }

  /** The verified JWT payload as jwt_authn's metadata holds it (jwtAuthnPayload); undefined without a token. */
  jwtPayload(): Readonly<Record<string, unknown>> | undefined {
    const jwt = this.who.jwt;
    return jwt === undefined ? undefined : (this.#jwtPayload ??= jwtAuthnPayload(jwt.claims));
  }

  /** Where the client is; undefined when nothing is known (no address, a database that failed). */
  location(): GeoLocation | undefined {
    const address = this.clientAddress;
    return (this.#location ??= { value: address === undefined ? undefined : this.#geo?.locate(address) }).value;
  }
}

function decide(
  config: CompiledAuthorization,
  request: NormalizedRequest,
  who: IdentityAttributes,
  clientAddress: string | undefined,
  now: number,
  reading: RouteReading,
  anyHeader: AnyHeaderVerdicts | undefined,
  trace: Trace | undefined,
): Verdict {
  const facts = new Facts(config, request, who, clientAddress, now, reading, anyHeader);
  for (const rule of config.rules) {
    const unmet =
      operationMismatch(rule, request) ??
      (rule.principal === undefined ? undefined : principalMismatch(rule, rule.principal, facts)) ??
      (rule.cel === undefined ? undefined : celMismatch(rule, rule.cel, facts, "envoy"));
    if (unmet === TOO_MANY) return TOO_MANY_LINE_CHOICES;
    trace?.add("rules", `${describeRule(rule)}: ${unmet === undefined ? "matches, and decides" : `${unmet}, so it does not apply`}`);
    if (unmet === undefined) return verdictOf(rule.action === "Allow", rule.name, facts);
  }
  trace?.add("rules", `no rule applies: defaultAction ${config.defaultAction}`);
  return verdictOf(config.defaultAction === "Allow", "defaultAction", facts);
}

const verdictOf = (allowed: boolean, by: string, facts: Facts): Verdict =>
  facts.clientAddressRead ? { allowed, by, readClientAddress: true } : { allowed, by };

/** Whether a principal reads the client address: `clientCIDRs`, `clientIPGeoLocations`, or `source` in its CEL expression. */
export const principalReadsClientAddress = (p: CompiledPrincipal): boolean =>
  p.clientCIDRs !== undefined || p.geoLocations !== undefined || p.cel?.readsSource === true;

/** The part of the rule's operation the request does not meet (a constant: nothing is built per request), or undefined. */
function operationMismatch(rule: CompiledRule, request: NormalizedRequest): string | undefined {
  if (rule.methods !== undefined && !rule.methods.includes(request.method)) return "the method differs";
  if (rule.path !== undefined && pathMatches(rule.path, request.path) === rule.path.invert) return "the path differs";
  return undefined;
}

/** The part of the rule's principal the request does not meet (a constant), or undefined when every part set matches. */
function principalMismatch(rule: CompiledRule, p: CompiledPrincipal, facts: Facts): string | undefined {
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

/** What principalMismatch and celMismatch return when a CEL expression cannot be decided for too many choices of header lines (Facts.celMatches). */
const TOO_MANY = "too many choices of header lines";

/** The rule's `cel` (over Envoy's attributes) or its `principal.cel` when it does not match, TOO_MANY, or undefined. */
function celMismatch(rule: CompiledRule, cel: CompiledCel, facts: Facts, over: "principal" | "envoy"): string | undefined {
  const matches = facts.celMatches(rule, cel, over);
  if (matches === undefined) return TOO_MANY;
  return matches
    ? undefined
    : over === "principal"
      ? "the principal's CEL expression is not true"
      : "the rule's CEL expression is not true";
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
