import { describe, expect, it } from "vitest";
import { originPattern } from "../../controller/lib/origin.ts";

describe("originPattern", () => {
  it("reads a wildcard origin as Envoy Gateway's RE2 expression: metacharacters literal, `*` any text but a newline", () => {
    const p = originPattern("git+ssh://*.example.com").regex;
    expect(
      ["git+ssh://a.example.com", "git+ssh://a.b.example.com", "gitssh://a.example.com", "git+ssh://aexample.com"].map((o) =>
        p.testExact(o),
      ),
    ).toEqual([true, true, false, false]);
    // RE2's `.` takes U+2028 and characters beyond the BMP, as Envoy matches them; JavaScript's did not.
    expect(p.testExact("git+ssh://a\u2028😀.example.com")).toBe(true);
    expect(p.testExact("git+ssh://a\n.example.com")).toBe(false);
  });

  it("runs in linear time: several wildcards against a long Origin do not backtrack", () => {
    const p = originPattern("https://*.*.*.*.example.com").regex;
    expect(p.testExact(`https://${"a.".repeat(30_000)}!`)).toBe(false);
    expect(p.testExact(`https://${"a.".repeat(30_000)}example.com`)).toBe(true);
  }, 30_000);
});
