/**
 * The jwt phase, with Envoy jwt_authn semantics: tokens are read from every location the
 * providers name; each token found must verify (one bad token fails the request, so a second
 * token cannot be smuggled past); a provider is chosen by `iss`; any provider verifying is enough.
 * A refusal carries a fine reason code (expired, not yet valid, bad signature, unknown issuer, no
 * key for the kid, audience) for the audit log and metrics; the client gets Envoy's answer (401 with
 * `WWW-Authenticate`, 403 for the audience). With `failOpen` a missing or refused token passes, as
 * Envoy's `allow_missing_or_failed`: with the identity of a token that verifies, if any, else none.
 */
import type { KeyStore } from "../../keys/types.ts";
import type { CompiledJwt } from "./compile.ts";
import { readCredential, readCredentialOtherwise } from "../../authz/credentials.ts";
import { deny } from "../../authz/decision.ts";
import type { PhaseResult } from "../feature.ts";
import { realmOf, type NormalizedRequest } from "../../authz/request.ts";
import { andThen, firstOf, type MaybePromise } from "../../authz/maybe-async.ts";
import type { CachedToken, TokenCache } from "./token-cache.ts";
import type { Trace } from "../../authz/trace.ts";
import {
  bothFound,
  describeTokens,
  envoyFindsNone,
  envoyReadFirst,
  foundToken,
  type FoundTokens,
  NO_TOKENS,
  readsParamOrCookie,
  tokenAt,
  tokenCount,
  tokensIn,
  withoutEmptyOnlyOthersFind,
} from "./token-search.ts";
import { refuse, type TokenVerdict, Verification } from "./verification.ts";
import { decodeJwt } from "./verify.ts";
import type { JwksSourceView } from "../../keys/store.ts";

export interface JwtContext {
  /** `describe`, when the store has it, gives a trace the state of a remote key set (the admin view's, no key material). */
  readonly keys: Pick<KeyStore, "resolve" | "stateOf"> & { describe?(): readonly JwksSourceView[] };
  readonly memo: { readonly tokens: TokenCache };
  readonly now: () => number;
  readonly trace?: Trace | undefined;
}

/** An optional jwt with no token, or failOpen with no valid one: nothing is set upstream and no claim is there for rules. */
const NO_TOKEN: PhaseResult = { ok: true, value: { principal: undefined, headers: {}, strip: [], attributes: {} } };

export function checkJwt(
  config: CompiledJwt,
  request: NormalizedRequest,
  where: { route: string; policy: string },
  ctx: JwtContext,
): MaybePromise<PhaseResult> {
  const everyFound = withoutEmptyOnlyOthersFind(tokensIn(config, request, readCredential), config, request);
  // Tokens only another reader takes from a header (`bearer <t>`, `Bearer<TAB><t>`): Envoy neither
  // finds nor verifies them, so they give no identity and do not meet a required jwt; each must
  // still verify (unless failOpen, where Envoy passes even a refused token), as the upstream may read it.
  const unread = config.failOpen ? NO_TOKENS : tokensIn(config, request, readCredentialOtherwise);
  // Envoy finds no token (`missing`) where one is found only at a ";" of the query or in a cookie
  // whose name differs in letter case: a required jwt is not met (Envoy answers 401, and a request
  // is allowed only if every reading allows), an optional one passes with no identity, and the
  // tokens found must still verify. Only query parameters and cookies are read differently, so
  // without them the readings find the same tokens.
  const envoyNone = tokenCount(everyFound) > 0 && readsParamOrCookie(config) && envoyFindsNone(config, request);
  const found = envoyNone ? everyFound : envoyReadFirst(everyFound, config, request);
  const missing = tokenCount(found) === 0 || envoyNone;
  ctx.trace?.note({
    tokensFound: describeTokens(found, config),
    ...(tokenCount(unread) > 0 ? { tokensOnlyOtherReadersFind: describeTokens(unread, config) } : {}),
    ...(config.optional ? { optional: true } : {}),
  });
  if (missing && !config.optional && !config.failOpen) {
    return { ok: false, error: deny(401, "jwt_missing", "Jwt is missing", where, { "www-authenticate": challenge(request) }) };
  }
  if (config.failOpen) return missing ? NO_TOKEN : verifiedIdentity(found, config, request, ctx);
  const unreadCount = tokenCount(unread);
  if (tokenCount(found) === 0 && unreadCount === 0) return NO_TOKEN;
  // The first token verified gives the identity: one Envoy found (envoyReadFirst), never one only another reader takes.
  const verdict = verifyInOrder(
    tokenCount(found) === 0 ? unread : unreadCount === 0 ? found : bothFound(found, unread),
    config,
    ctx,
    0,
    undefined,
  );
  return verdict instanceof Promise
    ? concludedOnceVerified(verdict, missing, config, request, where, ctx)
    : concludedUnlessUnread(verdict, missing, config, request, where, ctx);
}

