import { describe, expect, it } from "vitest";
import { allocationSites, newTokensFor } from "../../bench/alloc-sites.ts";
import { inProcessScenarios, JWT_NEW } from "../../bench/in-process.ts";

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
  it("walks the all-new-token scenario through tokens minted for it (one per request), charging a new token's decoding to jwt/", async () => {
    expect(newTokensFor("API key", 2000)).toBe(0);
    const scenario = (await inProcessScenarios(newTokensFor(JWT_NEW, 300))).find((s) => s.name === JWT_NEW)!;
    const sites = await allocationSites(scenario, 300);
    expect(sites.some((s) => /^decodeJwt jwt\//.test(s.site))).toBe(true);
  });
});
