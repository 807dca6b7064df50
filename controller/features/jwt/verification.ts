/**
 * One decoded jwt's verification, as Envoy's jwt_authn verifies it: tried by each provider that read
 * it and takes its issuer, in order, against the keys for its kid and then its claims; the first
 * that accepts it gives the verdict, else the refusal that says most (audience, claims, signature,
 * key). The decoding and the token cache's reuse of a verdict stay in check.ts (verifyToken): with
 * that call in this module, a cached check's heap grew by about 120 bytes (test/bench/in-process.test.ts).
 */
import type { VerificationKey } from "../../api/jwks.ts";
import type { MaybePromise } from "../../authz/maybe-async.ts";
import { redactUri } from "../../keys/uri.ts";
import { fail, type Failure } from "../../lib/result.ts";
import { describeJwks } from "../../snapshot/summary.ts";
import type { JwtContext } from "./check.ts";
import type { CompiledJwt } from "./compile.ts";
import { remember } from "./identity.ts";
import type { CachedToken } from "./token-cache.ts";
import { checkClaims, CLOCK_SKEW_SECONDS, verifySignature, type ClaimsProblem, type DecodedJwt } from "./verify.ts";

/** Reason codes of a token refused (jwt_missing is the phase's own). */
export type JwtRefusalCode = ClaimsProblem["code"] | "jwt_bad_signature" | "jwt_no_key";

/** Why a token is refused: the status (401, or 403 for a genuine token of another audience), its reason code and Envoy's message. */
export interface Refusal {
  readonly status: 401 | 403;
  readonly code: JwtRefusalCode;
  /** Envoy jwt_authn's words: what the client may be told. */
  readonly message: string;
  /** For the audit log only: which kid had no key, and what the key store holds. */
  readonly detail?: string;
}

/** A token's verdict: the cached verification (as it is, so a cache hit allocates nothing), or why it is refused. */
export type TokenVerdict = CachedToken | Failure<Refusal>;

export const refuse = (status: 401 | 403, code: JwtRefusalCode, message: string, detail?: string) =>
  fail<Refusal>(detail === undefined ? { status, code, message } : { status, code, message, detail });

/**
 * One token's verification by the providers that read it, in order: the first that verifies it
 * and accepts its claims gives the verdict; else the refusal from what each one found. A loop while
 * the key sets are at hand (no closure, no promise per provider), resumed after one that must wait.
 */
export class Verification {
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
