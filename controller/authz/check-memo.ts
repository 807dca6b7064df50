/**
 * What check() may remember within one snapshot: verified tokens, the identity a valid API key
 * stands for, and the allow decision an identity gets on a route entry. All of it depends only on the
 * snapshot and the credential, so a cache hit answers with objects built once (no allocation, and
 * the wire rendering of a reused decision is reused too). One memo lives per snapshot. Strong,
 * bounded maps rather than WeakMaps: a WeakMap entry per token makes every major GC iterate
 * ephemerons, and tokens come and go by the thousand.
 */
import type { CompiledApiKey } from "../features/apiKeyAuth/compile.ts";
import type { RouteEntry } from "../snapshot/types.ts";
import type { Decision } from "./decision.ts";
import type { Pass, PhaseResult } from "../features/feature.ts";
import { BoundedMap } from "../lib/bounded-map.ts";
import { estimatedHeapBytes } from "../lib/heap-bytes.ts";
import { TokenCache } from "../features/jwt/token-cache.ts";

/**
 * Heap the allow decisions may hold, bytes (estimated): an identity's entry keeps its attributes
 * (a token's claims, even once the token cache has let the token go) and headers alive.
 */
const ALLOWS_BYTES = 32 * 1024 * 1024;
/** An identity's entry besides its attributes and headers: its map and a decision (estimated high). */
const ALLOW_ENTRY_BYTES = 2048;
/**
 * Heap the wire renderings may hold per renderer, bytes (estimated): a rendering keeps its decision
 * alive after the allow memo let the identity go, so it is bounded on its own, in bytes (a bound of
 * 16,384 entries held 33 MiB once each new token carried 2 KB of claim headers).
 */
const RENDERED_BYTES = 16 * 1024 * 1024;
/** A rendering's map slot besides the decision and the rendering (estimated high). */
const RENDERED_ENTRY_BYTES = 128;

export class CheckMemo {
  readonly tokens: TokenCache;
  /**
   * Per apiKeyAuth config: a key that matched a client, as presented → its outcome. Only valid keys
   * enter (at most one per client configured), so what clients present cannot grow it; a key found
   * here is not hashed again (SECURITY.md, "API keys and timing").
   */
  readonly #apiKeys = new Map<CompiledApiKey, Map<string, PhaseResult>>();
  /** Per identity: route entry (undefined: no route matched) → its allow decision. */
  readonly #allows = new BoundedMap<Pass, Map<RouteEntry | undefined, Decision>>(
    ALLOWS_BYTES,
    (_, identity) => ALLOW_ENTRY_BYTES + estimatedHeapBytes(identity.attributes) + estimatedHeapBytes(identity.headers),
  );

  /**
   * Wire renderings of this snapshot's remembered allow decisions, per renderer: an allow answered
   * again is written from the same bytes. Freed with the snapshot, unlike a process-wide cache.
   */
  readonly #rendered = new Map<(decision: Decision) => unknown, BoundedMap<Decision, unknown>>();
  /** basicAuth: digests of user, password and hash that verified (bcrypt is not run twice for them). */
  readonly verifiedPasswords = new BoundedMap<string, true>(10_000);

  /** `tokenCacheBytes`: the verified-token cache's bound (token-cache.ts; default 16 MiB). */
  constructor(tokenCacheBytes?: number) {
    this.tokens = new TokenCache(tokenCacheBytes);
  }

  /** The outcome remembered for `key`, a key that matched one of `config`'s clients. */
  apiKey(config: CompiledApiKey, key: string): PhaseResult | undefined {
    return this.#apiKeys.get(config)?.get(key);
  }

  /** Remembers the outcome of `key`; call it only for a key that matched a client (see #apiKeys). */
  rememberApiKey(config: CompiledApiKey, key: string, outcome: PhaseResult): PhaseResult {
    let byKey = this.#apiKeys.get(config);
    if (byKey === undefined) this.#apiKeys.set(config, (byKey = new Map()));
    byKey.set(key, outcome);
    return outcome;
  }

  /**
   * `render(decision)`, built once per decision and renderer for a decision this memo remembers
   * (rememberAllow freezes it); any other (made for one request: a token's first sight, a
   * per-request identity) is rendered each time and its rendering not kept.
   */
  rendered<W>(decision: Decision, render: (decision: Decision) => W): W {
    let byDecision = this.#rendered.get(render);
    if (byDecision === undefined) {
      byDecision = new BoundedMap(
        RENDERED_BYTES,
        (wire, decision) => RENDERED_ENTRY_BYTES + estimatedHeapBytes(wire) + estimatedHeapBytes(decision),
      );
      this.#rendered.set(render, byDecision);
    }
    let wire = byDecision.get(decision) as W | undefined;
    if (wire !== undefined) return wire;
    wire = render(decision);
    // Asked only on a miss: a remembered allow's later answers find their rendering first.
    if (Object.isFrozen(decision)) byDecision.set(decision, wire);
    return wire;
  }

  /** How many identities have remembered allow decisions. */
  get rememberedAllows(): number {
    return this.#allows.size;
  }

  allow(identity: Pass, entry: RouteEntry | undefined): Decision | undefined {
    return this.#allows.get(identity)?.get(entry);
  }

  /** Remembers `decision` (frozen: it answers every request of that identity on that entry). */
  rememberAllow(identity: Pass, entry: RouteEntry | undefined, decision: Decision): Decision {
    let byEntry = this.#allows.get(identity);
    if (byEntry === undefined) this.#allows.set(identity, (byEntry = new Map()));
    byEntry.set(entry, Object.freeze(decision));
    return decision;
  }
}
