import { describe, expect, it } from "vitest";
import { addedBy } from "../../bench/proxy-bench.ts";
import type { Run } from "../../bench/serve-bench.ts";

const run = (rps: number, p50Ms: number, p99Ms: number, cpuUsPerReq: number): Run => ({
  requests: rps,
  durationS: 1,
  rps,
  p50Ms,
  p90Ms: p50Ms,
  p99Ms,
  p999Ms: p99Ms,
  maxMs: p99Ms,
  errors: 0,
  wraps: 0,
  cpuUsPerReq,
  waitPct: 0,
});

describe("addedBy", () => {
  it("is the median over rounds of (with authentication − without) for the same proxy, and req/s with ÷ without", () => {
    const without = [run(1000, 1, 2, 40), run(800, 1.2, 3, 45), run(900, 1.1, 2.5, 42)];
    const withAuth = [run(500, 2, 5, 100), run(480, 2.4, 4, 110), run(300, 3.1, 9, 90)];
    const a = addedBy(withAuth, without);
    expect(a.cpuUsPerReq).toBe(60);
    expect(a.p50Ms).toBeCloseTo(1.2, 10);
    expect(a.p99Ms).toBe(3);
    expect(a.rps.rounds.map((x) => x.toFixed(2))).toEqual(["0.50", "0.60", "0.33"]);
    expect(a.rps.worst).toBeCloseTo(1 / 3, 10);
  });
});
