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

describe("BoundedMap with weigh", () => {
  it("holds at most its capacity in weight, keeps the newest entries, and accounts for replaced and deleted ones", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10, max: 200 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 60 })), { maxLength: 300 }),
        (capacity, writes) => {
          const map = new BoundedMap<number, number>(capacity, (w) => w);
          const weights = new Map<number, number>();
          for (const [key, weight] of writes) {
            if (weight % 7 === 0) {
              map.delete(key);
              weights.delete(key);
              expect(map.get(key)).toBeUndefined();
            } else {
              map.set(key, weight);
              weights.set(key, weight);
              // Heavier than half the capacity: not kept (nor an older value of the key).
              expect(map.get(key)).toBe(weight > Math.floor(capacity / 2) ? undefined : weight);
            }
            expect(map.weight).toBeLessThanOrEqual(capacity);
            // The weight is exactly that of the entries still held.
            const held = [...weights.keys()].filter((k) => map.get(k) !== undefined);
            expect(map.weight).toBe(held.reduce((n, k) => n + weights.get(k)!, 0));
          }
        },
      ),
      { seed: 11, numRuns: 200 },
    );
  });
  it("drops the oldest generation whole when the newest is full", () => {
    const map = new BoundedMap<string, number>(10, (w) => w);
    for (const [k, w] of [
      ["a", 3],
      ["b", 2],
      ["c", 4],
      ["d", 1],
    ] as const)
      map.set(k, w);
    // a, b: the first half (5); c pushed it over and started a new one; d joined c.
    expect(["a", "b", "c", "d"].map((k) => map.get(k))).toEqual([3, 2, 4, 1]);
    map.set("e", 3);
    expect(["a", "b", "c", "d", "e"].map((k) => map.get(k))).toEqual([undefined, undefined, 4, 1, 3]);
    expect(map.weight).toBe(8);
  });
});
