import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { adoptBackground, quietly, runInBackground } from "../../bench/background.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-background-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ticks = (file: string) => readFileSync(file, "utf8").split("\n").length;
// /proc/PID/stat after the command name: state, ppid, pgrp...
const statOf = (pid: string) => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");

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
    while (!existsSync(file)) await sleep(10);
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

describe("adoptBackground", () => {
  it("takes over a job bench/start-beside.sh started: stopped while anything is measured, its stdout once it exits", async () => {
    const file = join(dir, "ticks");
    const job = startBeside(`for i in $(seq 1 30); do echo $i >> ${file}; sleep 0.02; done; echo finished`);
    // Under way (a busy machine may take a while to start it).
    while (!existsSync(file)) await sleep(10);
    const pgid = readFileSync(join(job, "pgid"), "utf8").trim();
    // A process group of its own: stopping it stops nothing else.
    expect(statOf(pgid)[2]).toBe(pgid);
    const done = adoptBackground(job, 20);
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
