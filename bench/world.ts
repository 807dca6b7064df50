/**
 * Benchmark worlds: N tenants, each with its own host, HTTPRoute, SecurityPolicy and (for API-key
 * tenants) credential Secret, all attached to one shared Gateway, as a MaaS platform would run
 * them. Even tenants use apiKeyAuth (X-API-Key, client id upstream, key sanitized); odd tenants use
 * jwt from one shared IdP (ES256, inline JWKS, three claimToHeaders), like deploy/examples.
 * Every tenant's route paths are its own (`/m<i>/v1/chat`, pathOf): a per-request cost that grows
 * with the distinct path values of a snapshot shows here (until 2026-12-02 every tenant had the
 * same three paths, and a scan of every path value per request did not show).
 *
 *   routes = policies = hosts = N; API keys = N/2 Secrets × keysPerSecret.
 *   10 routes: buildWorld({ tenants: 10, keysPerSecret: 20 })       →    100 API keys
 *   10k:       buildWorld({ tenants: 10_000, keysPerSecret: 20 })   → 100,000 API keys
 *
 * The objects are what the API server returns (Secret values in `data`, base64), so the same
 * world feeds the manifest folder of `serve` and the in-process compile benchmark.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const ISSUER = "https://idp.bench.example.com";
export const AUDIENCE = "bench-gateway";
const GATEWAY_NS = "bench-gateway";
/** Tenants per namespace. */
const PER_NAMESPACE = 100;

export interface WorldOptions {
  readonly tenants: number;
  readonly keysPerSecret: number;
  /** The IdP's public key as a JWK (with kid and alg), inlined into every jwt policy. */
  readonly jwk: Readonly<Record<string, unknown>>;
}

/** One request that a scenario sends: it is allowed (200) when the world is served. */
export interface Target {
  readonly host: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The header lines (name → value) a request for `t` carries to the Envoy HTTP port, as Envoy's ext_authz
 * HTTP client sends them: the client's Host and lines, and `content-length: 0`, which that client always
 * adds (lengthZeroHeader() in source/extensions/filters/common/ext_authz/ext_authz_http_impl.cc), so that
 * the Envoy port (and the bare server set against it) is measured on what it is sent in production.
 * The forward-auth scenarios send nginx's lines instead, which carry no Content-Length.
 */
export function envoyCheckHeaders(t: Target, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { host: t.host, "content-length": "0", ...t.headers, ...extra };
}

export interface World {
  readonly objects: readonly Record<string, unknown>[];
  readonly counts: { readonly routes: number; readonly hosts: number; readonly policies: number; readonly apiKeys: number };
  /** An API-key tenant near the middle of the world, with one of its valid keys. */
  readonly apiKeyTarget: Target;
  /** A jwt tenant near the middle (the token is added per scenario). */
  readonly jwtTarget: Target;
}

export const hostOf = (i: number) => `t${i}.tenants.bench.example.com`;
/** Tenant `i`'s path for `rest` ("/v1/chat"): the model it serves first, as a MaaS gateway routes. */
export const pathOf = (i: number, rest: string) => `/m${i}${rest}`;
const namespaceOf = (i: number) => `tenant-${Math.floor(i / PER_NAMESPACE)}`;
/** Deterministic, distinct 64-hex-digit API keys. */
export const apiKeyOf = (tenant: number, k: number) => createHash("sha256").update(`bench-api-key/${tenant}/${k}`).digest("hex");

export function buildWorld(options: WorldOptions): World {
  const { tenants, keysPerSecret, jwk } = options;
  const objects: Record<string, unknown>[] = [
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "GatewayClass",
      metadata: { name: "bench" },
      spec: { controllerName: "portcullis.io/gateway-controller" },
    },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: "gateway", namespace: GATEWAY_NS },
      spec: {
        gatewayClassName: "bench",
        listeners: [{ name: "http", protocol: "HTTP", port: 80, allowedRoutes: { namespaces: { from: "All" } } }],
      },
    },
  ];
  const inline = JSON.stringify({ keys: [jwk] });
  let apiKeys = 0;
  for (let i = 0; i < tenants; i++) {
    const namespace = namespaceOf(i);
    const timestamp = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString().replace(".000Z", "Z");
    objects.push({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: `route-${i}`, namespace, creationTimestamp: timestamp },
      spec: {
        parentRefs: [{ name: "gateway", namespace: GATEWAY_NS }],
        hostnames: [hostOf(i)],
        rules: [
          { matches: [{ path: { type: "PathPrefix", value: pathOf(i, "/v1/chat") } }], backendRefs: [{ name: "model", port: 8000 }] },
          { matches: [{ path: { type: "PathPrefix", value: pathOf(i, "/v1/models") } }], backendRefs: [{ name: "model", port: 8000 }] },
          { matches: [{ path: { type: "Exact", value: pathOf(i, "/healthz") } }], backendRefs: [{ name: "model", port: 8000 }] },
        ],
      },
    });
    const targetRefs = [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: `route-${i}` }];
    const metadata = { name: `policy-${i}`, namespace, creationTimestamp: timestamp };
    if (i % 2 === 0) {
      const data: Record<string, string> = {};
      for (let k = 0; k < keysPerSecret; k++) data[`client-${i}-${k}`] = Buffer.from(apiKeyOf(i, k)).toString("base64");
      apiKeys += keysPerSecret;
      objects.push({ apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name: `keys-${i}`, namespace }, data });
      objects.push({
        apiVersion: "gateway.envoyproxy.io/v1alpha1",
        kind: "SecurityPolicy",
        metadata,
        spec: {
          targetRefs,
          apiKeyAuth: {
            credentialRefs: [{ name: `keys-${i}` }],
            extractFrom: [{ headers: ["X-API-Key"] }],
            forwardClientIDHeader: "x-user-id",
            sanitize: true,
          },
        },
      });
    } else {
      objects.push({
        apiVersion: "gateway.envoyproxy.io/v1alpha1",
        kind: "SecurityPolicy",
        metadata,
        spec: {
          targetRefs,
          jwt: {
            providers: [
              {
                name: "bench-idp",
                issuer: ISSUER,
                audiences: [AUDIENCE],
                localJWKS: { type: "Inline", inline },
                claimToHeaders: [
                  { claim: "sub", header: "x-user-id" },
                  { claim: "department", header: "x-user-group" },
                  { claim: "email", header: "x-user-email" },
                ],
              },
            ],
          },
        },
      });
    }
  }
  const middle = Math.floor(tenants / 2) & ~1; // an even (API-key) tenant
  return {
    objects,
    counts: { routes: tenants, hosts: tenants, policies: tenants, apiKeys },
    apiKeyTarget: {
      host: hostOf(middle),
      path: pathOf(middle, "/v1/models"),
      headers: { "x-api-key": apiKeyOf(middle, keysPerSecret - 1) },
    },
    jwtTarget: { host: hostOf(middle + 1), path: pathOf(middle + 1, "/v1/chat/completions"), headers: {} },
  };
}

/**
 * Writes the world as YAML streams (each document in JSON flow style, which YAML reads as is),
 * a few thousand documents per file to stay under the manifest folder's per-file limit.
 */
export function writeWorld(world: World, dir: string, perFile = 2000): void {
  mkdirSync(dir, { recursive: true });
  for (let start = 0, n = 0; start < world.objects.length; start += perFile, n++) {
    const docs = world.objects.slice(start, start + perFile).map((o) => JSON.stringify(o));
    writeFileSync(join(dir, `world-${String(n).padStart(3, "0")}.yaml`), `${docs.join("\n---\n")}\n`);
  }
}
