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
import { fail, type Failure } from "../../lib/result.ts";
import type { PhaseResult } from "../feature.ts";
import { remember } from "./identity.ts";
import { checkClaims, CLOCK_SKEW_SECONDS, decodeJwt, verifySignature, type ClaimsProblem, type DecodedJwt } from "./verify.ts";
import type { VerificationKey } from "../../api/jwks.ts";
import { realmOf, type NormalizedRequest } from "../../authz/request.ts";
import { andThen, firstOf, type MaybePromise } from "../../authz/maybe-async.ts";
import type { CachedToken, TokenCache } from "./token-cache.ts";
import type { Trace } from "../../authz/trace.ts";
import { describeJwks } from "../../snapshot/summary.ts";
import {
  describeTokens,
  envoyFindsNone,
  type FoundToken,
  NO_TOKENS,
  readsParamOrCookie,
  tokensIn,
  withoutEmptyOnlyOthersFind,
} from "./token-search.ts";
import type { JwksSourceView } from "../../keys/store.ts";
import { redactUri } from "../../keys/uri.ts";

export interface JwtContext {
  /** `describe`, when the store has it, gives a trace the state of a remote key set (the admin view's, no key material). */
  readonly keys: Pick<KeyStore, "resolve" | "stateOf"> & { describe?(): readonly JwksSourceView[] };
  readonly memo: { readonly tokens: TokenCache };
  readonly now: () => number;
  readonly trace?: Trace | undefined;
}

/** Reason codes of a token refused (jwt_missing is the phase's own). */
export type JwtRefusalCode = ClaimsProblem["code"] | "jwt_bad_signature" | "jwt_no_key";

/** Why a token is refused: the status (401, or 403 for a genuine token of another audience), its reason code and Envoy's message. */
interface Refusal {
  readonly status: 401 | 403;
  readonly code: JwtRefusalCode;
  /** Envoy jwt_authn's words: what the client may be told. */
  readonly message: string;
  /** For the audit log only: which kid had no key, and what the key store holds. */
  readonly detail?: string;
}

/** A token's verdict: the cached verification (as it is, so a cache hit allocates nothing), or why it is refused. */
type TokenVerdict = CachedToken | Failure<Refusal>;

const refuse = (status: 401 | 403, code: JwtRefusalCode, message: string, detail?: string) =>
  fail<Refusal>(detail === undefined ? { status, code, message } : { status, code, message, detail });

/** An optional jwt with no token, or failOpen with no valid one: nothing is set upstream and no claim is there for rules. */
const NO_TOKEN: PhaseResult = { ok: true, value: { principal: undefined, headers: {}, strip: [], attributes: {} } };

