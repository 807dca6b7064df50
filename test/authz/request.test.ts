import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalizeRequest } from "../../controller/authz/request.ts";
import { leastAllocationPerCall } from "../../bench/in-process.ts";

describe("params", () => {
  const at = (path: string) => normalizeRequest({ method: "GET", scheme: "http", host: "h", path, headers: {}, gateway: undefined });
  it("reads the values of a split at '&' first, then those a split at ';' adds (Rack 2, older Python)", () => {
    expect(at("/?a=1;t=x").params("t")).toEqual(["x"]);
    expect(at("/?t=x;y").params("t")).toEqual(["x;y", "x"]);
    expect(at("/?t=x&t=x").params("t")).toEqual(["x", "x"]);
    expect(at("/?t=x;t=y").params("t")).toEqual(["x;t=y", "x", "y"]);
    expect(at("/?t=x").params("t")).toEqual(["x"]);
    expect(at("/").params("t")).toEqual([]);
  });
  // A closure declared in #paramsInOtherCase once cost every call a context, the usual one too, where no name can
  // differ in letter case (issue 17, pass nine): 290 B per call then, 233-241 since (the form's and Envoy's readings).
  it("reads a lower-case name of a lower-case query without a context for the look in other letter cases", () => {
    const request = at("/?t=x&u=y");
    expect(leastAllocationPerCall(() => request.params("t"))).toBeLessThan(265);
  });
  it("splits at ';' the query that follows the '?', however many bytes the path's characters take", () => {
    const bytes = (path: string) =>
      normalizeRequest({ method: "GET", scheme: "http", host: "h", path, headers: {}, gateway: undefined, byteStrings: true });
    // Six "é" are 12 bytes and 6 characters: the query must not start 6 characters early, inside the path.
    const e6 = "\xC3\xA9".repeat(6);
    expect(bytes(`/${e6};t=p?a;u`).params("t")).toEqual([]);
    expect(bytes(`/${e6}?a=1;t=x`).params("t")).toEqual(["x"]);
  });
  it("then the value PHP reads under a name it renames ('.', ' ', an unmatched '[' read as '_'), once", () => {
    expect(at("/?access.token=x").params("access_token")).toEqual(["x"]);
    expect(at("/?access_token=x&access%5Btoken=y").params("access_token")).toEqual(["x", "y"]);
    expect(at("/?access_token=x&access+token=x").params("access_token")).toEqual(["x"]);
    expect(at("/?a=1;access_token=x&access.token=y").params("access_token")).toEqual(["x", "y"]);
    expect(at("/?access.token=x&access.token=y").params("access_token")).toEqual(["y"]);
  });
  it("then the values of names that match only in another letter case (ASP.NET Core's query names are case-insensitive); Envoy's reading exactly", () => {
    const cased = at("/?T=1&t=2&%54=3");
    expect(cased.params("t")).toEqual(["2", "1", "3"]);
    expect(cased.asEnvoyReads()).not.toBe(cased);
    expect(cased.asEnvoyReads().params("t")).toEqual(["2"]);
    const encoded = at("/?t=2&%54=3");
    expect(encoded.params("t")).toEqual(["2", "3"]);
    expect(encoded.asEnvoyReads().params("t")).toEqual(["2"]);
    const upper = at("/?t=x");
    expect(upper.params("T")).toEqual(["x"]);
    expect(upper.asEnvoyReads().params("T")).toEqual([]);
    // As .NET folds names (snapshot/query-readings.ts foldedName): the Kelvin sign is no "k" there, "ς" is "σ".
    expect(at("/?%E2%84%AAey=x&key=y").params("key")).toEqual(["y"]);
    expect(at("/?%CF%82=x").params("\u03c3")).toEqual(["x"]);
    const plain = at("/?t=x&U=y");
    expect(plain.params("t")).toEqual(["x"]);
    expect(plain.asEnvoyReads()).toBe(plain);
  });
  it("adds Envoy's reading, which keeps '+' and a leading '?' (percent-decoding only), where it differs from a form's", () => {
    expect(at("/?t=a+b").params("t")).toEqual(["a b", "a+b"]);
    expect(at("/?t=a%2Bb").params("t")).toEqual(["a+b"]);
    expect(at("/??t=x").params("t")).toEqual(["x"]);
    expect(at("/??t=x").params("?t")).toEqual(["x"]);
  });
  it("asEnvoyReads is the request itself when no ';', leading '?' or name PHP renames is in the query (every reading finds the same values), else another reading", () => {
    for (const path of ["/", "/?t=x&u=y", "/a;b?t=x", "/?%74=x"]) {
      const req = at(path);
      expect(req.asEnvoyReads()).toBe(req);
    }
    const split = at("/?a=1;t=x");
    const envoy = split.asEnvoyReads();
    expect(envoy).not.toBe(split);
    expect(envoy.params("t")).toEqual([]);
    expect(envoy.asEnvoyReads()).toBe(envoy);
    const renamed = at("/?access.token=x");
    expect(renamed.asEnvoyReads()).not.toBe(renamed);
    expect(renamed.asEnvoyReads().params("access_token")).toEqual([]);
    expect(at("/?t=a+b&%74=c").asEnvoyReads().params("t")).toEqual(["a+b", "c"]);
    expect(at("/??t=x").asEnvoyReads().params("t")).toEqual([]);
    expect(at("/??t=x").asEnvoyReads().params("?t")).toEqual(["x"]);
  });
});

