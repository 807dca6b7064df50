/**
 * check(): the one decision path every wire protocol calls. Phases, in order:
 *   1. route     — match host/path/method/headers to an HTTPRoute rule; its effective policy comes with it
 *   2. identity  — every configured method must pass: apiKeyAuth, then jwt
 *   3. response  — headers to set upstream; every header the policy may set is stripped from the
 *                  client's request first, so a client can never supply its own x-user-id
 * Fail closed: no route → deny (unless configured otherwise), invalid policy → 403, never a 5xx.
 */
import type { KeyStore } from "../keys/types.ts";
import { findRoute, virtualHostsFor } from "../snapshot/route-index.ts";
import type { Snapshot } from "../snapshot/types.ts";
import { checkApiKey } from "./apikey.ts";
import { deny, type Decision } from "./decision.ts";
import type { IdentityResult, PhaseOutcome } from "./identity.ts";
import { checkJwt } from "./jwt.ts";
import { normalizeRequest, type AuthzRequest } from "./request.ts";
import type { TokenCache } from "./token-cache.ts";

export interface CheckContext {
  readonly keys: Pick<KeyStore, "resolve">;
  /** The verified-token cache of this snapshot. */
  readonly tokenCache: TokenCache;
  /** Epoch milliseconds. */
  readonly now: () => number;
  /** What a request that matches no route gets. */
  readonly onNoRoute: "deny" | "allow";
}

export async function check(snapshot: Snapshot, request: AuthzRequest, ctx: CheckContext): Promise<Decision> {
  const req = normalizeRequest(request);

  // 1. Route
  const vhosts = virtualHostsFor(snapshot.routes, request.gateway);
  if (vhosts === undefined) return deny(403, "gateway_not_found", `Gateway ${request.gateway} is not served by Portcullis`, {});
  const entry = findRoute(vhosts, req);
  if (entry === undefined) {
    if (ctx.onNoRoute === "allow") return allow(undefined, undefined, [], [], {}, []);
    return deny(403, "route_not_found", `no HTTPRoute rule matches ${req.method} ${req.host}${req.path}`, {});
  }
  const policy = entry.policy;
  if (policy === undefined) return allow(entry.rule, undefined, [], [], {}, []);
  const scoped = { route: entry.rule, policy: policy.id };
  if (policy.invalid !== undefined) return deny(403, "policy_invalid", `SecurityPolicy ${policy.id} is invalid: ${policy.invalid}`, scoped);

  // 2. Identity
  const passed: IdentityResult[] = [];
  const phases: (() => PhaseOutcome | Promise<PhaseOutcome>)[] = [];
  if (policy.apiKey !== undefined) phases.push(() => checkApiKey(policy.apiKey!, req, scoped));
  if (policy.jwt !== undefined) phases.push(() => checkJwt(policy.jwt!, req, scoped, { keys: ctx.keys, cache: ctx.tokenCache, now: ctx.now }));
  for (const phase of phases) {
    const outcome = await phase();
    if (!outcome.ok) return outcome.deny;
    passed.push(outcome.value);
  }

  // 3. Response
  const headers: Record<string, string> = {};
  for (const r of passed) Object.assign(headers, r.headers);
  const principals = passed.flatMap((r) => (r.principal === undefined ? [] : [r.principal]));
  return allow(entry.rule, policy.id, policy.managedHeaders, passed.flatMap((r) => r.strip), headers, principals);
}

function allow(
  route: string | undefined,
  policy: string | undefined,
  managed: readonly string[],
  strip: readonly string[],
  headers: Record<string, string>,
  principals: readonly string[],
): Decision {
  // A header we set replaces the client's copy; a managed header we do not set is removed.
  const remove = [...new Set([...managed, ...strip])].filter((h) => !Object.hasOwn(headers, h)).sort();
  return {
    allowed: true, status: 200, code: "allowed", route, policy,
    message: principals.length > 0 ? `authenticated as ${principals.join(", ")}` : policy === undefined ? "no policy applies" : "no credential required",
    principal: principals.length === 0 ? undefined : principals.join(", "),
    upstreamHeaders: headers, removeHeaders: remove, responseHeaders: {},
  };
}
