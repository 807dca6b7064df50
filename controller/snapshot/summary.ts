/**
 * A readable, deterministic rendering of a snapshot: what golden files record, what the admin
 * snapshot view serves. Names credentials (client ids, key ids), never their values; JWKS URIs redacted.
 */
import type { CompiledOidc } from "../features/oidc/compile.ts";
import type { JwksSource } from "../keys/types.ts";
import { redactUri } from "../keys/uri.ts";
import type { CompiledMatch, CompiledPolicy, CompiledRule, CredentialSource, RouteEntry, Snapshot, VirtualHosts } from "./types.ts";

export function summarizeSnapshot(snapshot: Snapshot): object {
  const routes: Record<string, object> = {};
  for (const [gateway, ports] of Object.entries(snapshot.routes.byGateway)) {
    routes[gateway] = Object.fromEntries(
      ports.map((p) => [
        `port ${p.port}${p.tlsListener === undefined ? "" : ` (HTTPS listener ${p.tlsListener})`}`,
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

function describeJwks(s: JwksSource): string {
  if (s.kind === "remote") return `remote ${redactUri(s.uri)} (refresh every ${s.cacheDurationMs / 1000}s)`;
  return `local kids [${s.keys.map((k) => k.kid ?? "(none)").join(", ")}]`;
}

function describeRule(r: CompiledRule): string {
  const when: string[] = [];
  if (r.methods !== undefined) when.push(`method ${r.methods.join("|")}`);
  if (r.path !== undefined) when.push(`path ${r.path.invert ? "not " : ""}${r.path.type} ${r.path.value}`);
  const who = r.principal;
  if (who.clientCIDRs !== undefined) when.push(`client in ${who.clientCIDRs.cidrs.join(", ")}`);
  if (who.jwt !== undefined) {
    const claims = who.jwt.claims.map((c) => `${c.claim.join(".")} ${c.valueType === "StringArray" ? "has" : "is"} ${c.values.join("|")}`);
    when.push(
      `jwt ${who.jwt.provider}${claims.length > 0 ? ` with ${claims.join(" and ")}` : ""}${who.jwt.scopes.length > 0 ? ` scopes ${who.jwt.scopes.join(" ")}` : ""}`,
    );
  }
  for (const h of who.headers ?? []) when.push(`header ${h.name} in ${h.values.join("|")}`);
  if (who.cel !== undefined) when.push(`cel ${who.cel.source}`);
  return `${r.name}: ${r.action} when ${when.join(" and ")}`;
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
  if (p.oidc !== undefined) out.oidc = summarizeOidc(p.oidc);
  if (p.basicAuth !== undefined) {
    out.basicAuth = {
      users: p.basicAuth.usernames,
      ...(p.basicAuth.forwardUsernameHeader === undefined ? {} : { forwardUsernameHeader: p.basicAuth.forwardUsernameHeader }),
    };
  }
  if (p.authorization !== undefined) {
    out.authorization = { defaultAction: p.authorization.defaultAction, rules: p.authorization.rules.map(describeRule) };
  }
  if (p.cors !== undefined) {
    const c = p.cors;
    out.cors = {
      allowOrigins: [...c.origins, ...c.originPatterns.map((r) => r.source)],
      ...(c.allowMethods === undefined ? {} : { allowMethods: c.allowMethods }),
      ...(c.allowHeaders === undefined ? {} : { allowHeaders: c.allowHeaders }),
      ...(c.exposeHeaders === undefined ? {} : { exposeHeaders: c.exposeHeaders }),
      ...(c.maxAgeSeconds === undefined ? {} : { maxAgeSeconds: c.maxAgeSeconds }),
      allowCredentials: c.allowCredentials,
    };
  }
  if (p.managedHeaders.length > 0) out.managedHeaders = p.managedHeaders;
  return out;
}

/** What an oidc policy does, without its client secret or session key. */
function summarizeOidc(o: CompiledOidc): object {
  const endpoints = Object.entries(o.provider).flatMap(([k, v]) => (k === "issuer" || v === undefined ? [] : [[k, redactUri(v)]]));
  return {
    issuer: redactUri(o.provider.issuer),
    ...(endpoints.length === 0 ? {} : { endpoints: Object.fromEntries(endpoints) }),
    clientID: o.clientId,
    scopes: o.scopes,
    ...(o.resources.length === 0 ? {} : { resources: o.resources }),
    redirectURL: o.redirectURL,
    logoutPath: o.logoutPath,
    forward: [
      ...(o.forwardAccessToken ? ["access token in authorization"] : []),
      ...(o.forwardIDTokenHeader === undefined ? [] : [`ID token in ${o.forwardIDTokenHeader}`]),
    ],
    refreshToken: o.refreshToken,
    cookie: `${o.cookieName}${o.cookie.domain === undefined ? "" : ` domain ${o.cookie.domain}`}${o.cookie.sameSite === undefined ? "" : ` SameSite=${o.cookie.sameSite}`}`,
    ...(o.passThrough.length === 0 ? {} : { passThrough: o.passThrough.map((m) => `${m.name} ${m.type} ${m.value}`.trim()) }),
    ...(o.denyRedirect.length === 0 ? {} : { denyRedirect: o.denyRedirect.map((m) => `${m.name} ${m.type} ${m.value}`) }),
  };
}
