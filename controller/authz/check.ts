/**
 * check(): the one decision path every wire protocol calls. Phases, in order:
 *   0. header names   — a header that an upstream would fold into a managed one is refused (folded-headers.ts);
 *                       so is one a route match reads with more than MAX_HEADER_LINES lines or list elements (431;
 *                       the authorization phase refuses likewise over the headers its rules read)
 *   1. route          — match host/path/method/headers to a route rule in the route table of each
 *                       Gateway and listener port the request may have arrived on; the rule's
 *                       effective policy comes with it. Rules whose policies differ are each decided,
 *                       and the request is allowed only if every one allows (DESIGN §0). When the
 *                       proxy names the route it selected, any other match is a route_mismatch; a
 *                       regular expression over a value that is not UTF-8 is a route_unsupported
 *   2. features       — the policy's features' phases, in Envoy Gateway's filter order (features/index.ts):
 *                       cors (a preflight is answered here, before any credential is asked for), then
 *                       every configured identity method must pass (apiKeyAuth, basicAuth, jwt), then
 *                       authorization (rules over the request and the identities; first match wins)
 *   3. response       — headers to set upstream; every header a policy on a route to the same upstream
 *                       may set is stripped from the client's request, so a client can never supply
 *                       its own x-user-id (allow.ts)
 * Fail closed: no route → deny (unless configured otherwise), invalid policy → 403, never a 5xx.
 */
import { NOTHING, type ConfiguredFeature, type Pass, type PhaseResult, type Where } from "../features/feature.ts";
import { fail } from "../lib/result.ts";
import {
  ENVOY_READING,
  findRoutes,
  MAX_HEADER_LINES,
  otherRouteReadings,
  unreadableMatch,
  type RouteReading,
  type RouteReadingRoutes,
} from "../snapshot/route-index.ts";
import { explainRoutes } from "../snapshot/route-explain.ts";
import type { CompiledPolicy, RouteEntry, Snapshot } from "../snapshot/types.ts";
import { allowOne, allowPassed, ANONYMOUS, memoizedAllow } from "./allow.ts";
import type { CheckContext } from "./context.ts";
import { deny, type Decision } from "./decision.ts";
import { foldedManagedHeader } from "./folded-headers.ts";
import { tooManyHeaderLines } from "./header-values.ts";
import { CONTROL_IN_PATH, pathReadings } from "./path.ts";
import {
  mayDropSuffix,
  mayReadInOtherCase,
  TOO_MANY_CASE_READINGS,
  TOO_MANY_PATHS,
  UNSPELT_CASE_READING,
  UNSPELT_PATHS,
  withCaseReadings,
  withSuffixReadings,
} from "./path-case-readings.ts";
import { methodOverrides, methodReadings, TOO_MANY_OVERRIDES } from "./method-readings.ts";
import { normalizeRequest, type AuthzRequest, type NormalizedRequest, type ProxyRoute } from "./request.ts";
import type { MaybePromise } from "./maybe-async.ts";
import { everyReadingAllows } from "./readings.ts";
import { Trace } from "./trace.ts";
import { branch, phaseOutcome, policyFacts, requestFacts, withDecision, type Explained } from "./trace-steps.ts";

/**
 * Synchronous unless a phase must wait (a JWKS being fetched, a bcrypt comparison). A request that
 * components on the way may read differently (`pathReadings`: an encoded "/" or "\", a ";"
 * parameter; `methodReadings`: HEAD run as GET, a POST as the method an override header or `_method` names; `otherRouteReadings`: a repeated query parameter's
 * last value, the query split at ";", where a route's query match reads it; each line or list
 * element of a header a route's header match reads) is decided on each reading, and allowed only if
 * every reading allows (DESIGN §0). A path with a control character is refused (400): its readings
 * (cut at a NUL, trimmed) cannot all be known.
 */
