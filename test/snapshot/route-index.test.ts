/**
 * Request-time route lookup (controller/snapshot/route-index.ts) on hand-built route tables: virtual
 * host selection as Envoy picks it, the listener port scope (with Envoy Gateway's privileged-port
 * shift), first-match order, header/query semantics and the entries of the other readings.
 */
import { describe, expect, it, vi } from "vitest";
import { OTHER_QUERY_READINGS } from "../../controller/snapshot/query-readings.ts";
import { findRoutes, otherRouteReadings, type RouteRequest } from "../../controller/snapshot/route-index.ts";
import { builtRe2 } from "../../controller/lib/regex.ts";
import type { RouteEntry, RouteIndex } from "../../controller/snapshot/types.ts";
import { ANY_PATH, entry, index, request, table, vhosts } from "../support/route-tables.ts";

const rules = (found: readonly RouteEntry[] | undefined) => found?.map((e) => e.rule);

describe("findRoutes: virtual hosts", () => {
  const v = vhosts({
    exact: { "api.example.com": [entry("exact r0")] },
    wildcard: { ".example.com": [entry("short r0")], ".eu.example.com": [entry("long r0")] },
    any: [entry("any r0")],
  });
  const idx = index({ "apps/gw": [table(80, v)] });

  it("prefers the exact host, then the longest wildcard suffix, then the routes of any host", () => {
    expect(rules(findRoutes(idx, request("api.example.com"), {}))).toEqual(["exact r0"]);
    expect(rules(findRoutes(idx, request("a.eu.example.com"), {}))).toEqual(["long r0"]);
    expect(rules(findRoutes(idx, request("a.b.example.com"), {}))).toEqual(["short r0"]);
    expect(rules(findRoutes(idx, request("other.test"), {}))).toEqual(["any r0"]);
  });

  it("takes a wildcard to stand for at least one character: the bare suffix is not under it", () => {
    expect(rules(findRoutes(idx, request("example.com"), {}))).toEqual(["any r0"]);
    expect(rules(findRoutes(idx, request("eu.example.com"), {}))).toEqual(["short r0"]);
    // An empty first label: "*" would stand for nothing.
    expect(rules(findRoutes(idx, request(".example.com"), {}))).toEqual(["any r0"]);
  });

  it("finds nothing, not an error, when no virtual host takes the Host", () => {
    const noAny = index({ "apps/gw": [table(80, vhosts({ exact: { "a.test": [entry("a r0")] } }))] });
    expect(findRoutes(noAny, request("b.test"), {})).toEqual([]);
  });

  it("returns one entry per reading of the Host that selects another virtual host", () => {
    const found = findRoutes(idx, request("api.example.com", "/", { hosts: ["api.example.com", "api.example.com."] }), {});
    expect(rules(found)).toEqual(["exact r0", "any r0"]);
  });

  it("lists an entry once when two readings select the same one", () => {
    const found = findRoutes(idx, request("x.test", "/", { hosts: ["x.test", "x.test."] }), {});
    expect(rules(found)).toEqual(["any r0"]);
  });

  // Issue 17: the usual Host comes without a list of its one reading, and the lone entry found answers as its
  // list of one built once per entry; the entries must be those a list of the one reading finds.
  it("routes a request without `hosts` by its host alone, and answers a lone entry with the same frozen list every time", () => {
    for (const host of ["api.example.com", "a.eu.example.com", "other.test", "example.com"]) {
      const found = findRoutes(idx, request(host, "/", { hosts: undefined }), {});
      expect(found).toEqual(findRoutes(idx, request(host), {}));
      expect(found).toBe(findRoutes(idx, request(host, "/", { hosts: undefined }), {}));
      expect(Object.isFrozen(found)).toBe(true);
    }
  });
});

