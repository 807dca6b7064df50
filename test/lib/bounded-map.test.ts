/** BoundedMap: never more than its capacity, the newest entries kept, the oldest dropped first. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BoundedMap } from "../../controller/lib/bounded-map.ts";

describe("BoundedMap", () => {
  it("holds at most its capacity and always keeps the newest half", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 300 }), (capacity, keys) => {
        const map = new BoundedMap<number, number>(capacity);
        keys.forEach((k, i) => {
          map.set(k, i);
          expect(map.size).toBeLessThanOrEqual(capacity);
          expect(map.get(k)).toBe(i);
        });
        // The last floor(capacity / 2) distinct keys set are all still there, with their last value.
        const newest = [...new Set([...keys].reverse())].slice(0, Math.floor(capacity / 2));
        for (const k of newest) expect(map.get(k)).toBe(keys.lastIndexOf(k));
      }),
      { seed: 7, numRuns: 200 },
    );
  });
  it("drops the oldest entries first and forgets deleted ones", () => {
    const map = new BoundedMap<string, number>(4);
    for (const [i, k] of ["a", "b", "c", "d", "e"].entries()) map.set(k, i);
    expect(["a", "b", "c", "d", "e"].map((k) => map.get(k))).toEqual([undefined, undefined, 2, 3, 4]);
    map.delete("c");
    expect(map.get("c")).toBeUndefined();
    expect(map.size).toBe(2);
  });
});
