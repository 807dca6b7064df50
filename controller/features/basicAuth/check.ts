/**
 * The basicAuth phase. `{SHA}` entries are compared in constant time. bcrypt entries cost up to
 * hundreds of milliseconds each, so they are compared on worker threads (bcrypt-pool.ts), never on
 * the thread that decides every tenant's requests; a password that verified is remembered
 * (bounded, keyed by a digest of user, password and hash: a changed Secret never matches an old
 * entry). A username not in the table is compared against a hash as costly as the costliest known
 * one, so the answer's timing does not tell which usernames exist. Failed attempts are limited per
 * policy and username, and so are one policy's comparisons in the pool: a tenant under attack
 * fills its own share of the queue, not everyone's. Credentials are read as Envoy's basic_auth
 * filter reads them (envoyBasicCredentials), and an Authorization header sent twice is refused:
 * a reading more lenient than Envoy's could authenticate what Envoy refuses (DESIGN §0).
 */
import { isUtf8 } from "node:buffer";
import { createHash, timingSafeEqual } from "node:crypto";
import type { CompiledBasicAuth, HtpasswdHash } from "./compile.ts";
import { BcryptPool } from "./bcrypt-pool.ts";
import { BoundedMap } from "../../lib/bounded-map.ts";
import { deny } from "../../authz/decision.ts";
import type { PhaseResult } from "../feature.ts";
import { andThen, type MaybePromise } from "../../authz/maybe-async.ts";
import { realmOf, type NormalizedRequest } from "../../authz/request.ts";
import type { Trace } from "../../authz/trace.ts";

export interface PasswordsOptions {
  /** Where bcrypt runs; default: a new pool with its default size and queue. */
  readonly pool?: BcryptPool;
  /** Epoch milliseconds. */
  readonly now?: () => number;
  /** Failed attempts per policy and username within `failureWindowMs` before further ones are refused. Default 10. */
  readonly failureLimit?: number;
  /** Default 60,000 (one minute). */
  readonly failureWindowMs?: number;
  /** bcrypt comparisons one policy may have running or waiting; more are "busy". Default 16. */
  readonly perPolicyLimit?: number;
}

type Verdict = "match" | "mismatch" | "rate_limited" | "busy";

/** The state basicAuth keeps across requests and snapshots: failed attempts and the bcrypt pool. */
export class Passwords {
  readonly pool: BcryptPool;
  /** failureKey(policy, username) → failures in the window that started at `since`; the last ~10,000 usernames. */
  readonly #failures = new BoundedMap<string, { since: number; count: number }>(10_000);
  readonly #now: () => number;
  readonly #failureLimit: number;
  readonly #failureWindowMs: number;
  readonly #perPolicyLimit: number;
  /** Policy id → its bcrypt comparisons running or waiting (absent: none). */
  readonly #inPool = new Map<string, number>();

  constructor(options: PasswordsOptions = {}) {
    this.pool = options.pool ?? new BcryptPool();
    this.#now = options.now ?? Date.now;
    this.#failureLimit = options.failureLimit ?? 10;
    this.#failureWindowMs = options.failureWindowMs ?? 60_000;
    this.#perPolicyLimit = options.perPolicyLimit ?? 16;
  }

