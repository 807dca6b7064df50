import { describe, expect, it } from "vitest";
import { compare, roundOrder, summarize, type Run } from "../../bench/serve-bench.ts";

const run = (rps: number, p99Ms: number, cpuUsPerReq: number, extra: Partial<Run> = {}): Run => ({
  requests: rps * 2,
  durationS: 2,
  rps,
  p50Ms: 1,
  p90Ms: 1,
  p99Ms,
  p999Ms: 1,
  maxMs: 1,
  errors: 0,
  wraps: 0,
  cpuUsPerReq,
  waitPct: 1,
  ...extra,
});

describe("roundOrder", () => {
  it("runs the scenarios forwards in odd rounds and backwards in even ones", () => {
    expect(roundOrder(["a", "b", "c"], 1)).toEqual(["a", "b", "c"]);
    expect(roundOrder(["a", "b", "c"], 2)).toEqual(["c", "b", "a"]);
    expect(roundOrder(["a", "b", "c"], 3)).toEqual(["a", "b", "c"]);
  });
});

describe("compare", () => {
  it("compares each run with the reference run of its own round, and keeps the worst round", () => {
    const bare = [run(100, 2, 10), run(50, 4, 20)];
    const ours = [run(90, 2.4, 11), run(40, 6, 25)];
    const c = compare(ours, bare, "baseline");
    expect(c.rps.rounds).toEqual([0.9, 0.8]);
    expect(c.rps.worst).toBe(0.8);
    expect(c.p99.worst).toBe(1.5);
    expect(c.cpu.rounds.map((x) => x.toFixed(3))).toEqual(["0.909", "0.800"]);
  });
});

describe("summarize", () => {
  it("gives medians, the CPU spread, and each counted cost over the runs that counted it (allocation: the last round only)", () => {
    const s = summarize([run(100, 2, 10), run(80, 3, 12, { allocBytesPerReq: 100 }), run(90, 4, 14, { allocBytesPerReq: 300 })]);
    expect([s.rps, s.p99Ms, s.cpuUsPerReq.worst, s.cpuUsPerReq.best]).toEqual([90, 3, 14, 10]);
    expect(s.allocBytesPerReq).toBe(200);
    expect(summarize([run(1, 1, 1), run(1, 1, 1)]).allocBytesPerReq).toBeUndefined();
  });

  it("counts the server's collections over every round that read the probe, and none for a server without it", () => {
    const gc = (scavenges: number, pauseMs: number) => ({ gc: { scavenges, markCompacts: 0, pauseMs } });
    // 200, 160 and 180 requests: 8 scavenges in 540 requests.
    const s = summarize([run(100, 2, 10, gc(2, 0.2)), run(80, 3, 12, gc(4, 0.8)), run(90, 4, 14, gc(2, 0.36))]);
    expect(s.gc!.scavengesPer1k.toFixed(3)).toBe(((8 / 540) * 1000).toFixed(3));
    expect(s.gc!.pauseUsPerReq.rounds.map((x) => x.toFixed(1))).toEqual(["1.0", "5.0", "2.0"]);
    expect(summarize([run(1, 1, 1)]).gc).toBeUndefined();
  });

  it("adds up errors and token-list wraps over the rounds (either makes a run unsound)", () => {
    const s = summarize([run(1, 1, 1, { errors: 2 }), run(1, 1, 1, { wraps: 1 })]);
    expect([s.errors, s.wraps]).toEqual([2, 1]);
  });
});