/**
 * concludedUnlessUnread once a verification that had to wait is done. A function of its own: checkJwt
 * holding the closure would allocate its context on every call, the usual one (a cached token) too.
 */
function concludedOnceVerified(
  verdict: Promise<TokenVerdict>,
  missing: boolean,
  config: CompiledJwt,
  request: NormalizedRequest,
  where: { route: string; policy: string },
  ctx: JwtContext,
): Promise<PhaseResult> {
  return verdict.then((v) => concludedUnlessUnread(v, missing, config, request, where, ctx));
}

/** `concluded`, except that a token only another reader took (`missing`: Envoy found none) gives no identity once it verified. */
function concludedUnlessUnread(
  verdict: TokenVerdict,
  missing: boolean,
  config: CompiledJwt,
  request: NormalizedRequest,
  where: { route: string; policy: string },
  ctx: JwtContext,
): PhaseResult {
  return missing && !("error" in verdict) ? NO_TOKEN : concluded(verdict, config, request, where, ctx);
}

/**
 * Verifies the tokens from `from` on, in order: the first refusal ends it; else the verdict of the
 * first token (`first`, once one verified). A loop while verdicts are at hand (a cached token: no
 * closure, no promise), resumed after a verification that must wait.
 */
function verifyInOrder(
  found: FoundTokens,
  config: CompiledJwt,
  ctx: JwtContext,
  from: number,
  first: CachedToken | undefined,
): MaybePromise<TokenVerdict> {
  for (let i = from; i < tokenCount(found); i++) {
    const { token, readers } = tokenAt(found, i);
    const verdict = verifyToken(token, readers, config, ctx);
    if (verdict instanceof Promise) return resumedAfter(verdict, found, config, ctx, i, first);
    if ("error" in verdict) return verdict;
    first ??= verdict;
  }
  return first!;
}

/** verifyInOrder after token `i`, once its verification that had to wait is done (a function of its own: no closure context per call). */
function resumedAfter(
  verdict: Promise<TokenVerdict>,
  found: FoundTokens,
  config: CompiledJwt,
  ctx: JwtContext,
  i: number,
  first: CachedToken | undefined,
): Promise<TokenVerdict> {
  return verdict.then((v) => ("error" in v ? v : verifyInOrder(found, config, ctx, i + 1, first ?? v)));
}

/** The phase's result once every token verified (the first one's identity) or one was refused. */
function concluded(
  verdict: TokenVerdict,
  config: CompiledJwt,
  request: NormalizedRequest,
  where: { route: string; policy: string },
  ctx: JwtContext,
): PhaseResult {
  if (!("error" in verdict)) {
    ctx.trace?.note({
      claimsToHeaders: config.providers[verdict.provider]!.claimToHeaders.map((c) => `${c.claim.join(".")} -> ${c.header}`),
    });
    return verdict.passed;
  }
  const refusal = verdict.error;
  const realm = challenge(request);
  const wwwAuthenticate = refusal.status === 401 ? `${realm}, error="invalid_token"` : realm;
  const decision = deny(refusal.status, refusal.code, refusal.message, where, { "www-authenticate": wwwAuthenticate });
  return { ok: false, error: refusal.detail === undefined ? decision : { ...decision, detail: refusal.detail } };
}

