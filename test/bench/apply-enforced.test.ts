import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { benchApplyEnforced } from "../../bench/apply-enforced.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-apply-enforced-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("benchApplyEnforced", () => {
  // make bench's last stage on the shipped examples, as they are: it read the example Secret's
  // stringData after the examples moved their keys to data, and failed every run.
  it("applies the examples to a real API server and times a few changes until enforced", async () => {
    const result = await benchApplyEnforced(3, dir, () => {});
    expect(result.changes).toBe(3);
    expect(result.p50Ms).toBeGreaterThan(0);
    expect(result.maxMs).toBeGreaterThanOrEqual(result.p50Ms);
  }, 300_000);
});
