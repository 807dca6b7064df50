/**
 * The bridge between the wire protocols and check(): takes the snapshot being served, decides,
 * counts, and writes one audit line per denial (and per sampled allowed request). Any failure is a denial (403), never a 5xx, so a
 * proxy configured to fail open on errors cannot be opened.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { Passwords } from "../features/basicAuth/check.ts";
import { check, checkExplained } from "./check.ts";
import { withDecision, type Explained } from "./trace-steps.ts";
import { Trace } from "./trace.ts";
import type { CheckContext } from "./context.ts";
import type { ClientAddressDetection } from "./client-address.ts";
import { deny, reasonOf, type Decision } from "./decision.ts";
import type { MaybePromise } from "./maybe-async.ts";
import { normalizePath, pathBytesOf } from "./path.ts";
import { refuseUnreplacedCopies } from "./proxy-copies.ts";
import { firstListValue, headerValue } from "./header-values.ts";
import type { AuthzRequest } from "./request.ts";
import type { ExtAuthTransport } from "../features/extAuth/client.ts";
import type { OidcProviders } from "../features/oidc/provider.ts";
import type { KeyStore } from "../keys/types.ts";
import type { Snapshot } from "../snapshot/types.ts";
import type { CheckMemo } from "./check-memo.ts";
import type { DecisionCode } from "./decision.ts";
import type { DenialRecord, RecentDenials } from "./recent-denials.ts";

export type Protocol = "envoy-http" | "envoy-grpc" | "forward-auth";

/** A snapshot being served, with what its checks remember (one memo per published snapshot). */
export interface Served {
  readonly snapshot: Snapshot;
  readonly memo: CheckMemo;
}

/** Where the authorizer counts its decisions (server/metrics.ts keeps them for /metrics). */
export interface DecisionMetrics {
  /** The recorder of one protocol, taken once: recording is on every request's path. */
  recorder(protocol: Protocol): CheckRecorder;
  /** An allowed request was given an audit line (sampling). */
  auditedAllowed(): void;
}

/** Counts one protocol's decisions. */
export interface CheckRecorder {
  /** `seconds`: how long the check took. */
  record(code: DecisionCode, status: number, seconds: number): void;
}

export interface Authorizer {
  /**
   * Synchronous unless the check must wait (a JWKS fetch, bcrypt). `requestId` is called only
   * when a line is logged (denials, sampled allowed requests and failures); without it the id is
   * the request's own X-Request-Id (its first value), else a random UUID.
   */
  decide(request: AuthzRequest, protocol: Protocol, requestId?: () => string): MaybePromise<Decision>;
  /** The same decision with its trace, on the snapshot being served, neither counted nor audited (the admin page's explain form). */
  explain(request: AuthzRequest): MaybePromise<Explained>;
  /**
   * `render(decision)`, built once per allow decision of the snapshot being served and reused
   * (allow decisions are remembered per identity and rule, check-memo.ts); denials are rendered each time.
   */
  rendered<W>(decision: Decision, render: (decision: Decision) => W): W;
}

export interface AuthorizerOptions {
  /** The snapshot being served; undefined until the first publish. */
  readonly current: () => Served | undefined;
  readonly keys: Pick<KeyStore, "resolve" | "stateOf">;
  readonly logger: Logger;
  readonly metrics: DecisionMetrics;
  readonly onNoRoute: "deny" | "allow";
  readonly onNoPolicy: "allow" | "deny";
  /** How the client address for `clientCIDRs` rules is determined. */
  readonly clientAddress: ClientAddressDetection;
  /** basicAuth's state across snapshots; its bcrypt pool is the caller's to close. */
  readonly passwords: Passwords;
  /** extAuth's connections to external authorization services (shared across snapshots); the caller's to close. */
  readonly extAuth?: ExtAuthTransport;
  /** The OpenID providers of `oidc` policies. */
  readonly oidc?: OidcProviders;
  /** Where each denial is also kept, for the admin page. */
  readonly recentDenials?: RecentDenials;
  /**
   * Fraction (0 to 1) of allowed requests that get an audit line like a denial's
   * (`--audit-allowed-sample-rate`); 0, the default, writes none and costs one comparison.
   */
  readonly auditAllowedSampleRate?: number;
  /** Uniform in [0, 1): the sampling draw (Math.random; tests pass their own). */
  readonly random?: () => number;
  readonly now?: () => number;
}