/**
 * `failOpen` (Envoy's allow_missing_or_failed): every token is verified, and the request passes
 * with the identity of the first one that verifies; a refused token costs only itself (Envoy's
 * authenticator goes on to the next token and forwards each good one's claims). None verifies:
 * no identity at all, no claim of a refused token. The identity comes only from a token Envoy reads
 * too (not one found only at a ";" of the query): on the other reading the request has none.
 */
function verifiedIdentity(found: FoundTokens, config: CompiledJwt, request: NormalizedRequest, ctx: JwtContext): MaybePromise<PhaseResult> {
  const envoy = readsParamOrCookie(config) ? request.asEnvoyReads() : request;
  const envoyReads = envoy === request ? undefined : tokensIn(config, envoy, readCredential);
  let first: CachedToken | undefined;
  const refusals: string[] = [];
  const done = firstOf(tokenCount(found), (i) =>
    andThen(verifyToken(tokenAt(found, i).token, tokenAt(found, i).readers, config, ctx), (verdict) => {
      if ("error" in verdict) refusals.push(verdict.error.code);
      else if (envoyReads === undefined || foundToken(envoyReads, tokenAt(found, i).token) !== undefined) first ??= verdict;
      return undefined;
    }),
  );
  return andThen(done, (): PhaseResult => {
    if (refusals.length > 0) ctx.trace?.note({ failOpen: `refused token(s) passed over (${refusals.join(", ")})` });
    return first === undefined ? NO_TOKEN : first.passed;
  });
}

const challenge = (request: NormalizedRequest) => `Bearer realm="${realmOf(request)}"`;

/**
 * The verdict on `token`, found where providers `readers` (indexes into `config.providers`) read it:
 * the cached one while it holds, else that of the first provider accepting it, else a Refusal (401,
 * or 403 for a genuine token of another audience). A Promise only while a key set must be fetched.
 */
function verifyToken(token: string, readers: readonly number[], config: CompiledJwt, ctx: JwtContext): MaybePromise<TokenVerdict> {
  const now = ctx.now();
  const cached = ctx.memo.tokens.get(token, config, now);
  // A verdict is reused only for a provider that reads the token from where it was found this time,
  // and while its key set is the one held (the store selects one array per set and kid): a key gone
  // from a refetched JWKS refuses the token at once; a set fetched again verifies it once more.
  if (
    cached !== undefined &&
    readers.includes(cached.provider) &&
    ctx.keys.resolve(config.providers[cached.provider]!.jwks, cached.kid) === cached.keys
  ) {
    ctx.trace?.add("tokens", { provider: config.providers[cached.provider]!.name, verdict: "verified earlier (cached until it expires)" });
    return cached;
  }

  const jwt = decodeJwt(token);
  if (!jwt.ok) {
    ctx.trace?.add("tokens", { verdict: `not well formed: ${jwt.error}` });
    return refuse(401, "jwt_invalid", `Jwt is not well formed: ${jwt.error}`);
  }
  const attempt = new Verification(token, jwt.value, readers, config, ctx, now);
  if (ctx.trace !== undefined) traceDecoded(ctx.trace, attempt);
  return attempt.from(0);
}

/**
 * A decoded token in a trace: its issuer, kid and alg, and the providers taking its issuer. A function of
 * its own: verifyToken holding these closures allocated their context on every call, a cached token's too.
 */
function traceDecoded(trace: Trace, attempt: Verification): void {
  const { decoded, readers, config } = attempt;
  const iss = decoded.payload.iss;
  trace.add("tokens", {
    iss: typeof iss === "string" ? iss : `(${iss === undefined ? "none" : typeof iss})`,
    kid: decoded.kid ?? "(none)",
    alg: decoded.alg,
    providers: readers.filter((i) => attempt.issuedFor(i)).map((i) => config.providers[i]!.name),
  });
}