  /**
   * Whether `password` is `username`'s in `table`, synchronous unless bcrypt must run. `verified`
   * remembers what verified (the snapshot's memo: a new snapshot starts afresh).
   */
  verify(
    table: CompiledBasicAuth,
    policy: string,
    username: string,
    password: string,
    verified: BoundedMap<string, true>,
  ): MaybePromise<Verdict> {
    const entry: HtpasswdHash | undefined = table.users[username];
    const remembered =
      entry?.kind === "bcrypt" ? createHash("sha256").update(`${username}\0${password}\0${entry.hash}`).digest("base64url") : undefined;
    if (remembered !== undefined && verified.get(remembered) === true) return "match";
    const who = failureKey(policy, username);
    if (this.#limited(who)) return "rate_limited";
    const against = entry ?? table.unknownUser;
    if (against.kind === "bcrypt" && (this.#inPool.get(policy) ?? 0) >= this.#perPolicyLimit) return "busy";
    const compared = compare(against, password, this.pool);
    if (compared instanceof Promise) this.#countInPool(policy, compared);
    return andThen(compared, (ok): Verdict => {
      if (ok === "busy") return "busy";
      if (ok && entry !== undefined) {
        if (remembered !== undefined) verified.set(remembered, true);
        return "match";
      }
      this.#fail(who);
      return "mismatch";
    });
  }

  #countInPool(policy: string, comparison: Promise<unknown>): void {
    this.#inPool.set(policy, (this.#inPool.get(policy) ?? 0) + 1);
    const done = () => {
      const left = this.#inPool.get(policy)! - 1;
      if (left === 0) this.#inPool.delete(policy);
      else this.#inPool.set(policy, left);
    };
    comparison.then(done, done);
  }

  #limited(who: string): boolean {
    const f = this.#failures.get(who);
    return f !== undefined && this.#now() - f.since < this.#failureWindowMs && f.count >= this.#failureLimit;
  }

  #fail(who: string): void {
    const now = this.#now();
    const f = this.#failures.get(who);
    if (f === undefined || now - f.since >= this.#failureWindowMs) this.#failures.set(who, { since: now, count: 1 });
    else this.#failures.set(who, { since: f.since, count: f.count + 1 });
  }
}

/** Longest "policy\0username" kept as it is; a longer one is kept as its digest. */
const MAX_PLAIN_FAILURE_KEY = 256;

/**
 * The key failures of `username` on `policy` are counted under: "policy\0username", or its SHA-256
 * (with a prefix no policy id has) when longer than MAX_PLAIN_FAILURE_KEY, so usernames of a client's
 * choosing (as long as its headers may be) hold a few hundred bytes per entry, not their length.
 */
function failureKey(policy: string, username: string): string {
  const key = `${policy}\0${username}`;
  return key.length <= MAX_PLAIN_FAILURE_KEY ? key : `\0${createHash("sha256").update(key).digest("base64url")}`;
}

function compare(entry: HtpasswdHash, password: string, pool: BcryptPool): MaybePromise<boolean | "busy"> {
  // As Envoy's basic_auth: the digest computed, in base64, against the text as written (both 28 characters).
  if (entry.kind === "sha1")
    return timingSafeEqual(Buffer.from(createHash("sha1").update(password, "utf8").digest("base64")), Buffer.from(entry.digest));
  // $2y$ (Apache) and $2b$ are the same algorithm; bcryptjs names it $2b$.
  return pool.compare(password, entry.hash.replace(/^\$2y\$/, "$2b$"));
}

export function checkBasicAuth(
  config: CompiledBasicAuth,
  request: NormalizedRequest,
  where: { route: string; policy: string },
  passwords: Passwords,
  verified: BoundedMap<string, true>,
  trace?: Trace,
): MaybePromise<PhaseResult> {
  const challenge = { "www-authenticate": `Basic realm="${realmOf(request)}"` };
  const lines = request.headerLines("authorization");
  const line = lines.length === 0 ? undefined : lines[0]!.replace(/^[ \t]+|[ \t]+$/g, "");
  if (line === undefined || !line.startsWith("Basic ")) {
    return {
      ok: false,
      error: deny(401, "basic_missing", "User authentication failed: no Basic credentials in the request", where, challenge),
    };
  }
  if (lines.length > 1) {
    const twice = "User authentication failed: more than one header authorization was sent";
    return { ok: false, error: deny(401, "basic_invalid", twice, where, challenge) };
  }
  const decoded = envoyBasicCredentials(line.slice(6)) ?? "";
  const colon = decoded.indexOf(":");
  const invalid: PhaseResult = {
    ok: false,
    error: deny(401, "basic_invalid", "User authentication failed: wrong username or password", where, challenge),
  };
  trace?.note({ credentials: colon <= 0 ? "Authorization: Basic, without a username" : "Authorization: Basic" });
  if (colon <= 0) return invalid;
  const username = decoded.slice(0, colon);
  // A username that is not in the table is not named: it may be a password typed in the wrong field.
  trace?.note({ user: Object.hasOwn(config.users, username) ? username : "(not in the htpasswd Secret)" });
  return andThen(passwords.verify(config, where.policy, username, decoded.slice(colon + 1), verified), (verdict): PhaseResult => {
    trace?.note({ password: verdict });
    if (verdict === "rate_limited")
      return {
        ok: false,
        error: deny(
          429,
          "basic_rate_limited",
          "User authentication failed: too many failed attempts for this username; try again later",
          where,
        ),
      };
    if (verdict === "busy")
      return {
        ok: false,
        error: deny(429, "basic_busy", "User authentication failed: too many password checks in progress; try again later", where),
      };
    if (verdict === "mismatch") return invalid;
    const headers: Record<string, string> = {};
    if (config.forwardUsernameHeader !== undefined) headers[config.forwardUsernameHeader] = username;
    return { ok: true, value: { principal: `basic ${username}`, headers, strip: [], attributes: { basicAuth: { username } } } };
  });
}

/**
 * The "user:password" text of a Basic credential (what follows "Basic ", which Envoy's basic_auth
 * filter requires in that case), decoded as Envoy decodes it (Base64::decodeWithoutPadding): the
 * standard alphabet only, at most two "=" at the end, not one character too many for whole bytes,
 * the last character's unused bits zero; read as UTF-8. Undefined where Envoy decodes nothing, which
 * Node's lenient decoder does not tell (it skips spaces and other characters, and stops at an "="),
 * and where the bytes are not UTF-8: Envoy compares bytes, and as text every such byte would read as
 * U+FFFD, so a password holding U+FFFD would match any of them.
 */
export function envoyBasicCredentials(base64: string): string | undefined {
  if (!ENVOY_BASE64.test(base64)) return undefined;
  const chars = base64.replace(/=+$/, "");
  if (chars.length % 4 === 1) return undefined;
  const bytes = Buffer.from(chars, "base64");
  // Re-encoding gives the same characters only when the unused bits were zero.
  return bytes.toString("base64").replace(/=+$/, "") === chars && isUtf8(bytes) ? bytes.toString("utf8") : undefined;
}

const ENVOY_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
