/**
 * Phase 1 of check(), for one reading of the request (its path and method): the rule each route table
 * the request may have been routed by picks, under each route reading (Envoy's and an upstream's:
 * snapshot/route-readings.ts), and the request allowed only if every reading's rules allow (DESIGN §0).
 * Apart from check.ts, which refuses what cannot be read and builds the request's readings, and from
 * feature-phases.ts, which decides on the rule a reading takes.
 */
import {
  ENVOY_READING,
  findRoutes,
  otherRouteReadings,
  unreadableMatch,
  type RouteReading,
  type RouteReadingRoutes,
} from "../snapshot/route-index.ts";
import { explainRoutes } from "../snapshot/route-explain.ts";
import type { RouteEntry, Snapshot } from "../snapshot/types.ts";
import { ANONYMOUS, memoizedAllow } from "./allow.ts";
import type { CheckContext } from "./context.ts";
import { deny, type Decision } from "./decision.ts";
import { decideOn } from "./feature-phases.ts";
import type { MaybePromise } from "./maybe-async.ts";
import { routeMismatch, takenBy } from "./proxy-route.ts";
import { unlessRoutedElsewhere } from "./recomputed-route.ts";
import { everyReadingAllows } from "./readings.ts";
import type { NormalizedRequest } from "./request.ts";
import type { Trace } from "./trace.ts";
import { branch } from "./trace-steps.ts";

/** Phases 1 on, for one reading of the request (its path and method). */
export function checkReading(snapshot: Snapshot, req: NormalizedRequest, ctx: CheckContext): MaybePromise<Decision> {
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
  const decided =
    entries.length === 1 && entries[0]!.unread !== true ? decideOn(entries[0]!, req, ctx) : decideOnEntries(snapshot, entries, req, ctx);
  // Routing again is compared with this reading's routing (`found`), before the proxy's route narrowed it.
  return decided instanceof Promise
    ? onceDecided(decided, snapshot, found, reading, req)
    : unlessRoutedElsewhere(decided, snapshot, found, reading, req);
}

/**
 * unlessRoutedElsewhere once a decision that had to wait is made. A function of its own: decideOnRoute
 * holding the closure would allocate its context on every call, the usual synchronous one too.
 */
function onceDecided(
  decided: Promise<Decision>,
  snapshot: Snapshot,
  found: readonly RouteEntry[],
  reading: RouteReading,
  req: NormalizedRequest,
): Promise<Decision> {
  return decided.then((d) => unlessRoutedElsewhere(d, snapshot, found, reading, req));
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
