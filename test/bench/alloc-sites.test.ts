import { describe, expect, it } from "vitest";
import { allocationSites } from "../../bench/alloc-sites.ts";
import { inProcessScenarios } from "../../bench/in-process.ts";

describe("allocation sites of a check", () => {
  it("charges the check's own allocations to Portcullis' functions, largest first, and the bare handler none of them", async () => {
    const scenarios = await inProcessScenarios();
    const total = (sites: readonly { bytesPerRequest: number }[]) => sites.reduce((sum, s) => sum + s.bytesPerRequest, 0);
    const bare = await allocationSites(scenarios.find((s) => s.name === "bare node:http")!, 2000);
    const apiKey = await allocationSites(scenarios.find((s) => s.name === "API key")!, 2000);
    expect(apiKey.map((s) => s.bytesPerRequest)).toEqual(apiKey.map((s) => s.bytesPerRequest).sort((a, b) => b - a));
    expect(apiKey.some((s) => /^\S+ (authz|server|snapshot)\//.test(s.site))).toBe(true);
    expect(bare.some((s) => /^\S+ (authz|server|snapshot)\//.test(s.site))).toBe(false);
    // Sampled every 16 bytes: the totals are near what bench/in-process.ts measures (about 3 and 4 KB), and apart.
    expect(total(bare)).toBeGreaterThan(1000);
    expect(total(apiKey)).toBeGreaterThan(total(bare) + 300);
  });
});