describe("cookies", () => {
  const withCookie = (cookie: string) =>
    normalizeRequest({ method: "GET", scheme: "http", host: "h", path: "/", headers: { cookie }, gateway: undefined });
  it("reads each pair trimmed, then as Envoy's cookie parser reads it where that differs (untrimmed, double quotes removed)", () => {
    expect(withCookie("a=1;  k=v").cookies("k")).toEqual(["v"]);
    expect(withCookie("k =v").cookies("k")).toEqual(["v"]);
    expect(withCookie("k =v").cookies("k ")).toEqual(["v"]);
    expect(withCookie("a=1;\tk=v").cookies("k")).toEqual(["v"]);
    expect(withCookie('k="v"').cookies("k")).toEqual(['"v"', "v"]);
    expect(withCookie("k= v").cookies("k")).toEqual(["v", " v"]);
  });
  it("asEnvoyReads is the request itself when Envoy reads every pair as a trimmed reading does, else Envoy's reading only", () => {
    const plain = withCookie("a=1; k=v");
    expect(plain.asEnvoyReads()).toBe(plain);
    const spaced = withCookie("j=1; k =v; l=2");
    expect(spaced.asEnvoyReads()).not.toBe(spaced);
    expect(spaced.asEnvoyReads().cookies("k")).toEqual([]);
    expect(spaced.asEnvoyReads().cookies("k ")).toEqual(["v"]);
    expect(spaced.asEnvoyReads().cookies("j")).toEqual(["1"]);
    expect(spaced.asEnvoyReads().cookies("l")).toEqual(["2"]);
    expect(withCookie('k="v"').asEnvoyReads().cookies("k")).toEqual(["v"]);
  });
  it("matches a name in any letter case, as ASP.NET Core does; Envoy's reading only as sent", () => {
    const cased = withCookie("K=1; k=2");
    expect(cased.cookies("k")).toEqual(["1", "2"]);
    expect(cased.cookies("K")).toEqual(["1", "2"]);
    expect(cased.asEnvoyReads().cookies("k")).toEqual(["2"]);
    expect(cased.asEnvoyReads().cookies("K")).toEqual(["1"]);
    const lower = withCookie("k=2");
    expect(lower.asEnvoyReads()).toBe(lower);
    expect(lower.cookies("K")).toEqual(["2"]);
    expect(lower.asEnvoyReads().cookies("K")).toEqual([]);
  });
});

