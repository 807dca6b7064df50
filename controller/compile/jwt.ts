/** Compiles `jwt`: providers with their key sources, claim headers and token locations. */
import type { JWTProviderSpec, JWTSpec } from "../api/securitypolicy.ts";
import { remoteJwksSource, type JwksSource } from "../keys/types.ts";
import { redactUri } from "../keys/uri.ts";
import type { CompiledJwt, CompiledJwtProvider, CredentialSource } from "../snapshot/types.ts";
import type { FeatureResult } from "./apikey.ts";
import { upstreamHeaderName } from "./headers.ts";
import type { References } from "./references.ts";

export const DEFAULT_JWKS_CACHE_MS = 300_000;
/** A local JWKS is held to the key store's limit on a remote one. */
export const MAX_LOCAL_JWKS_BYTES = 1024 * 1024;
/** Envoy's default token locations: `Authorization: Bearer <token>`, then `?access_token=`. */
const DEFAULT_TOKEN_SOURCES: readonly CredentialSource[] = [
  { in: "header", name: "authorization", prefix: "Bearer " },
  { in: "param", name: "access_token" },
];

export function compileJwt(spec: JWTSpec, namespace: string, refs: References): FeatureResult<CompiledJwt> {
  const names = new Set<string>();
  const providers: CompiledJwtProvider[] = [];
  const warnings: string[] = [];
  for (const [i, p] of spec.providers.entries()) {
    const field = `jwt.providers[${i}]`;
    if (names.has(p.name)) return { ok: false, error: `${field}: provider name ${p.name} is used twice` };
    names.add(p.name);
    const provider = compileProvider(p, field, namespace, refs);
    if (!provider.ok) return provider;
    providers.push(provider.value);
    warnings.push(...(provider.warnings ?? []));
  }
  return { ok: true, value: { optional: spec.optional === true, providers }, warnings };
}

function compileProvider(p: JWTProviderSpec, field: string, namespace: string, refs: References): FeatureResult<CompiledJwtProvider> {
  const jwks = compileJwks(p, field, namespace, refs);
  if (!jwks.ok) return jwks;
  const claimToHeaders: { header: string; claim: string[] }[] = [];
  for (const [j, c] of (p.claimToHeaders ?? []).entries()) {
    const h = upstreamHeaderName(c.header, `${field}.claimToHeaders[${j}].header`);
    if (!h.ok) return h;
    const claim = c.claim.split(".");
    if (claim.some((part) => part === ""))
      return { ok: false, error: `${field}.claimToHeaders[${j}].claim: "${c.claim}" has an empty path segment` };
    claimToHeaders.push({ header: h.name, claim });
  }
  const sources: CredentialSource[] = [];
  const from = p.extractFrom;
  if (from !== undefined) {
    for (const h of from.headers ?? []) sources.push({ in: "header", name: h.name.toLowerCase(), prefix: h.valuePrefix });
    for (const c of from.cookies ?? []) sources.push({ in: "cookie", name: c });
    for (const q of from.params ?? []) sources.push({ in: "param", name: q });
    if (sources.length === 0) return { ok: false, error: `${field}.extractFrom names no header, cookie or param` };
  }
  return {
    ok: true,
    warnings: jwks.warnings,
    value: {
      name: p.name,
      issuer: p.issuer === undefined || p.issuer === "" ? undefined : p.issuer,
      audiences: p.audiences ?? [],
      jwks: jwks.value,
      claimToHeaders,
      sources: sources.length > 0 ? sources : DEFAULT_TOKEN_SOURCES,
    },
  };
}

function compileJwks(p: JWTProviderSpec, field: string, namespace: string, refs: References): FeatureResult<JwksSource> {
  if ((p.remoteJWKS === undefined) === (p.localJWKS === undefined)) {
    return { ok: false, error: `${field}: exactly one of remoteJWKS and localJWKS must be set` };
  }
  if (p.remoteJWKS !== undefined) {
    let url: URL;
    try {
      url = new URL(p.remoteJWKS.uri);
    } catch {
      // Not quoted: whatever secret it holds cannot be redacted from text that is not a URL.
      return { ok: false, error: `${field}.remoteJWKS.uri: not a URL` };
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      return { ok: false, error: `${field}.remoteJWKS.uri: scheme ${url.protocol} is not http or https` };
    }
    if (url.username !== "" || url.password !== "") {
      // Fetching never sends them (fetch refuses such URLs), so the keys could never be had.
      return {
        ok: false,
        error: `${field}.remoteJWKS.uri: ${redactUri(url.href)} has credentials (user:password@), which a JWKS fetch cannot use; remove them`,
      };
    }
    if (p.remoteJWKS.backendRefs !== undefined || p.remoteJWKS.backendRef !== undefined || p.remoteJWKS.backendSettings !== undefined) {
      return {
        ok: false,
        error: `${field}.remoteJWKS: backendRefs and backendSettings are not supported; Portcullis fetches the uri directly`,
      };
    }
    const cacheDurationMs =
      p.remoteJWKS.cacheDuration === undefined ? DEFAULT_JWKS_CACHE_MS : parseGatewayDuration(p.remoteJWKS.cacheDuration);
    if (cacheDurationMs < 1000) return { ok: false, error: `${field}.remoteJWKS.cacheDuration: must be at least 1s` };
    return { ok: true, value: remoteJwksSource(url.href, cacheDurationMs) };
  }
  const local = p.localJWKS!;
  let text: string;
  if (local.type === "Inline") {
    if (local.inline === undefined || local.valueRef !== undefined)
      return { ok: false, error: `${field}.localJWKS: type Inline needs inline and no valueRef` };
    text = local.inline;
  } else {
    if (local.valueRef === undefined || local.inline !== undefined)
      return { ok: false, error: `${field}.localJWKS: type ValueRef needs valueRef and no inline` };
    const cm = refs.configMap(namespace, local.valueRef);
    if (!cm.ok) return { ok: false, error: `${field}.localJWKS.valueRef: ${cm.error}` };
    // Envoy Gateway reads the `jwks` key, else the first value.
    const keys = Object.keys(cm.value.data).sort();
    const key = keys.includes("jwks") ? "jwks" : keys[0];
    if (key === undefined)
      return { ok: false, error: `${field}.localJWKS.valueRef: ConfigMap ${namespace}/${local.valueRef.name} is empty` };
    text = cm.value.data[key]!;
  }
  if (Buffer.byteLength(text) > MAX_LOCAL_JWKS_BYTES)
    return { ok: false, error: `${field}.localJWKS: larger than ${MAX_LOCAL_JWKS_BYTES} bytes` };
  const parsed = refs.jwks(text);
  if (!parsed.ok) return { ok: false, error: `${field}.localJWKS: ${parsed.error}` };
  return { ok: true, value: { kind: "local", keys: parsed.keys }, warnings: parsed.unusable.map((why) => `${field}.localJWKS: ${why}`) };
}

/** Milliseconds of a Gateway API Duration ("1h30m", "300s", "500ms"); the schema checked its form. */
export function parseGatewayDuration(text: string): number {
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  for (const [, n, u] of text.matchAll(/([0-9]+)(ms|h|m|s)/g)) total += Number(n) * unit[u!]!;
  return total;
}
