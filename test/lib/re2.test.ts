import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { translateRe2 } from "../../controller/lib/re2.ts";
import { fullMatchRegex } from "../../controller/lib/regex.ts";

/** Whether RE2 pattern `pattern` matches all of `text`, as Portcullis runs it. */
function fullMatch(pattern: string, text: string): boolean {
  const r = fullMatchRegex(pattern);
  if (!r.ok) throw new Error(`${pattern}: ${r.error.reason}`);
  return r.value.test(text);
}
const matching = (pattern: string, texts: readonly string[]) => texts.filter((t) => fullMatch(pattern, t));

describe("translateRe2", () => {
  it("reads `.` as any code point but a newline: a character beyond the BMP is one character, CR and U+2028 are characters", () => {
    expect(matching("/admin/.", ["/admin/x", "/admin/😀", "/admin/\r", "/admin/\u2028", "/admin/\n", "/admin/xy"])).toEqual([
      "/admin/x",
      "/admin/😀",
      "/admin/\r",
      "/admin/\u2028",
    ]);
    expect(matching("(?s).", ["\n", "😀"])).toEqual(["\n", "😀"]);
    expect(matching("^.{3}$", ["a😀b", "a😀😀b"])).toEqual(["a😀b"]);
  });

  it("reads negated classes and \\D, \\S, \\W by code point", () => {
    expect(matching("/[^x]", ["/😀", "/y", "/x", "/\n"])).toEqual(["/😀", "/y", "/\n"]);
    expect(matching("\\D\\S\\W", ["😀😀😀", "1😀!", "a a", "a😀!"])).toEqual(["😀😀😀", "a😀!"]);
    expect(matching("[😀-😂]+", ["😀😂", "😃"])).toEqual(["😀😂"]);
    expect(matching("😀+", ["😀😀", "😀\ude00"])).toEqual(["😀😀"]);
  });

  it("reads \\s as RE2's five spaces: not \\v, not the no-break or other Unicode spaces", () => {
    expect(matching("\\s", [" ", "\t", "\n", "\f", "\r", "\v", "\u00a0", "\u2028", "\ufeff"])).toEqual([" ", "\t", "\n", "\f", "\r"]);
  });

  it("reads RE2's own syntax as RE2 does: \\A, \\z, \\Q…\\E, `]` first in a class, POSIX classes, \\x{…}, octal, named groups", () => {
    expect(matching("\\A/admin\\z", ["/admin", "/adminz", "A/admin"])).toEqual(["/admin"]);
    expect(matching("\\Q/a.b\\E", ["/a.b", "/axb"])).toEqual(["/a.b"]);
    expect(matching("[]a]+", ["]a]", "b"])).toEqual(["]a]"]);
    expect(matching("[^]a]", ["b", "]", "a"])).toEqual(["b"]);
    expect(matching("[[:alpha:]]+[[:^digit:]]", ["abC!", "a1", "é!"])).toEqual(["abC!"]);
    expect(matching("\\x{1F600}\\x41\\101\\0", ["😀AA\0"])).toEqual(["😀AA\0"]);
    expect(matching("(?P<a>x)(?<b>y)", ["xy"])).toEqual(["xy"]);
    expect(matching("x{", ["x{"])).toEqual(["x{"]);
    expect(matching("^*a", ["a"])).toEqual(["a"]);
  });

  it("folds (?i) as RE2: ASCII letters, k with the Kelvin sign and s with the long s, classes and \\W included, until the group ends", () => {
    expect(matching("(?i)ks", ["KS", "\u212a\u017f", "ks"])).toEqual(["KS", "\u212a\u017f", "ks"]);
    expect(matching("(?i)[^k]", ["\u212a", "K", "x"])).toEqual(["x"]);
    expect(matching("(?i)\\W", ["\u212a", "!"])).toEqual(["!"]);
    expect(matching("(a(?i)b)c", ["aBc", "aBC", "Abc"])).toEqual(["aBc"]);
    expect(matching("x(?i:ab)c|(?i)d", ["xABc", "xABC", "D"])).toEqual(["xABc", "D"]);
    expect(matching("(?i)a(?-i)b", ["Ab", "AB"])).toEqual(["Ab"]);
  });

  it.each([
    ["\\y", "invalid escape \\y"],
    ["\\1", "invalid escape \\1"],
    ["\\8", "invalid escape \\8"],
    ["\\C", "\\C (any byte)"],
    ["\\Z", "invalid escape \\Z"],
    ["a**", "nested repetition"],
    ["*a", "missing argument"],
    ["(?=a)", "unknown group syntax"],
    ["(?<=a)b", "unknown group syntax"],
    ["a{1001}", "invalid repeat count"],
    ["a{3,2}", "invalid repeat count"],
    ["[z-a]", "invalid character class range"],
    ["[[:alfa:]]", "invalid character class range"],
    ["(a", "missing )"],
    ["a)", "unexpected )"],
    ["[a", "missing ]"],
    ["(?x)a", "invalid flag x"],
  ])("refuses %j as RE2 refuses it, never reading it another way", (pattern, reason) => {
    const r = translateRe2(pattern);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.validRe2).toBe(false);
      expect(r.error.reason).toContain(reason);
    }
  });

  it.each([
    ["\\pL", "Unicode class \\pL"],
    ["\\p{Greek}", "Unicode class \\p{Greek}"],
    ["[\\P{Lu}]", "Unicode class \\P{Lu}"],
    ["(?m)^a$", "multi-line flag"],
    ["(?i)café", "beyond ASCII"],
  ])("refuses %j, which RE2 accepts, as unsupported", (pattern, reason) => {
    const r = translateRe2(pattern);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.validRe2).toBe(true);
      expect(r.error.reason).toContain(reason);
    }
  });

  it("matches what a code-point engine matches, on text beyond the BMP (V8's `u` flag agrees with RE2 on these constructs)", () => {
    const atom = fc.constantFrom("a", "😀", ".", "[^a]", "[a😀]", "[😀-😂]", "[^😁]", "\\x{1F601}", "(?:a|😀)");
    const quantifier = fc.constantFrom("", "", "*", "+", "?", "{2}", "{1,2}");
    const pattern = fc
      .array(fc.tuple(atom, quantifier), { minLength: 1, maxLength: 4 })
      .map((parts) => parts.map(([a, q]) => a + q).join(""));
    const text = fc.array(fc.constantFrom("a", "b", "😀", "😁", "😃", "é"), { maxLength: 5 }).map((cs) => cs.join(""));
    fc.assert(
      fc.property(pattern, fc.array(text, { minLength: 1, maxLength: 6 }), (source, texts) => {
        const reference = new RegExp(`^(?:${source.replaceAll("\\x{1F601}", "\\u{1F601}")})$`, "u");
        for (const t of texts) expect(fullMatch(source, t), `${source} on ${JSON.stringify(t)}`).toBe(reference.test(t));
      }),
      { seed: 20_261_130, numRuns: 300 },
    );
  });
});
