/**
 * Compiles `authorization`: rules in order, first match wins, `defaultAction` Deny unless set.
 * Everything that can be checked is checked here (CIDRs, provider names, regular expressions,
 * CEL syntax and worst-case cost), so that request time only evaluates.
 */
import type { AuthorizationSpec, PrincipalSpec } from "../../api/securitypolicy.ts";
import type { CompiledAuthorization, CompiledPrincipal, CompiledRule } from "../../snapshot/types.ts";
import type { FeatureResult } from "../apiKeyAuth/compile.ts";
import { compileCel } from "./cel.ts";
import { cidrSet, type CidrSet } from "../../lib/cidr.ts";
import { fullMatchRegex } from "../../lib/regex.ts";

export function compileAuthorization(spec: AuthorizationSpec, jwtProviders: readonly string[]): FeatureResult<CompiledAuthorization> {
  const rules: CompiledRule[] = [];
  for (const [i, rule] of (spec.rules ?? []).entries()) {
    const name = rule.name ?? `rule ${i}`;
    const field = `authorization.rules[${i}]`;
    const principal = compilePrincipal(rule.principal, `${field}.principal`, jwtProviders);
    if (!principal.ok) return principal;
    let path: CompiledRule["path"];
    const p = rule.operation?.path;
    if (p !== undefined) {
      if (p.type === "RegularExpression") {
        const regex = fullMatchRegex(p.value);
        if (!(regex instanceof RegExp)) return { ok: false, error: `${field}.operation.path: regular expression ${regex.error}` };
        path = { type: p.type, value: p.value, regex, invert: p.invert };
      } else {
        if (!p.value.startsWith("/"))
          return { ok: false, error: `${field}.operation.path: ${JSON.stringify(p.value)} does not start with /` };
        path = { type: p.type, value: p.type === "PathPrefix" ? p.value.replace(/\/+$/, "") : p.value, invert: p.invert };
      }
    }
    rules.push({
      name,
      action: rule.action,
      methods: rule.operation?.methods?.map((m) => m.toUpperCase()),
      path,
      principal: principal.value,
    });
  }
  return { ok: true, value: { defaultAction: spec.defaultAction ?? "Deny", rules } };
}

function compilePrincipal(spec: PrincipalSpec, field: string, jwtProviders: readonly string[]): FeatureResult<CompiledPrincipal> {
  if (spec.clientIPGeoLocations !== undefined)
    return { ok: false, error: `${field}.clientIPGeoLocations: not supported by Portcullis (no GeoIP database)` };
  if (spec.clientCIDRs === undefined && spec.jwt === undefined && spec.headers === undefined && spec.cel === undefined) {
    // Also what is left when a CRD without Portcullis' `cel` field pruned it: refuse rather than match everyone.
    return { ok: false, error: `${field}: set at least one of clientCIDRs, jwt, headers or cel` };
  }
  let clientCIDRs: CompiledPrincipal["clientCIDRs"];
  if (spec.clientCIDRs !== undefined) {
    let set: CidrSet;
    try {
      set = cidrSet(spec.clientCIDRs);
    } catch (e) {
      return { ok: false, error: `${field}.clientCIDRs: ${(e as Error).message}` };
    }
    clientCIDRs = { cidrs: spec.clientCIDRs, contains: (address) => set.has(address) };
  }
  if (spec.jwt !== undefined && !jwtProviders.includes(spec.jwt.provider)) {
    return { ok: false, error: `${field}.jwt.provider: ${spec.jwt.provider} is not a jwt provider of this policy` };
  }
  let cel: CompiledPrincipal["cel"];
  if (spec.cel !== undefined) {
    const compiled = compileCel(spec.cel);
    if (!compiled.ok) return { ok: false, error: `${field}.cel: ${compiled.error}` };
    cel = compiled.value;
  }
  return {
    ok: true,
    value: {
      clientCIDRs,
      jwt:
        spec.jwt === undefined
          ? undefined
          : {
              provider: spec.jwt.provider,
              claims: (spec.jwt.claims ?? []).map((c) => ({ claim: c.name.split("."), valueType: c.valueType, values: c.values })),
              scopes: spec.jwt.scopes ?? [],
            },
      headers: spec.headers?.map((h) => ({ name: h.name.toLowerCase(), values: h.values })),
      cel,
    },
  };
}
