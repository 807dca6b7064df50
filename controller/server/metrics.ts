/** Prometheus metrics (prom-client), on a registry of their own so several instances can coexist in tests. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
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
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "portcullis_" });
  const registers = [registry];
  return {
    registry,
    checks: createCheckMetrics(registers),
    snapshotGeneration: new Gauge({ name: "portcullis_snapshot_generation", help: "Generation of the snapshot being served (increments on every publish).", registers }),
    compileDuration: new Histogram({ name: "portcullis_compile_duration_seconds", help: "Time to compile the resources into a snapshot.", buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5], registers }),
    policies: new Gauge({ name: "portcullis_policies", help: "SecurityPolicies by whether every ancestor accepted them.", labelNames: ["accepted"], registers }),
    // URIs are left out of labels: they are unbounded, and describe() on the admin port lists them.
    jwksFetches: new Counter({ name: "portcullis_jwks_fetches_total", help: "Remote JWKS fetch attempts by outcome and trigger.", labelNames: ["outcome", "trigger"], registers }),
    jwksFetchDuration: new Histogram({ name: "portcullis_jwks_fetch_duration_seconds", help: "Remote JWKS fetch duration.", labelNames: ["outcome"], buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10], registers }),
  };
}
