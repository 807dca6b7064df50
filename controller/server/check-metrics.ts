/**
 * The two per-request metrics, counted in plain numbers: prom-client's inc() and observe()
 * validate and hash their labels on every call, a cost paid on every request of every tenant.
 * Both are prom-client metrics whose read (get(), and getForPromString() for the text format)
 * renders these counts in prom-client's own shape, so /metrics reads exactly as before.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import type { CheckRecorder, Protocol } from "../authz/authorizer.ts";
import type { DecisionCode } from "../authz/decision.ts";

export interface CheckMetrics {
  readonly decisions: Counter<"protocol" | "code" | "status">;
  readonly checkDuration: Histogram<"protocol">;
  recorder(protocol: Protocol): CheckRecorder;
}

const DURATION_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];

type Exported = Awaited<ReturnType<Histogram["get"]>>;
type Value = Exported["values"][number];

/** The fields prom-client's constructor sets (its typings do not declare them). */
function described(metric: object): Exported {
  const { name, help, type, aggregator } = metric as Exported;
  return { name, help, type, aggregator, values: [] } as unknown as Exported;
}

export function createCheckMetrics(registers: Registry[]): CheckMetrics {
  const decisions = new DecisionCounter(registers);
  const checkDuration = new DurationHistogram(registers);
  return {
    decisions,
    checkDuration,
    recorder(protocol) {
      const byCode = new Map<DecisionCode, Map<number, { count: number }>>();
      const durations = checkDuration.series(protocol);
      // The last series counted: under load most checks in a row end alike (two map lookups spared, nothing allocated).
      let lastCode: DecisionCode | undefined;
      let lastStatus = 0;
      let lastTally = { count: 0 };
      return {
        record(code, status, seconds) {
          if (code !== lastCode || status !== lastStatus) {
            let byStatus = byCode.get(code);
            if (byStatus === undefined) byCode.set(code, (byStatus = new Map()));
            let tally = byStatus.get(status);
            if (tally === undefined) byStatus.set(status, (tally = decisions.series(protocol, code, status)));
            lastCode = code;
            lastStatus = status;
            lastTally = tally;
          }
          lastTally.count++;
          let i = 0;
          while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
          durations.counts[i]!++;
          durations.sum += seconds;
          durations.count++;
        },
      };
    },
  };
}

interface Tally {
  readonly labels: { readonly protocol: Protocol; readonly code: DecisionCode; readonly status: string };
  count: number;
}

class DecisionCounter extends Counter<"protocol" | "code" | "status"> {
  readonly #tallies = new Map<string, Tally>();

  constructor(registers: Registry[]) {
    super({
      name: "portcullis_decisions_total",
      help: "Authorization decisions by protocol, reason code and HTTP status.",
      labelNames: ["protocol", "code", "status"],
      registers,
    });
  }

  /** Called once per recorder and label set, not per request. */
  series(protocol: Protocol, code: DecisionCode, status: number): Tally {
    const key = `${protocol} ${code} ${status}`;
    let tally = this.#tallies.get(key);
    if (tally === undefined) this.#tallies.set(key, (tally = { labels: { protocol, code, status: String(status) }, count: 0 }));
    return tally;
  }

  override async get(): Promise<Exported> {
    const exported = described(this);
    // As prom-client: a series appears once counted, and disappears on reset until counted again.
    for (const t of this.#tallies.values()) if (t.count > 0) exported.values.push({ labels: { ...t.labels }, value: t.count });
    return exported;
  }

  getForPromString(): Promise<Exported> {
    return this.get();
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    if (#tallies in this) for (const t of this.#tallies.values()) t.count = 0;
  }
}

interface Durations {
  /** Per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

class DurationHistogram extends Histogram<"protocol"> {
  readonly #series = new Map<Protocol, Durations>();

  constructor(registers: Registry[]) {
    super({
      name: "portcullis_check_duration_seconds",
      help: "Time to decide one request, from receipt to answer.",
      labelNames: ["protocol"],
      buckets: DURATION_BUCKETS,
      registers,
    });
  }

  series(protocol: Protocol): Durations {
    let s = this.#series.get(protocol);
    if (s === undefined) this.#series.set(protocol, (s = { counts: new Float64Array(DURATION_BUCKETS.length + 1), sum: 0, count: 0 }));
    return s;
  }

  override async get(): Promise<Exported> {
    const exported = described(this);
    const values: Value[] = exported.values;
    const bucket = `${exported.name}_bucket`;
    for (const [protocol, s] of this.#series) {
      if (s.count === 0) continue;
      let cumulative = 0;
      DURATION_BUCKETS.forEach((le, i) =>
        values.push({
          labels: { le, protocol } as Value["labels"],
          value: (cumulative += s.counts[i]!),
          metricName: bucket,
          exemplar: null,
        } as Value),
      );
      values.push(
        { labels: { le: "+Inf", protocol } as Value["labels"], value: s.count, metricName: bucket, exemplar: null } as Value,
        { labels: { protocol }, value: s.sum, metricName: `${exported.name}_sum` },
        { labels: { protocol }, value: s.count, metricName: `${exported.name}_count` },
      );
    }
    return exported;
  }

  getForPromString(): Promise<Exported> {
    return this.get();
  }

  override reset(): void {
    if (!(#series in this)) return;
    for (const s of this.#series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
