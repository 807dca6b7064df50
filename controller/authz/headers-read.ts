/**
 * The request headers the decision reads besides credentials: those route matches and
 * authorization rules read (DESIGN §0: one a proxy does not send, or an upstream reads under
 * another spelling, is decided as absent while the upstream acts on it).
 */
import { authorization } from "../features/authorization/index.ts";
import { compiledOf } from "../features/feature.ts";
import { entryListsOf } from "../snapshot/route-index.ts";
import type { Snapshot } from "../snapshot/types.ts";

/**
 * The request headers route matches and authorization rules read (lower-case, sorted), which a
 * proxy that sends its check only some headers must send (Envoy's HTTP ext_authz `allowed_headers`,
 * Envoy Gateway's `headersToExtAuth`, Traefik's `authRequestHeaders`): one it leaves out reads as
 * absent, and a request is decided on another route rule, or past a Deny rule, than the proxy and
 * the upstream act on. `anyHeaderRead` when a rule's `cel` reads `request.headers` by keys that
 * cannot be known (every header then counts). Host and pseudo-headers (`:method`) are left out:
 * every check carries them. Logged with each snapshot ("snapshot published"); check() refuses a
 * header name that spells one of them otherwise (folded-headers.ts).
 */
export function headersDecisionsRead(snapshot: Snapshot): { headersRead: string[]; anyHeaderRead?: true } {
  const names = new Set<string>();
  for (const list of entryListsOf(snapshot.routes)) for (const e of list) for (const h of e.match.headers) names.add(h.name);
  let anyHeader = false;
  for (const policy of Object.values(snapshot.policies)) {
    const rules = compiledOf(policy.features, authorization);
    if (rules === undefined) continue;
    for (const name of rules.headersRead) names.add(name);
    anyHeader ||= rules.celReadsAnyHeader;
  }
  const headersRead = [...names].filter((n) => !n.startsWith(":") && n !== "host").sort();
  return anyHeader ? { headersRead, anyHeaderRead: true } : { headersRead };
}
