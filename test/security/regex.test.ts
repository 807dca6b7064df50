/**
 * Route regular expressions run in linear time (controller/lib/regex.ts). Counted repetition
 * is written out so that the linear engine accepts what RE2 accepts; this must never change what
 * a pattern matches: a property compares every expanded pattern with the original on V8's usual
 * engine (small inputs, where backtracking is harmless).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fullMatchRegex } from "../../controller/lib/regex.ts";

const linear = (source: string) => {
  const r = fullMatchRegex(source);
  if (!r.ok) throw new Error(`${source}: ${r.error}`);
  return r.value;
};

describe("route regular expressions", () => {
  it("run on the linear-time engine, so a catastrophic pattern stays linear", () => {
    const r = linear("/(a+)+");
    expect(r.flags).toContain("l");
    expect(r.test(`/${"a".repeat(100_000)}!`)).toBe(false);
  });

  it("accept the counted repetition RE2 accepts (up to 1000), refuse more", () => {
    for (const ok of ["/[a-z0-9-]{1,63}", "/[0-9a-f]{40}", "(?:[0-9a-f]{16}){4}", "/x{2,1000}", "/v[0-9]{1,}", "(ab){2,3}"])
      expect(fullMatchRegex(ok).ok).toBe(true);
    expect(linear("/[a-z0-9-]{1,63}").test(`/${"a".repeat(63)}`)).toBe(true);
    expect(linear("/[a-z0-9-]{1,63}").test(`/${"a".repeat(64)}`)).toBe(false);
    expect(fullMatchRegex("/x{1,1001}")).toEqual({
      ok: false,
      error: { reason: "is not valid RE2: invalid repeat count {1,1001}", validRe2: false },
    });
  });

  it("read RE2's `(?i)` as case-insensitive matching of the rest of its group, `(?i:x)` of x, letters in classes and ranges included", () => {
    const r = linear("/v1/(?i)get[a-c_]x(?:y|Z)\\d");
    expect(["/v1/getaxy1", "/v1/GETCXz2", "/v1/Get_Xy3"].map((p) => r.test(p))).toEqual([true, true, true]);
    expect(["/V1/getaxy1", "/v1/getdxy1", "/v1/getaxyd"].map((p) => r.test(p))).toEqual([false, false, false]);
    expect(linear("(?i)[^a-c]").test("B")).toBe(false);
    expect(["aBc", "aBC", "Abc"].map((v) => linear("(a(?i)b)c").test(v))).toEqual([true, false, false]);
    expect(["xABc", "xabc", "xABC"].map((v) => linear("x(?i:ab)c").test(v))).toEqual([true, true, false]);
    expect(fullMatchRegex("/x)|(?i)(.*")).toEqual({ ok: false, error: { reason: "is not valid RE2: unexpected ) at 2", validRe2: false } });
  });

  it("refuse what RE2 has not (backreferences, lookarounds) and what would escape its anchors", () => {
    const refused = (reason: string) => ({ ok: false, error: { reason: `is not valid RE2: ${reason}`, validRe2: false } });
    expect(fullMatchRegex("/(a)\\1")).toEqual(refused("invalid escape \\1"));
    expect(fullMatchRegex("/a(?=b)")).toEqual(refused('unknown group syntax "(?=b"'));
    expect(fullMatchRegex("/x)|(.*")).toEqual(refused("unexpected ) at 2"));
  });

  it("match exactly what the pattern as written matches", () => {
    // Unbounded quantifiers only on single characters, small bounded counts on groups: the
    // reference is V8's backtracking engine, which must stay cheap on these patterns. Every count
    // takes the same expansion path (large counts are checked above).
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
    let compared = 0;
    fc.assert(
      fc.property(pattern as fc.Arbitrary<string>, fc.array(input, { minLength: 1, maxLength: 8 }), (source, inputs) => {
        const built = fullMatchRegex(source);
        // The only refusal allowed: nested counts whose written-out form would exceed the size cap.
        if (!built.ok) {
          expect(built.error.reason, source).toContain("too large");
          return;
        }
        const original = new RegExp(`^(?:${source})$`);
        for (const s of inputs) expect(built.value.test(s), `${source} on ${JSON.stringify(s)}`).toBe(original.test(s));
        compared += 1;
      }),
      { seed: 20_240_612, numRuns: 400 },
    );
    expect(compared).toBeGreaterThan(300);
  });
});
