/**
 * The jwt phase, with Envoy jwt_authn semantics: tokens are read from every location the
 * providers name; each token found must verify (one bad token fails the request, so a second
 * token cannot be smuggled past); a provider is chosen by `iss`; any provider verifying is enough.
 */
import type { KeyStore } from "../keys/types.ts";
import type { CompiledJwt, CompiledJwtProvider } from "../snapshot/types.ts";
import { readCredential } from "./credentials.ts";
import { deny } from "./decision.ts";
import type { PhaseOutcome } from "./identity.ts";
import { checkClaims, decodeJwt, verifySignature, type ClaimsProblem, type DecodedJwt } from "./jwt-verify.ts";
import { realmOf, type NormalizedRequest } from "./request.ts";
import type { TokenCache } from "./token-cache.ts";

/** Clock leeway for exp and nbf, as Envoy's default. */
export const CLOCK_SKEW_SECONDS = 60;

export interface JwtContext {
  readonly keys: Pick<KeyStore, "resolve">;
  readonly cache: TokenCache;
  readonly now: () => number;
}

type TokenVerdict =
  | { readonly ok: true; readonly provider: number; readonly claims: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly status: 401 | 403; readonly message: string };

export async function checkJwt(
  config: CompiledJwt,
  request: NormalizedRequest,
  where: { route: string; policy: string },
  ctx: JwtContext,
): Promise<PhaseOutcome> {
  // token → indexes of the providers that read it from where it was found.
  const tokens = new Map<string, number[]>();
  config.providers.forEach((provider, index) => {
    for (const source of provider.sources) {
      for (const token of readCredential(request, source)) {
        const readers = tokens.get(token) ?? [];
        if (!readers.includes(index)) readers.push(index);
        tokens.set(token, readers);
      }
    }
  });
  const realm = `Bearer realm="${realmOf(request)}"`;
  if (tokens.size === 0) {
    if (config.optional) return { ok: true, value: { principal: undefined, headers: {}, strip: [], attributes: {} } };
    return { ok: false, deny: deny(401, "jwt_missing", "Jwt is missing", where, { "www-authenticate": realm }) };
  }
  let first: { provider: number; claims: Readonly<Record<string, unknown>> } | undefined;
  for (const [token, readers] of tokens) {
    const verdict = await verifyToken(token, readers, config.providers, where.policy, ctx);
    if (!verdict.ok) {
      const challenge = verdict.status === 401 ? `${realm}, error="invalid_token"` : realm;
      const code = verdict.status === 403 ? "jwt_audience" : "jwt_invalid";
      return { ok: false, deny: deny(verdict.status, code, verdict.message, where, { "www-authenticate": challenge }) };
    }
    first ??= verdict;
  }
  const provider = config.providers[first!.provider]!;
  const headers: Record<string, string> = {};
  for (const { header, claim } of provider.claimToHeaders) {
    const value = headerValueOf(claimAt(first!.claims, claim));
    if (value !== undefined) headers[header] = value;
  }
  const sub = typeof first!.claims.sub === "string" ? ` sub=${first!.claims.sub}` : "";
  return { ok: true, value: { principal: `jwt ${provider.name}${sub}`, headers, strip: [], attributes: { jwt: { provider: provider.name, claims: first!.claims } } } };
}

async function verifyToken(
  token: string,
  readers: readonly number[],
  providers: readonly CompiledJwtProvider[],
  policy: string,
  ctx: JwtContext,
): Promise<TokenVerdict> {
  const now = ctx.now();
  const cacheKey = `${policy}\n${token}`;
  const cached = ctx.cache.get(cacheKey, now);
  // A verdict is reused only for a provider that reads the token from where it was found this time.
  if (cached !== undefined && readers.includes(cached.provider)) return { ok: true, provider: cached.provider, claims: cached.claims };

  const jwt = decodeJwt(token);
  if ("error" in jwt) return { ok: false, status: 401, message: `Jwt is not well formed: ${jwt.error}` };
  const iss = jwt.payload.iss;
  const candidates = readers.filter((i) => providers[i]!.issuer === undefined || providers[i]!.issuer === iss);
  if (candidates.length === 0) return { ok: false, status: 401, message: "Jwt issuer is not configured" };
  let problem: ClaimsProblem | undefined;
  for (const index of candidates) {
    const provider = providers[index]!;
    if (!(await signatureHolds(jwt, provider, ctx))) continue;
    const found = checkClaims(jwt.payload, Math.floor(now / 1000), CLOCK_SKEW_SECONDS, provider.issuer, provider.audiences);
    if (found === undefined) {
      const exp = jwt.payload.exp;
      ctx.cache.set(cacheKey, { provider: index, claims: jwt.payload }, now, typeof exp === "number" ? (exp + CLOCK_SKEW_SECONDS) * 1000 : undefined);
      return { ok: true, provider: index, claims: jwt.payload };
    }
    // An audience mismatch outranks other problems: the token is genuine but meant for someone else (403).
    if (problem === undefined || found.code === "audience") problem = found;
  }
  if (problem === undefined) return { ok: false, status: 401, message: "Jwt verification fails" };
  return { ok: false, status: problem.code === "audience" ? 403 : 401, message: problem.message };
}

async function signatureHolds(jwt: DecodedJwt, provider: CompiledJwtProvider, ctx: JwtContext): Promise<boolean> {
  const found = ctx.keys.resolve(provider.jwks, jwt.kid);
  const keys = Array.isArray(found) ? found : await found;
  return keys.some((key) => verifySignature(jwt, key));
}

/** A claim by dot path ("realm.roles"); own members of objects only, never through arrays. */
export function claimAt(claims: Readonly<Record<string, unknown>>, path: readonly string[]): unknown {
  let value: unknown = claims;
  for (const part of path) {
    if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * Scalar claims only (as Envoy Gateway). A value that is not printable ASCII (RFC 9110 §5.5:
 * control characters are invalid, non-ASCII is obsolete and Node refuses most of it) is not set,
 * so, being a managed header, the client's copy is still removed.
 */
function headerValueOf(value: unknown): string | undefined {
  const text = typeof value === "string" ? value : typeof value === "number" || typeof value === "boolean" ? String(value) : undefined;
  return text === undefined || !/^[\t\x20-\x7e]*$/.test(text) ? undefined : text;
}
