/**
 * The forward-auth safety net. nginx, Caddy and Traefik ignore `x-envoy-auth-headers-to-remove`:
 * a header Portcullis sets (a claimToHeaders header, forwardClientIDHeader, …) reaches the
 * upstream as Portcullis' value only if the proxy's configuration names it; otherwise the client's
 * own copy goes through, and the upstream takes it for an identity. The proxy states the headers it
 * gives the upstream only from Portcullis' answer in X-Portcullis-Replaces (set by the proxy, so a
 * client's copy of it is overwritten); an allow whose request carries a client's copy of a header a
 * policy sets that the proxy does not list is refused instead.
 */
import { deny, type Decision } from "./decision.ts";
import type { AuthzRequest } from "./request.ts";

/** The forward-auth proxy's list of the headers it replaces with Portcullis' answer (comma-separated, any letter case). */
export const PROXY_REPLACES_HEADER = "x-portcullis-replaces";

/**
 * The lower-case header names of an X-Portcullis-Replaces value (its lines joined); empty when there
 * is none. The proxy sends one list, from its configuration, on every check: the names of the last
 * value read are kept, so that value costs one string comparison instead of a split and a set.
 */
export function replacedHeaders(value: string | undefined): ReadonlySet<string> {
  if (lastRead !== undefined && lastRead.value === value) return lastRead.names;
  const names = new Set<string>();
  for (const name of (value ?? "").split(",")) {
    const trimmed = name.trim().toLowerCase();
    if (trimmed !== "") names.add(trimmed);
  }
  lastRead = { value, names };
  return names;
}

/** The X-Portcullis-Replaces value replacedHeaders read last, and its names. */
let lastRead: { readonly value: string | undefined; readonly names: ReadonlySet<string> } | undefined;

/**
 * `decision`, or a 400 when it allows a request that carries its own copy of a header a policy
 * sets (`managed`, the snapshot's list) which the allow sets or removes and the proxy does not
 * replace (`request.proxyReplaces`; undefined: not a forward-auth request, nothing to check).
 * `cookie` is left out: Portcullis' `x-portcullis-cookie` answer says what becomes of it, and the
 * shipped configurations apply it. An `authorization` the allow sets (oidc's token) is no managed
 * header (clients of other routes send their own) but is checked too: a client's own beside it
 * passes only when the proxy lists authorization (the shipped nginx and Caddy files take it from the
 * answer whenever it carries one; Traefik's authResponseHeaders do not name it).
 */
export function refuseUnreplacedCopies(decision: Decision, request: AuthzRequest, managed: readonly string[]): Decision {
  const replaced = request.proxyReplaces;
  if (replaced === undefined || !decision.allowed) return decision;
  if (managed.length === 0 && !Object.hasOwn(decision.upstreamHeaders, "authorization")) return decision;
  // Loops without a closure: this runs on every allow behind nginx or Caddy.
  let unreplaced: string[] | undefined;
  for (const name in decision.upstreamHeaders) {
    if (name === "authorization" ? isUnreplaced(name, request, replaced) : isUnreplacedCopy(name, request, managed, replaced))
      (unreplaced ??= []).push(name);
  }
  const removed = decision.removeHeaders;
  for (let i = 0; i < removed.length; i++) {
    if (isUnreplacedCopy(removed[i]!, request, managed, replaced)) (unreplaced ??= []).push(removed[i]!);
  }
  if (unreplaced === undefined) return decision;
  return {
    // The client is told which of its headers is refused, not that a policy sets it.
    ...deny(400, "request_invalid", `the request carries its own ${unreplaced.join(", ")}, which a client may not send`, decision),
    detail: `a header a policy sets, which the forward-auth proxy does not list in ${PROXY_REPLACES_HEADER}, so the upstream would receive the client's copy: make the proxy replace it with this answer's value, then list it there (README "Behind forward-auth proxies"; listed alone, the client's copy passes)`,
  };
}

/** Whether the request carries the client's own copy of `name`, a header a policy sets (`managed`) that the proxy does not replace. */
function isUnreplacedCopy(name: string, request: AuthzRequest, managed: readonly string[], replaced: ReadonlySet<string>): boolean {
  return name !== "cookie" && managed.includes(name) && isUnreplaced(name, request, replaced);
}

/** Whether the request carries the client's own copy of `name` and the proxy does not replace it. */
function isUnreplaced(name: string, request: AuthzRequest, replaced: ReadonlySet<string>): boolean {
  return !replaced.has(name) && Object.hasOwn(request.headers, name);
}
