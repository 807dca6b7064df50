/**
 * check(): the one decision path every wire protocol calls. Phases, in order:
 *   0. header names   — a header that an upstream would fold into a managed one, or into one a route match, an
 *                       authorization rule or a credential source reads, is refused (folded-headers.ts);
 *                       so is one a route match reads with more than MAX_HEADER_LINES lines or list elements (431;
 *                       the authorization phase refuses likewise over the headers its rules read)
 *   1. route          — match host/path/method/headers to a route rule in the route table of each
 *                       Gateway and listener port the request may have arrived on; the rule's
 *                       effective policy comes with it. Rules whose policies differ are each decided,
 *                       and the request is allowed only if every one allows (DESIGN §0). When the
 *                       proxy names the route it selected, any other match is a route_mismatch; a
 *                       regular expression over a value that is not UTF-8 is a route_unsupported
 *                       (route-phase.ts; the route the proxy names: proxy-route.ts)
 *   2. features       — the policy's features' phases, in Envoy Gateway's filter order (features/index.ts,
 *                       run by feature-phases.ts):
 *                       cors (a preflight is answered here, before any credential is asked for), then
 *                       every configured identity method must pass (apiKeyAuth, basicAuth, jwt), then
 *                       authorization (rules over the request and the identities; first match wins)
 *   3. response       — headers to set upstream; every header a policy on a route to the same upstream
 *                       may set is stripped from the client's request, so a client can never supply
 *                       its own x-user-id (allow.ts)
 * Fail closed: no route → deny (unless configured otherwise), invalid policy → 403, never a 5xx.
 */
import { MAX_HEADER_LINES } from "../snapshot/route-index.ts";
import type { Snapshot } from "../snapshot/types.ts";
import type { CheckContext } from "./context.ts";
import { deny, type Decision } from "./decision.ts";
import { anyFoldableName, foldedDecidedHeader, foldedManagedHeader } from "./folded-headers.ts";
import { tooManyHeaderLines } from "./header-values.ts";
import { CONTROL_IN_PATH, pathReadings } from "./path.ts";
import { type CaseValues, casePathsFor, mayReadInOtherCase } from "./case-path-values.ts";
import {
  mayDropSuffix,
  TOO_MANY_CASE_READINGS,
  TOO_MANY_PATHS,
  UNSPELT_CASE_READING,
  UNSPELT_PATHS,
  withCaseReadings,
  withSuffixReadings,
} from "./path-case-readings.ts";
import { methodOverrides, methodReadings, TOO_MANY_OVERRIDES } from "./method-readings.ts";
import { normalizeRequest, type AuthzRequest, type NormalizedRequest } from "./request.ts";
import type { MaybePromise } from "./maybe-async.ts";
import { everyReadingAllows } from "./readings.ts";
import { checkReading } from "./route-phase.ts";
import { Trace } from "./trace.ts";
import { branch, requestFacts, withDecision, type Explained } from "./trace-steps.ts";

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
  const namesFoldable = anyFoldableName(request.headers);
  const folded = foldedManagedHeader(request.headers, snapshot.managedHeaders, namesFoldable);
  const foldedRead = folded === undefined ? foldedDecidedHeader(request.headers, snapshot, namesFoldable) : undefined;
  if (folded !== undefined || foldedRead !== undefined) {
    // The client is told what is wrong with its header's name, not that Portcullis sets or reads that header.
    return {
      ...deny(
        400,
        "request_invalid",
        `the header ${folded ?? foldedRead} is refused: servers read "_" and "." in a name as "-" (CGI, WSGI, PHP)`,
        {},
      ),
      detail:
        folded !== undefined
          ? "it spells a header a policy sets"
          : "it spells a header the decision reads (a route match's, a rule's, a credential's, a method override) or one naming another URL",
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
  if (
    !plain &&
    snapshot.slashesKeptOn !== undefined &&
    keepsSlashesFor(snapshot.slashesKeptOn, request.gateway) &&
    ADJACENT_SLASHES.test(rawPath)
  ) {
    return deny(
      400,
      "request_invalid",
      "the path holds adjacent slashes, which Envoy does not merge on this Gateway (a ClientTrafficPolicy sets path.disableMergeSlashes) and Portcullis decides merged",
      {},
    );
  }

  const overrides = methodOverrides(req);
  if (overrides === undefined) return deny(400, "request_invalid", TOO_MANY_OVERRIDES, {});
  const methods = methodReadings(request.method, overrides);
  // A plain path is its own only reading (no array built for it on the usual request). The path values
  // read are those of the virtual hosts the request selects and their policies (casePathsFor).
  const paths =
    plain && !mayReadInOtherCase(snapshot, req, request, rawPath) && !mayDropSuffix(rawPath)
      ? undefined
      : pathsReadAs(casePathsFor(snapshot, req, request), plain ? [rawPath] : pathReadings(rawPath));
  if (paths === TOO_MANY_PATHS) return deny(400, "request_invalid", TOO_MANY_CASE_READINGS, {});
  if (paths === UNSPELT_PATHS)
    return {
      ...deny(400, "request_invalid", UNSPELT_CASE_READING, {}),
      detail: "a route's RegularExpression path matches it only in another letter case, in no spelling that was tried",
    };
  if (methods.length === 1 && (paths === undefined || paths.length === 1)) return checkReading(snapshot, req, ctx);
  return checkEveryReading(snapshot, req, ctx, methods, paths ?? [rawPath]);
}

/** `paths` and every path an upstream's router may run one of them as (a suffix dropped, another letter case). */
const pathsReadAs = (values: CaseValues, paths: readonly string[]): readonly string[] =>
  withCaseReadings(values, withSuffixReadings(values, paths));

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

/**
 * Two slashes in a row in a path, reading `%2F`, `%5C` and `\\` as one too (Envoy's escaped-slash
 * actions and normalisation may make them slashes): where Envoy keeps them unmerged, it routes
 * another path than the merged one Portcullis decides on.
 */
const ADJACENT_SLASHES = /(?:\/|%2f|%5c|\\)(?:\/|%2f|%5c|\\)/i;

/** Whether Envoy may keep slashes unmerged for a request of `gateway` (none named: any served Gateway may be its). */
const keepsSlashesFor = (gateways: readonly string[], gateway: string | undefined): boolean =>
  gateway === undefined ? gateways.length > 0 : gateways.includes(gateway);
