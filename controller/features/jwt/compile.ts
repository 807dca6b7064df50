/** Compiles `jwt`: providers with their key sources, claim headers and token locations. */
import { Buffer } from "node:buffer"; // not the global Buffer: a getter, about 17 ns a use (Node 24)
import { z } from "zod";
import { BackendRefSchema, ClusterSettingsSchema } from "../../api/cluster-settings.ts";
import { GatewayDurationSchema, parseGatewayDuration } from "../../api/meta.ts";
import { backendsConnection, clusterConnection } from "../../compile/backends.ts";
import type { References } from "../../compile/references.ts";
import { remoteJwksSource, type JwksSource } from "../../keys/types.ts";
import { redactUri } from "../../keys/uri.ts";
import { upstreamHeaderName } from "../../lib/headers.ts";
import { fail, ok, problem, type Result } from "../../lib/result.ts";
import type { CredentialSource } from "../../snapshot/types.ts";
import type { CompileContext } from "../feature.ts";

/** Envoy Gateway's RemoteJWKS, with the CRD's validations (api/v1alpha1/jwt_types.go), in its words. */
const RemoteJWKSSchema = z
  .object({
    uri: z.string().min(1).max(253),
    cacheDuration: GatewayDurationSchema.optional(),
    failedRefetchDuration: GatewayDurationSchema.optional(),
    backendRef: z.unknown().optional(),
    backendRefs: z.array(BackendRefSchema).max(16).optional(),
    backendSettings: ClusterSettingsSchema.optional(),
  })
  .strict()
  .refine((r) => r.backendRef === undefined, { message: "BackendRefs must be used, backendRef is not supported." })
  .refine((r) => r.backendSettings?.retry?.perRetry?.timeout === undefined, { message: "Retry timeout is not supported." })
  .refine((r) => r.backendSettings?.retry?.retryOn?.httpStatusCodes === undefined, { message: "HTTPStatusCodes is not supported." });

const LocalJWKSSchema = z
  .object({
    type: z.enum(["Inline", "ValueRef"]).default("Inline"),
    inline: z.string().optional(),
    valueRef: z
      .object({ group: z.string(), kind: z.string(), name: z.string().min(1) })
      .strict()
      .optional(),
  })
  .strict();

