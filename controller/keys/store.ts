/**
 * The JWKS key store (DESIGN §3): keys of every remote JWKS the current snapshot uses, keyed by
 * `cacheKey` (the URI, and how it is reached: endpoints, CA, retries).
 *
 * - `sync` makes the store match a snapshot: new URIs get a first fetch (awaited), URIs still in
 *   use are left alone, URIs no longer used are dropped with their timers.
 * - Fresh keys are kept `cacheDurationMs`; then a background refresh runs (one unref'd timer per
 *   URI). A request never waits for a routine refresh: the keys in hand are answered at once.
 * - A failed fetch keeps the last good keys and is tried again `failedRefetchMs` later (Envoy's
 *   `failed_refetch_duration`, spec `failedRefetchDuration`, 1 s by default), until one succeeds.
 * - A token whose kid matches no key triggers ONE refetch of that URI (concurrent callers share it),
 *   at most once per `unknownKidCooldownMs`; inside the cooldown the answer is [] at once.
 * - A URI that was never synced (a request still holding an older snapshot) is fetched on demand,
 *   bounded by the same timeout and cooldown; it gets no timer and is refreshed lazily on use until
 *   a sync adopts it or drops it.
 *
 * Kid matching follows Envoy's jwt_authn: a token with a kid may be verified by a key with the
 * same kid or by a key that has no kid; a token without a kid by any key.
 */
import type { Logger } from "pino";
import type { VerificationKey } from "../api/jwks.ts";
import { fetchJwks, type FetchJwksResult } from "./fetch-jwks.ts";
import type { KeyStore, RemoteJwksSource } from "./types.ts";
import { redactUri } from "./uri.ts";

/** Why a fetch was started. */
export type FetchTrigger = "initial" | "refresh" | "retry" | "unknown-kid" | "on-demand";

/** Reported after every fetch attempt (wired to metrics); never carries key material. */
export interface FetchEvent {
  /** The URI as it may be shown (uri.ts redactUri). */
  readonly uri: string;
  readonly outcome: "success" | "error";
  /** Why the fetch failed (outcome "error"). */
  readonly reason?: string;
  /** Wall-clock duration of the attempt, body and parsing included. */
  readonly durationMs: number;
  /** Usable keys in the fetched document (outcome "success"). */
  readonly keyCount?: number;
  readonly trigger: FetchTrigger;
}

export interface KeyStoreOptions {
  readonly logger: Logger;
  /** Bound on one fetch, body included. Default 5000. */
  readonly fetchTimeoutMs?: number;
  /** Minimum time between two refetches of one URI forced by an unknown kid. Default 30000. */
  readonly unknownKidCooldownMs?: number;
  /** Largest accepted JWKS document. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Clock (epoch ms) for timestamps and the cooldown; timers always use real time. */
  readonly now?: () => number;
  readonly onFetch?: (event: FetchEvent) => void;
}

/** Read-only view of one remote JWKS for the admin endpoint: no key material. */
export interface JwksSourceView {
  /** The URI as it may be shown (uri.ts redactUri). */
  readonly uri: string;
  readonly keyCount: number;
  /** Kids of the keys in hand (keys without a kid are counted but not listed). */
  readonly kids: readonly string[];
  readonly cacheDurationMs: number;
  readonly failedRefetchMs: number;
  /** False for a URI fetched on demand that no sync has adopted. */
  readonly synced: boolean;
  readonly lastSuccessAt?: number;
  /** The most recent failure; compare `at` with `lastSuccessAt` to tell whether it still applies. */
  readonly lastError?: { readonly at: number; readonly reason: string };
  readonly consecutiveFailures: number;
  readonly nextRefreshAt?: number;
  readonly fetching: boolean;
}

/** A KeyStore for remote JWKS, with a read-only view for the admin endpoint. */
export interface JwksKeyStore extends KeyStore {
  describe(): JwksSourceView[];
}

