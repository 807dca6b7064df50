/**
 * A command run beside the benchmark without disturbing what it measures: at idle CPU priority
 * (`chrt --idle`: it only gets time no other process wants) and stopped, with its whole process
 * group, while anything is measured (`quietly`). `make bench` builds kube-apiserver this way on a
 * fresh machine (about 4 minutes on 2 CPUs), instead of before everything else.
 */
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

let group: number | undefined;
/** Measurements in progress (they may nest): the job runs only while there are none. */
let measuring = 0;
/** Whether a measurement began while the job ran. */
let besideMeasurements = false;

/** A finished background job: its stdout, and whether it was still running when a measurement began. */
export interface BackgroundResult {
  readonly stdout: string;
  readonly besideMeasurements: boolean;
}

/** Starts `command` in its own process group; resolves once it exits 0 (rejects otherwise). */
export function runInBackground(command: string, args: readonly string[]): Promise<BackgroundResult> {
  const child = spawn("chrt", ["--idle", "0", "nice", "-n", "19", command, ...args], {
    detached: true,
    stdio: ["ignore", "pipe", "inherit"],
  });
  group = child.pid;
  besideMeasurements = measuring > 0;
  // Never leave it stopped: a stopped build would hold its lock for good.
  const resume = () => signal("SIGCONT");
  process.once("exit", resume);
  if (measuring > 0) signal("SIGSTOP");
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      group = undefined;
      process.removeListener("exit", resume);
      if (code === 0) resolve({ stdout: out, besideMeasurements });
      else reject(new Error(`${command} ${args.join(" ")} exited ${code}`));
    });
  });
}

/** Runs `f` with the background job stopped. */
export async function quietly<T>(f: () => Promise<T>): Promise<T> {
  if (measuring++ === 0) signal("SIGSTOP");
  if (group !== undefined) besideMeasurements = true;
  try {
    return await f();
  } finally {
    if (--measuring === 0) signal("SIGCONT");
  }
}

/**
 * From now on the job runs at normal priority (SCHED_OTHER, nice 0): nothing is measured any more
 * and the run waits for it. At idle priority, a neighbour's load starves it (on a shared machine
 * the kube-apiserver build took 1,000 s so). Its running processes are changed, and the processes
 * they start from then on inherit it. Best effort: without the privilege to raise a priority, the
 * job stays as it was.
 */
export function foreground(): void {
  if (group === undefined) return;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      // The fields after the command name: state, ppid, pgrp...
      if (Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[2]) !== group) continue;
      spawnSync("chrt", ["--other", "--all-tasks", "--pid", "0", pid]);
      // A nice value belongs to each thread (Go's build forks its compilers from any of them).
      spawnSync("renice", ["-n", "0", "-p", ...readdirSync(`/proc/${pid}/task`)]);
    } catch {
      // The process has just exited.
    }
  }
}

function signal(name: "SIGSTOP" | "SIGCONT"): void {
  if (group === undefined) return;
  try {
    process.kill(-group, name);
  } catch {
    // The job has just exited.
  }
}