export function check(snapshot: Snapshot, request: AuthzRequest, ctx: CheckContext): MaybePromise<Decision> {
  ctx.trace?.step("request", requestFacts(request));
  // 0. Header names
  const folded = foldedManagedHeader(request.headers, snapshot.managedHeaders);
  if (folded !== undefined) {
    // The client is told what is wrong with its header's name, not that Portcullis sets that header.
    return {
      ...deny(400, "request_invalid", `the header ${folded} is refused: servers read "_" and "." in a name as "-" (CGI, WSGI, PHP)`, {}),
      detail: "it spells a header a policy sets",
    };
  }

  // Each line of a header a route match reads (a piece of one holding ",") is a reading of its own, decided in full.
  if (request.headersOnOneLine !== true && tooManyLinesMatched(request.headers, snapshot.headersMatchedByLine))
    return tooManyHeaderLines({});

  const req = normalizeRequest(request);
  // Envoy refuses a request-target with a fragment (400); no proxy in front of it sends one on.
  if (req.target.includes("#")) return deny(400, "request_invalid", "the request target holds a fragment (#), which Envoy refuses", {});
  const rawPath = req.pathBytes;
  const plain = req.plainPath;
  if (!plain && CONTROL_IN_PATH.test(rawPath)) {
    return deny(400, "request_invalid", "the path holds a control character (%00 to %1F, %7F), which servers read in different ways", {});
  }

  const overrides = methodOverrides(req);
  if (overrides === undefined) return deny(400, "request_invalid", TOO_MANY_OVERRIDES, {});
  const methods = methodReadings(request.method, overrides);
  // A plain path is its own only reading (no array built for it on the usual request).
  const paths =
    plain && !mayReadInOtherCase(snapshot, rawPath) && !mayDropSuffix(rawPath)
      ? undefined
      : withCaseReadings(snapshot, withSuffixReadings(snapshot, plain ? [rawPath] : pathReadings(rawPath)));
  if (paths === TOO_MANY_PATHS) return deny(400, "request_invalid", TOO_MANY_CASE_READINGS, {});
  if (paths === UNSPELT_PATHS)
    return {
      ...deny(400, "request_invalid", UNSPELT_CASE_READING, {}),
      detail: "a route's RegularExpression path matches it only in another letter case, in no spelling that was tried",
    };
  if (methods.length === 1 && (paths === undefined || paths.length === 1)) return checkReading(snapshot, req, ctx);
  return checkEveryReading(snapshot, req, ctx, methods, paths ?? [rawPath]);
}

/**
 * Whether the headers of `matched` (Snapshot.headersMatchedByLine) have more choices of one line each
 * than MAX_HEADER_LINES (the product of their line counts: each choice is a route reading,
 * route-readings.ts lineReadingsOf): a loop over the request's own headers, the list looked in only for
 * one of several lines (no array of the values).
 */
function tooManyLinesMatched(headers: AuthzRequest["headers"], matched: readonly string[]): boolean {
  let choices = 1;
  for (const name in headers) {
    const v = headers[name];
    if (Array.isArray(v) && v.length > 1 && matched.includes(name) && (choices *= v.length) > MAX_HEADER_LINES) return true;
  }
  return false;
}

/**
 * A request read several ways, each reading decided (the first is `req` itself). Apart from check(),
 * whose usual request then allocates no context for these closures.
 */
function checkEveryReading(
  snapshot: Snapshot,
  req: NormalizedRequest,
  ctx: CheckContext,
  methods: readonly string[],
  paths: readonly string[],
): MaybePromise<Decision> {
  const readings = methods.flatMap((method) => paths.map((path) => ({ method, path })));
  return everyReadingAllows(
    readings.map((r, i) =>
      checkReading(
        snapshot,
        i === 0 ? req : req.withReading(r.path, r.method),
        ctx.trace === undefined ? ctx : branch(ctx, ctx.trace, { method: r.method, path: r.path }),
      ),
    ),
    `the request also reads as ${readings
      .slice(1)
      .map((r) => `${r.method} ${r.path}`)
      .join(", ")}`,
  );
}

/** Phases 1 on, for one reading of the request (its path and method). */
function checkReading(snapshot: Snapshot, req: NormalizedRequest, ctx: CheckContext): MaybePromise<Decision> {
  const request = req.source;
  // 1. Route: the rule each route table the request may have been routed by picks.
  // The request names its own scope (gateway, port, route): no object of its own per request.
  const entries = findRoutes(snapshot.routes, req, request);
  ctx.trace?.step("route", { tables: explainRoutes(snapshot.routes, req, request) });
  if (entries === undefined) return deny(403, "gateway_not_found", `Gateway ${request.gateway} is not served by Portcullis`, {});
  const others = otherRouteReadings(snapshot.routes, req, request, entries);
  if (others === undefined) return decideOnRoute(snapshot, entries, ENVOY_READING, req, ctx);
  ctx.trace?.note({ reading: ENVOY_ROUTE_READING });
  return checkEveryRouteReading(snapshot, entries, others, req, ctx);
}

