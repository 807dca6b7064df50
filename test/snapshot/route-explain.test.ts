/** The route lookup explained for a decision's trace (controller/snapshot/route-explain.ts), on hand-built route tables. */
import { describe, expect, it } from "vitest";
import { explainRoutes } from "../../controller/snapshot/route-explain.ts";
import { entry, index, request, table, vhosts } from "../support/route-tables.ts";

describe("explainRoutes", () => {
  it("names the virtual host, the entries tried with why they missed, the one picked and those it wins over", () => {
    const idx = index({
      "apps/gw": [
        table(
          80,
          vhosts({
            wildcard: {
              ".example.com": [
                entry("api r0", { path: { type: "Exact", value: "/admin" }, headers: [], queryParams: [] }),
                entry("api r1"),
                entry("api r2"),
              ],
            },
          }),
        ),
      ],
    });
    expect(explainRoutes(idx, request("a.example.com", "/x"), {})).toEqual([
      {
        gateway: "apps/gw",
        port: 80,
        virtualHost: "*.example.com",
        tried: ["api r0 (Exact /admin): path /x is not Exact /admin"],
        picked: "api r1 (PathPrefix /)",
        alsoMatchingLater: ["api r2 (PathPrefix /)"],
      },
    ]);
  });

  it("lists at most 20 misses before the one picked, and counts the rest", () => {
    const misses = Array.from({ length: 25 }, (_, i) =>
      entry(`api r${i}`, { path: { type: "Exact", value: `/p${i}` }, headers: [], queryParams: [] }),
    );
    const idx = index({ "apps/gw": [table(80, vhosts({ any: [...misses, entry("api last")] }))] });
    const [trace] = explainRoutes(idx, request("h", "/x"), {}) as [{ tried: string[]; picked: string; virtualHost: string }];
    expect(trace.virtualHost).toBe("(any host)");
    expect(trace.tried).toHaveLength(21);
    expect(trace.tried.at(-1)).toBe("… and 5 more that do not match");
    expect(trace.picked).toBe("api last (PathPrefix /)");
  });

  it("says so when no virtual host of the table takes the Host", () => {
    const idx = index({ "apps/gw": [table(80, vhosts({ exact: { "a.test": [entry("a r0")] } }))] });
    expect(explainRoutes(idx, request("b.test"), {})).toEqual([
      { gateway: "apps/gw", port: 80, virtualHost: "none: no route of this listener port has this host" },
    ]);
  });
});
