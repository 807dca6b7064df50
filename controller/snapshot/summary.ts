/**
 * A readable, deterministic rendering of a snapshot: what golden files record, what the admin
 * snapshot view serves. Names credentials (client ids, key ids), never their values.
 */
import type { JwksSource } from "../keys/types.ts";
import type { CompiledPolicy, CredentialSource, RouteEntry, Snapshot, VirtualHosts } from "./types.ts";

export function summarizeSnapshot(snapshot: Snapshot): object {
  const routes: Record<string, object> = {};
  for (const [gateway, vhosts] of Object.entries(snapshot.routes.byGateway)) routes[gateway] = summarizeVirtualHosts(vhosts);
  const policies: Record<string, object> = {};
  for (const [id, policy] of Object.entries(snapshot.policies)) policies[id] = summarizePolicy(policy);
  return { routes, policies, remoteJwks: snapshot.remoteJwks.map(describeJwks) };
}

function summarizeVirtualHosts(v: VirtualHosts): object {
  const table = (t: Readonly<Record<string, readonly RouteEntry[]>>, prefix: string) =>
    Object.fromEntries(Object.entries(t).map(([host, entries]) => [`${prefix}${host}`, entries.map(describeEntry)]));
  return { ...table(v.exact, ""), ...table(v.wildcard, "*"), ...(v.any.length > 0 ? { "(any host)": v.any.map(describeEntry) } : {}) };
}

function describeEntry(e: RouteEntry): string {
  const m = e.match;
  const parts = [`${m.path.type} ${m.path.value === "" ? "/" : m.path.value}`];
  if (m.method !== undefined) parts.push(`method ${m.method}`);
  for (const h of m.headers) parts.push(`header ${h.name} ${h.type} ${h.value}`);
  for (const q of m.queryParams) parts.push(`query ${q.name} ${q.type} ${q.value}`);
  return `${parts.join(", ")} => ${e.rule} via ${e.listener}: ${e.policy === undefined ? "no policy (allow)" : `policy ${e.policy.id}`}`;
}

export function describeSource(s: CredentialSource): string {
  if (s.in === "header") return s.prefix === undefined ? `header ${s.name}` : `header ${s.name} (prefix ${JSON.stringify(s.prefix)})`;
  return `${s.in} ${s.name}`;
}

function describeJwks(s: JwksSource): string {
  if (s.kind === "remote") return `remote ${s.uri} (refresh every ${s.cacheDurationMs / 1000}s)`;
  return `local kids [${s.keys.map((k) => k.kid ?? "(none)").join(", ")}]`;
}

function summarizePolicy(p: CompiledPolicy): object {
  if (p.invalid !== undefined) return { invalid: p.invalid, decision: "deny 403" };
  const out: Record<string, unknown> = {};
  if (p.apiKey !== undefined) {
    out.apiKeyAuth = {
      from: p.apiKey.sources.map(describeSource),
      clients: p.apiKey.clientIDs,
      ...(p.apiKey.forwardClientIDHeader === undefined ? {} : { forwardClientIDHeader: p.apiKey.forwardClientIDHeader }),
      sanitize: p.apiKey.sanitize,
    };
  }
  if (p.jwt !== undefined) {
    out.jwt = {
      optional: p.jwt.optional,
      providers: p.jwt.providers.map((pr) => ({
        name: pr.name,
        issuer: pr.issuer ?? "(any)",
        audiences: pr.audiences.length === 0 ? "(any)" : pr.audiences,
        jwks: describeJwks(pr.jwks),
        from: pr.sources.map(describeSource),
        ...(pr.claimToHeaders.length === 0 ? {} : { claimToHeaders: pr.claimToHeaders.map((c) => `${c.claim.join(".")} -> ${c.header}`) }),
      })),
    };
  }
  if (p.managedHeaders.length > 0) out.managedHeaders = p.managedHeaders;
  return out;
}
