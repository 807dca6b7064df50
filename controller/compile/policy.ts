/** One SecurityPolicy on its own: validate the spec, resolve its targets, compile its features. */
import { keyOf } from "../api/meta.ts";
import type { SecurityPolicy } from "../api/resources.ts";
import { describeIssues, NOT_YET_ENFORCED, type SecurityPolicySpec } from "../api/securitypolicy.ts";
import { compiledOf, type CompileContext, type ConfiguredFeature } from "../features/feature.ts";
import { FEATURES, SecurityPolicySpecSchema } from "../features/index.ts";
import { fail, ok, type Result } from "../lib/result.ts";
import type { CompiledPolicy } from "../snapshot/types.ts";
import type { References } from "./references.ts";
import { everyTargetIn, lenientTargets, resolveTargets, type MissingTarget, type Target, type TargetIndex } from "./targets.ts";

export interface AnalysedPolicy {
  readonly source: SecurityPolicy;
  readonly compiled: CompiledPolicy;
  readonly targets: readonly Target[];
  readonly missing: readonly MissingTarget[];
  /** What the policy holds that can never work though it is enforced (a key no request can carry); reported as a Warning condition. */
  readonly warnings: readonly string[];
}

export function analysePolicy(source: SecurityPolicy, targets: TargetIndex, refs: References): AnalysedPolicy {
  const id = keyOf(source.metadata);
  const parsed = SecurityPolicySpecSchema.safeParse(source.spec ?? {});
  if (!parsed.success) {
    // An invalid policy still governs its targets (denying), or it would leave them open.
    const lenient = lenientTargets(source.spec);
    if (lenient === undefined) return unreadableTargets(source, describeIssues(parsed.error, "spec"), targets);
    const resolution = resolveTargets(source.metadata.namespace, lenient, targets);
    return {
      source,
      compiled: invalid(id, describeIssues(parsed.error, "spec")),
      targets: resolution.targets,
      missing: resolution.missing,
      warnings: [],
    };
  }
  const spec = parsed.data;
  if (spec.targetRef === undefined && (spec.targetRefs ?? []).length === 0 && (spec.targetSelectors ?? []).length === 0) {
    return unreadableTargets(source, "spec: one of targetRef, targetRefs or targetSelectors is required", targets);
  }
  const resolution = resolveTargets(source.metadata.namespace, spec, targets);
  const invalidFor = (reason: string): AnalysedPolicy => ({
    source,
    compiled: invalid(id, reason),
    targets: resolution.targets,
    missing: resolution.missing,
    warnings: [],
  });

  if (spec.targetRef !== undefined && spec.targetRefs !== undefined) {
    return invalidFor("spec: targetRef and targetRefs exclude each other; use targetRefs");
  }
  if (resolution.unsupported.length > 0) {
    return invalidFor(
      `spec: targets ${resolution.unsupported.join(", ")} are not supported; Portcullis enforces policies on Gateways, HTTPRoutes and GRPCRoutes`,
    );
  }
  const pending = NOT_YET_ENFORCED.filter((f) => spec[f] !== undefined);
  if (pending.length > 0) {
    // Not enforced must not mean open: the policy is Invalid and its routes are denied.
    return invalidFor(`spec.${pending.join(", spec.")}: not supported by Portcullis yet; requests governed by this policy are denied`);
  }
  const features = compileFeatures(spec, source.metadata.namespace, refs);
  if (!features.ok) return invalidFor(features.error);
  return {
    source,
    compiled: { id, invalid: undefined, ...features.value },
    targets: resolution.targets,
    missing: resolution.missing,
    warnings: features.warnings ?? [],
  };
}

/**
 * A policy whose targets cannot be read at all could have named any Gateway or HTTPRoute of its
 * namespace: it is applied, as invalid, to all of them, so that what it may have protected is
 * denied rather than left open (a more specific or older policy there still takes precedence).
 */
function unreadableTargets(source: SecurityPolicy, reason: string, targets: TargetIndex): AnalysedPolicy {
  const { namespace } = source.metadata;
  const resolution = everyTargetIn(namespace, targets);
  const why = `${reason}; which objects it targets cannot be read, so it is applied (denying) to every Gateway and HTTPRoute of namespace ${namespace}`;
  return { source, compiled: invalid(keyOf(source.metadata), why), targets: resolution.targets, missing: [], warnings: [] };
}

/**
 * Each feature the spec configures, compiled in the list's order. The first feature with problems
 * makes the policy invalid; the headers every feature may set upstream are the policy's managed ones.
 */
function compileFeatures(
  spec: SecurityPolicySpec,
  namespace: string,
  refs: References,
): Result<Pick<CompiledPolicy, "features" | "managedHeaders">, string> {
  const features: ConfiguredFeature[] = [];
  const warnings: string[] = [];
  const context: CompileContext = { namespace, refs, compiled: (feature) => compiledOf(features, feature) };
  for (const feature of FEATURES) {
    const fieldSpec = spec[feature.field];
    if (fieldSpec === undefined) continue;
    const result = feature.compile(fieldSpec, context);
    if (!result.ok) return fail(result.error.join("; "));
    features.push({ feature, compiled: result.value });
    warnings.push(...(result.warnings ?? []));
  }
  const managed = new Set(features.flatMap((f) => f.feature.upstreamHeaders(f.compiled)));
  return ok({ features, managedHeaders: [...managed].sort() }, warnings);
}

function invalid(id: string, reason: string): CompiledPolicy {
  return { id, invalid: reason, features: [], managedHeaders: [] };
}
