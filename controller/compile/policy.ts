/** One SecurityPolicy on its own: validate the spec, resolve its targets, compile its features. */
import { keyOf } from "../api/meta.ts";
import type { Gateway, Resources, SecurityPolicy } from "../api/resources.ts";
import { describeIssues, NOT_YET_ENFORCED, SecurityPolicySpecSchema, type SecurityPolicySpec } from "../api/securitypolicy.ts";
import type { CompiledPolicy } from "../snapshot/types.ts";
import { compileApiKey } from "./apikey.ts";
import { compileJwt } from "./jwt.ts";
import type { References } from "./references.ts";
import { lenientTargetRefs, resolveTargets, type MissingTarget, type Target } from "./targets.ts";

export interface AnalysedPolicy {
  readonly source: SecurityPolicy;
  readonly compiled: CompiledPolicy;
  readonly targets: readonly Target[];
  readonly missing: readonly MissingTarget[];
}

export function analysePolicy(
  source: SecurityPolicy,
  resources: Resources,
  servedGateways: ReadonlyMap<string, Gateway>,
  refs: References,
): AnalysedPolicy {
  const id = keyOf(source.metadata);
  const parsed = SecurityPolicySpecSchema.safeParse(source.spec ?? {});
  if (!parsed.success) {
    const resolution = resolveTargets(source, { targetRefs: lenientTargetRefs(source.spec) }, resources, servedGateways);
    return { source, compiled: invalid(id, describeIssues(parsed.error, "spec")), targets: resolution.targets, missing: resolution.missing };
  }
  const spec = parsed.data;
  const resolution = resolveTargets(source, spec, resources, servedGateways);
  const fail = (reason: string): AnalysedPolicy => ({ source, compiled: invalid(id, reason), targets: resolution.targets, missing: resolution.missing });

  if (spec.targetRef === undefined && (spec.targetRefs ?? []).length === 0 && (spec.targetSelectors ?? []).length === 0) {
    return fail("spec: one of targetRef, targetRefs or targetSelectors is required");
  }
  if (spec.targetRef !== undefined && spec.targetRefs !== undefined) {
    return fail("spec: targetRef and targetRefs exclude each other; use targetRefs");
  }
  if (resolution.unsupported.length > 0) {
    return fail(`spec: targets ${resolution.unsupported.join(", ")} are not supported; Portcullis enforces policies on Gateways and HTTPRoutes`);
  }
  const pending = NOT_YET_ENFORCED.filter((f) => spec[f] !== undefined);
  if (pending.length > 0) {
    // Not enforced must not mean open: the policy is Invalid and its routes are denied.
    return fail(`spec.${pending.join(", spec.")}: not supported by Portcullis yet; requests governed by this policy are denied`);
  }
  const features = compileFeatures(spec, source.metadata.namespace, refs);
  if (!features.ok) return fail(features.error);
  return { source, compiled: { id, invalid: undefined, ...features.value }, targets: resolution.targets, missing: resolution.missing };
}

type Features = Pick<CompiledPolicy, "apiKey" | "jwt" | "managedHeaders">;

function compileFeatures(spec: SecurityPolicySpec, namespace: string, refs: References): { ok: true; value: Features } | { ok: false; error: string } {
  const apiKey = spec.apiKeyAuth === undefined ? undefined : compileApiKey(spec.apiKeyAuth, namespace, refs);
  if (apiKey !== undefined && !apiKey.ok) return apiKey;
  const jwt = spec.jwt === undefined ? undefined : compileJwt(spec.jwt, namespace, refs);
  if (jwt !== undefined && !jwt.ok) return jwt;
  const managed = new Set<string>();
  if (apiKey?.value.forwardClientIDHeader !== undefined) managed.add(apiKey.value.forwardClientIDHeader);
  for (const p of jwt?.value.providers ?? []) for (const c of p.claimToHeaders) managed.add(c.header);
  return { ok: true, value: { apiKey: apiKey?.value, jwt: jwt?.value, managedHeaders: [...managed].sort() } };
}

function invalid(id: string, reason: string): CompiledPolicy {
  return { id, invalid: reason, apiKey: undefined, jwt: undefined, managedHeaders: [] };
}
