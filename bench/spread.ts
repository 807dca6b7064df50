/**
 * Figures over interleaved rounds: the median, and the worst and best round. A target is met only
 * when its worst round meets it (issue 17), so every ratio keeps which direction is better.
 */

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export interface Spread {
  /** One value per round, in round order. */
  readonly rounds: readonly number[];
  readonly median: number;
  /** The round furthest from the goal: the lowest when higher is better, else the highest. */
  readonly worst: number;
  readonly best: number;
}

/** The spread of per-round values; NaN figures for no rounds. */
export function spreadOf(rounds: readonly number[], higherIsBetter: boolean): Spread {
  const low = rounds.length === 0 ? NaN : Math.min(...rounds);
  const high = rounds.length === 0 ? NaN : Math.max(...rounds);
  return { rounds, median: median(rounds), worst: higherIsBetter ? low : high, best: higherIsBetter ? high : low };
}

/**
 * The worst round of an A/A ratio read either way: the two servers are alike, so a round where B
 * cost 1.25× A's is as far off as one where it cost 0.80×, and a method that resolves a goal of
 * 0.90× must keep both inside it. In the direction of `worst` (1 ÷ best when that is further).
 */
export function worstEitherWay(s: Spread, higherIsBetter: boolean): number {
  return higherIsBetter ? Math.min(s.worst, 1 / s.best) : Math.max(s.worst, 1 / s.best);
}

/** Per-round ratios a[i] ÷ b[i] of two runs taken in the same round. */
export function ratiosByRound<T>(a: readonly T[], b: readonly T[], f: (x: T, y: T) => number): number[] {
  if (a.length !== b.length) throw new Error(`ratiosByRound: ${a.length} rounds against ${b.length}`);
  return a.map((x, i) => f(x, b[i]!));
}

/** "0.93 (0.88–0.97)": median, then worst–best round, with `digits` decimals. */
export function formatSpread(s: Spread, digits = 2): string {
  const f = (x: number) => x.toFixed(digits);
  return s.rounds.length <= 1 ? f(s.median) : `${f(s.median)} (${f(s.worst)}–${f(s.best)})`;
}
