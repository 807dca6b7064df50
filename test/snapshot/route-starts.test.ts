/**
 * The route starts index (controller/snapshot/route-starts.ts) and the lookup that uses it
 * (route-index.ts findRoutes): the entry a virtual host's lookup picks must be the one a scan of
 * every entry in order picks, for every request (issue 17). Checked on edge cases, then on random
 * worlds of Exact, PathPrefix and RegularExpression entries (fast-check, fixed seed) against a
 * linear scan written here.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { builtRe2, compileRe2 } from "../../controller/lib/regex.ts";
import { OTHER_QUERY_READINGS } from "../../controller/snapshot/query-readings.ts";
import { ENVOY_READING, findRoutes, type RouteReading, type RouteRequest } from "../../controller/snapshot/route-index.ts";
import { matches } from "../../controller/snapshot/route-match.ts";
import {
  candidateListsFor,
  firstHolding,
  MIN_INDEXED_ENTRIES,
  routeStartsFor,
  routeStartsOf,
  startOf,
} from "../../controller/snapshot/route-starts.ts";
import type { CompiledMatch, PathMatch, RouteEntry, ValueMatch } from "../../controller/snapshot/types.ts";
import { entry, index, request, table, vhosts } from "../support/route-tables.ts";

const regex = (value: string): PathMatch => ({ type: "RegularExpression", value, regex: builtRe2(value) });
const on = (path: PathMatch, headers: ValueMatch[] = [], queryParams: ValueMatch[] = []): CompiledMatch => ({ path, headers, queryParams });
const exact = (value: string): PathMatch => ({ type: "Exact", value });
const prefix = (value: string): PathMatch => ({ type: "PathPrefix", value });

/** The entry a scan of `entries` in order picks: what the indexed lookup must pick. */
const linear = (entries: readonly RouteEntry[], r: RouteRequest, route: string | undefined, reading: RouteReading) =>
  entries.find((e) => (route === undefined || e.route === route) && matches(e.match, r, reading));

/** The entry findRoutes picks on a table whose only virtual host holds `entries`. */
function lookup(entries: readonly RouteEntry[], r: RouteRequest, route?: string, reading: RouteReading = ENVOY_READING) {
  const found = findRoutes(index({ "apps/gw": [table(80, vhosts({ exact: { h: entries } }))] }), r, { route }, reading);
  expect(found!.length).toBeLessThanOrEqual(1);
  return found![0];
}

/** Filler entries no test path takes, so a list is long enough to be indexed. */
const fillers = (n: number) => Array.from({ length: n }, (_, i) => entry(`filler${i} r0`, on(regex(`/zz${i}/[a-z]+`))));

describe("startOf", () => {
  /** Each path match and the start it must have. */
  const startsOf = (cases: readonly (readonly [PathMatch, string])[]) => {
    for (const [path, start] of cases) expect(startOf(entry("a", on(path))), path.value).toBe(start);
  };

  it("is an Exact or PathPrefix value itself", () => {
    startsOf([
      [exact("/admin"), "/admin"],
      [prefix("/api"), "/api"],
      [prefix(""), ""],
    ]);
  });

  it("is RE2's literal prefix of a pattern, as re2js reports it, past a leading `^`: another anchor and `(?i)` stop it", () => {
    startsOf([
      [regex("/Svc-7/[a-z]+"), "/Svc-7/"],
      [regex("/abc|/abd"), "/ab"],
      [regex("/(a|b)c"), "/"],
      [regex("/é/[0-9]+"), "/é/"],
      [regex("/😀/x"), "/😀/x"],
      [regex("/a{2}"), "/aa"],
      // A leading `^` holds where every full match starts (fullMatchStart), not when a repetition follows it (`^*` repeats the anchor).
      [regex("^/foo.*"), "/foo"],
      [regex("^^/foo"), "/foo"],
      [regex("^/a|/b"), "/"],
      [regex("^*/foo"), ""],
      [regex("^?/foo"), ""],
      // It stops at another anchor, an optional part and a case-folded rune: `(?i)` leaves only what has no other case.
      [regex("/foo$"), "/foo"],
      [regex("(?m)^/foo"), ""],
      [regex("\\A/foo"), ""],
      [regex("(?:/foo)?/bar"), ""],
      [regex(".*"), ""],
      [regex("(?i)/admin/.*"), "/"],
      [regex("(?i)K/x"), ""],
      [regex("/foo(?i)bar"), "/foo"],
      // RE2 leaves U+FFFD out of a prefix (it stands for bytes that are not UTF-8).
      [regex("/\\x{FFFD}x"), "/"],
    ]);
  });
});

