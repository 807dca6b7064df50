import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { adoptBackground, foreground, quietly, runInBackground } from "../../bench/background.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-background-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ticks = (file: string) => readFileSync(file, "utf8").split("\n").length;
// /proc/PID/stat after the command name: pgrp is field 5 of the line, nice 19, the scheduling policy 41 (5: SCHED_IDLE, 0: SCHED_OTHER).
const statOf = (pid: string) => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
const schedule = (pid: string) => {
  const fields = statOf(pid);
  return { nice: Number(fields[16]), policy: Number(fields[38]) };
};

/** Starts `script` as `make bench` starts the kube-apiserver build (bench/start-beside.sh); returns its folder. */
function startBeside(script: string): string {
  const job = join(dir, "job");
  mkdirSync(job);
  const started = spawnSync("bash", [join(import.meta.dirname, "../../bench/start-beside.sh"), job, "bash", "-c", script], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  expect(started.status).toBe(0);
  return job;
}

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

describe("adoptBackground", () => {
  it("takes over a job bench/start-beside.sh started: idle priority, stopped while anything is measured, its stdout once it exits", async () => {
    const file = join(dir, "ticks");
    const job = startBeside(`for i in $(seq 1 30); do echo $i >> ${file}; sleep 0.02; done; echo finished`);
    await sleep(100);
    const pgid = readFileSync(join(job, "pgid"), "utf8").trim();
    // A process group of its own (else stopping it would stop others), at the priority it started with.
    expect(statOf(pgid)[2]).toBe(pgid);
    expect(schedule(pgid)).toEqual({ nice: 0, policy: 0 });
    const done = adoptBackground(job, 20);
    expect(schedule(pgid)).toEqual({ nice: 19, policy: 5 });
    await quietly(async () => {
      await sleep(50);
      const stoppedAt = ticks(file);
      await sleep(200);
      expect(ticks(file)).toBe(stoppedAt);
    });
    expect(await done).toEqual({ stdout: "finished\n", besideMeasurements: true });
    expect(ticks(file)).toBe(31);
  });
  it("rejects with the exit status when the job fails, and when the folder has no process group", async () => {
    await expect(adoptBackground(startBeside("exit 3"), 20)).rejects.toThrow(/exited 3/);
    writeFileSync(join(dir, "pgid"), "\n");
    await expect(adoptBackground(dir)).rejects.toThrow(/not a process group id/);
  });
});