/** The route step's reading when others follow in branches: Envoy's, as its route match reads the request. */
const ENVOY_ROUTE_READING = "Envoy's (a repeated header's lines joined with \",\", the first value of a query name split at &, as sent)";

/**
 * A request that other readings route to other rules than Envoy's (a repeated query name, a ";", a
 * repeated header): the upstream may act on any of them, so each reading's rules decide, and the
 * request is allowed only if every reading allows (DESIGN §0).
 */
function checkEveryRouteReading(
  snapshot: Snapshot,
  entries: readonly RouteEntry[],
  others: readonly RouteReadingRoutes[],
  req: NormalizedRequest,
  ctx: CheckContext,
): MaybePromise<Decision> {
  return everyReadingAllows(
    [
      decideOnRoute(snapshot, entries, ENVOY_READING, req, ctx),
      ...others.map((o) =>
        decideOnRoute(snapshot, o.entries, o.reading, req, ctx.trace === undefined ? ctx : routeBranch(snapshot, o, req, ctx, ctx.trace)),
      ),
    ],
    `the request also reads as ${others
      .map((o) => `${o.reading.name}, which takes ${o.entries.map((e) => e.rule).join(", ")}`)
      .join("; ")}`,
  );
}

/** `ctx` with a trace of its own for another route reading, which starts with the route tables as that reading reads them. */
function routeBranch(snapshot: Snapshot, other: RouteReadingRoutes, req: NormalizedRequest, ctx: CheckContext, trace: Trace): CheckContext {
  const own = branch(ctx, trace, { reading: other.reading.name });
  own.trace!.step("route", { tables: explainRoutes(snapshot.routes, req, req.source, other.reading) });
  return own;
}

/**
 * Phases 1 on from the entries one reading of the request picks. Where the proxy names the route it
 * took, that settles Envoy's reading only: the rules another reading picks are each decided.
 */
function decideOnRoute(
  snapshot: Snapshot,
  found: readonly RouteEntry[],
  reading: RouteReading,
  req: NormalizedRequest,
  ctx: CheckContext,
): MaybePromise<Decision> {
  let entries = found;
  // The route the proxy names is the one it took for its own reading; an upstream's reading of the
  // path or method (withReading) is decided on the rules it matches, whichever they are.
  const proxyRoute = reading === ENVOY_READING && req.asRouted ? req.source.proxyRoute : undefined;
  if (proxyRoute !== undefined) {
    // The route the proxy took settles which of the tables (listener, SNI) it routed by.
    const taken = takenBy(proxyRoute, entries);
    if (taken.length === 0) return routeMismatch(proxyRoute, entries);
    entries = taken;
  } else {
    // Index loops here and below: an iterator's result objects are allocated on every request otherwise.
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const unread = unreadableMatch(e.match, req, reading);
      if (unread !== undefined) {
        return deny(
          403,
          "route_unsupported",
          `${e.rule} may or may not match: it compares the ${unread}, which may hold bytes that are not UTF-8, as Envoy compares bytes`,
          {
            route: e.rule,
          },
        );
      }
    }
  }
  // One table picked one rule (the usual case): decided without building the readings below.
  if (entries.length === 1 && entries[0]!.unread !== true) return decideOn(entries[0]!, req, ctx);
  return decideOnEntries(snapshot, entries, req, ctx);
}

/** Entries of the route the proxy says it selected. */
function takenBy(taken: ProxyRoute, entries: readonly RouteEntry[]): RouteEntry[] {
  return entries.filter((e) => isTaken(taken, e));
}

/** Phases 2 on for a reading that several route tables (or none) picked a rule for. */
function decideOnEntries(
  snapshot: Snapshot,
  found: readonly RouteEntry[],
  req: NormalizedRequest,
  ctx: CheckContext,
): MaybePromise<Decision> {
  // Routes of namespaces not read are a further reading of a request a route read here matches, never the only one.
  const entries = found.every((e) => e.unread === true) ? [] : found;
  if (entries.length === 0) {
    if (ctx.onNoRoute === "allow") return memoizedAllow(ctx.memo, ANONYMOUS, undefined, snapshot.managedHeaders, undefined);
    return deny(403, "route_not_found", `no route rule matches ${req.method} ${req.host}${req.path}`, {});
  }
  // Rules under one policy that remove the same headers decide alike; others are each a reading (DESIGN §0).
  const readings = entries.filter(
    (e, i) => entries.findIndex((o) => o.policy === e.policy && sameList(o.managedHeaders, e.managedHeaders)) === i,
  );
  if (readings.length === 1) return decideOn(readings[0]!, req, ctx);
  const where = readings.map((e) => `${e.rule} on ${e.gateway} port ${e.port} listener ${e.listener}`).join("; ");
  return everyReadingAllows(
    readings.map((e) =>
      decideOn(e, req, ctx.trace === undefined ? ctx : branch(ctx, ctx.trace, { rule: e.rule, gateway: e.gateway, port: e.port })),
    ),
    `the Gateway, port or HTTPS listener (SNI) the request arrived on is not known, and these rules decide differently: ${where}`,
  );
}

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a === b || (a.length === b.length && a.every((h, i) => h === b[i]));

