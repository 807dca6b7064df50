import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { foreground, quietly, runInBackground } from "../../bench/background.ts";

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
  it("runs the job at normal priority once foreground() is called, children started afterwards included", async () => {
    const pids = join(dir, "pids");
    const go = join(dir, "go");
    const done = runInBackground("bash", ["-c", `echo $$ >> ${pids}; while [ ! -e ${go} ]; do sleep 0.02; done; sh -c 'nice; chrt -p $$'`]);
    await sleep(200);
    // /proc/PID/stat after the command name: nice is field 19 of the line, the scheduling policy 41 (5: SCHED_IDLE, 0: SCHED_OTHER).
    const schedule = (pid: string) => {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return { nice: Number(fields[16]), policy: Number(fields[38]) };
    };
    const job = readFileSync(pids, "utf8").trim();
    expect(schedule(job)).toEqual({ nice: 19, policy: 5 });
    foreground();
    expect(schedule(job)).toEqual({ nice: 0, policy: 0 });
    writeFileSync(go, "");
    const child = (await done).stdout.split("\n");
    expect([child[0], child[1]?.endsWith("SCHED_OTHER")]).toEqual(["0", true]);
  });
  it("rejects when the job fails", async () => {
    await expect(runInBackground("bash", ["-c", "exit 3"])).rejects.toThrow(/exited 3/);
  });
});
