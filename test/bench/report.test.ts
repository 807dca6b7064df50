import { describe, expect, it } from "vitest";
import { signed, worstRound } from "../../bench/report.ts";
import { spreadOf } from "../../bench/spread.ts";

describe("worstRound", () => {
  it("meets a target only when every round meets it, however good the median", () => {
    expect(worstRound("x", spreadOf([0.95, 0.96, 0.89], true), 0.9, true, true).met).toBe(false);
    expect(worstRound("x", spreadOf([0.95, 0.96, 0.9], true), 0.9, true, true).met).toBe(true);
    expect(worstRound("p99", spreadOf([1.0, 1.1, 1.21], false), 1.2, false, true).met).toBe(false);
  });

  it("never meets a target measured on errors or reused tokens", () => {
    expect(worstRound("x", spreadOf([1, 1], true), 0.9, true, false).met).toBe(false);
  });

  it("says the worst round, the median and the best", () => {
    expect(worstRound("x", spreadOf([0.95, 0.97, 0.89], true), 0.9, true, true).measured).toBe(
      "worst round 0.89× (median 0.95×, best 0.97×, 3 rounds)",
    );
  });
});

describe("signed", () => {
  it("signs a difference either way, never as '+-'", () => {
    expect(signed(1.25, (x) => x.toFixed(1))).toBe("+1.3");
    expect(signed(-52.91, (x) => x.toFixed(1))).toBe("−52.9");
    expect(signed(0, (x) => x.toFixed(1))).toBe("+0.0");
  });
});
