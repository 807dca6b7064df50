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
  it("runs the job at normal priority once foreground() is called, children that any of its threads starts afterwards included", async () => {
    const pidFile = join(dir, "pid");
    const go = join(dir, "go");
    // A job with a second thread that, once told to go, starts a child (as Go's build forks its
    // compilers from any thread): the child prints its nice value and scheduling policy.
    const worker = `const fs = require("node:fs");
      while (!fs.existsSync(${JSON.stringify(go)})) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      process.stdout.write(require("node:child_process").execSync("nice; chrt -p $$").toString());`;
    const job = `require("node:fs").writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
      new (require("node:worker_threads").Worker)(${JSON.stringify(worker)}, { eval: true });`;
    const done = runInBackground(process.execPath, ["-e", job]);
    await sleep(500);
    // /proc/PID/stat after the command name: nice is field 19 of the line, the scheduling policy 41 (5: SCHED_IDLE, 0: SCHED_OTHER).
    const schedule = (pid: string) => {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return { nice: Number(fields[16]), policy: Number(fields[38]) };
    };
    const pid = readFileSync(pidFile, "utf8");
    expect(schedule(pid)).toEqual({ nice: 19, policy: 5 });
    foreground();
    expect(schedule(pid)).toEqual({ nice: 0, policy: 0 });
    writeFileSync(go, "");
    const child = (await done).stdout.trim().split("\n");
    expect([child[0], child[1]?.endsWith("SCHED_OTHER")]).toEqual(["0", true]);
  });
  it("rejects when the job fails", async () => {
    await expect(runInBackground("bash", ["-c", "exit 3"])).rejects.toThrow(/exited 3/);
  });
});
