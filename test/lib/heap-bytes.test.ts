/** estimatedHeapBytes: never below what V8 really holds for the JSON shapes tokens carry. */
import { describe, expect, it } from "vitest";
import { estimatedHeapBytes } from "../../controller/lib/heap-bytes.ts";
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
});
