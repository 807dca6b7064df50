import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { builtRe2, compileRe2, programSize } from "../../controller/lib/regex.ts";

/** Whether RE2 pattern `pattern` matches all of `text`, as Portcullis runs it. */
const fullMatch = (pattern: string, text: string): boolean => builtRe2(pattern).testExact(text);
const matching = (pattern: string, texts: readonly string[]) => texts.filter((t) => fullMatch(pattern, t));

describe("compileRe2", () => {
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
    ["\\y", "invalid escape sequence: `\\y`"],
    ["\\1", "invalid escape sequence: `\\1`"],
    ["\\8", "invalid escape sequence: `\\8`"],
    ["\\C", "invalid escape sequence: `\\C`"],
    ["\\Z", "invalid escape sequence: `\\Z`"],
    ["a**", "invalid nested repetition operator: `**`"],
    ["*a", "missing argument to repetition operator: `*`"],
    ["(?=a)", "invalid or unsupported Perl syntax: `(?=`"],
    ["(?<=a)b", "invalid named capture: `(?<=a)b`"],
    ["a{1001}", "invalid repeat count: `{1001}`"],
    ["(a{100}){100}", "invalid repeat count: `{100}`"],
    ["a{3,2}", "invalid repeat count: `{3,2}`"],
    ["[z-a]", "invalid character class range: `z-a`"],
    ["[[:alfa:]]", "invalid character class range: `[:alfa:]`"],
    ["(a", "missing closing ): `(a`"],
    ["a)", "unexpected ): `a)`"],
    ["[a", "missing closing ]: `[a`"],
    ["(?x)a", "invalid or unsupported Perl syntax: `(?x`"],
  ])("refuses %j as RE2 refuses it, never reading it another way", (pattern, reason) => {
    expect(compileRe2(pattern)).toEqual({ ok: false, error: `is not valid RE2: ${reason}` });
  });

  it("runs RE2's Unicode classes: \\pL and \\p{Greek} are letters, \\P{Lu} all but upper-case letters", () => {
    expect(matching("/\\pL+/admin", ["/é/admin", "/abc/admin", "/1/admin", "/😀/admin"])).toEqual(["/é/admin", "/abc/admin"]);
    expect(matching("\\p{Greek}+", ["αβ", "ab"])).toEqual(["αβ"]);
    expect(matching("[\\P{Lu}]", ["a", "A", "É", "1"])).toEqual(["a", "1"]);
  });

  it("runs (?m): ^ and $ also at a newline; without it $ is only the end of the text", () => {
    expect(matching("(?m)a$\\nb", ["a\nb"])).toEqual(["a\nb"]);
    expect(matching("a$\\nb", ["a\nb"])).toEqual([]);
    expect(builtRe2("(?m)^b").test("a\nb")).toBe(true);
    expect(builtRe2("^b").test("a\nb")).toBe(false);
  });

  it("folds (?i) beyond ASCII by Unicode simple case folding, as RE2", () => {
    expect(matching("(?i)café", ["CAFÉ", "Café", "cafe"])).toEqual(["CAFÉ", "Café"]);
    expect(matching("(?i)σ", ["Σ", "ς", "s"])).toEqual(["Σ", "ς"]);
  });

  it("searches with test() and matches the whole value with testExact(), whichever alternative matches", () => {
    expect(builtRe2("adm[i]n").test("/v1/admin/x")).toBe(true);
    expect(builtRe2("adm[i]n").testExact("/v1/admin/x")).toBe(false);
    expect(builtRe2("a|ab").testExact("ab")).toBe(true);
  });

  it("sizes a program by its instructions: counted repetition counts each copy", () => {
    expect(programSize(builtRe2("a{1000}"))).toBeGreaterThan(1000);
    expect(programSize(builtRe2("abc"))).toBeLessThan(10);
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