describe("findRoutes: scope", () => {
  const idx = index({
    "apps/gw": [table(80, vhosts({ any: [entry("web r0")] })), table(8443, vhosts({ any: [entry("admin r0", ANY_PATH, 8443)] }))],
    "apps/other": [table(80, vhosts({ any: [entry("other r0")] }))],
  });

  it("reads every served Gateway and port when the proxy names neither", () => {
    expect(rules(findRoutes(idx, request("h"), {}))).toEqual(["web r0", "admin r0", "other r0"]);
  });

  it("is undefined for a Gateway that is not served, and keeps to the one named", () => {
    expect(findRoutes(idx, request("h"), { gateway: "apps/missing" })).toBeUndefined();
    expect(rules(findRoutes(idx, request("h"), { gateway: "apps/other" }))).toEqual(["other r0"]);
  });

  it("matches a stated port to its table, and a privileged listener port to Envoy Gateway's container port (+10000)", () => {
    expect(rules(findRoutes(idx, request("h"), { gateway: "apps/gw", port: 8443 }))).toEqual(["admin r0"]);
    expect(rules(findRoutes(idx, request("h"), { gateway: "apps/gw", port: 10080 }))).toEqual(["web r0"]);
    expect(rules(findRoutes(idx, request("h"), { gateway: "apps/gw", port: 18443 }))).toEqual([]);
  });

  it("qualifies only the entries of the HTTPRoute the proxy names", () => {
    const two = index({ "apps/gw": [table(80, vhosts({ any: [entry("first r0"), entry("second r0")] }))] });
    expect(rules(findRoutes(two, request("h"), { route: "apps/second" }))).toEqual(["second r0"]);
  });
});

describe("findRoutes: first match in order", () => {
  const idx = index({
    "apps/gw": [
      table(
        80,
        vhosts({
          any: [
            entry("r exact", { path: { type: "Exact", value: "/admin" }, headers: [], queryParams: [] }),
            entry("r header", { ...ANY_PATH, headers: [{ type: "Exact", name: "x-tier", value: "gold,silver" }] }),
            entry("r method", { ...ANY_PATH, headers: [{ type: "Exact", name: ":method", value: "POST" }] }),
            entry("r host", { ...ANY_PATH, headers: [{ type: "Suffix", name: "host", value: ":8080" }] }),
            entry("r query", { ...ANY_PATH, queryParams: [{ type: "Exact", name: "v", value: "2" }] }),
            entry("r regex", {
              path: { type: "RegularExpression", value: "/v[0-9]+", regex: builtRe2("/v[0-9]+") },
              headers: [],
              queryParams: [],
            }),
            entry("r fallback"),
          ],
        }),
      ),
    ],
  });
  const pick = (r: RouteRequest) => rules(findRoutes(idx, r, {}));

  it("picks the first entry whose match holds", () => {
    expect(pick(request("h", "/admin"))).toEqual(["r exact"]);
    expect(pick(request("h", "/admin/x"))).toEqual(["r fallback"]);
    expect(pick(request("h", "/v12"))).toEqual(["r regex"]);
    expect(pick(request("h", "/v12/x"))).toEqual(["r fallback"]);
  });

  it("matches a header sent on several lines against its lines joined with a comma", () => {
    expect(pick(request("h", "/x", { lines: { "x-tier": ["gold", "silver"] } }))).toEqual(["r header"]);
    expect(pick(request("h", "/x", { lines: { "x-tier": ["gold, silver"] } }))).toEqual(["r fallback"]);
  });

  it("reads :method as the method and host as the authority as sent, port included", () => {
    expect(pick(request("h", "/x", { method: "POST" }))).toEqual(["r method"]);
    expect(pick(request("h", "/x", { authority: "h:8080" }))).toEqual(["r host"]);
  });

  it("reads query parameters as sent, the first of a repeated name", () => {
    expect(pick(request("h", "/x", { rawQuery: "v=2&v=3" }))).toEqual(["r query"]);
    expect(pick(request("h", "/x", { rawQuery: "v=3&v=2" }))).toEqual(["r fallback"]);
  });
});