export function checkJwt(
  config: CompiledJwt,
  request: NormalizedRequest,
  where: { route: string; policy: string },
  ctx: JwtContext,
): MaybePromise<PhaseResult> {
  const found = withoutEmptyOnlyOthersFind(tokensIn(config, request, readCredential), config, request);
  // Tokens only another reader takes from a header (`bearer <t>`, `Bearer<TAB><t>`): Envoy neither
  // finds nor verifies them, so they give no identity and do not meet a required jwt; each must
  // still verify (unless failOpen, where Envoy passes even a refused token), as the upstream may read it.
  const unread = config.failOpen ? NO_TOKENS : tokensIn(config, request, readCredentialOtherwise);
  // A required jwt must be met by a token Envoy reads too: one found only at a ";" of the query is
  // invisible to Envoy, which answers 401, and a request is allowed only if every reading allows.
  // Only query parameters and cookies are read differently, so without them the readings find the same tokens.
  const missing = found.length === 0 || (!config.optional && readsParamOrCookie(config) && envoyFindsNone(config, request));
  ctx.trace?.note({
    tokensFound: describeTokens(found, config),
    ...(unread.length > 0 ? { tokensOnlyOtherReadersFind: describeTokens(unread, config) } : {}),
    ...(config.optional ? { optional: true } : {}),
  });
  if (missing && !config.optional && !config.failOpen) {
    return { ok: false, error: deny(401, "jwt_missing", "Jwt is missing", where, { "www-authenticate": challenge(request) }) };
  }
  if (config.failOpen) return missing ? NO_TOKEN : verifiedIdentity(found, config, request, ctx);
  if (missing && unread.length === 0) return NO_TOKEN;
  // The first token verified gives the identity: one Envoy found, never one only another reader takes.
  const verdict = verifyInOrder(missing ? unread : unread.length === 0 ? found : [...found, ...unread], config, ctx, 0, undefined);
  // No closure on the usual path (a cached token answers at once): one would be allocated on every request.
  return verdict instanceof Promise
    ? verdict.then((v) => concludedUnlessUnread(v, missing, config, request, where, ctx))
    : concludedUnlessUnread(verdict, missing, config, request, where, ctx);
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
  found: readonly FoundToken[],
  config: CompiledJwt,
  ctx: JwtContext,
  from: number,
  first: CachedToken | undefined,
): MaybePromise<TokenVerdict> {
  for (let i = from; i < found.length; i++) {
    const [token, readers] = found[i]!;
    const verdict = verifyToken(token, readers, config, ctx);
    if (verdict instanceof Promise) return verdict.then((v) => ("error" in v ? v : verifyInOrder(found, config, ctx, i + 1, first ?? v)));
    if ("error" in verdict) return verdict;
    first ??= verdict;
  }
  return first!;
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
function verifiedIdentity(
  found: readonly FoundToken[],
  config: CompiledJwt,
  request: NormalizedRequest,
  ctx: JwtContext,
): MaybePromise<PhaseResult> {
  const envoy = readsParamOrCookie(config) ? request.asEnvoyReads() : request;
  const envoyReads = envoy === request ? undefined : new Set(tokensIn(config, envoy, readCredential).map(([token]) => token));
  let first: CachedToken | undefined;
  const refusals: string[] = [];
  const done = firstOf(found.length, (i) =>
    andThen(verifyToken(found[i]![0], found[i]![1], config, ctx), (verdict) => {
      if ("error" in verdict) refusals.push(verdict.error.code);
      else if (envoyReads === undefined || envoyReads.has(found[i]![0])) first ??= verdict;
      return undefined;
    }),
  );
  return andThen(done, (): PhaseResult => {
    if (refusals.length > 0) ctx.trace?.note({ failOpen: `refused token(s) passed over (${refusals.join(", ")})` });
    return first === undefined ? NO_TOKEN : first.passed;
  });
}

const challenge = (request: NormalizedRequest) => `Bearer realm="${realmOf(request)}"`;

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
  const decoded = jwt.value;
  const iss = decoded.payload.iss;
  const attempt = new Verification(token, decoded, readers, config, ctx, now);
  ctx.trace?.add("tokens", {
    iss: typeof iss === "string" ? iss : `(${iss === undefined ? "none" : typeof iss})`,
    kid: decoded.kid ?? "(none)",
    alg: decoded.alg,
    providers: readers.filter((i) => attempt.issuedFor(i)).map((i) => config.providers[i]!.name),
  });
  return attempt.from(0);
}

/**
 * One token's verification by the providers that read it, in order: the first that verifies it
 * and accepts its claims gives the verdict; else the refusal from what each one found. A loop while
 * the key sets are at hand (no closure, no promise per provider), resumed after one that must wait.
 */
class Verification {
  /** A claims problem of a genuine token (an audience mismatch outranks the others). */
  #problem: ClaimsProblem | undefined;
  #badSignature = false;
  /** Providers without a key for the token, with their key store's state (audit log). */
  #keyless: string[] | undefined;
  #issuedForAny = false;

  readonly token: string;
  readonly decoded: DecodedJwt;
  readonly readers: readonly number[];
  readonly config: CompiledJwt;
  readonly ctx: JwtContext;
  readonly now: number;

  constructor(token: string, decoded: DecodedJwt, readers: readonly number[], config: CompiledJwt, ctx: JwtContext, now: number) {
    this.token = token;
    this.decoded = decoded;
    this.readers = readers;
    this.config = config;
    this.ctx = ctx;
    this.now = now;
  }

  /** Whether provider `index` takes tokens of this token's issuer (any, when it names none). */
  issuedFor(index: number): boolean {
    const issuer = this.config.providers[index]!.issuer;
    return issuer === undefined || issuer === this.decoded.payload.iss;
  }

  /** The verdict, trying the readers from position `from` on. */
  from(from: number): MaybePromise<TokenVerdict> {
    for (let r = from; r < this.readers.length; r++) {
      const index = this.readers[r]!;
      if (!this.issuedFor(index)) continue;
      this.#issuedForAny = true;
      const keys = this.ctx.keys.resolve(this.config.providers[index]!.jwks, this.decoded.kid);
      if (keys instanceof Promise) return this.#once(keys, r);
      const verdict = this.#triedWith(index, keys);
      if (verdict !== undefined) return verdict;
    }
    return this.#refusal();
  }

