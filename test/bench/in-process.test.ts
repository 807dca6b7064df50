import { describe, expect, it } from "vitest";
import { inProcessScenarios, measureInProcess } from "../../bench/in-process.ts";

describe("in-process check cost", () => {
  it("measures the allow path of each scenario: the bare handler and Portcullis' answer 200, once per request", async () => {
    const scenarios = await inProcessScenarios();
    expect(scenarios.map((s) => s.name)).toEqual(["bare node:http", "API key", "JWT, cached token"]);
    for (const s of scenarios) {
      const r = await measureInProcess(s, 1000, 2);
      expect([r.name, r.status, r.rounds.length]).toEqual([s.name, 200, 2]);
      expect(r.cpuNs).toBe(Math.min(...r.rounds));
      expect(r.heapBytes).toBeGreaterThan(0);
    }
  });

  it("a request the world refuses is seen as such (the status is the handler's own answer)", async () => {
    const [, apiKey] = await inProcessScenarios();
    const wrongKey = apiKey!.rawHeaders.map((v, i) => (apiKey!.rawHeaders[i - 1]?.toLowerCase() === "x-api-key" ? `${v}-wrong` : v));
    expect((await measureInProcess({ ...apiKey!, rawHeaders: wrongKey }, 10, 1)).status).toBe(401);
  });
});