const JWTProviderSchema = z
  .object({
    name: z.string().min(1).max(253),
    issuer: z.string().max(253).optional(),
    audiences: z.array(z.string()).max(8).optional(),
    remoteJWKS: RemoteJWKSSchema.optional(),
    localJWKS: LocalJWKSSchema.optional(),
    claimToHeaders: z.array(z.object({ header: z.string().min(1), claim: z.string().min(1) }).strict()).optional(),
    recomputeRoute: z.boolean().optional(),
    extractFrom: z
      .object({
        headers: z.array(z.object({ name: z.string().min(1), valuePrefix: z.string().optional() }).strict()).optional(),
        cookies: z.array(z.string().min(1)).optional(),
        params: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type JWTProviderSpec = z.infer<typeof JWTProviderSchema>;

/** Envoy Gateway's limit on providers (the CRD's MaxItems). */
export const MAX_JWT_PROVIDERS = 16;

/** Envoy Gateway's JWT (api/v1alpha1/jwt_types.go), with its CRD's validations and messages. */
export const JWTSchema = z
  .object({
    optional: z.boolean().optional(),
    failOpen: z.boolean().optional(),
    providers: z
      .array(JWTProviderSchema)
      .min(1)
      .max(MAX_JWT_PROVIDERS, {
        error: (issue) => `Too many: ${(issue.input as unknown[]).length}: must have at most ${MAX_JWT_PROVIDERS} items`,
      }),
  })
  .strict()
  .refine((j) => j.optional === undefined || j.failOpen === undefined, {
    message: "optional and failOpen cannot both be set; failOpen already tolerates a missing JWT",
  });
export type JWTSpec = z.infer<typeof JWTSchema>;

export interface CompiledJwt {
  /** A request without any token passes (a present but invalid token still fails). */
  readonly optional: boolean;
  /**
   * A request without a token, or with one that fails, passes without an identity (Envoy's
   * `allow_missing_or_failed`): no claim headers, no claims for rules; a valid token still counts.
   */
  readonly failOpen: boolean;
  readonly providers: readonly CompiledJwtProvider[];
}

export interface CompiledJwtProvider {
  readonly name: string;
  /** Required `iss`; undefined accepts any issuer. */
  readonly issuer: string | undefined;
  /** Accepted `aud` values; empty accepts any audience. */
  readonly audiences: readonly string[];
  readonly jwks: JwksSource;
  readonly claimToHeaders: readonly { readonly header: string; readonly claim: readonly string[] }[];
  /** Envoy routes the request again once a claim header is added (authz/recomputed-route.ts). */
  readonly recomputeRoute: boolean;
  /** Where tokens for this provider are read from (default: Authorization Bearer, then access_token). */
  readonly sources: readonly CredentialSource[];
}

export const DEFAULT_JWKS_CACHE_MS = 300_000;
/** A local JWKS is held to the key store's limit on a remote one. */
export const MAX_LOCAL_JWKS_BYTES = 1024 * 1024;
/** Envoy's default token locations: `Authorization: Bearer <token>`, then `?access_token=`. */
const DEFAULT_TOKEN_SOURCES: readonly CredentialSource[] = [
  { in: "header", name: "authorization", prefix: "Bearer " },
  { in: "param", name: "access_token" },
];

export function compileJwt(spec: JWTSpec, { ownerOf, refs }: CompileContext): Result<CompiledJwt> {
  const namespace = ownerOf("jwt.providers").namespace;
  const names = new Set<string>();
  const providers: CompiledJwtProvider[] = [];
  const warnings: string[] = [];
  const problems: string[] = [];
  for (let i = 0; i < spec.providers.length; i++) {
    const p = spec.providers[i]!;
    const field = `providers[${i}]`;
    if (names.has(p.name)) problems.push(`${field}: provider name ${p.name} is used twice`);
    names.add(p.name);
    const provider = compileProvider(p, field, namespace, refs);
    if (!provider.ok) problems.push(...provider.error);
    else {
      providers.push(provider.value);
      warnings.push(...(provider.warnings ?? []));
    }
  }
  if (problems.length > 0) return fail(problems);
  return ok({ optional: spec.optional === true, failOpen: spec.failOpen === true, providers }, warnings);
}

function compileProvider(p: JWTProviderSpec, field: string, namespace: string, refs: References): Result<CompiledJwtProvider> {
  const jwks = compileJwks(p, field, namespace, refs);
  if (!jwks.ok) return jwks;
  const claimToHeaders: { header: string; claim: string[] }[] = [];
  const claims = p.claimToHeaders ?? [];
  for (let j = 0; j < claims.length; j++) {
    const c = claims[j]!;
    const h = upstreamHeaderName(c.header, `${field}.claimToHeaders[${j}].header`);
    if (!h.ok) return h;
    const claim = c.claim.split(".");
    if (claim.some((part) => part === "")) return problem(`${field}.claimToHeaders[${j}].claim: "${c.claim}" has an empty path segment`);
    // Envoy's jwt_authn adds each claim (addCopy): one header of two claims is two lines, while an answer sets one value.
    const earlier = claimToHeaders.findIndex((e) => e.header === h.value);
    if (earlier !== -1)
      return problem(
        `${field}.claimToHeaders[${j}].header: ${h.value} is also set from claim ${claimToHeaders[earlier]!.claim.join(".")} (claimToHeaders[${earlier}]); Envoy would add each claim as a line of its own, which upstreams read as the first, the last or both: set each claim in a header of its own`,
      );
    claimToHeaders.push({ header: h.value, claim });
  }
  const sources: CredentialSource[] = [];
  const from = p.extractFrom;
  if (from !== undefined) {
    for (const h of from.headers ?? []) sources.push({ in: "header", name: h.name.toLowerCase(), prefix: h.valuePrefix });
    for (const c of from.cookies ?? []) sources.push({ in: "cookie", name: c });
    for (const q of from.params ?? []) sources.push({ in: "param", name: q });
    if (sources.length === 0) return problem(`${field}.extractFrom names no header, cookie or param`);
  }
  // Claim routing works in Envoy Gateway and is refused here on every request it would reroute: said where the policy is read.
  const rerouted =
    p.recomputeRoute === true && claimToHeaders.length > 0
      ? [
          `${field}.recomputeRoute: a request that the claim headers it sets (${claimToHeaders.map((c) => c.header).join(", ")}) would route to another rule is refused (403 route_mismatch), as the proxy asking Portcullis has routed it once: match such rules on the path (README, Differences from Envoy Gateway, "jwt recomputeRoute")`,
        ]
      : [];
  return {
    ok: true,
    warnings: [...(jwks.warnings ?? []), ...rerouted],
    value: {
      name: p.name,
      issuer: p.issuer === undefined || p.issuer === "" ? undefined : p.issuer,
      audiences: p.audiences ?? [],
      jwks: jwks.value,
      claimToHeaders,
      recomputeRoute: p.recomputeRoute === true,
      sources: sources.length > 0 ? sources : DEFAULT_TOKEN_SOURCES,
    },
  };
}

function compileJwks(p: JWTProviderSpec, field: string, namespace: string, refs: References): Result<JwksSource> {
  if ((p.remoteJWKS === undefined) === (p.localJWKS === undefined)) {
    return problem(`${field}: exactly one of remoteJWKS and localJWKS must be set`);
  }
  if (p.remoteJWKS !== undefined) {
    let url: URL;
    try {
      url = new URL(p.remoteJWKS.uri);
    } catch {
      // Not quoted: whatever secret it holds cannot be redacted from text that is not a URL.
      return problem(`${field}.remoteJWKS.uri: not a URL`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      return problem(`${field}.remoteJWKS.uri: scheme ${url.protocol} is not http or https`);
    }
    if (url.username !== "" || url.password !== "") {
      // Fetching never sends them (fetch refuses such URLs), so the keys could never be had.
      return problem(
        `${field}.remoteJWKS.uri: ${redactUri(url.href)} has credentials (user:password@), which a JWKS fetch cannot use; remove them`,
      );
    }
    const remote = p.remoteJWKS;
    const cacheDurationMs = remote.cacheDuration === undefined ? DEFAULT_JWKS_CACHE_MS : parseGatewayDuration(remote.cacheDuration);
    if (cacheDurationMs < 1000) return problem(`${field}.remoteJWKS.cacheDuration: must be at least 1s`);
    const failedRefetchMs = remote.failedRefetchDuration === undefined ? undefined : parseGatewayDuration(remote.failedRefetchDuration);
    if (failedRefetchMs !== undefined && failedRefetchMs < 100)
      return problem(`${field}.remoteJWKS.failedRefetchDuration: must be at least 100ms`);
    const settings =
      remote.backendSettings === undefined ? ok({}) : clusterConnection(remote.backendSettings, `${field}.remoteJWKS.backendSettings`);
    if (!settings.ok) return settings;
    const backends =
      (remote.backendRefs ?? []).length === 0 ? ok({}) : backendsConnection(remote.backendRefs!, `${field}.remoteJWKS`, namespace, refs);
    if (!backends.ok) return backends;
    return ok(remoteJwksSource(url.href, cacheDurationMs, failedRefetchMs, { ...settings.value, ...backends.value }));
  }
  const local = p.localJWKS!;
  let text: string;
  if (local.type === "Inline") {
    if (local.inline === undefined || local.valueRef !== undefined)
      return problem(`${field}.localJWKS: type Inline needs inline and no valueRef`);
    text = local.inline;
  } else {
    if (local.valueRef === undefined || local.inline !== undefined)
      return problem(`${field}.localJWKS: type ValueRef needs valueRef and no inline`);
    const cm = refs.configMap(namespace, local.valueRef);
    if (!cm.ok) return problem(`${field}.localJWKS.valueRef: ${cm.error}`);
    // Envoy Gateway v1.9.0 reads the `jwks` key, else the first value its map iteration yields:
    // Go's order is random, so keys of different values are key sets it may take in turn.
    const data = cm.value.data;
    const keys = Object.keys(data).sort();
    const key = keys.includes("jwks") ? "jwks" : keys[0];
    const where = `${field}.localJWKS.valueRef: ConfigMap ${namespace}/${local.valueRef.name}`;
    if (key === undefined) return problem(`${where} is empty`);
    if (key !== "jwks" && keys.some((k) => data[k] !== data[key]))
      return problem(
        `${where} has no "jwks" key and ${keys.length} keys of different values (${keys.join(", ")}), of which Envoy Gateway reads any one (Go's map order); name the one to read jwks`,
      );
    text = data[key]!;
  }
  if (Buffer.byteLength(text) > MAX_LOCAL_JWKS_BYTES) return problem(`${field}.localJWKS: larger than ${MAX_LOCAL_JWKS_BYTES} bytes`);
  const parsed = refs.jwks(text);
  if (!parsed.ok) return problem(`${field}.localJWKS: ${parsed.error}`);
  return { ok: true, value: { kind: "local", keys: parsed.keys }, warnings: parsed.unusable.map((why) => `${field}.localJWKS: ${why}`) };
}
