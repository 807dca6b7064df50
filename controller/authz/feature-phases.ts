/**
 * Phases 2 on of check(), for the rule one reading of the request takes: the policy's features'
 * phases in Envoy Gateway's filter order, synchronous until one must be waited for, then the allow
 * (allow.ts). Apart from route-phase.ts, which finds the rules, because this is all that runs once
 * a rule is known.
 */
import { NOTHING, type ConfiguredFeature, type Pass, type PhaseResult, type Where } from "../features/feature.ts";
import { fail } from "../lib/result.ts";
import type { CompiledPolicy, RouteEntry } from "../snapshot/types.ts";
import { allowOne, allowPassed, ANONYMOUS, memoizedAllow } from "./allow.ts";
import type { CheckContext } from "./context.ts";
import { deny, type Decision } from "./decision.ts";
import type { MaybePromise } from "./maybe-async.ts";
import type { NormalizedRequest } from "./request.ts";
import { Trace } from "./trace.ts";
import { phaseOutcome, policyFacts } from "./trace-steps.ts";

/** Phases 2 on, for the rule one reading of the request takes. */
export function decideOn(entry: RouteEntry, req: NormalizedRequest, ctx: CheckContext): MaybePromise<Decision> {
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
