import { describe, expect, it } from "vitest";
import { compileCsrf, CSRFSchema } from "../../../controller/features/csrf/compile.ts";

describe("compileCsrf", () => {
  it("drops each additional origin's scheme and turns wildcards into full-match patterns", () => {
    const r = compileCsrf(
      CSRFSchema.parse({ additionalOrigins: ["https://a.example.com", "http://b.example.com:8080", "https://*.c.com", "*"] }),
    );
    if (!r.ok) throw new Error(r.error.join());
    expect(r.value.origins).toEqual(["a.example.com", "b.example.com:8080"]);
    const [sub, any] = r.value.originPatterns;
    expect(r.value.originPatterns.map((p) => p.written)).toEqual(["*.c.com", "*"]);
    expect(["x.c.com", "c.com", "xc.com"].map((o) => sub!.regex.testExact(o))).toEqual([true, false, false]);
    expect(any!.regex.testExact("anything:1")).toBe(true);
  });

  it("enforces everything without shadowFraction, and the complement of it otherwise (denominator 100 by default)", () => {
    const fraction = (spec: unknown) => {
      const r = compileCsrf(CSRFSchema.parse(spec));
      return r.ok ? r.value.enforcedFraction : r.error;
    };
    expect(fraction({})).toBe(1);
    expect(fraction({ shadowFraction: { numerator: 20 } })).toBe(0.8);
    expect(fraction({ shadowFraction: { numerator: 1, denominator: 4 } })).toBe(0.75);
    expect(fraction({ shadowFraction: { numerator: 100 } })).toBe(0);
  });

  it("refuses a fraction over one, more than 16 origins, and an origin without a scheme", () => {
    expect(CSRFSchema.safeParse({ shadowFraction: { numerator: 3, denominator: 2 } }).success).toBe(false);
    expect(CSRFSchema.safeParse({ additionalOrigins: Array.from({ length: 17 }, (_, i) => `https://${i}.example.com`) }).success).toBe(
      false,
    );
    expect(compileCsrf(CSRFSchema.parse({ additionalOrigins: ["www.example.com"] }))).toMatchObject({ ok: false });
  });
});