  /**
   * The verdict once reader `r`'s keys are fetched. A method of its own: `from` holding the closure
   * would allocate its context on every call, the usual one with the keys at hand too.
   */
  #once(keys: Promise<readonly VerificationKey[]>, r: number): Promise<TokenVerdict> {
    return keys.then((k) => this.#triedWith(this.readers[r]!, k) ?? this.from(r + 1));
  }

  /** Provider `index`'s verdict with `keys` (those for the token's kid), or undefined when it does not accept the token. */
  #triedWith(index: number, keys: readonly VerificationKey[]): CachedToken | undefined {
    const { decoded, config, ctx, now } = this;
    const provider = config.providers[index]!;
    // The same token verified under these very keys on its first sight: the signature holds (token-cache.ts, the doorkeeper).
    const seen = keys.length > 0 && ctx.memo.tokens.verifiedBefore(this.token, keys, now);
    let holds = seen;
    for (let k = 0; k < keys.length && !holds; k++) holds = verifySignature(decoded, keys[k]!);
    ctx.trace?.add("signature", {
      provider: provider.name,
      jwks: describeJwks(provider.jwks),
      ...(provider.jwks.kind === "remote" ? { jwksState: remoteState(provider.jwks.uri, ctx) } : {}),
      keysForKid: keys.length,
      result:
        keys.length === 0
          ? `no key${decoded.kid === undefined ? "" : ` with kid ${decoded.kid}`} (unknown kid, or the JWKS has no keys)`
          : seen
            ? "verified on its first sight under the same keys (the same token, by SHA-256): not checked again"
            : holds
              ? "verified"
              : "does not verify",
    });
    if (keys.length === 0) {
      (this.#keyless ??= []).push(`provider ${provider.name}: ${ctx.keys.stateOf(provider.jwks)}`);
      return undefined;
    }
    if (!holds) {
      this.#badSignature = true;
      return undefined;
    }
    const found = checkClaims(decoded.payload, Math.floor(now / 1000), CLOCK_SKEW_SECONDS, provider.issuer, provider.audiences);
    ctx.trace?.add("claims", {
      provider: provider.name,
      checked: "exp, nbf, iss, aud",
      result: found === undefined ? "hold" : found.message,
    });
    if (found === undefined) return remember(this.token, decoded, config, index, keys, ctx.memo.tokens, now, seen);
    // An audience mismatch outranks other problems: the token is genuine but meant for someone else (403).
    if (this.#problem === undefined || found.code === "jwt_audience") this.#problem = found;
    return undefined;
  }

  /** Why no provider accepted the token. */
  #refusal(): TokenVerdict {
    if (!this.#issuedForAny) return refuse(401, "jwt_unknown_issuer", "Jwt issuer is not configured");
    // What a signature proved outranks what none could: a genuine token's claims, then a signature that failed.
    const problem = this.#problem;
    if (problem !== undefined) return refuse(problem.code === "jwt_audience" ? 403 : 401, problem.code, problem.message);
    if (this.#badSignature) return refuse(401, "jwt_bad_signature", "Jwt verification fails");
    const { kid, alg } = this.decoded;
    // The kid is the client's text: quoted and cut short, so a log line stays one bounded line.
    const named = kid === undefined ? "a token without kid" : `kid ${JSON.stringify(kid.length > 64 ? `${kid.slice(0, 64)}…` : kid)}`;
    return refuse(
      401,
      "jwt_no_key",
      "Jwks doesn't have key to match kid or alg from Jwt",
      `no key for ${named} (alg ${alg}); ${(this.#keyless ?? []).join("; ")}`,
    );
  }
}

/** What the key store says of a remote key set: keys in hand, last good fetch, last failure (for a trace). */
function remoteState(uri: string, ctx: JwtContext): unknown {
  const shown = redactUri(uri);
  const views = ctx.keys.describe?.().filter((v) => v.uri === shown) ?? [];
  if (views.length === 0) return "not fetched yet";
  return views.map((v) => ({
    keys: v.keyCount,
    kids: v.kids,
    ...(v.lastSuccessAt === undefined ? { fetched: "never successfully" } : { lastFetchedAt: new Date(v.lastSuccessAt).toISOString() }),
    ...(v.lastError === undefined ? {} : { lastError: v.lastError.reason, lastErrorAt: new Date(v.lastError.at).toISOString() }),
  }));
}
