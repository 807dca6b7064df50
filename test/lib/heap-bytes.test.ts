/** estimatedHeapBytes: never below what V8 really holds for the JSON shapes tokens carry. */
import { describe, expect, it } from "vitest";
import { estimatedHeapBytes, KnownShapes } from "../../controller/lib/heap-bytes.ts";
import { heapHeldBy } from "../support/heap.ts";

const COUNT = 2000;
/** JSON texts, each distinct (no string shared between two values), of shapes claims take. */
const SHAPES: Record<string, (i: number) => string> = {
  "a typical ID token": (i) =>
    JSON.stringify({ iss: "https://idp.example.com", aud: "api", sub: `user-${i}`, email: `user-${i}@example.com`, iat: 1, exp: 2 + i }),
  "a hundred groups": (i) => JSON.stringify({ sub: `u${i}`, groups: Array.from({ length: 100 }, (_, g) => `group-${g}-${i}`) }),
  "fifty distinct keys": (i) => JSON.stringify(Object.fromEntries(Array.from({ length: 50 }, (_, k) => [`k${k}-${i}`, k]))),
  "empty objects and arrays": (i) =>
    JSON.stringify({ o: Array.from({ length: 50 }, () => ({})), a: Array.from({ length: 50 }, () => []), i }),
  "fractional numbers": (i) => JSON.stringify({ n: Array.from({ length: 100 }, (_, k) => k + 0.5 + i) }),
  "text beyond Latin-1": (i) => JSON.stringify({ name: `Zoë 日本語 ${i} `.repeat(8) }),
};

describe("estimatedHeapBytes", () => {
  for (const [name, make] of Object.entries(SHAPES)) {
    it(`is at least what V8 holds for ${name}, and within 6× of it (shared keys and hidden classes are counted per value)`, () => {
      const texts = Array.from({ length: COUNT }, (_, i) => make(i));
      const { bytes, value } = heapHeldBy(() => texts.map((t) => JSON.parse(t) as unknown));
      const estimated = value.reduce((n: number, v) => n + estimatedHeapBytes(v), 0);
      expect(estimated).toBeGreaterThanOrEqual(bytes);
      expect(estimated).toBeLessThanOrEqual(6 * bytes);
    });
  }

  it("counts a string by its characters: 1 byte each up to U+00FF, 2 beyond", () => {
    expect(estimatedHeapBytes("é".repeat(100)) - estimatedHeapBytes("")).toBe(100);
    expect(estimatedHeapBytes("日".repeat(100)) - estimatedHeapBytes("")).toBe(200);
  });

  describe("with known shapes (objects of one shape share their hidden class and names)", () => {
    for (const name of ["a typical ID token", "a hundred groups", "fifty distinct keys", "empty objects and arrays"]) {
      it(`is at least what V8 holds for ${name}, and within 2× of it`, () => {
        const texts = Array.from({ length: COUNT }, (_, i) => SHAPES[name]!(i));
        const { bytes, value } = heapHeldBy(() => texts.map((t) => JSON.parse(t) as unknown));
        const shapes = new KnownShapes();
        const estimated = value.reduce((n: number, v) => n + estimatedHeapBytes(v, shapes), 0);
        expect(estimated).toBeGreaterThanOrEqual(bytes);
        expect(estimated).toBeLessThanOrEqual(2 * bytes);
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