describe("routeStartsOf, candidateListsFor and firstHolding", () => {
  const entries = [
    entry("a", on(regex("/api/v[0-9]+"))),
    entry("b", on(prefix(""))),
    entry("c", on(exact("/api"))),
    entry("d", on(regex("/api/v1"))),
    entry("e", on(regex("(?i)/x"))),
    entry("f", on(prefix("/ap"))),
  ];
  const starts = routeStartsOf(entries);

  it("keys each entry by its start, ascending positions, and keeps the entries without one apart", () => {
    expect(Object.fromEntries(starts.started.byKey)).toEqual({ "/api/v": [0], "/api": [2], "/api/v1": [3], "/": [4], "/ap": [5] });
    expect(starts.started.lengths).toEqual([1, 3, 4, 6, 7]);
    expect(starts.unstarted).toEqual([1]);
  });

  it("lists the unstarted entries and those whose start begins the path, shortest start first", () => {
    expect(candidateListsFor(starts, "/api/v1")).toEqual([[1], [4], [5], [2], [0], [3]]);
    expect(candidateListsFor(starts, "/b")).toEqual([[1], [4]]);
    // A path shorter than every start but "/" and a path equal to a start.
    expect(candidateListsFor(starts, "")).toEqual([[1]]);
    expect(candidateListsFor(starts, "/ap")).toEqual([[1], [4], [5]]);
    expect(candidateListsFor(routeStartsOf([entry("a", on(exact("/a")))]), "/b")).toEqual([]);
  });

  it("merges the lists in ascending order and stops at the first position that holds", () => {
    const tried: number[] = [];
    const first = firstHolding(candidateListsFor(starts, "/api/v1"), (i) => {
      tried.push(i);
      return i >= 3;
    });
    expect(first).toBe(3);
    expect(tried).toEqual([0, 1, 2, 3]);
    expect(firstHolding([[0, 4], [2], [1, 3]], () => false)).toBe(-1);
    expect(firstHolding([], () => true)).toBe(-1);
  });

  it("holds no index for a virtual host of fewer than MIN_INDEXED_ENTRIES entries, and builds one list's once", () => {
    expect(routeStartsFor(fillers(MIN_INDEXED_ENTRIES - 1))).toBeUndefined();
    const big = fillers(MIN_INDEXED_ENTRIES);
    expect(routeStartsFor(big)).toBeDefined();
    expect(routeStartsFor(big)).toBe(routeStartsFor(big));
  });
});

describe("findRoutes on an indexed virtual host: the linear scan's entry", () => {
  it("takes an earlier entry without a start over a later one whose start begins the path", () => {
    const early = entry("early r0", on(regex("(?i)/ADMIN/.*")));
    const late = entry("late r0", on(regex("/admin/[a-z]+")));
    const entries = [...fillers(MIN_INDEXED_ENTRIES), early, late];
    expect(lookup(entries, request("h", "/admin/x"))).toBe(early);
    expect(lookup(entries, request("h", "/AdMiN/x"))).toBe(early);
    expect(lookup([...fillers(MIN_INDEXED_ENTRIES), late, early], request("h", "/admin/x"))).toBe(late);
  });

  it("goes on past a candidate whose path holds but whose header, method or query match does not", () => {
    const method = entry("method r0", on(regex("/v[0-9]+"), [{ type: "Exact", name: ":method", value: "POST" }]));
    const header = entry("header r0", on(regex("/v[0-9]+"), [{ type: "Exact", name: "x-tier", value: "gold" }]));
    const query = entry("query r0", on(regex("/v[0-9]+"), [], [{ type: "Exact", name: "v", value: "2" }]));
    const rest = entry("rest r0", on(prefix("/v1")));
    const entries = [...fillers(MIN_INDEXED_ENTRIES), method, header, query, rest];
    expect(lookup(entries, request("h", "/v1"))).toBe(rest);
    expect(lookup(entries, request("h", "/v1", { method: "POST" }))).toBe(method);
    expect(lookup(entries, request("h", "/v1", { lines: { "x-tier": ["gold"] } }))).toBe(header);
    expect(lookup(entries, request("h", "/v1", { rawQuery: "v=2" }))).toBe(query);
    expect(lookup(entries, request("h", "/v2"))).toBeUndefined();
  });

  it("keeps to the HTTPRoute the proxy names", () => {
    const entries = [...fillers(MIN_INDEXED_ENTRIES), entry("one r0", on(regex("/a.*"))), entry("two r0", on(regex("/a.*")))];
    expect(lookup(entries, request("h", "/ab"), "apps/two")?.rule).toBe("two r0");
    expect(lookup(entries, request("h", "/ab"), "apps/three")).toBeUndefined();
  });

  it("matches a path equal to a start, a path shorter than one, and non-ASCII starts", () => {
    const entries = [
      ...fillers(MIN_INDEXED_ENTRIES),
      entry("x r0", on(exact("/x"))),
      entry("emoji r0", on(regex("/😀/.*"))),
      entry("accent r0", on(regex("/é"))),
      entry("complete r0", on(regex("(/y)"))),
    ];
    expect(lookup(entries, request("h", "/x"))?.rule).toBe("x r0");
    expect(lookup(entries, request("h", "/"))).toBeUndefined();
    expect(lookup(entries, request("h", "/😀/a"))?.rule).toBe("emoji r0");
    expect(lookup(entries, request("h", "/é"))?.rule).toBe("accent r0");
    expect(lookup(entries, request("h", "/e"))).toBeUndefined();
    expect(lookup(entries, request("h", "/y"))?.rule).toBe("complete r0");
  });

  it("tries a `(?i)` pattern on a path in any case RE2 folds, the Kelvin sign included", () => {
    const kelvin = entry("kelvin r0", on(regex("(?i)/k")));
    const entries = [...fillers(MIN_INDEXED_ENTRIES), kelvin];
    for (const path of ["/k", "/K", "/\u212A"]) expect(lookup(entries, request("h", path)), path).toBe(kelvin);
  });
});

