/**
 * The bridge between the wire protocols and check(): takes the snapshot being served, decides,
 * counts, and writes one audit line per denial. Any failure is a denial (403), never a 5xx, so a
 * proxy configured to fail open on errors cannot be opened.
 */
import type { Logger } from "pino";
import { VerifiedPasswords } from "../authz/basicauth.ts";
import { check } from "../authz/check.ts";
import { deny, type Decision } from "../authz/decision.ts";
import { normalizePath, type AuthzRequest } from "../authz/request.ts";
import type { KeyStore } from "../keys/types.ts";
import type { Metrics } from "../server/metrics.ts";
import type { Pipeline } from "./pipeline.ts";

export type Protocol = "envoy-http" | "envoy-grpc" | "forward-auth";

export interface Authorizer {
  /** `requestId` is called only when a line is logged (denials and failures). */
  decide(request: AuthzRequest, protocol: Protocol, requestId: () => string): Promise<Decision>;
}

export interface AuthorizerOptions {
  readonly pipeline: Pick<Pipeline, "current">;
  readonly keys: Pick<KeyStore, "resolve">;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly onNoRoute: "deny" | "allow";
  readonly trustedHops: number;
  readonly now?: () => number;
}

export function createAuthorizer(options: AuthorizerOptions): Authorizer {
  const { pipeline, keys, logger, metrics, onNoRoute, trustedHops } = options;
  const now = options.now ?? Date.now;
  const verifiedPasswords = new VerifiedPasswords();
  // prom-client builds a label key per inc/observe; children bound once cost a property lookup.
  const durations = new Map<Protocol, { observe(v: number): void }>();
  const counters = new Map<string, { inc(): void }>();
  const count = (protocol: Protocol, d: Decision) => {
    const key = `${protocol} ${d.code} ${d.status}`;
    let counter = counters.get(key);
    if (counter === undefined) counters.set(key, (counter = metrics.decisions.labels({ protocol, code: d.code, status: String(d.status) })));
    counter.inc();
  };
  const duration = (protocol: Protocol) => {
    let h = durations.get(protocol);
    if (h === undefined) durations.set(protocol, (h = metrics.checkDuration.labels({ protocol })));
    return h;
  };
  return {
    async decide(request, protocol, requestId) {
      const started = performance.now();
      let decision: Decision;
      const published = pipeline.current;
      if (published === undefined) {
        decision = deny(403, "not_ready", "Portcullis has not loaded its policies yet", {});
      } else {
        try {
          decision = await check(published.snapshot, request, { keys, tokenCache: published.tokenCache, verifiedPasswords, now, onNoRoute, trustedHops });
        } catch (err) {
          logger.error({ err, requestId: requestId() }, "check failed; denying");
          decision = deny(403, "internal_error", "the request could not be checked", {});
        }
      }
      duration(protocol).observe((performance.now() - started) / 1000);
      count(protocol, decision);
      if (decision.status >= 400) {
        // The query is left out: it may carry a token or an API key.
        const q = request.path.indexOf("?");
        logger.info(
          {
            audit: "deny", requestId: requestId(), protocol, method: request.method, host: request.host,
            path: normalizePath(q === -1 ? request.path : request.path.slice(0, q)),
            route: decision.route, policy: decision.policy, code: decision.code, status: decision.status, reason: decision.message,
          },
          "request denied",
        );
      }
      return decision;
    },
  };
}
