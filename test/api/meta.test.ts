/**
 * Envoy Gateway's object order (compareAge), and the same order with each timestamp parsed once
 * (sortedByAge); label selectors as Kubernetes parses and matches them (selectorMatches).
 */
import { describe, expect, it } from "vitest";
import { compareAge, selectorMatches, sortedByAge, type LabelSelector } from "../../controller/api/meta.ts";

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

describe("selectorMatches", () => {
  const web = { tier: "web", "app.kubernetes.io/name": "shop" };
  it("holds every matchLabels pair and expression; an empty selector matches everything", () => {
    expect(selectorMatches({}, web)).toBe(true);
    expect(selectorMatches({}, undefined)).toBe(true);
    expect(selectorMatches({ matchLabels: { "app.kubernetes.io/name": "shop" } }, web)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["db"] }] }, web)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: "tier", operator: "In", values: ["db"] }] }, web)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: "zone", operator: "DoesNotExist", values: [] }] }, web)).toBe(true);
    expect(selectorMatches({ matchLabels: { tier: "" } }, { tier: "" })).toBe(true);
  });

  // Each, read as written, matches the labels beside it.
  const unparsable: [string, LabelSelector, Record<string, string>][] = [
    ["NotIn without values", { matchExpressions: [{ key: "tier", operator: "NotIn", values: [] }] }, web],
    ["NotIn with values left out", { matchExpressions: [{ key: "tier", operator: "NotIn" }] }, web],
    ["Exists with values", { matchExpressions: [{ key: "tier", operator: "Exists", values: ["web"] }] }, web],
    ["DoesNotExist with values", { matchExpressions: [{ key: "zone", operator: "DoesNotExist", values: ["x"] }] }, web],
    ["a key with a space", { matchExpressions: [{ key: "bad key", operator: "DoesNotExist" }] }, web],
    ["a key with two slashes", { matchExpressions: [{ key: "a/b/c", operator: "DoesNotExist" }] }, web],
    ["a key with an empty prefix", { matchExpressions: [{ key: "/zone", operator: "DoesNotExist" }] }, web],
    ["a key whose prefix is upper case", { matchExpressions: [{ key: "Example.com/zone", operator: "DoesNotExist" }] }, web],
    ["a key of 64 characters", { matchExpressions: [{ key: "z".repeat(64), operator: "DoesNotExist" }] }, web],
    ["a NotIn value with a space", { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["d b"] }] }, web],
    ["a matchLabels key Kubernetes refuses", { matchLabels: { "-x": "" } }, { "-x": "" }],
    ["a matchLabels value ending in a dot", { matchLabels: { tier: "web." } }, { tier: "web." }],
  ];
  it.each(unparsable)("matches nothing when Kubernetes cannot parse it (Envoy Gateway's labels.Nothing()): %s", (_, selector, labels) => {
    expect(selectorMatches(selector, labels)).toBe(false);
    expect(selectorMatches(selector, {})).toBe(false);
  });

  it("takes the longest key and value Kubernetes allows", () => {
    const prefix = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`;
    const key = `${prefix}/${"n".repeat(63)}`;
    expect(selectorMatches({ matchLabels: { [key]: "v".repeat(63) } }, { [key]: "v".repeat(63) })).toBe(true);
    expect(selectorMatches({ matchLabels: { [`${prefix}x/n`]: "v" } }, { [`${prefix}x/n`]: "v" })).toBe(false);
    expect(selectorMatches({ matchLabels: { tier: "v".repeat(64) } }, { tier: "v".repeat(64) })).toBe(false);
  });
});
