/**
 * Route regular expressions run on RE2 (controller/lib/regex.ts, re2js): in time linear in the
 * input whatever the pattern, with RE2's limit of 1000 repetitions, and a pattern is compiled on
 * its own, so nothing it holds can escape the full match. A property compares what RE2 matches
 * with V8's backtracking engine on patterns both read alike (small inputs, where backtracking is
 * harmless).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { builtRe2, compileRe2 } from "../../controller/lib/regex.ts";

describe("route regular expressions", () => {
  it("match a catastrophic-backtracking pattern in linear time: (a+)+$ over 100 000 characters returns its answer", () => {
    const text = `/${"a".repeat(100_000)}!`;
    expect(builtRe2("/(a+)+$").testExact(text)).toBe(false);
    expect(builtRe2("(a+)+$").test(text)).toBe(false);
    expect(builtRe2("(a+)+$").test(`${"a".repeat(100_000)}`)).toBe(true);
  }, 30_000);

  it("accept the counted repetition RE2 accepts (up to 1000), refuse more", () => {
    for (const ok of ["/[a-z0-9-]{1,63}", "/[0-9a-f]{40}", "(?:[0-9a-f]{16}){4}", "/x{2,1000}", "/v[0-9]{1,}", "(ab){2,3}"])
      expect(compileRe2(ok).ok).toBe(true);
    expect(builtRe2("/[a-z0-9-]{1,63}").testExact(`/${"a".repeat(63)}`)).toBe(true);
    expect(builtRe2("/[a-z0-9-]{1,63}").testExact(`/${"a".repeat(64)}`)).toBe(false);
    expect(compileRe2("/x{1,1001}")).toEqual({ ok: false, error: "is not valid RE2: invalid repeat count: `{1,1001}`" });
  });

  it("read RE2's `(?i)` as case-insensitive matching of the rest of its group, `(?i:x)` of x, letters in classes and ranges included", () => {
    const r = builtRe2("/v1/(?i)get[a-c_]x(?:y|Z)\\d");
    expect(["/v1/getaxy1", "/v1/GETCXz2", "/v1/Get_Xy3"].map((p) => r.testExact(p))).toEqual([true, true, true]);
    expect(["/V1/getaxy1", "/v1/getdxy1", "/v1/getaxyd"].map((p) => r.testExact(p))).toEqual([false, false, false]);
    expect(builtRe2("(?i)[^a-c]").testExact("B")).toBe(false);
    expect(["aBc", "aBC", "Abc"].map((v) => builtRe2("(a(?i)b)c").testExact(v))).toEqual([true, false, false]);
    expect(["xABc", "xabc", "xABC"].map((v) => builtRe2("x(?i:ab)c").testExact(v))).toEqual([true, true, false]);
  });

  it("refuse what RE2 has not (backreferences, lookarounds) and what would escape its anchors", () => {
    expect(compileRe2("/(a)\\1")).toEqual({ ok: false, error: "is not valid RE2: invalid escape sequence: `\\1`" });
    expect(compileRe2("/a(?=b)")).toEqual({ ok: false, error: "is not valid RE2: invalid or unsupported Perl syntax: `(?=`" });
    expect(compileRe2("/x)|(.*")).toEqual({ ok: false, error: "is not valid RE2: unexpected ): `/x)|(.*`" });
    expect(compileRe2("/x)|(?i)(.*")).toEqual({ ok: false, error: "is not valid RE2: unexpected ): `/x)|(?i)(.*`" });
  });

  it("match exactly what V8 matches on patterns both engines read alike", () => {
    const letters = fc.constantFrom("a", "b", "[ab]", ".", "\\x61", "[^a]");
    const count = (most: number) =>
      fc
        .tuple(fc.nat(most), fc.option(fc.nat(2), { nil: undefined }))
        .map(([n, extra]) => (extra === undefined ? `{${n}}` : `{${n},${n + extra}}`));
    const letterQuantifier = fc.oneof(fc.constantFrom("", "", "*", "+", "?", "{2,}"), count(4));
    const groupQuantifier = fc.oneof(fc.constantFrom("", "?"), count(3));
    const { pattern } = fc.letrec((tie) => ({
      piece: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        fc.tuple(letters, letterQuantifier).map(([a, q]) => `${a}${q}`),
        fc.tuple(fc.constantFrom("(?:", "("), tie("pattern"), groupQuantifier).map(([open, inner, q]) => `${open}${inner as string})${q}`),
      ),
      sequence: fc.array(tie("piece"), { minLength: 1, maxLength: 3 }).map((parts) => (parts as string[]).join("")),
      pattern: fc.oneof(
        { depthSize: "small" },
        tie("sequence"),
        fc.tuple(tie("sequence"), tie("sequence")).map(([x, y]) => `${x as string}|${y as string}`),
      ),
    }));
    const input = fc.string({ unit: fc.constantFrom("a", "b", "c"), maxLength: 8 });
    fc.assert(
      fc.property(pattern as fc.Arbitrary<string>, fc.array(input, { minLength: 1, maxLength: 8 }), (source, inputs) => {
        const re2 = builtRe2(source);
        const reference = new RegExp(`^(?:${source})$`);
        for (const s of inputs) expect(re2.testExact(s), `${source} on ${JSON.stringify(s)}`).toBe(reference.test(s));
      }),
      { seed: 20_240_612, numRuns: 400 },
    );
  });
});
