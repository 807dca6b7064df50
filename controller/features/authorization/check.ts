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
 * The readings are found in line-readings.ts; what CEL expressions evaluate over, in cel-context.ts;
 * what a reading's rules decide on, in rule-facts.ts; whether a principal matches, in principal-match.ts.
 */
import type { CheckContext } from "../../authz/context.ts";
import { deny } from "../../authz/decision.ts";
import { tooManyHeaderLines } from "../../authz/header-values.ts";
import type { NormalizedRequest } from "../../authz/request.ts";
import { fail } from "../../lib/result.ts";
import { ENVOY_READING, type RouteReading } from "../../snapshot/route-index.ts";
import { pathMatches } from "../../snapshot/route-match.ts";
import { NOTHING, type IdentityAttributes, type Pass, type PhaseResult, type Where } from "../feature.ts";
import type { CompiledAuthorization, CompiledRule } from "./compile.ts";
import { describeRule } from "./describe.ts";
import { lineReadingsOf, otherReadings } from "./line-readings.ts";
import { principalMismatch } from "./principal-match.ts";
import { AnyHeaderVerdicts, celMismatch, Facts, TOO_MANY } from "./rule-facts.ts";
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

/** The part of the rule's operation the request does not meet (a constant: nothing is built per request), or undefined. */
function operationMismatch(rule: CompiledRule, request: NormalizedRequest): string | undefined {
  if (rule.methods !== undefined && !rule.methods.includes(request.method)) return "the method differs";
  if (rule.path !== undefined && pathMatches(rule.path, request.path) === rule.path.invert) return "the path differs";
  return undefined;
}
