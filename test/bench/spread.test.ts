import { describe, expect, it } from "vitest";
import { formatSpread, median, ratiosByRound, spreadOf, worstEitherWay } from "../../bench/spread.ts";

describe("spreadOf", () => {
  it("takes the lowest round as the worst when higher is better, and the highest when lower is better", () => {
    expect(spreadOf([0.93, 0.88, 0.97], true)).toEqual({ rounds: [0.93, 0.88, 0.97], median: 0.93, worst: 0.88, best: 0.97 });
    expect(spreadOf([1.1, 1.4, 0.9], false)).toMatchObject({ median: 1.1, worst: 1.4, best: 0.9 });
  });

  it("has no figures for no rounds", () => {
    expect(spreadOf([], true)).toMatchObject({ median: NaN, worst: NaN, best: NaN });
  });
});

describe("median", () => {
  it("averages the two middle values of an even count and leaves its input unsorted", () => {
    const xs = [4, 1, 3, 2];
    expect(median(xs)).toBe(2.5);
    expect(xs).toEqual([4, 1, 3, 2]);
  });
});

describe("ratiosByRound", () => {
  it("pairs the runs of the same round", () => {
    expect(ratiosByRound([10, 30], [20, 15], (a, b) => a / b)).toEqual([0.5, 2]);
  });

  it("refuses runs of different round counts (a missing round would pair the wrong runs)", () => {
    expect(() => ratiosByRound([1, 2], [1], (a, b) => a / b)).toThrow(/2 rounds against 1/);
  });
});

describe("formatSpread", () => {
  it("gives the median, then the worst and best round", () => {
    expect(formatSpread(spreadOf([0.93, 0.88, 0.97], true))).toBe("0.93 (0.88–0.97)");
    expect(formatSpread(spreadOf([0.93], true))).toBe("0.93");
  });
});

describe("worstEitherWay", () => {
  it("reads an A/A ratio's best round upside down when that is further from 1 than its worst", () => {
    expect(worstEitherWay(spreadOf([0.95, 1.25, 1.0], true), true)).toBe(0.8);
    expect(worstEitherWay(spreadOf([0.9, 1.05], true), true)).toBe(0.9);
    expect(worstEitherWay(spreadOf([0.5, 1.1], false), false)).toBe(2);
    expect(worstEitherWay(spreadOf([0.9, 1.3], false), false)).toBe(1.3);
  });
});