describe("otherRouteReadings", () => {
  const admin = entry("admin r0", { ...ANY_PATH, queryParams: [{ type: "Exact", name: "role", value: "admin" }] });
  const open = entry("open r0");
  const idx = index({ "apps/gw": [table(80, vhosts({ exact: { q: [admin, open] }, any: [entry("plain r0")] }))] });
  const others = (rawQuery: string | undefined, host = "q") => {
    const r = request(host, "/api", { rawQuery });
    return otherRouteReadings(idx, r, {}, findRoutes(idx, r, {}) ?? [])?.map((o) => [o.reading.name, rules(o.entries)]);
  };

  it("finds the rule the last value of a repeated name picks where Envoy's first value picks another", () => {
    expect(others("role=user&role=admin")).toEqual([[OTHER_QUERY_READINGS[0]!.name, ["admin r0"]]]);
  });

  it("finds the rule the query split at ; picks", () => {
    expect(others("role=admin;x=1")).toEqual([[OTHER_QUERY_READINGS[1]!.name, ["admin r0"]]]);
  });

  it("adds nothing where every reading picks Envoy's rule", () => {
    expect(others("role=admin")).toBeUndefined();
    expect(others("role=user&x=1")).toBeUndefined();
    expect(others("role=admin&role=admin")).toBeUndefined();
  });

  /** How many times URLSearchParams parses (the decoded readings' parser) while `requests` requests with `query` are looked up. */
  const parsesOf = (idx: RouteIndex, query: string, requests: number): number => {
    let parses = 0;
    vi.stubGlobal(
      "URLSearchParams",
      class extends URLSearchParams {
        constructor(init?: string) {
          super(init);
          parses++;
        }
      },
    );
    try {
      for (let i = 0; i < requests; i++) {
        const r = request("h", "/", { rawQuery: `${query}&i=${i}` });
        otherRouteReadings(idx, r, {}, findRoutes(idx, r, {}) ?? []);
      }
    } finally {
      vi.unstubAllGlobals();
    }
    return parses;
  };
  const many = Array.from({ length: 100 }, (_, i) =>
    entry(`m${i} r0`, { ...ANY_PATH, queryParams: [{ type: "Exact", name: `p${i}`, value: "x" }] }),
  );
  const big = index({ "apps/gw": [table(80, vhosts({ any: many }))] });
  const longQuery = Array.from({ length: 800 }, (_, i) => `q${i}=abcdef`).join("&");
  const decodedReadings = OTHER_QUERY_READINGS.filter((r) => r.decoded && !r.phpNames && !r.foldedNames && r.drops === "none").length;

  it("parses a long query once per reading, not once per entry: 100 query-matched entries, a 9 KB query", () => {
    // Parsed per entry, each request parsed the query 100 times per reading; a client chooses its length.
    expect(parsesOf(big, longQuery, 20)).toBe(20 * decodedReadings);
  });

  it("parses no query once more for PHP's reading unless it holds '.', ' ', '+', '[' or a NUL, raw or percent-encoded", () => {
    expect(parsesOf(big, `${longQuery}&v=1%2C2%5D`, 5)).toBe(5 * decodedReadings);
    for (const mark of ["tenant.id", "tenant+id", "tenant%20id", "tenant%2eid", "tenant[id", "tenant%5Bid", "tenant%00", "tenant\u0000"])
      expect(parsesOf(big, `${longQuery}&${mark}=x`, 5), mark).toBe(5 * (decodedReadings + 1));
  });

  it("parses no query once more for Go's and Tomcat's readings unless it holds a ';' (Go) or an invalid escape (both)", () => {
    expect(parsesOf(big, `${longQuery}&v=1%2C2`, 5)).toBe(5 * decodedReadings);
    expect(parsesOf(big, `${longQuery}&v=1;2`, 5)).toBe(5 * (decodedReadings + 1));
    expect(parsesOf(big, `${longQuery}&v=100%`, 5)).toBe(5 * (decodedReadings + 2));
  });

  it("parses no query once more for ASP.NET Core's reading unless it holds an upper-case letter, raw or percent-encoded", () => {
    expect(parsesOf(big, `${longQuery}&v=1%2C2`, 5)).toBe(5 * decodedReadings);
    for (const mark of ["V=1", "v=X", "%56=1"]) expect(parsesOf(big, `${longQuery}&${mark}`, 5), mark).toBe(5 * (decodedReadings + 1));
  });

  it("finds the rule Go's reading picks: a pair holding ';' is dropped, the next value is the first", () => {
    const r = request("q", "/api", { rawQuery: "role=x;&role=admin&role=user" });
    expect(rules(findRoutes(idx, r, {}))).toEqual(["open r0"]);
    expect(otherRouteReadings(idx, r, {}, findRoutes(idx, r, {}) ?? [])?.map((o) => [o.reading.query.drops, rules(o.entries)])).toEqual([
      ["invalid escapes and ;", ["admin r0"]],
    ]);
  });

  it("finds the rule PHP's reading picks: `tenant.id` is `tenant_id` there", () => {
    const tenant = entry("tenant r0", { ...ANY_PATH, queryParams: [{ type: "Exact", name: "tenant_id", value: "bob" }] });
    const php = index({ "apps/gw": [table(80, vhosts({ exact: { t: [tenant, open] } }))] });
    const r = request("t", "/", { rawQuery: "tenant_id=alice&tenant.id=bob" });
    expect(rules(findRoutes(php, r, {}))).toEqual(["open r0"]);
    expect(otherRouteReadings(php, r, {}, findRoutes(php, r, {}) ?? [])?.map((o) => [o.reading.query.phpNames, rules(o.entries)])).toEqual([
      [true, ["tenant r0"]],
    ]);
  });

  it("does not look when there is no query or the virtual host has no query match", () => {
    expect(others(undefined)).toBeUndefined();
    expect(others("role=user&role=admin", "elsewhere")).toBeUndefined();
  });
});

