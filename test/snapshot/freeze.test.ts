import { describe, expect, it } from "vitest";
import { deepFreeze } from "../../controller/snapshot/freeze.ts";

describe("deepFreeze", () => {
  it("freezes nested plain objects, null-prototype objects and arrays", () => {
    const table: Record<string, unknown> = Object.create(null);
    table.host = [{ rule: "r", headers: ["x-user-id"] }];
    const value = deepFreeze({ routes: { table }, list: [[1], { a: 1 }] });
    expect(Object.isFrozen(value.routes)).toBe(true);
    expect(Object.isFrozen(table)).toBe(true);
    const [entry] = table.host as [{ headers: string[] }];
    expect([Object.isFrozen(table.host), Object.isFrozen(entry), Object.isFrozen(entry.headers)]).toEqual([true, true, true]);
    expect([Object.isFrozen(value.list[0]), Object.isFrozen(value.list[1])]).toEqual([true, true]);
  });
  it("leaves objects of other classes (RegExps, key objects, Maps) mutable", () => {
    const value = deepFreeze({ pattern: /a/, map: new Map<string, number>() });
    expect([Object.isFrozen(value), Object.isFrozen(value.pattern), Object.isFrozen(value.map)]).toEqual([true, false, false]);
  });
});
