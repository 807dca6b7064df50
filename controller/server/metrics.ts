/** Prometheus metrics (prom-client), on a registry of their own so several instances can coexist in tests. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { DecisionMetrics } from "../authz/authorizer.ts";
import { createCheckMetrics, type CheckMetrics } from "./check-metrics.ts";

export interface Metrics {
  readonly registry: Registry;
  /** portcullis_decisions_total and portcullis_check_duration_seconds, recorded per request. */
  readonly checks: CheckMetrics;
  readonly snapshotGeneration: Gauge;
  readonly compileDuration: Histogram;
  readonly policies: Gauge<"accepted">;
  readonly jwksFetches: Counter<"outcome" | "trigger">;
  readonly jwksFetchDuration: Histogram<"outcome">;
  /**
   * 1 while the newest configuration from a source cannot be used (LAST_GOOD_HELP):
   * `source="manifests"` when a manifest file (or the folder) cannot be read, `source="pipeline"`
   * when the latest publish failed. Its last good version is then served, or, before there is one,
   * nothing (not ready: every check is denied). Either way edits are not enforced, so it stays 1.
   */
  readonly servingLastGood: Gauge<"source">;
  /** Route rules no SecurityPolicy governs (allowed as they are, or denied with `--on-no-policy deny`). */
  readonly routeRulesWithoutPolicy: Gauge;
  /** Allowed requests given an audit line (sampled by `--audit-allowed-sample-rate`). */
  readonly auditedAllowed: Counter;
}

/** The help of `portcullis_serving_last_good_config`: what its 1 means in every state, start-up included. */
export const LAST_GOOD_HELP =
  "1 while the newest configuration from this source cannot be used: its last good version is served, or, before there is one, nothing is (not ready, every check denied).";

/** The authorizer's view of these metrics: where it counts its decisions and sampled audit lines. */
export function decisionMetrics(metrics: Metrics): DecisionMetrics {
  return { recorder: (protocol) => metrics.checks.recorder(protocol), auditedAllowed: () => metrics.auditedAllowed.inc() };
}

/** What the JWKS gauges read at scrape time (the key store's view, no key material). */
export interface JwksView {
  describe(): readonly { readonly synced: boolean; readonly keyCount: number; readonly lastSuccessAt?: number }[];
}

/**
 * The process's metrics. With `jwks`, two gauges computed at scrape time: the age in seconds of the
 * oldest keys in use (now − last successful fetch, over the JWKS the snapshot uses) and how many of
 * those JWKS have no keys at all; no URI labels (unbounded), `/snapshot` names them.
 */
export function createMetrics(jwks?: JwksView, now: () => number = Date.now): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "portcullis_" });
  const registers = [registry];
  return {
    registry,
    checks: createCheckMetrics(registers),
    snapshotGeneration: new Gauge({
      name: "portcullis_snapshot_generation",
      help: "Generation of the snapshot being served (increments on every publish).",
      registers,
    }),
    compileDuration: new Histogram({
      name: "portcullis_compile_duration_seconds",
      help: "Time to compile the resources into a snapshot.",
      buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
    policies: new Gauge({
      name: "portcullis_policies",
      help: "SecurityPolicies by whether every ancestor accepted them.",
      labelNames: ["accepted"],
      registers,
    }),
    // URIs are left out of labels: they are unbounded, and describe() on the admin port lists them.
    jwksFetches: new Counter({
      name: "portcullis_jwks_fetches_total",
      help: "Remote JWKS fetch attempts by outcome and trigger.",
      labelNames: ["outcome", "trigger"],
      registers,
    }),
    jwksFetchDuration: new Histogram({
      name: "portcullis_jwks_fetch_duration_seconds",
      help: "Remote JWKS fetch duration.",
      labelNames: ["outcome"],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10],
      registers,
    }),
    servingLastGood: new Gauge({
      name: "portcullis_serving_last_good_config",
      help: LAST_GOOD_HELP,
      labelNames: ["source"],
      registers,
    }),
    routeRulesWithoutPolicy: new Gauge({
      name: "portcullis_route_rules_without_policy",
      help: "Route rules of the served snapshot that no SecurityPolicy governs.",
      registers,
    }),
    auditedAllowed: new Counter({
      name: "portcullis_audited_allowed_total",
      help: "Allowed requests written to the audit log (a sample: --audit-allowed-sample-rate); denials are all audited.",
      registers,
    }),
    ...(jwks === undefined ? {} : jwksGauges(jwks, now, registers)),
  };
}

function jwksGauges(jwks: JwksView, now: () => number, registers: Registry[]): Record<string, Gauge> {
  const inUse = () => jwks.describe().filter((s) => s.synced);
  return {
    jwksKeysAge: new Gauge({
      name: "portcullis_jwks_keys_age_seconds",
      help: "Age of the oldest remote JWKS keys in use: seconds since that JWKS was last fetched successfully (0 with none).",
      registers,
      collect() {
        const fetched = inUse().flatMap((s) => (s.lastSuccessAt === undefined ? [] : [s.lastSuccessAt]));
        this.set(fetched.length === 0 ? 0 : Math.max(0, (now() - Math.min(...fetched)) / 1000));
      },
    }),
    jwksWithoutKeys: new Gauge({
      name: "portcullis_jwks_without_keys",
      help: "Remote JWKS in use that have no keys (never fetched successfully, or empty): their tokens cannot be verified.",
      registers,
      collect() {
        this.set(inUse().filter((s) => s.keyCount === 0).length);
      },
    }),
  };
}
