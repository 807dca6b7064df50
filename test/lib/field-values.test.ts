/** HTTP field values as a recipient reads them (controller/lib/field-values.ts). */
import { describe, expect, it } from "vitest";
import { withoutOws } from "../../controller/lib/field-values.ts";

describe("withoutOws: a header line as the proxy's codec trims it", () => {
  it("removes spaces and tabs at either end, nothing inside", () => {
    expect(withoutOws(" \t a b \t ")).toBe("a b");
    expect(withoutOws("")).toBe("");
    expect(withoutOws(" \t ")).toBe("");
  });
  it("keeps the Unicode spaces String.trim removes (a wrong allow: a key or token with one was looked up without it)", () => {
    for (const space of ["\u00a0", "\ufeff", "\u3000", "\u2028", "\v", "\f"]) expect(withoutOws(`k${space}`)).toBe(`k${space}`);
  });
});