/** Pieces random paths and values are made of: they share texts, cases and non-ASCII characters, so starts often begin paths. */
const PATH_PIECES = ["/a", "/ab", "/A", "/b", "/é", "/😀", "/k", "/K", "/\u212A", "1", "x", "/", "", "AB", "/a/b", "\uFFFD"];
/** Pieces random patterns are made of: literals, anchors, alternations, classes, flags and repeats. */
const PATTERN_PIECES = [
  ...PATH_PIECES.map((p) => p.replace(/[.*+?()[\]{}|^$\\]/g, "\\$&")),
  "(a|b)",
  "(/a|/b)",
  "[a-z]+",
  ".*",
  ".",
  "(?i)",
  "(?i:a)",
  "^",
  "$",
  "\\d",
  "x?",
  "(/k)?",
  "[^/]*",
  "\\pL+",
  "\\x{FFFD}",
  "(?s).",
  "a{2}",
];

const pathOf = fc.array(fc.constantFrom(...PATH_PIECES), { maxLength: 4 }).map((p) => p.join(""));
const patternOf = fc
  .tuple(fc.constantFrom("", "", "^", "^^"), fc.array(fc.constantFrom(...PATTERN_PIECES, "*", "+", "{2}"), { minLength: 1, maxLength: 4 }))
  .map(([anchor, p]) => anchor + p.join(""))
  .filter((p) => compileRe2(p).ok);
const pathMatchOf: fc.Arbitrary<PathMatch> = fc.oneof(
  pathOf.map(exact),
  pathOf.map((v) => prefix(v.replace(/\/+$/, ""))),
  patternOf.map(regex),
  patternOf.map(regex),
);
const valueMatchesOf: fc.Arbitrary<ValueMatch[]> = fc.subarray([
  { type: "Exact", name: ":method", value: "POST" },
  { type: "Exact", name: "x-tier", value: "gold" },
  { type: "RegularExpression", name: "x-tier", value: "g.*", regex: builtRe2("g.*") },
] satisfies ValueMatch[]);
const queryMatchesOf: fc.Arbitrary<ValueMatch[]> = fc.subarray([{ type: "Exact", name: "v", value: "2" }] satisfies ValueMatch[]);
const entriesOf = fc.array(
  fc.record({ path: pathMatchOf, headers: valueMatchesOf, queryParams: queryMatchesOf, route: fc.constantFrom("one", "two") }),
  { minLength: 1, maxLength: 40, size: "max" },
);
const requestOf = fc.record({
  path: pathOf,
  method: fc.constantFrom("GET", "POST"),
  tier: fc.constantFrom(undefined, ["gold"], ["silver"], ["gold", "silver"]),
  rawQuery: fc.constantFrom(undefined, "v=2", "v=1&v=2"),
});
const readings: RouteReading[] = [
  ENVOY_READING,
  { ...ENVOY_READING, header: 1, name: "line 1" },
  ...OTHER_QUERY_READINGS.slice(0, 2).map((query) => ({ query, header: "joined" as const, name: query.name })),
];

describe("findRoutes on random worlds (fast-check, fixed seed)", () => {
  it("picks the entry a scan of every entry in order picks, for every request, route scope and reading", () => {
    let indexed = 0;
    let found = 0;
    fc.assert(
      fc.property(
        entriesOf,
        fc.array(requestOf, { minLength: 1, maxLength: 20 }),
        fc.constantFrom(undefined, "apps/one"),
        fc.constantFrom(...readings),
        (drawn, requests, route, reading) => {
          const entries = drawn.map((d, i) => entry(`${d.route} r${i}`, on(d.path, d.headers, d.queryParams)));
          if (routeStartsFor(entries) !== undefined) indexed++;
          for (const r of requests) {
            const sent = request("h", r.path, {
              method: r.method,
              rawQuery: r.rawQuery,
              lines: r.tier === undefined ? {} : { "x-tier": [...r.tier] },
            });
            const expected = linear(entries, sent, route, reading);
            if (expected !== undefined) found++;
            expect(
              lookup(entries, sent, route, reading),
              `${JSON.stringify(r)} on ${entries.map((e) => e.match.path.value).join(" ")}`,
            ).toBe(expected);
          }
        },
      ),
      { seed: 20_261_202, numRuns: 1500 },
    );
    // The worlds exercise the index, and requests that some entry takes as well as ones none takes.
    expect(indexed).toBeGreaterThan(1000);
    expect(found).toBeGreaterThan(1000);
  });
});
