import { describe, expect, it } from "vitest";
import { compareCodeUnits } from "../../controller/api/meta.ts";
import { sortInPlace } from "../../controller/lib/sort.ts";

describe("sortInPlace", () => {
  it("sorts short and long lists in place, in the order Array.prototype.sort gives", () => {
    for (const length of [0, 1, 2, 3, 20, 32, 33, 80]) {
      const list = Array.from({ length }, (_, i) => `k${(i * 7919) % 101}-${i % 3}`);
      const expected = [...list].sort();
      const sorted = sortInPlace(list, compareCodeUnits);
      expect(sorted).toBe(list);
      expect(sorted).toEqual(expected);
    }
  });

  it("is stable: equal elements keep their order, as in Array.prototype.sort", () => {
    const list = [3, 1, 2, 1, 3, 2].map((rank, i) => ({ rank, i }));
    const byRank = (a: { rank: number }, b: { rank: number }) => a.rank - b.rank;
    expect(sortInPlace([...list], byRank)).toEqual([...list].sort(byRank));
    expect(sortInPlace([...list], byRank).map((x) => x.i)).toEqual([1, 3, 2, 5, 0, 4]);
  });
});
