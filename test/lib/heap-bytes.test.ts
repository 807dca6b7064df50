/**
 * estimatedHeapBytes: never below what V8 really holds for the JSON shapes tokens carry. Each bound
 * is checked on the median of ROUNDS measurements of fresh values (no string shared with any value
 * measured before in the worker): a collection that frees something else during one measurement
 * (bytecode of functions unused for a few collections, which depends on what ran before) moves that
 * one by up to some 100 KB, and values as small as 2000 ID tokens (about 0.4 MB) by a quarter.
 */
import { describe, expect, it } from "vitest";
import { estimatedHeapBytes, KnownShapes } from "../../controller/lib/heap-bytes.ts";
import { heapHeldBy } from "../support/heap.ts";

const ROUNDS = 3;
/** JSON texts of shapes claims take, and how many make each measurement hold a few MB (noise of 100 KB is then a few percent). */
const SHAPES: Record<string, { readonly count: number; readonly text: (i: number) => string }> = {
  "a typical ID token": {
    count: 20_000,
    text: (i) =>
      JSON.stringify({ iss: "https://idp.example.com", aud: "api", sub: `user-${i}`, email: `user-${i}@example.com`, iat: 1, exp: 2 + i }),
  },
  "a hundred groups": {
    count: 2000,
    text: (i) => JSON.stringify({ sub: `u${i}`, groups: Array.from({ length: 100 }, (_, g) => `group-${g}-${i}`) }),
  },
  "fifty distinct keys": {
    count: 2000,
    text: (i) => JSON.stringify(Object.fromEntries(Array.from({ length: 50 }, (_, k) => [`k${k}-${i}`, k]))),
  },
  "empty objects and arrays": {
    count: 2000,
    text: (i) => JSON.stringify({ o: Array.from({ length: 50 }, () => ({})), a: Array.from({ length: 50 }, () => []), i }),
  },
  "fractional numbers": { count: 4000, text: (i) => JSON.stringify({ n: Array.from({ length: 100 }, (_, k) => k + 0.5 + i) }) },
  "text beyond Latin-1": { count: 10_000, text: (i) => JSON.stringify({ name: `Zoë 日本語 ${i} `.repeat(8) }) },
};

/** The next value number: each measurement's texts are distinct from every text made before in the worker. */
let nextValue = 0;

/**
 * The median over ROUNDS of estimated ÷ held bytes for `shape`'s values parsed from JSON, each round
 * fresh values (the previous round's are garbage by then); `shapes` makes each round's estimate
 * with known shapes.
 */
function medianRatio(shape: string, withShapes: boolean): number {
  const { count, text } = SHAPES[shape]!;
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const first = nextValue;
    nextValue += count;
    const texts = Array.from({ length: count }, (_, i) => text(first + i));
    const { bytes, value } = heapHeldBy(() => texts.map((t) => JSON.parse(t) as unknown));
    const shapes = withShapes ? new KnownShapes() : undefined;
    ratios.push(value.reduce((n: number, v) => n + estimatedHeapBytes(v, shapes), 0) / bytes);
  }
  return ratios.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!;
}

describe("estimatedHeapBytes", () => {
  for (const shape of Object.keys(SHAPES)) {
    it(`is at least what V8 holds for ${shape}, and within 6× of it (shared keys and hidden classes are counted per value)`, () => {
      const ratio = medianRatio(shape, false);
      expect(ratio).toBeGreaterThanOrEqual(1);
      expect(ratio).toBeLessThanOrEqual(6);
    });
  }

  it("counts a string by its characters: 1 byte each up to U+00FF, 2 beyond", () => {
    expect(estimatedHeapBytes("é".repeat(100)) - estimatedHeapBytes("")).toBe(100);
    expect(estimatedHeapBytes("日".repeat(100)) - estimatedHeapBytes("")).toBe(200);
  });

  describe("with known shapes (objects of one shape share their hidden class and names)", () => {
    for (const name of ["a typical ID token", "a hundred groups", "fifty distinct keys", "empty objects and arrays"]) {
      it(`is at least what V8 holds for ${name}, and within 2× of it`, () => {
        const ratio = medianRatio(name, true);
        expect(ratio).toBeGreaterThanOrEqual(1);
        expect(ratio).toBeLessThanOrEqual(2);
      });
    }
    it("prices a shape's names once: the second object of a shape costs a word per property and its values", () => {
      const shapes = new KnownShapes();
      const first = estimatedHeapBytes({ iss: "a", sub: "b" }, shapes);
      const second = estimatedHeapBytes({ iss: "c", sub: "d" }, shapes);
      expect(first).toBe(estimatedHeapBytes({ iss: "a", sub: "b" }));
      expect(second).toBe(first - 2 * 11 * 8 - estimatedHeapBytes("iss") - estimatedHeapBytes("sub") + 2 * 8);
      // The same names in another order are another shape (another hidden class).
      expect(estimatedHeapBytes({ sub: "d", iss: "c" }, shapes)).toBe(first);
    });
    it("past its capacity, prices every new shape in full each time (never too low)", () => {
      const shapes = new KnownShapes(1);
      estimatedHeapBytes({ a: 1 }, shapes);
      const full = estimatedHeapBytes({ b: 1 });
      expect([estimatedHeapBytes({ b: 1 }, shapes), estimatedHeapBytes({ b: 1 }, shapes)]).toEqual([full, full]);
      expect(estimatedHeapBytes({ a: 2 }, shapes)).toBeLessThan(full);
    });
  });

  it("prices a value nested 100,000 deep without exhausting the stack (a verified token's claims may nest that deep)", () => {
    let deep: unknown = "leaf";
    for (let i = 0; i < 100_000; i++) deep = i % 2 === 0 ? [deep] : { d: deep };
    expect(estimatedHeapBytes(deep)).toBeGreaterThan(100_000 * 48);
  });
});