/** What every check gets while no snapshot is served (serve before its first publish; check on a broken folder). */
export const NOT_READY = deny(403, "not_ready", "Portcullis has not loaded its policies yet", {});
const FAILED = deny(403, "internal_error", "the request could not be checked", {});

export function createAuthorizer(options: AuthorizerOptions): Authorizer {
  const { current, keys, logger, metrics, onNoRoute, onNoPolicy, clientAddress, passwords, extAuth } = options;
  const now = options.now ?? Date.now;
  const recorders: Record<Protocol, CheckRecorder> = {
    "envoy-http": metrics.recorder("envoy-http"),
    "envoy-grpc": metrics.recorder("envoy-grpc"),
    "forward-auth": metrics.recorder("forward-auth"),
  };
  // The context of the snapshot being served, built once per publish rather than per request.
  let contextOf: { published: Served; ctx: CheckContext } | undefined;
  const contextFor = (published: Served): CheckContext => {
    if (contextOf?.published !== published) {
      contextOf = {
        published,
        ctx: { keys, memo: published.memo, passwords, now, onNoRoute, onNoPolicy, clientAddress, oidc: options.oidc, extAuth },
      };
    }
    return contextOf.ctx;
  };

  const failed = (err: unknown, request: AuthzRequest, requestId: RequestIdOf): Decision => {
    logger.error({ err, requestId: idOf(request, requestId) }, "check failed; denying");
    return FAILED;
  };
  const tracedDecision = (published: Served, request: AuthzRequest, requestId: RequestIdOf): MaybePromise<Decision> => {
    const log = ({ decision, trace }: Explained) => {
      logger.debug({ requestId: idOf(request, requestId), trace: trace.steps }, "decision trace");
      return decision;
    };
    const explained = checkExplained(published.snapshot, request, contextFor(published));
    return explained instanceof Promise ? explained.then(log) : log(explained);
  };
  // Whether every decision is traced (debug level): read when the level changes, not on every request.
  let traced = logger.isLevelEnabled("debug");
  logger.on("level-change", () => {
    traced = logger.isLevelEnabled("debug");
  });
  const sampleRate = options.auditAllowedSampleRate ?? 0;
  const random = options.random ?? Math.random;
  // When the check being concluded began (performance.now(), ms). A number passed to conclude was a heap
  // number on every check; a decision at hand is concluded before another check begins, and one that
  // had to wait puts its own start back just before it is concluded.
  const startedAt = new Float64Array(1);
  const conclude = (decision: Decision, request: AuthzRequest, protocol: Protocol, requestId: RequestIdOf): Decision => {
    recorders[protocol].record(decision.code, decision.status, (performance.now() - startedAt[0]!) / 1000);
    if (decision.status >= 400) {
      const line = auditLine(decision, request, protocol);
      logger.info({ audit: "deny", requestId: idOf(request, requestId), ...line }, "request denied");
      options.recentDenials?.record({ at: now(), ...line });
    } else if (sampleRate > 0 && random() < sampleRate) {
      metrics.auditedAllowed();
      logger.info(
        { audit: "allow", requestId: idOf(request, requestId), ...auditLine(decision, request, protocol), principal: decision.principal },
        "request allowed",
      );
    }
    return decision;
  };

  /** conclude for a check that began at `started` (performance.now(), ms) and had to wait: its start put back first. */
  const concludeStartedAt = (started: number, decision: Decision, request: AuthzRequest, protocol: Protocol, requestId: RequestIdOf) => {
    startedAt[0] = started;
    return conclude(decision, request, protocol, requestId);
  };

  // Apart from decide(), so that a decision at hand allocates no context for these closures.
  const concludeWhenDecided = (
    decision: Promise<Decision>,
    request: AuthzRequest,
    protocol: Protocol,
    requestId: RequestIdOf,
    started: number,
  ): Promise<Decision> =>
    decision.then(
      (d) => concludeStartedAt(started, d, request, protocol, requestId),
      (err: unknown) => concludeStartedAt(started, failed(err, request, requestId), request, protocol, requestId),
    );

  return {
    decide(request, protocol, requestIdOf) {
      startedAt[0] = performance.now();
      // At debug level every decision is traced and its trace logged (otherwise no trace exists);
      // the request id is then read once, so the trace and the audit line carry the same.
      const debug = traced;
      const requestId = debug ? idReadOnce(request, requestIdOf) : requestIdOf;
      const published = current();
      if (published === undefined) return conclude(NOT_READY, request, protocol, requestId);
      let decision: MaybePromise<Decision>;
      try {
        decision = debug ? tracedDecision(published, request, requestId) : check(published.snapshot, request, contextFor(published));
        if (request.proxyReplaces !== undefined) {
          const managed = published.snapshot.managedHeaders;
          decision =
            decision instanceof Promise
              ? refuseWhenDecided(decision, request, managed)
              : refuseUnreplacedCopies(decision, request, managed);
        }
      } catch (err) {
        decision = failed(err, request, requestId);
      }
      if (decision instanceof Promise) return concludeWhenDecided(decision, request, protocol, requestId, startedAt[0]!);
      return conclude(decision, request, protocol, requestId);
    },
    explain(request) {
      const published = current();
      if (published === undefined) return withDecision(new Trace(), NOT_READY);
      return checkExplained(published.snapshot, request, contextFor(published));
    },
    rendered(decision, render) {
      const published = current();
      return decision.allowed && published !== undefined ? published.memo.rendered(decision, render) : render(decision);
    },
  };
}

