/** The per-request metrics, kept outside prom-client, must read exactly as prom-client's own would. */
import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createCheckMetrics } from "../../controller/server/check-metrics.ts";

const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];
const RECORDED = [
  ["envoy-http", "allowed", 200, 0.00002],
  ["envoy-http", "allowed", 200, 0.0003],
  ["envoy-http", "apikey_invalid", 401, 0.05],
  ["forward-auth", "allowed", 200, 2.5],
  ["envoy-grpc", "jwt_audience", 403, 0.0001],
] as const;

/** The same observations through plain prom-client metrics. */
function reference(): Registry {
  const registry = new Registry();
  const decisions = new Counter({
    name: "portcullis_decisions_total",
    help: "Authorization decisions by protocol, reason code and HTTP status.",
    labelNames: ["protocol", "code", "status"],
    registers: [registry],
  });
  const durations = new Histogram({
    name: "portcullis_check_duration_seconds",
    help: "Time to decide one request, from receipt to answer.",
    labelNames: ["protocol"],
    buckets: BUCKETS,
    registers: [registry],
  });
  for (const [protocol, code, status, seconds] of RECORDED) {
    decisions.inc({ protocol, code, status: String(status) });
    durations.observe({ protocol }, seconds);
  }
  return registry;
}

function recorded(): Registry {
  const registry = new Registry();
  const metrics = createCheckMetrics([registry]);
  for (const [protocol, code, status, seconds] of RECORDED) metrics.recorder(protocol).record(code, status, seconds);
  return registry;
}

/** Series lines sorted: the order of label sets is not part of the format. */
const lines = async (registry: Registry) => (await registry.metrics()).split("\n").sort();

describe("check metrics", () => {
  it("expose the same text as prom-client's Counter and Histogram would", async () => {
    expect(await lines(recorded())).toEqual(await lines(reference()));
  });
  it("expose the same JSON, and keep counting across reads", async () => {
    const ours = recorded();
    const theirs = reference();
    const keyOf = (v: { metricName?: string; labels: object }) => `${v.metricName} ${JSON.stringify(Object.entries(v.labels).sort())}`;
    const sorted = async (registry: Registry) =>
      (await registry.getMetricsAsJSON()).map((m) => ({ ...m, values: [...m.values].sort((a, b) => keyOf(a).localeCompare(keyOf(b))) }));
    expect(await sorted(ours)).toEqual(await sorted(theirs));
    await ours.metrics();
    expect(await lines(ours)).toEqual(await lines(theirs));
  });
  it("count each series right when one recorder sees codes and statuses in turn (it remembers the last series)", async () => {
    const sequence = [
      ["allowed", 200],
      ["allowed", 200],
      ["apikey_invalid", 401],
      ["allowed", 200],
      ["apikey_invalid", 403],
      ["apikey_invalid", 401],
      ["apikey_invalid", 401],
      ["allowed", 200],
    ] as const;
    const ours = new Registry();
    const recorder = createCheckMetrics([ours]).recorder("envoy-http");
    const theirs = new Registry();
    const counter = new Counter({
      name: "portcullis_decisions_total",
      help: "Authorization decisions by protocol, reason code and HTTP status.",
      labelNames: ["protocol", "code", "status"],
      registers: [theirs],
    });
    for (const [code, status] of sequence) {
      recorder.record(code, status, 0.001);
      counter.inc({ protocol: "envoy-http", code, status: String(status) });
    }
    const decisions = async (registry: Registry) => (await lines(registry)).filter((l) => l.startsWith("portcullis_decisions_total{"));
    expect(await decisions(ours)).toEqual(await decisions(theirs));
    expect(await decisions(ours)).toContain('portcullis_decisions_total{protocol="envoy-http",code="apikey_invalid",status="401"} 3');
  });
  it("reset with the registry, as prom-client metrics do", async () => {
    const registry = new Registry();
    const metrics = createCheckMetrics([registry]);
    metrics.recorder("envoy-http").record("allowed", 200, 0.001);
    registry.resetMetrics();
    expect(await registry.metrics()).not.toMatch(/portcullis_(check_duration_seconds_count|decisions_total)\{/);
    metrics.recorder("envoy-http").record("allowed", 200, 0.001);
    expect(await registry.metrics()).toContain('portcullis_decisions_total{protocol="envoy-http",code="allowed",status="200"} 1');
    expect(await registry.metrics()).toContain('portcullis_check_duration_seconds_count{protocol="envoy-http"} 1');
  });
});