/** Whether `entry` is the rule of the route the proxy selected. */
function isTaken(taken: ProxyRoute, entry: RouteEntry): boolean {
  const id = `${taken.namespace}/${taken.name}`;
  // A rule's label ends with "<namespace>/<name> rule <rule name>" (GRPCRoute ones have a prefix).
  return (
    entry.kind === taken.kind &&
    entry.route === id &&
    (taken.sectionName === undefined || entry.rule.endsWith(`${id} rule ${taken.sectionName}`))
  );
}

/**
 * The denial when no route table here picks the rule the proxy selected: the proxy and Portcullis
 * disagree on the request (their routes or route order differ), so neither policy can be trusted
 * to be the one that governs it.
 */
function routeMismatch(taken: ProxyRoute, entries: readonly RouteEntry[]): Decision {
  const other = entries[0];
  const named = `${taken.kind} ${taken.namespace}/${taken.name}${taken.sectionName === undefined ? "" : ` rule ${taken.sectionName}`}`;
  return deny(403, "route_mismatch", `the proxy selected ${named}, Portcullis matches ${other?.rule ?? "no route"}`, {
    route: other?.rule,
  });
}

/** Phases 2 on, for the rule one reading of the request takes. */
function decideOn(entry: RouteEntry, req: NormalizedRequest, ctx: CheckContext): MaybePromise<Decision> {
  const policy = entry.policy;
  ctx.trace?.step("policy", policyFacts(entry, ctx));
  if (policy === undefined || policy.routeFilterOnly === true) {
    if (ctx.onNoPolicy === "deny") return deny(403, "policy_missing", `no SecurityPolicy governs ${entry.rule}`, { route: entry.rule });
    if (policy === undefined) return memoizedAllow(ctx.memo, ANONYMOUS, entry, entry.managedHeaders, undefined);
  }
  const where = whereOf(entry, policy);
  if (policy.invalid !== undefined) return deny(403, "policy_invalid", `SecurityPolicy ${policy.id} is invalid: ${policy.invalid}`, where);

  // 2. The features' phases
  return runPhases(entry, policy, req, where, ctx, NO_PASSES, 0);
}

/** The rule and its policy, as decisions name them: built once per entry (a snapshot is immutable), not on every request. */
function whereOf(entry: RouteEntry, policy: CompiledPolicy): Where {
  let where = whereByEntry.get(entry);
  if (where === undefined) {
    const { clientAddressUnknown } = entry;
    where = Object.freeze(
      clientAddressUnknown === undefined
        ? { route: entry.rule, policy: policy.id }
        : { route: entry.rule, policy: policy.id, clientAddressUnknown },
    );
    whereByEntry.set(entry, where);
  }
  return where;
}
const whereByEntry = new WeakMap<RouteEntry, Where>();

/** Phases from `from` on: a plain loop while they answer at once, resumed when one must be waited for. */
function runPhases(
  entry: RouteEntry,
  policy: CompiledPolicy,
  req: NormalizedRequest,
  where: Where,
  ctx: CheckContext,
  passed: readonly Pass[],
  from: number,
): MaybePromise<Decision> {
  const features = policy.features;
  for (let i = from; i < features.length; i++) {
    const { feature, compiled } = features[i]!;
    ctx.trace?.step(feature.field, { order: feature.order });
    const outcome =
      feature.readsIdentityHeaders === true
        ? checkWithoutClientCopies(features[i]!, entry, req, where, passed, ctx)
        : feature.check(compiled, req, where, passed, ctx);
    if (outcome instanceof Promise) return resumeAfter(outcome, entry, policy, req, where, ctx, passed, i);
    ctx.trace?.note(phaseOutcome(outcome));
    if (!outcome.ok) return outcome.error;
    if (outcome === NOTHING) continue;
    // The last phase's identity, the only one: allowed without building a list of one.
    if (i + 1 === features.length && passed.length === 0) return allowOne(entry, policy, where, outcome.value, ctx.memo);
    passed = withPass(passed, outcome.value);
    // The phases after it see the request as this one left it (Envoy's filter chain).
    if (i + 1 < features.length) req = req.afterPhase(outcome.value.headers, outcome.value.strip);
  }
  return allowPassed(entry, policy, where, passed, ctx.memo);
}

