/** Gateway API path semantics of a route match (controller/snapshot/route-match.ts). */
import { describe, expect, it } from "vitest";
import { pathMatches } from "../../controller/snapshot/route-match.ts";

describe("pathMatches", () => {
  it("takes PathPrefix by whole segments", () => {
    const prefix = { type: "PathPrefix", value: "/foo" } as const;
    expect(pathMatches(prefix, "/foo")).toBe(true);
    expect(pathMatches(prefix, "/foo/bar")).toBe(true);
    expect(pathMatches(prefix, "/foobar")).toBe(false);
    expect(pathMatches({ type: "PathPrefix", value: "" }, "/anything")).toBe(true);
  });

  it("takes Exact as the whole path, case and all", () => {
    expect(pathMatches({ type: "Exact", value: "/a" }, "/a")).toBe(true);
    expect(pathMatches({ type: "Exact", value: "/a" }, "/A")).toBe(false);
    expect(pathMatches({ type: "Exact", value: "/a" }, "/a/")).toBe(false);
  });
});
