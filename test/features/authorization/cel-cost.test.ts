/** The CEL cost model (controller/features/authorization/cel-cost.ts): sizes of values, and worst cases of expressions. */
import { describe, expect, it } from "vitest";
import { CEL_INPUT_LIMIT, type CelNode, measure, worstCase } from "../../../controller/features/authorization/cel-cost.ts";
import { PRINCIPAL_VARIABLES } from "../../../controller/features/authorization/cel.ts";

const ast = (source: string) => (PRINCIPAL_VARIABLES.environment.parse(source) as unknown as { ast: CelNode }).ast;
const costOf = (source: string, limits: Record<string, number> = {}) => {
  const r = worstCase(ast(source), limits);
  return r.ok ? r.value.cost : r.error;
};

describe("measure", () => {
  it("measures strings by length, lists and maps by their contents", () => {
    expect(measure("abc", 100)).toBe(3);
    expect(measure(["ab", "c"], 100)).toBe(4);
    expect(measure({ ab: "cd", e: [1, 2] }, 100)).toBe(1 + 2 + 2 + 1 + 3);
    expect(measure(new Map([["ab", "cd"]]), 100)).toBe(1 + 2 + 2);
    expect(measure("x".repeat(1000), 10)).toBeGreaterThan(10);
  });
});

describe("worstCase", () => {
  it("grows with the size a variable may have: a comparison reads the whole of it", () => {
    const unbounded = costOf('request.path == "/x"') as number;
    expect(unbounded).toBeGreaterThanOrEqual(CEL_INPUT_LIMIT);
    expect(costOf('request.path == "/x"', { request: 100 })).toBeLessThan(unbounded);
  });
  it("costs a comprehension once per element of what it scans", () => {
    const once = costOf('request.path.startsWith("/a")', { request: 1000 }) as number;
    expect(costOf('request.headers.exists(h, request.path.startsWith("/a"))', { request: 1000 })).toBeGreaterThan(100 * once);
  });
  it("refuses what has no cost model, and comprehensions nested deeper than 3", () => {
    expect(costOf("foo(request.path)")).toBe("the function foo() is not supported");
    expect(costOf("[1].all(a, [1].all(b, [1].all(c, [1].all(d, true))))")).toBe("comprehensions nest at most 3 deep");
  });
  it("lists each matches() call (where its `.matches(` is) with its pattern compiled by RE2", () => {
    const source = 'request.path.matches("a{3}") || request.host . matches ("a{3}")';
    const r = worstCase(ast(source), {});
    if (!r.ok) throw new Error(r.error);
    expect([...r.value.searches.patterns.keys()]).toEqual(["a{3}"]);
    expect([...r.value.searches.calls].map(([start, end]) => source.slice(start, end)).sort()).toEqual([" . matches (", ".matches("]);
  });
  it("costs a matches() by its RE2 program: each counted copy is a state", () => {
    expect(costOf('request.path.matches("a{500}")', { request: 100 })).toBeGreaterThan(100 * 500);
    expect(costOf('request.path.matches("a{3}")', { request: 100 })).toBeLessThan(100 * 10);
  });
});
