import { describe, expect, it } from "vitest";
import { lookupTable } from "../../controller/lib/lookup-table.ts";

describe("lookupTable: a table looked up by the request's own strings", () => {
  it("holds its keys as own properties in order, '__proto__' too, and inherits nothing", () => {
    const table = lookupTable<number>([
      ["b.example.com", 1],
      ["__proto__", 2],
      ["a.example.com", 3],
    ]);
    expect(Object.getPrototypeOf(table)).toBeNull();
    expect(Object.keys(table)).toEqual(["b.example.com", "__proto__", "a.example.com"]);
    expect(table["__proto__"]).toBe(2);
    for (const inherited of ["constructor", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"])
      expect(table[inherited]).toBeUndefined();
    expect(lookupTable([])["__proto__"]).toBeUndefined();
  });
});