/**
 * What an audit line says of a decision: no query (it may carry a token or an API key), no header
 * value, no credential; the path normalised as routing read it.
 */
function auditLine(decision: Decision, request: AuthzRequest, protocol: Protocol): Omit<DenialRecord, "at"> {
  return {
    protocol,
    method: request.method,
    host: request.host,
    path: normalizePath(pathBytesOf(request.path, request.byteStrings)),
    route: decision.route,
    policy: decision.policy,
    code: decision.code,
    status: decision.status,
    reason: reasonOf(decision),
  };
}

/** refuseUnreplacedCopies once a decision to come is made (a function of its own: decide() allocates no closure context). */
function refuseWhenDecided(decision: Promise<Decision>, request: AuthzRequest, managed: readonly string[]): Promise<Decision> {
  return decision.then((d) => refuseUnreplacedCopies(d, request, managed));
}

/** How the authorizer learns a request's id when it logs a line: the caller's reader, or the request's own (idOf). */
type RequestIdOf = (() => string) | undefined;

/** The id of a logged line: the caller's, else the request's X-Request-Id (proxies append to it: its first value), else a random UUID. */
function idOf(request: AuthzRequest, requestId: RequestIdOf): string {
  return requestId?.() ?? firstListValue(headerValue(request.headers, "x-request-id")) ?? randomUUID();
}

/** The id of a logged line of `request`, read at most once (a function of its own: decide() allocates no closure context). */
function idReadOnce(request: AuthzRequest, requestId: RequestIdOf): () => string {
  return once(() => idOf(request, requestId));
}

/** `read`, called at most once. */
function once(read: () => string): () => string {
  let value: string | undefined;
  return () => (value ??= read());
}
