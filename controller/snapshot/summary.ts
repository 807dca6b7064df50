/**
 * A readable, deterministic rendering of a snapshot: what golden files record, what the admin
 * snapshot view serves. Names credentials (client ids, key ids), never their values; JWKS URIs redacted.
 */
import { DEFAULT_FAILED_REFETCH_MS, type JwksConnection, type JwksSource } from "../keys/types.ts";
import { redactUri } from "../keys/uri.ts";
import type { CompiledMatch, CompiledPolicy, CredentialSource, RouteEntry, Snapshot, VirtualHosts } from "./types.ts";

export function summarizeSnapshot(snapshot: Snapshot): object {
  const routes: Record<string, object> = {};
  for (const [gateway, ports] of Object.entries(snapshot.routes.byGateway)) {
    routes[gateway] = Object.fromEntries(
      ports.map((p) => [
        `port ${p.port}${p.tlsListener === undefined ? "" : ` (HTTPS listener ${p.tlsListener})`}${p.unreadOn === undefined ? "" : ` (routes of namespaces not read, listener ${p.unreadOn})`}${p.anyStatedPort === true ? " (PROXY protocol: any stated port)" : ""}`,
        summarizeVirtualHosts(p.vhosts),
      ]),
    );
  }
  const policies: Record<string, object> = {};
  for (const [id, policy] of Object.entries(snapshot.policies)) policies[id] = summarizePolicy(policy);
  return { routes, policies, remoteJwks: snapshot.remoteJwks.map(describeJwks), managedHeaders: snapshot.managedHeaders };
}

function summarizeVirtualHosts(v: VirtualHosts): object {
  const table = (t: Readonly<Record<string, readonly RouteEntry[]>>, prefix: string) =>
    Object.fromEntries(Object.entries(t).map(([host, entries]) => [`${prefix}${host}`, entries.map(describeEntry)]));
  return { ...table(v.exact, ""), ...table(v.wildcard, "*"), ...(v.any.length > 0 ? { "(any host)": v.any.map(describeEntry) } : {}) };
}

function describeEntry(e: RouteEntry): string {
  const removes = e.managedHeaders.length === 0 ? "" : `; removes ${e.managedHeaders.join(", ")}`;
  return `${describeMatch(e.match)} => ${e.rule} via ${e.listener}: ${e.policy === undefined ? "no policy (allow)" : `policy ${e.policy.id}`}${removes}`;
}

/** "PathPrefix /api, header x-tier Exact gold, query debug RegularExpression 1|true". */
export function describeMatch(m: CompiledMatch): string {
  const parts = [`${m.path.type} ${m.path.value === "" ? "/" : m.path.value}`];
  for (const h of m.headers) parts.push(`header ${h.name} ${h.type} ${h.value}`);
  for (const q of m.queryParams) parts.push(`query ${q.name} ${q.type} ${q.value}`);
  return parts.join(", ");
}

export function describeSource(s: CredentialSource): string {
  if (s.in === "header") return s.prefix === undefined ? `header ${s.name}` : `header ${s.name} (prefix ${JSON.stringify(s.prefix)})`;
  return `${s.in} ${s.name}`;
}

export function describeJwks(s: JwksSource): string {
  if (s.kind === "local") return `local kids [${s.keys.map((k) => k.kid ?? "(none)").join(", ")}]`;
  const how = [
    `refresh every ${s.cacheDurationMs / 1000}s`,
    ...(s.failedRefetchMs === DEFAULT_FAILED_REFETCH_MS ? [] : [`after a failure every ${s.failedRefetchMs / 1000}s`]),
    ...describeConnection(s.connection),
  ];
  return `remote ${redactUri(s.uri)} (${how.join("; ")})`;
}

/** How a server is reached ("via 10.0.0.1:443", "trusting a private CA for idp.example", …); empty for the defaults. */
export function describeConnection(c: JwksConnection): string[] {
  return [
    ...(c.endpoints === undefined ? [] : [`via ${c.endpoints.map((e) => `${e.host}:${e.port}`).join(", ")}`]),
    ...(c.tls === undefined
      ? []
      : [
          `trusting ${c.tls.caPem === undefined ? "the system CAs" : "a private CA"}` +
            (c.tls.serverName === undefined ? "" : ` for ${c.tls.serverName}`) +
            (c.tls.subjectAltNames === undefined
              ? ""
              : ` (certificate naming ${c.tls.subjectAltNames.map((n) => n.hostname ?? n.uri).join(" or ")})`),
        ]),
    ...(c.requestTimeoutMs === undefined ? [] : [`fetch within ${c.requestTimeoutMs}ms`]),
    ...(c.connectTimeoutMs === undefined ? [] : [`connect within ${c.connectTimeoutMs}ms`]),
    ...(c.retry === undefined
      ? []
      : [`${c.retry.numRetries} retries on ${c.retry.on.join(",")} after ${c.retry.baseIntervalMs}-${c.retry.maxIntervalMs}ms`]),
  ];
}

function summarizePolicy(p: CompiledPolicy): object {
  if (p.invalid !== undefined) return { invalid: p.invalid, decision: "deny 403" };
  const out: Record<string, unknown> = {};
  for (const { feature, compiled } of p.features) out[feature.field] = feature.summary(compiled);
  if (p.managedHeaders.length > 0) out.managedHeaders = p.managedHeaders;
  if (p.referencesFrom !== undefined && Object.keys(p.referencesFrom).length > 0) out.referencesFrom = p.referencesFrom;
  return out;
}
