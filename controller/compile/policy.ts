/** One SecurityPolicy on its own: validate the spec, resolve its targets, compile its features. */
import { keyOf } from "../api/meta.ts";
import type { SecurityPolicy } from "../api/resources.ts";
import { describeIssues, NOT_YET_ENFORCED, SecurityPolicySpecSchema, type SecurityPolicySpec } from "../api/securitypolicy.ts";
import type { CompiledPolicy } from "../snapshot/types.ts";
import { compileApiKey, type FeatureResult } from "./apikey.ts";
import { compileAuthorization } from "./authorization.ts";
import { compileBasicAuth } from "./basicauth.ts";
import { compileCors } from "./cors.ts";
import { compileOidc } from "../features/oidc/compile.ts";
import { compileJwt } from "./jwt.ts";
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
  const fail = (reason: string): AnalysedPolicy => ({
    source,
    compiled: invalid(id, reason),
    targets: resolution.targets,
    missing: resolution.missing,
    warnings: [],
  });

  if (spec.targetRef !== undefined && spec.targetRefs !== undefined) {
    return fail("spec: targetRef and targetRefs exclude each other; use targetRefs");
  }
  if (resolution.unsupported.length > 0) {
    return fail(
      `spec: targets ${resolution.unsupported.join(", ")} are not supported; Portcullis enforces policies on Gateways, HTTPRoutes and GRPCRoutes`,
    );
  }
  const pending = NOT_YET_ENFORCED.filter((f) => spec[f] !== undefined);
  if (pending.length > 0) {
    // Not enforced must not mean open: the policy is Invalid and its routes are denied.
    return fail(`spec.${pending.join(", spec.")}: not supported by Portcullis yet; requests governed by this policy are denied`);
  }
  const features = compileFeatures(spec, source.metadata, refs);
  if (!features.ok) return fail(features.error);
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

type Features = Omit<CompiledPolicy, "id" | "invalid">;

function compileFeatures(spec: SecurityPolicySpec, meta: { namespace: string; name: string }, refs: References): FeatureResult<Features> {
  const { namespace } = meta;
  const apiKey = spec.apiKeyAuth === undefined ? undefined : compileApiKey(spec.apiKeyAuth, namespace, refs);
  if (apiKey !== undefined && !apiKey.ok) return apiKey;
  const basicAuth = spec.basicAuth === undefined ? undefined : compileBasicAuth(spec.basicAuth, namespace, refs);
  if (basicAuth !== undefined && !basicAuth.ok) return basicAuth;
  const jwt = spec.jwt === undefined ? undefined : compileJwt(spec.jwt, namespace, refs);
  if (jwt !== undefined && !jwt.ok) return jwt;
  const oidc = spec.oidc === undefined ? undefined : compileOidc(spec.oidc, meta, spec.jwt, refs);
  if (oidc !== undefined && !oidc.ok) return oidc;
  const authorization =
    spec.authorization === undefined ? undefined : compileAuthorization(spec.authorization, jwt?.value.providers.map((p) => p.name) ?? []);
  if (authorization !== undefined && !authorization.ok) return authorization;
  const cors = spec.cors === undefined ? undefined : compileCors(spec.cors);
  if (cors !== undefined && !cors.ok) return cors;
  const managed = new Set<string>();
  if (apiKey?.value.forwardClientIDHeader !== undefined) managed.add(apiKey.value.forwardClientIDHeader);
  for (const client of Object.values(apiKey?.value.clients ?? {})) for (const h of Object.keys(client.headers)) managed.add(h);
  if (basicAuth?.value.forwardUsernameHeader !== undefined) managed.add(basicAuth.value.forwardUsernameHeader);
  for (const p of jwt?.value.providers ?? []) for (const c of p.claimToHeaders) managed.add(c.header);
  // Authorization is every bearer's header, never removed from other routes' requests; only the ID token's own header is.
  if (oidc?.value.forwardIDTokenHeader !== undefined && oidc.value.forwardIDTokenHeader !== "authorization")
    managed.add(oidc.value.forwardIDTokenHeader);
  return {
    ok: true,
    value: {
      apiKey: apiKey?.value,
      basicAuth: basicAuth?.value,
      jwt: jwt?.value,
      oidc: oidc?.value,
      authorization: authorization?.value,
      cors: cors?.value,
      managedHeaders: [...managed].sort(),
    },
    warnings: [...(apiKey?.warnings ?? []), ...(jwt?.warnings ?? [])],
  };
}

function invalid(id: string, reason: string): CompiledPolicy {
  return {
    id,
    invalid: reason,
    apiKey: undefined,
    basicAuth: undefined,
    jwt: undefined,
    oidc: undefined,
    authorization: undefined,
    cors: undefined,
    managedHeaders: [],
  };
}
