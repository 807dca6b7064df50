import { describe, expect, it } from "vitest";
import { listsBeginning, prefixTableOf } from "../../controller/lib/prefix-table.ts";

describe("prefix table", () => {
  const table = prefixTableOf(["/api", "/a", "/api/v1", "/b", "/api", "/"], (key) => key);

  it("groups items by key in their order and keeps each key length once, ascending", () => {
    expect(Object.fromEntries(table.byKey)).toEqual({
      "/api": ["/api", "/api"],
      "/a": ["/a"],
      "/api/v1": ["/api/v1"],
      "/b": ["/b"],
      "/": ["/"],
    });
    expect(table.lengths).toEqual([1, 2, 4, 7]);
  });

  it("finds the lists of every key that is the text or begins it, shortest key first", () => {
    expect(listsBeginning(table, "/api/v1/x")).toEqual([["/"], ["/a"], ["/api", "/api"], ["/api/v1"]]);
    expect(listsBeginning(table, "/api")).toEqual([["/"], ["/a"], ["/api", "/api"]]);
    expect(listsBeginning(table, "/b")).toEqual([["/"], ["/b"]]);
  });

  it("finds nothing (undefined) where no key begins the text, and in an empty table", () => {
    expect(listsBeginning(table, "x/api")).toBeUndefined();
    expect(listsBeginning(table, "")).toBeUndefined();
    expect(
      listsBeginning(
        prefixTableOf([], (key: string) => key),
        "/api",
      ),
    ).toBeUndefined();
  });

  it("keys items by what keyOf gives, not by the item", () => {
    const byLower = prefixTableOf([{ v: "/Admin" }, { v: "/admin" }], (item) => item.v.toLowerCase());
    expect(listsBeginning(byLower, "/admin/x")).toEqual([[{ v: "/Admin" }, { v: "/admin" }]]);
  });
});