interface Entry {
  readonly source: RemoteJwksSource;
  cacheDurationMs: number;
  failedRefetchMs: number;
  /** Synced entries have a refresh timer; on-demand ones are refreshed lazily. */
  managed: boolean;
  dropped: boolean;
  /** The last good keys ([] until a fetch succeeds). */
  keys: readonly VerificationKey[];
  lastAttemptAt?: number;
  lastSuccessAt?: number;
  lastError?: { at: number; reason: string };
  failures: number;
  nextRefreshAt?: number;
  timer?: NodeJS.Timeout;
  inFlight?: Promise<void>;
  /** When a fetch was last forced by a request (unknown kid, on demand): the cooldown's origin. */
  lastForcedAt?: number;
}

const MIN_DELAY_MS = 100;
const MAX_TIMER_MS = 2_147_483_647;
const NONE: readonly VerificationKey[] = Object.freeze([]);

export function createKeyStore(options: KeyStoreOptions): JwksKeyStore {
  const logger = options.logger;
  const fetchTimeoutMs = options.fetchTimeoutMs ?? 5000;
  const cooldownMs = options.unknownKidCooldownMs ?? 30_000;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const closing = new AbortController();

  function newEntry(source: RemoteJwksSource, managed: boolean): Entry {
    const { cacheDurationMs, failedRefetchMs } = source;
    const entry: Entry = { source, cacheDurationMs, failedRefetchMs, managed, dropped: false, keys: NONE, failures: 0 };
    entries.set(source.cacheKey, entry);
    return entry;
  }

  function startFetch(entry: Entry, trigger: FetchTrigger): Promise<void> {
    if (entry.inFlight !== undefined) return entry.inFlight;
    if (closing.signal.aborted) return Promise.resolve();
    clearTimer(entry);
    const attempt = runFetch(entry, trigger);
    entry.inFlight = attempt;
    return attempt;
  }

  async function runFetch(entry: Entry, trigger: FetchTrigger): Promise<void> {
    const started = performance.now();
    let result: FetchJwksResult;
    try {
      result = await fetchJwks(entry.source.uri, {
        timeoutMs: fetchTimeoutMs,
        maxBodyBytes,
        signal: closing.signal,
        connection: entry.source.connection,
      });
    } catch (e) {
      result = { ok: false, reason: `unexpected error: ${(e as Error).message}` };
    }
    entry.inFlight = undefined;
    if (closing.signal.aborted) return;
    try {
      record(entry, result, trigger, performance.now() - started);
      schedule(entry);
    } catch (e) {
      logger.error({ uri: redactUri(entry.source.uri), err: e }, "JWKS key store failed to record a fetch");
    }
  }

  function record(entry: Entry, result: FetchJwksResult, trigger: FetchTrigger, durationMs: number): void {
    const at = now();
    entry.lastAttemptAt = at;
    const uri = redactUri(entry.source.uri);
    if (result.ok) {
      entry.keys = result.keys;
      entry.lastSuccessAt = at;
      entry.failures = 0;
      const kids = result.keys.flatMap((k) => (k.kid === undefined ? [] : [k.kid]));
      logger.debug({ uri, trigger, keyCount: result.keys.length, kids, skipped: result.skipped }, "JWKS fetched");
      if (result.unusable.length > 0) logger.warn({ uri, unusable: result.unusable }, "JWKS has keys that can never verify a token");
      emit({ uri, outcome: "success", durationMs, keyCount: result.keys.length, trigger });
    } else {
      entry.failures += 1;
      entry.lastError = { at, reason: result.reason };
      const keptKeys = entry.keys.length;
      logger.warn(
        { uri, trigger, reason: result.reason, consecutiveFailures: entry.failures, keptKeys },
        keptKeys > 0 ? "JWKS fetch failed; keeping the last good keys" : "JWKS fetch failed; no keys for this URI",
      );
      emit({ uri, outcome: "error", reason: result.reason, durationMs, trigger });
    }
  }

  function emit(event: FetchEvent): void {
    try {
      options.onFetch?.(event);
    } catch (e) {
      logger.error({ err: e }, "JWKS onFetch hook threw");
    }
  }

  /** Plans the next fetch from the last attempt: cacheDuration after a success, failedRefetchMs after a failure. */
  function schedule(entry: Entry): void {
    clearTimer(entry);
    if (entry.dropped || closing.signal.aborted || entry.lastAttemptAt === undefined) return;
    const delay = entry.failures === 0 ? entry.cacheDurationMs : entry.failedRefetchMs;
    entry.nextRefreshAt = entry.lastAttemptAt + Math.max(delay, MIN_DELAY_MS);
    if (!entry.managed) return;
    const wait = Math.min(Math.max(entry.nextRefreshAt - now(), 0), MAX_TIMER_MS);
    const timer = setTimeout(() => {
      entry.timer = undefined;
      void startFetch(entry, entry.failures === 0 ? "refresh" : "retry");
    }, wait);
    timer.unref();
    entry.timer = timer;
  }

  function clearTimer(entry: Entry): void {
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  function afterFetch(entry: Entry, attempt: Promise<void>, kid: string | undefined) {
    return attempt.then(
      () => select(entry.keys, kid),
      () => NONE,
    );
  }

  const store: JwksKeyStore = {
    async sync(sources) {
      try {
        if (closing.signal.aborted) return;
        const wanted = new Map<string, RemoteJwksSource>();
        for (const source of sources) {
          if (source.kind !== "remote") continue;
          const previous = wanted.get(source.cacheKey);
          // Providers sharing a source share one cache: the shortest durations win.
          wanted.set(
            source.cacheKey,
            previous === undefined
              ? source
              : {
                  ...source,
                  cacheDurationMs: Math.min(previous.cacheDurationMs, source.cacheDurationMs),
                  failedRefetchMs: Math.min(previous.failedRefetchMs, source.failedRefetchMs),
                },
          );
        }
        for (const [key, entry] of entries) {
          if (wanted.has(key)) continue;
          entry.dropped = true;
          clearTimer(entry);
          entries.delete(key);
        }
        const firstAttempts: Promise<void>[] = [];
        for (const [key, source] of wanted) {
          const entry = entries.get(key);
          if (entry === undefined) {
            firstAttempts.push(startFetch(newEntry(source, true), "initial"));
            continue;
          }
          const changed = entry.cacheDurationMs !== source.cacheDurationMs || entry.failedRefetchMs !== source.failedRefetchMs;
          entry.cacheDurationMs = source.cacheDurationMs;
          entry.failedRefetchMs = source.failedRefetchMs;
          // Still waiting for its first attempt (an earlier sync's, or on demand): wait for it too.
          if (entry.lastAttemptAt === undefined && entry.inFlight !== undefined) firstAttempts.push(entry.inFlight);
          if (!entry.managed) {
            entry.managed = true;
            if (entry.inFlight === undefined) schedule(entry);
          } else if (changed && entry.inFlight === undefined) {
            schedule(entry);
          }
        }
        await Promise.all(firstAttempts);
      } catch (e) {
        logger.error({ err: e }, "JWKS key store sync failed");
      }
    },

    resolve(source, kid) {
      try {
        if (source.kind === "local") return select(source.keys, kid);
        let entry = entries.get(source.cacheKey);
        if (entry === undefined) {
          if (closing.signal.aborted) return NONE;
          entry = newEntry(source, false);
          entry.lastForcedAt = now();
          return afterFetch(entry, startFetch(entry, "on-demand"), kid);
        }
        if (!entry.managed && entry.inFlight === undefined && entry.nextRefreshAt !== undefined && now() >= entry.nextRefreshAt) {
          void startFetch(entry, entry.failures === 0 ? "refresh" : "retry");
        }
        const found = select(entry.keys, kid);
        if (found.length > 0) return found;
        if (entry.inFlight !== undefined) return afterFetch(entry, entry.inFlight, kid);
        if (closing.signal.aborted) return NONE;
        const at = now();
        if (entry.lastForcedAt !== undefined && at - entry.lastForcedAt < cooldownMs) return NONE;
        entry.lastForcedAt = at;
        return afterFetch(entry, startFetch(entry, "unknown-kid"), kid);
      } catch (e) {
        logger.error({ err: e }, "JWKS key store resolve failed");
        return NONE;
      }
    },

    stateOf(source) {
      if (source.kind === "local") return `local JWKS with kids ${kidList(source.keys)}`;
      const entry = entries.get(source.cacheKey);
      const uri = redactUri(source.uri);
      if (entry === undefined) return `remote JWKS ${uri}: not fetched yet`;
      const at = now();
      const ago = (t: number) => `${Math.round((at - t) / 1000)}s ago`;
      const held =
        entry.lastSuccessAt === undefined
          ? "no keys (never fetched successfully)"
          : `kids ${kidList(entry.keys)} fetched ${ago(entry.lastSuccessAt)}`;
      const failing =
        entry.lastError !== undefined && (entry.lastSuccessAt === undefined || entry.lastError.at > entry.lastSuccessAt)
          ? `; last fetch failed ${ago(entry.lastError.at)} (${entry.lastError.reason}), ${entry.failures} in a row`
          : "";
      return `remote JWKS ${uri}: ${held}${failing}${entry.inFlight === undefined ? "" : "; a fetch is under way"}`;
    },

    describe() {
      return [...entries.values()]
        .sort((a, b) => (a.source.cacheKey < b.source.cacheKey ? -1 : a.source.cacheKey > b.source.cacheKey ? 1 : 0))
        .map((entry) => ({
          uri: redactUri(entry.source.uri),
          keyCount: entry.keys.length,
          kids: entry.keys.flatMap((k) => (k.kid === undefined ? [] : [k.kid])),
          cacheDurationMs: entry.cacheDurationMs,
          failedRefetchMs: entry.failedRefetchMs,
          synced: entry.managed,
          ...(entry.lastSuccessAt === undefined ? {} : { lastSuccessAt: entry.lastSuccessAt }),
          ...(entry.lastError === undefined ? {} : { lastError: { ...entry.lastError } }),
          consecutiveFailures: entry.failures,
          ...(entry.nextRefreshAt === undefined ? {} : { nextRefreshAt: entry.nextRefreshAt }),
          fetching: entry.inFlight !== undefined,
        }));
    },

    close() {
      closing.abort();
      for (const entry of entries.values()) clearTimer(entry);
    },
  };
  return store;
}

/** "[a, b, (none)]": the kids of `keys`, a key without one as (none). */
function kidList(keys: readonly VerificationKey[]): string {
  return `[${keys.map((k) => k.kid ?? "(none)").join(", ")}]`;
}

/** A key set's selections (see select), made once per set: a kid a key has → those keys and the ones without kid. */
interface Selections {
  readonly byKid: ReadonlyMap<string, readonly VerificationKey[]>;
  /** What any other kid selects: the keys without kid. */
  readonly kidless: readonly VerificationKey[];
}

/** By key set: a set is replaced whole (a fetch, a snapshot), never changed, so its selections go with it. */
const selectionsBySet = new WeakMap<readonly VerificationKey[], Selections>();

/**
 * Keys that may have signed a token with this kid (Envoy's rule: same kid, or a key without kid),
 * in the set's order. Every new token asks: the answer is one of a few arrays made once per set.
 */
function select(keys: readonly VerificationKey[], kid: string | undefined): readonly VerificationKey[] {
  if (kid === undefined) return keys;
  let selections = selectionsBySet.get(keys);
  if (selections === undefined) {
    const byKid = new Map<string, readonly VerificationKey[]>();
    for (const k of keys) {
      if (k.kid !== undefined && !byKid.has(k.kid))
        byKid.set(
          k.kid,
          keys.filter((other) => other.kid === k.kid || other.kid === undefined),
        );
    }
    selections = { byKid, kidless: keys.filter((k) => k.kid === undefined) };
    selectionsBySet.set(keys, selections);
  }
  return selections.byKid.get(kid) ?? selections.kidless;
}
