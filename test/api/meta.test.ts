/** Envoy Gateway's object order (compareAge), and the same order with each timestamp parsed once (sortedByAge). */
import { describe, expect, it } from "vitest";
import { compareAge, sortedByAge } from "../../controller/api/meta.ts";

const object = (namespace: string, name: string, creationTimestamp?: string) => ({ metadata: { namespace, name, creationTimestamp } });

describe("sortedByAge", () => {
  it("orders as compareAge: oldest first, no timestamp last, unparsable ones by text, ties by namespace then name", () => {
    const list = [
      object("b", "x", "2026-01-01T00:00:02Z"),
      object("a", "y"),
      object("a", "x", "not a time"),
      object("a", "b", "2026-01-01T00:00:01Z"),
      object("a", "a", "2026-01-01T00:00:01Z"),
      object("a-b", "a", "2026-01-01T00:00:01.000Z"),
      object("a", "z", "2026-01-01T00:00:02Z"),
      object("a", "w"),
    ];
    const sorted = sortedByAge(list);
    expect(sorted).toEqual([...list].sort(compareAge));
    expect(sorted.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      "a/a",
      "a/b",
      "a-b/a",
      "a/z",
      "b/x",
      "a/x",
      "a/w",
      "a/y",
    ]);
    expect(list[0]!.metadata.name).toBe("x");
  });
});
