/** The gauges computed at scrape time: JWKS key age and JWKS without keys, from the key store's view. */
import { describe, expect, it } from "vitest";
import { createMetrics, type JwksView } from "../../controller/server/metrics.ts";

const NOW = 1_000_000_000;
const scrape = async (view: JwksView) => {
  const text = await createMetrics(view, () => NOW).registry.metrics();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
  return { age: value("portcullis_jwks_keys_age_seconds"), withoutKeys: value("portcullis_jwks_without_keys") };
};

describe("JWKS gauges", () => {
  it("age of the oldest keys in use, and how many JWKS in use have none; on-demand (unsynced) sources do not count", async () => {
    const view: JwksView = {
      describe: () => [
        { synced: true, keyCount: 2, lastSuccessAt: NOW - 30_000 },
        { synced: true, keyCount: 1, lastSuccessAt: NOW - 600_000 },
        { synced: true, keyCount: 0 },
        { synced: false, keyCount: 1, lastSuccessAt: NOW - 9_000_000 },
      ],
    };
    expect(await scrape(view)).toEqual({ age: 600, withoutKeys: 1 });
  });

  it("0 and 0 when no remote JWKS is in use", async () => {
    expect(await scrape({ describe: () => [] })).toEqual({ age: 0, withoutKeys: 0 });
  });
});
