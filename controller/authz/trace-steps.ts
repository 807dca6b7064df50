/**
 * What check() writes into a Trace (check --explain, the admin page's explain form, debug logs):
 * the request, each branch (a reading, a route table), the policy and where it came from, each
 * phase's outcome and the decision. Names only: never a query value, a header value or anything
 * else that may carry a credential.
 */
import { NOTHING, type PhaseResult } from "../features/feature.ts";
import type { RouteEntry } from "../snapshot/types.ts";
import type { CheckContext } from "./context.ts";
import { reasonOf, type Decision } from "./decision.ts";
import type { AuthzRequest } from "./request.ts";
import type { Trace } from "./trace.ts";

/** A decision with the trace of how it was reached. */
export interface Explained {
  readonly decision: Decision;
  readonly trace: Trace;
}

/** `trace` ended by the decision's step: its code and reason, and the names of the headers set upstream, removed and sent back. */
export function withDecision(trace: Trace, decision: Decision): Explained {
  trace.step("decision", {
    allowed: decision.allowed,
    status: decision.status,
    code: decision.code,
    reason: reasonOf(decision),
    route: decision.route,
    policy: decision.policy,
    principal: decision.principal,
    setsUpstream: Object.keys(decision.upstreamHeaders),
    removesUpstream: decision.removeHeaders,
    responseHeaders: Object.keys(decision.responseHeaders),
  });
  return { decision, trace };
}

/** `ctx` with a trace of its own for one of several ways the request is decided (a reading, a route table). */
export function branch(ctx: CheckContext, trace: Trace, facts: Readonly<Record<string, unknown>>): CheckContext {
  return { ...ctx, trace: trace.branch(facts) };
}

/** What a trace says of the request: no query value, no header value (either may carry a credential). */
export function requestFacts(request: AuthzRequest): Record<string, unknown> {
  const q = request.path.indexOf("?");
  return {
    method: request.method,
    host: request.host,
    path: q === -1 ? request.path : request.path.slice(0, q),
    queryParameters: q === -1 ? [] : [...new Set([...new URLSearchParams(request.path.slice(q + 1)).keys()])],
    headers: Object.keys(request.headers).sort(),
    ...(request.gateway === undefined ? {} : { gateway: request.gateway }),
    ...(request.port === undefined ? {} : { port: request.port }),
    ...(request.proxyRoute === undefined ? {} : { proxyRoute: request.proxyRoute }),
  };
}

/** The policy of a rule and where it came from, or why there is none. */
export function policyFacts(entry: RouteEntry, ctx: CheckContext): Record<string, unknown> {
  const policy = entry.policy;
  if (policy === undefined)
    return { policy: null, because: `no SecurityPolicy governs ${entry.rule}: --on-no-policy ${ctx.onNoPolicy ?? "allow"}` };
  const origin = entry.origin;
  return {
    policy: policy.id,
    ...(origin === undefined
      ? {}
      : {
          level: origin.level,
          target: origin.target,
          ...(origin.overrides.length === 0 ? {} : { overrides: origin.overrides }),
          ...(origin.merged === undefined ? {} : { merged: origin.merged }),
        }),
    ...(policy.invalid === undefined ? { phases: policy.features.map((f) => f.feature.field) } : { invalid: policy.invalid }),
  };
}

/** A phase's result as its trace step ends: what it passed on (header names only), or its denial. */
export function phaseOutcome(outcome: PhaseResult): Record<string, unknown> {
  if (!outcome.ok) return { result: "deny", code: outcome.error.code, status: outcome.error.status, reason: outcome.error.message };
  if (outcome === NOTHING) return { result: "pass" };
  const pass = outcome.value;
  return {
    result: "pass",
    ...(pass.principal === undefined ? {} : { principal: pass.principal }),
    ...(Object.keys(pass.headers).length === 0 ? {} : { sets: Object.keys(pass.headers) }),
    ...(pass.strip.length === 0 ? {} : { strips: pass.strip }),
    ...(pass.responseHeaders === undefined ? {} : { responseHeaders: Object.keys(pass.responseHeaders) }),
  };
}
