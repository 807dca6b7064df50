/**
 * Tables a request's own strings are looked up in (a Host, a Gateway's name): without a prototype,
 * so a key such as "constructor" or "__proto__" finds nothing inherited, and in V8's fast mode while
 * they are small. `Object.create(null)` makes a dictionary: looked up by a string the request brought
 * (never internalized), a 10-key table took about 1,140 instructions a lookup against 155 for this
 * one (callgrind, 2026-12-02, BENCHMARKS.md). V8 keeps up to about a thousand keys fast.
 */
export function lookupTable<V>(entries: Iterable<readonly [string, V]>): Record<string, V> {
  // fromEntries defines each key as an own property ("__proto__" too), then the prototype goes.
  const table = Object.fromEntries(entries) as Record<string, V>;
  Object.setPrototypeOf(table, null);
  return table;
}