describe("otherRouteReadings: a repeated header", () => {
  const admin = entry("admin r0", { ...ANY_PATH, headers: [{ type: "Exact", name: "x-role", value: "admin" }] });
  const open = entry("open r0");
  const idx = index({ "apps/gw": [table(80, vhosts({ exact: { h: [admin, open] }, any: [entry("plain r0")] }))] });
  const others = (lines: Record<string, string[]>, host = "h", rawQuery?: string) => {
    const r = request(host, "/api", { lines, rawQuery });
    return otherRouteReadings(idx, r, {}, findRoutes(idx, r, {}) ?? [])?.map((o) => [o.reading.name, rules(o.entries)]);
  };

  it("finds the rule the last line picks where Envoy's joined value (user,admin) picks another", () => {
    expect(rules(findRoutes(idx, request("h", "/api", { lines: { "x-role": ["user", "admin"] } }), {}))).toEqual(["open r0"]);
    expect(others({ "x-role": ["user", "admin"] })).toEqual([["the last line (or list element) of a header", ["admin r0"]]]);
  });

  it("finds the rule the first line picks", () => {
    expect(others({ "x-role": ["admin", "user"] })).toEqual([["the first line (or list element) of a header", ["admin r0"]]]);
  });

  it("finds the rule a line between the first and the last picks (a wrong allow: lines user,admin and user, which Envoy joins to user,admin,user, took the open rule on every reading)", () => {
    expect(others({ "x-role": ["user", "admin", "user"] })).toEqual([["line 2 (or list element) of a header", ["admin r0"]]]);
  });

  it("reads a piece without the spaces around it, as a list's element (a wrong allow: x-role: user, admin read ' admin')", () => {
    expect(others({ "x-role": ["user", " admin"] })).toEqual([["the last line (or list element) of a header", ["admin r0"]]]);
  });

  it("finds the rule a match on two headers picks with their lines at different positions (a wrong allow: a reading took the same line index in every header)", () => {
    const redAdmin = entry("red-admin r0", {
      ...ANY_PATH,
      headers: [
        { type: "Exact", name: "x-role", value: "admin" },
        { type: "Exact", name: "x-team", value: "red" },
      ],
    });
    const two = index({ "apps/gw": [table(80, vhosts({ exact: { h: [redAdmin, open] } }))] });
    const r = request("h", "/api", { lines: { "x-role": ["admin", "user"], "x-team": ["blue", "red"] } });
    expect(rules(findRoutes(two, r, {}))).toEqual(["open r0"]);
    expect(otherRouteReadings(two, r, {}, findRoutes(two, r, {}) ?? [])?.map((o) => [o.reading.name, rules(o.entries)])).toEqual([
      ["lines 1, 2 (or list elements) of 2 headers", ["red-admin r0"]],
    ]);
  });

  it("adds nothing for a header sent once, a repeated header no match names, or a host without header matches", () => {
    expect(others({ "x-role": ["user"] })).toBeUndefined();
    expect(others({ "x-role": ["admin"] })).toBeUndefined();
    expect(others({ "x-role": ["user"], "x-other": ["a", "b"] })).toBeUndefined();
    expect(others({ "x-role": ["user", "admin"] }, "elsewhere")).toBeUndefined();
  });

  it("reads the query Envoy's way where no route of the host has a query match", () => {
    expect(others({ "x-role": ["user", "admin"] }, "h", "role=admin&role=x")).toEqual([
      ["the last line (or list element) of a header", ["admin r0"]],
    ]);
  });

  it("a request whose port counted every header on one line, without a query: no other reading, no header read again", () => {
    const read: string[] = [];
    const r = request("h", "/api", { headersOnOneLine: true, headerLines: (name) => (read.push(name), name === "x-role" ? ["user"] : []) });
    const found = findRoutes(idx, r, {}) ?? [];
    read.length = 0;
    expect(otherRouteReadings(idx, r, {}, found)).toBeUndefined();
    expect(read).toEqual([]);
    // Not said (another port, a test's request): the lines are read, and a repeated one still finds the other rule.
    const unsaid = request("h", "/api", { lines: { "x-role": ["user", "admin"] } });
    expect(unsaid.headersOnOneLine).toBeUndefined();
    expect(others({ "x-role": ["user", "admin"] })).toEqual([["the last line (or list element) of a header", ["admin r0"]]]);
    // Said false (a name sent twice): read as before.
    const repeated = request("h", "/api", { headersOnOneLine: false, lines: { "x-role": ["user", "admin"] } });
    expect(otherRouteReadings(idx, repeated, {}, findRoutes(idx, repeated, {}) ?? [])?.map((o) => rules(o.entries))).toEqual([
      ["admin r0"],
    ]);
  });
});

describe("otherRouteReadings: a repeated header and a query", () => {
  const both = entry("both r0", {
    ...ANY_PATH,
    headers: [{ type: "Exact", name: "x-role", value: "admin" }],
    queryParams: [{ type: "Exact", name: "tier", value: "gold" }],
  });
  const idx = index({ "apps/gw": [table(80, vhosts({ any: [both, entry("open r0")] }))] });

  it("finds the rule only a line-wise header and another query reading together pick", () => {
    const r = request("h", "/", { lines: { "x-role": ["user", "admin"] }, rawQuery: "tier=x&tier=gold" });
    const found = otherRouteReadings(idx, r, {}, findRoutes(idx, r, {}) ?? []);
    expect(found?.map((o) => [o.reading.name, rules(o.entries)])).toEqual([
      [`the last line (or list element) of a header, ${OTHER_QUERY_READINGS[0]!.name}`, ["both r0"]],
    ]);
  });
});