describe("headerLines: each line of a header, as text", () => {
  it("answers each name with its own lines whatever was read before (the last read is remembered)", () => {
    const r = normalizeRequest({
      method: "GET",
      scheme: "http",
      host: "h",
      path: "/",
      headers: { authorization: "Bearer caf\u00c3\u00a9", "x-role": ["a", "b"], empty: "" },
      gateway: undefined,
      byteStrings: true,
    });
    for (let round = 0; round < 2; round++) {
      expect(r.headerLines("authorization")).toEqual(["Bearer café"]);
      expect(r.headerLines("authorization")).toBe(r.headerLines("authorization"));
      expect(r.headerLines("x-role")).toEqual(["a", "b"]);
      expect(r.headerLines("absent")).toEqual([]);
      expect(r.headerLines("empty")).toEqual([""]);
    }
    // A phase's request has its own headers: never the lines remembered from the one before it.
    expect(r.afterPhase({ authorization: "Basic x" }, []).headerLines("authorization")).toEqual(["Basic x"]);
    expect(r.afterPhase({}, ["authorization"]).headerLines("authorization")).toEqual([]);
  });

  // Names that differ only in letter case or in "_" for "-", and Latin-1 bytes read as UTF-8: no read
  // may answer with the lines another name (or the same name on another request) left remembered.
  const NAMES = ["authorization", "Authorization", "x-role", "x_role", "X-Role", "absent", ""];
  const VALUES = ["Bearer a", "caf\u00c3\u00a9", "\u00ff", "", "a,b"];
  const headersOf = fc.dictionary(
    fc.constantFrom(...NAMES),
    fc.oneof(fc.constantFrom(...VALUES), fc.array(fc.constantFrom(...VALUES), { minLength: 1, maxLength: 3 })),
  );
  it("answers any sequence of reads as a request that never read before would (fast-check, fixed seed)", () => {
    fc.assert(
      fc.property(headersOf, fc.boolean(), fc.array(fc.constantFrom(...NAMES), { maxLength: 12 }), (headers, byteStrings, reads) => {
        const request = (): ReturnType<typeof normalizeRequest> =>
          normalizeRequest({ method: "GET", scheme: "http", host: "h", path: "/", headers, gateway: undefined, byteStrings });
        const r = request();
        for (const name of reads) expect(r.headerLines(name), name).toEqual(request().headerLines(name));
      }),
      { seed: 20_261_201, numRuns: 500 },
    );
  });

  // headerLineCount and headerLineAt spare the usual single line its list (issue 17): they must read
  // exactly what headerLines lists, whichever of the three was asked first and in whatever order.
  it("headerLineCount and headerLineAt read the lines headerLines lists, in any order of reads (fast-check, fixed seed)", () => {
    const reads = fc.array(fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom("lines", "count", "each")), { maxLength: 12 });
    fc.assert(
      fc.property(headersOf, fc.boolean(), reads, (headers, byteStrings, sequence) => {
        const request = (): ReturnType<typeof normalizeRequest> =>
          normalizeRequest({ method: "GET", scheme: "http", host: "h", path: "/", headers, gateway: undefined, byteStrings });
        const r = request();
        for (const [name, how] of sequence) {
          const expected = request().headerLines(name);
          if (how === "lines") expect(r.headerLines(name), name).toEqual(expected);
          else if (how === "count") expect(r.headerLineCount(name), name).toBe(expected.length);
          else
            expect(
              expected.map((_, i) => r.headerLineAt(name, i)),
              name,
            ).toEqual(expected);
        }
      }),
      { seed: 20_261_201, numRuns: 500 },
    );
  });
});

describe("hosts: the readings of the Host route matching tries", () => {
  const at = (host: string) => normalizeRequest({ method: "GET", scheme: "http", host, path: "/", headers: {}, gateway: undefined });
  // Issue 17: the usual Host is its own only reading, without a list of one on every request.
  it("gives the usual Host as its host and no list; a Host read several ways lists every reading, Envoy's default first", () => {
    expect([at("api.example.com").host, at("api.example.com").hosts]).toEqual(["api.example.com", undefined]);
    expect([at("API.example.com").host, at("API.example.com").hosts]).toEqual(["api.example.com", undefined]);
    expect([at("api.example.com.").host, at("api.example.com.").hosts]).toEqual([
      "api.example.com",
      ["api.example.com.", "api.example.com"],
    ]);
  });
});

describe("afterPhase: the request as one phase leaves it to the next", () => {
  const source = { method: "GET", scheme: "https", host: "a", path: "/", gateway: undefined };

  it("replaces the headers set, drops those removed, and leaves the rest and the reading alone", () => {
    const req = normalizeRequest({ ...source, headers: { authorization: "Bearer client", cookie: "s=1; t=2", "x-other": "kept" } });
    const next = req.afterPhase({ authorization: "Bearer session" }, ["cookie"]);
    expect([next.header("authorization"), next.header("cookie"), next.header("x-other"), next.path]).toEqual([
      "Bearer session",
      undefined,
      "kept",
      "/",
    ]);
    expect(req.header("authorization")).toBe("Bearer client");
    expect(req.afterPhase({}, [])).toBe(req);
  });

  it("keeps the request as it arrived, through later readings too: the client address is determined from it", () => {
    const arrived = { ...source, headers: { "x-forwarded-for": "203.0.113.9" } };
    const next = normalizeRequest(arrived).afterPhase({ "x-forwarded-for": "203.0.113.9,10.0.0.5" }, []).withReading("/", "GET");
    expect(next.header("x-forwarded-for")).toBe("203.0.113.9,10.0.0.5");
    expect(next.arrived).toBe(arrived);
    expect(next.asEnvoyReads().arrived).toBe(arrived);
  });

  it("keeps a byte-string request's reading: a value set as text reads back as the same text", () => {
    const req = normalizeRequest({ ...source, headers: {}, byteStrings: true });
    expect(req.afterPhase({ "x-user-id": "José" }, []).header("x-user-id")).toBe("José");
  });
});