/**
 * The phases after phase `i`, once its outcome is known. Apart from runPhases, whose synchronous
 * loop then allocates no context for this closure on every request.
 */
function resumeAfter(
  outcome: Promise<PhaseResult>,
  entry: RouteEntry,
  policy: CompiledPolicy,
  req: NormalizedRequest,
  where: Where,
  ctx: CheckContext,
  passed: readonly Pass[],
  i: number,
): Promise<Decision> {
  return outcome.then((o) => {
    ctx.trace?.note(phaseOutcome(o));
    if (!o.ok) return o.error;
    if (o === NOTHING) return runPhases(entry, policy, req, where, ctx, passed, i + 1);
    return runPhases(entry, policy, req.afterPhase(o.value.headers, o.value.strip), where, ctx, withPass(passed, o.value), i + 1);
  });
}

/** What no phase passed on yet. */
const NO_PASSES: readonly Pass[] = Object.freeze([]);

/** `passed` and then `pass`, as a new array of that exact length (an empty array grown by push reserves 17 slots). */
const withPass = (passed: readonly Pass[], pass: Pass): readonly Pass[] => (passed.length === 0 ? [pass] : [...passed, pass]);

/**
 * The phase of a feature that reads identity headers, decided on the request as the phases left it
 * and, when the client sent its own copy of a header a policy around the route sets and no phase
 * set (the allow removes it: the upstream never receives it), again without those copies. Passes
 * only if both pass, with the first's pass (DESIGN §0: the client's copy is Envoy's reading, its
 * absence the upstream's). A trace notes the second pass's own account under the phase's step
 * (`withoutClientCopies`), apart from the first's.
 */
function checkWithoutClientCopies(
  { feature, compiled }: ConfiguredFeature,
  entry: RouteEntry,
  req: NormalizedRequest,
  where: Where,
  passed: readonly Pass[],
  ctx: CheckContext,
): MaybePromise<PhaseResult> {
  const asLeft = feature.check(compiled, req, where, passed, ctx);
  const copies = entry.managedHeaders.filter(
    (h) => Object.hasOwn(req.arrived.headers, h) && !passed.some((p) => Object.hasOwn(p.headers, h)),
  );
  if (copies.length === 0) return asLeft;
  const alsoWithout = (first: PhaseResult): MaybePromise<PhaseResult> => {
    if (!first.ok) return first;
    const own = ctx.trace === undefined ? undefined : new Trace();
    own?.step(feature.field);
    const second = feature.check(compiled, req.afterPhase({}, copies), where, passed, own === undefined ? ctx : { ...ctx, trace: own });
    const both = (s: PhaseResult): PhaseResult => {
      if (own !== undefined) {
        const { phase: _, ...account } = own.steps[0]!;
        ctx.trace!.note({ withoutClientCopies: { headers: copies, ...account, ...phaseOutcome(s) } });
      }
      return s.ok
        ? first
        : fail({
            ...s.error,
            message: `${s.error.message} (read without the client's own ${copies.join(", ")}, which the upstream never receives)`,
          });
    };
    return second instanceof Promise ? second.then(both) : both(second);
  };
  return asLeft instanceof Promise ? asLeft.then(alsoWithout) : alsoWithout(asLeft);
}

/**
 * The decision with its trace: every step check() and the features' phases took, then the
 * decision (its code and reason, and the names of the headers set upstream, removed and sent back).
 */
export function checkExplained(snapshot: Snapshot, request: AuthzRequest, ctx: CheckContext): MaybePromise<Explained> {
  const trace = new Trace();
  const concluded = (decision: Decision) => withDecision(trace, decision);
  const decision = check(snapshot, request, { ...ctx, trace });
  return decision instanceof Promise ? decision.then(concluded) : concluded(decision);
}
