/**
 * A command run beside the benchmark without disturbing what it measures: stopped, with its whole
 * process group, while anything is measured or loaded (`quietly`: measurements, the unmeasured
 * load before them, start-ups, profiles), and at normal priority in the gaps. `make bench` builds
 * kube-apiserver this way on a fresh machine (about 3 minutes of CPU) instead of before
 * everything else: it starts the build beside `npm ci`, when nothing is measured yet, and
 * bench/run.ts takes it over (`adoptBackground`). No longer at idle priority and running beside
 * the unmeasured load that readies each measurement: on a shared machine the neighbours starved
 * it in the gaps anyway (after the last measurement, fresh runs at load 10-11 waited 198 s for it
 * so and 206 s as now: the same, with every load free of it).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

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
  const child = spawn(command, args, {
    detached: true,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const release = take(child.pid!);
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      release();
      if (code === 0) resolve({ stdout: out, besideMeasurements });
      else reject(new Error(`${command} ${args.join(" ")} exited ${code}`));
    });
  });
}

/**
 * Takes over a job another process started, in a process group of its own, before this one ran
 * (`make bench` starts the kube-apiserver build beside `npm ci`): from now on it is stopped while
 * anything is measured, as if `runInBackground` had started it.
 * `dir` holds `pgid` (its process group, written when it started), `stdout` (its output) and,
 * once it has exited, `status` (its exit code and a line break). Resolves once the status reads
 * 0 (rejects otherwise), polled every `pollMs` milliseconds (which keeps this process alive until then, as
 * the output pipe of a job `runInBackground` started does).
 */
export function adoptBackground(dir: string, pollMs = 500): Promise<BackgroundResult> {
  const pgid = Number(readFileSync(join(dir, "pgid"), "utf8"));
  if (!Number.isSafeInteger(pgid) || pgid <= 1) return Promise.reject(new Error(`${dir}/pgid is not a process group id`));
  const release = take(pgid);
  return new Promise((resolve, reject) => {
    const poll = () => {
      const statusFile = join(dir, "status");
      // The shell writes the status after the job has exited; the line break says it is complete.
      const status = existsSync(statusFile) ? readFileSync(statusFile, "utf8") : "";
      if (!status.endsWith("\n")) {
        setTimeout(poll, pollMs);
        return;
      }
      release();
      if (status.trim() === "0") resolve({ stdout: readFileSync(join(dir, "stdout"), "utf8"), besideMeasurements });
      else reject(new Error(`the background job of ${dir} exited ${status.trim()}`));
    };
    poll();
  });
}

/** Makes process group `pgid` the background job; the returned function forgets it once it has exited. */
function take(pgid: number): () => void {
  group = pgid;
  besideMeasurements = measuring > 0;
  // Never leave it stopped: a stopped build would hold its lock for good.
  const resume = () => signal("SIGCONT");
  process.once("exit", resume);
  if (measuring > 0) signal("SIGSTOP");
  return () => {
    group = undefined;
    process.removeListener("exit", resume);
  };
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

function signal(name: "SIGSTOP" | "SIGCONT"): void {
  if (group === undefined) return;
  try {
    process.kill(-group, name);
  } catch {
    // The job has just exited.
  }
}
