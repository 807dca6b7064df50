import { describe, expect, it } from "vitest";
import { cpuShares, parseProcStat, perfCounted } from "../../bench/host.ts";

const STAT = `cpu  1000 10 200 5000 40 5 5 240 0 0
cpu0 500 5 100 2500 20 2 3 120 0 0
intr 1 2 3
`;

describe("parseProcStat", () => {
  it("reads busy (user nice system irq softirq), idle (idle iowait) and steal from the aggregate line", () => {
    expect(parseProcStat(STAT)).toEqual({ busy: 1220, idle: 5040, steal: 240 });
  });

  it("refuses text without the aggregate line", () => {
    expect(() => parseProcStat("cpu0 1 2 3\n")).toThrow(/no aggregate cpu line/);
  });
});

describe("cpuShares", () => {
  it("gives busy and steal as shares of all CPU time between two readings", () => {
    expect(cpuShares({ busy: 100, idle: 100, steal: 0 }, { busy: 160, idle: 130, steal: 10 })).toEqual({ busyPct: 60, stealPct: 10 });
  });

  it("is zero when no time passed", () => {
    const t = { busy: 1, idle: 1, steal: 1 };
    expect(cpuShares(t, t)).toEqual({ busyPct: 0, stealPct: 0 });
  });
});

describe("perfCounted", () => {
  it("is false for a counter the virtual CPU does not have, true for a counted one", () => {
    expect(perfCounted("<not supported>,,instructions,0,100.00,,\n", "instructions")).toBe(false);
    expect(perfCounted("<not counted>,,instructions:u,0,0.00,,\n", "instructions")).toBe(false);
    expect(perfCounted("123456,,instructions:u,1000,100.00,,\n", "instructions")).toBe(true);
  });
});
