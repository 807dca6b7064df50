/**
 * The authorization phase (Envoy Gateway semantics): rules in order, the first whose operation
 * and principal match decides; none: `defaultAction`. Within a principal every field set must
 * match. What cannot be known never allows: a CEL expression that fails to evaluate, or
 * `clientCIDRs` when the client address cannot be determined, does not match in an Allow rule and
 * does match in a Deny rule. CEL's `request.query` holds the first value of each parameter, as
 * Envoy's route match reads it; when a parameter repeats with other values (which upstreams read
 * differently: PHP and Express the last), the rules are decided again on the last values and the
 * request is allowed only if both readings allow.
 */
import type { CheckContext } from "../../authz/context.ts";
import { deny } from "../../authz/decision.ts";
import type { NormalizedRequest } from "../../authz/request.ts";
import { fail } from "../../lib/result.ts";
import { pathMatches } from "../../snapshot/route-index.ts";
import { NOTHING, type IdentityAttributes, type Pass, type PhaseResult, type Where } from "../feature.ts";
import { claimAt } from "../jwt/check.ts";
import type { CompiledAuthorization, CompiledPrincipal, CompiledRule } from "./compile.ts";

/** The phase: over the identities every phase before it passed on (their attributes merged) and the client address. */
export function checkAuthorization(
  config: CompiledAuthorization,
  request: NormalizedRequest,
  where: Where,
  passed: readonly Pass[],
  ctx: CheckContext,
): PhaseResult {
  const who: IdentityAttributes = Object.assign({}, ...passed.map((r) => r.attributes));
  const verdict = authorize(config, request, who, ctx.clientAddress.of(request.source));
  if (verdict.allowed) return NOTHING;
  const why = verdict.by === "defaultAction" ? "no authorization rule allows the request" : `denied by authorization rule ${verdict.by}`;
  return fail(deny(403, "authz_denied", why, where));
}

export interface Verdict {
  readonly allowed: boolean;
  /** The rule that decided, or "defaultAction". */
  readonly by: string;
}

export function authorize(
  config: CompiledAuthorization,
  request: NormalizedRequest,
  who: IdentityAttributes,
  clientAddress: string | undefined,
): Verdict {
  const first = decide(config, request, who, clientAddress, "first");
  if (!first.allowed || !config.rules.some((r) => r.principal.cel !== undefined) || !repeatsDiffer(request.query)) return first;
  const last = decide(config, request, who, clientAddress, "last");
  return last.allowed ? first : { allowed: false, by: `${last.by} (reading the last value of a repeated query parameter)` };
}

type QueryReading = "first" | "last";

function decide(
  config: CompiledAuthorization,
  request: NormalizedRequest,
  who: IdentityAttributes,
  clientAddress: string | undefined,
  query: QueryReading,
): Verdict {
  let cel: Record<string, unknown> | undefined;
  const celContext = () => (cel ??= celContextOf(request, who, clientAddress, query));
  for (const rule of config.rules) {
    if (!operationMatches(rule, request)) continue;
    if (principalMatches(rule, rule.principal, request, who, clientAddress, celContext))
      return { allowed: rule.action === "Allow", by: rule.name };
  }
  return { allowed: config.defaultAction === "Allow", by: "defaultAction" };
}

/** Whether some parameter is sent more than once with different values. */
function repeatsDiffer(query: URLSearchParams): boolean {
  const seen = new Map<string, string>();
  for (const [name, value] of query) {
    const before = seen.get(name);
    if (before !== undefined && before !== value) return true;
    seen.set(name, value);
  }
  return false;
}

function operationMatches(rule: CompiledRule, request: NormalizedRequest): boolean {
  if (rule.methods !== undefined && !rule.methods.includes(request.method)) return false;
  if (rule.path !== undefined && pathMatches(rule.path, request.path) === rule.path.invert) return false;
  return true;
}

function principalMatches(
  rule: CompiledRule,
  p: CompiledPrincipal,
  request: NormalizedRequest,
  who: IdentityAttributes,
  clientAddress: string | undefined,
  celContext: () => Record<string, unknown>,
): boolean {
  if (p.clientCIDRs !== undefined) {
    // An address that cannot be determined could be any: it satisfies a Deny rule, never an Allow rule.
    if (clientAddress === undefined ? rule.action === "Allow" : !p.clientCIDRs.contains(clientAddress)) return false;
  }
  if (p.jwt !== undefined) {
    const jwt = who.jwt;
    if (jwt === undefined || jwt.provider !== p.jwt.provider) return false;
    for (const c of p.jwt.claims) {
      const value = claimAt(jwt.claims, c.claim);
      const ok =
        c.valueType === "String"
          ? typeof value === "string" && c.values.includes(value)
          : Array.isArray(value) && value.some((v) => typeof v === "string" && c.values.includes(v));
      if (!ok) return false;
    }
    const granted = scopesOf(jwt.claims);
    if (!p.jwt.scopes.every((s) => granted.has(s))) return false;
  }
  for (const h of p.headers ?? []) {
    const value = request.header(h.name);
    if (value === undefined || !h.values.includes(value)) return false;
  }
  if (p.cel !== undefined) {
    let result: unknown;
    try {
      result = p.cel.evaluate(celContext());
    } catch {
      return rule.action === "Deny";
    }
    if (typeof result !== "boolean") return rule.action === "Deny";
    return result;
  }
  return true;
}

/** OAuth scopes from `scope` (space-delimited string, RFC 8693) or `scp` (list or string). */
function scopesOf(claims: Readonly<Record<string, unknown>>): Set<string> {
  const out = new Set<string>();
  for (const raw of [claims.scope, claims.scp]) {
    if (typeof raw === "string") for (const s of raw.split(" ")) if (s !== "") out.add(s);
    if (Array.isArray(raw)) for (const s of raw) if (typeof s === "string") out.add(s);
  }
  return out;
}

/** The variables a CEL expression sees. Absent identities are empty maps, so `has()` works on them. */
function celContextOf(
  request: NormalizedRequest,
  who: IdentityAttributes,
  clientAddress: string | undefined,
  reading: QueryReading,
): Record<string, unknown> {
  const headers: Record<string, string> = {};
  for (const name of Object.keys(request.source.headers)) {
    const v = request.header(name);
    if (v !== undefined) headers[name] = v;
  }
  const query = new Map<string, string>();
  for (const [name, value] of request.query) if (reading === "last" || !query.has(name)) query.set(name, value);
  return {
    request: { method: request.method, host: request.host, path: request.path, headers, query: Object.fromEntries(query) },
    jwt: who.jwt === undefined ? {} : { provider: who.jwt.provider, claims: who.jwt.claims },
    apiKey: who.apiKey === undefined ? {} : { client: who.apiKey.client, metadata: who.apiKey.metadata },
    basicAuth: who.basicAuth === undefined ? {} : { username: who.basicAuth.username },
    source: { address: clientAddress ?? "" },
  };
}
