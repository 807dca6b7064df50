import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { quietly, runInBackground } from "../../bench/background.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-background-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ticks = (file: string) => readFileSync(file, "utf8").split("\n").length;

describe("runInBackground", () => {
  it("stops the job and its children while anything is measured, nested or not, and lets it finish afterwards", async () => {
    const file = join(dir, "ticks");
    const done = runInBackground("bash", ["-c", `for i in $(seq 1 30); do echo $i >> ${file}; sleep 0.02; done; echo finished`]);
    await sleep(200);
    await quietly(async () => {
      await sleep(50);
      const stoppedAt = ticks(file);
      await quietly(() => sleep(100));
      await sleep(200);
      expect(ticks(file)).toBe(stoppedAt);
    });
    expect(await done).toEqual({ stdout: "finished\n", besideMeasurements: true });
    expect(ticks(file)).toBe(31);
  });
  it("says when the job finished before any measurement began", async () => {
    expect(await runInBackground("bash", ["-c", "echo cached"])).toEqual({ stdout: "cached\n", besideMeasurements: false });
  });
  it("rejects when the job fails", async () => {
    await expect(runInBackground("bash", ["-c", "exit 3"])).rejects.toThrow(/exited 3/);
  });
});
