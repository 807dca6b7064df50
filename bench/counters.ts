/**
 * What a server process spent over one measured run, read from outside it: CPU time and run-queue
 * wait from /proc, bytes allocated on the V8 heap from bench/heap-probe.ts (Node servers only), and
 * instructions from `perf stat` where the host has hardware counters. Several processes (a proxy
 * and Portcullis behind it) are summed.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { quietly } from "./background.ts";
import { perfCounted } from "./host.ts";

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Nanoseconds the process's threads have waited on a run queue so far (/proc/PID/task/TID/schedstat). */
export function runQueueWaitNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return total;
}

/** A process under measurement; `heapProbeFile` when it runs bench/heap-probe.ts. */
export interface Measured {
  readonly pids: readonly number[];
  readonly heapProbeFile?: string;
}

/** The environment that makes a Node server load bench/heap-probe.ts and report to `file`. */
export function heapProbeEnv(file: string): Record<string, string> {
  return { NODE_OPTIONS: `--import ${join(import.meta.dirname, "heap-probe.ts")}`, BENCH_HEAP_PROBE_FILE: file };
}

/** The probe's last report, once it has started (see bench/heap-probe.ts). */
function probeReport(file: string): { seq: number; allocatedBytes: number } | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { seq: number; allocatedBytes: number }) : undefined;
}

/** Waits for `found` to give a value, polling every 5 ms; fails after 10 s. */
async function poll<T>(what: string, found: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = found();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: no answer in 10 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Asks the probe for its count (SIGUSR2) once its handler is in place, and waits for the answer. */
async function allocatedBytes(pid: number, file: string): Promise<number> {
  const { seq } = await poll(`heap probe of pid ${pid} (${file}) to start`, () => probeReport(file));
  process.kill(pid, "SIGUSR2");
  return poll(`heap probe of pid ${pid} (${file})`, () => {
    const now = probeReport(file);
    return now !== undefined && now.seq > seq ? now.allocatedBytes : undefined;
  });
}

/** Per-request costs of one run. */
export interface RunCosts {
  /** Server CPU (user + system, all measured processes) per request, µs. */
  readonly cpuUsPerReq: number;
  /** Largest share of the run a measured process spent runnable but waiting for a CPU, %. */
  readonly waitPct: number;
  /** V8 heap bytes allocated per request (Node servers with the probe), else undefined. */
  readonly allocBytesPerReq?: number;
  /** Instructions per request (perf stat, where the host counts them), else undefined. */
  readonly instructionsPerReq?: number;
}

/**
 * Counts what `m` spends while `work` runs (which answers how many requests were served and over
 * how many seconds). With `perf`, instructions are counted for `perfSeconds` from the start. A
 * background job (background.ts) is stopped meanwhile.
 */
export function measure<T extends { readonly requests: number; readonly durationS: number }>(
  m: Measured,
  work: () => Promise<T>,
  perfSeconds?: number,
): Promise<T & RunCosts> {
  return quietly(() => measureNow(m, work, perfSeconds));
}

async function measureNow<T extends { readonly requests: number; readonly durationS: number }>(
  m: Measured,
  work: () => Promise<T>,
  perfSeconds?: number,
): Promise<T & RunCosts> {
  const probe = m.heapProbeFile;
  const probePid = m.pids[0]!;
  const allocBefore = probe === undefined ? undefined : await allocatedBytes(probePid, probe);
  const cpuBefore = m.pids.map(cpuSeconds);
  const waitBefore = m.pids.map(runQueueWaitNs);
  const perf = perfSeconds === undefined ? undefined : countInstructions(m.pids, perfSeconds);
  const result = await work();
  const requests = Math.max(1, result.requests);
  const cpu = m.pids.reduce((s, pid, i) => s + cpuSeconds(pid) - cpuBefore[i]!, 0);
  const waitPct = Math.max(...m.pids.map((pid, i) => (100 * (runQueueWaitNs(pid) - waitBefore[i]!)) / 1e9 / result.durationS));
  const allocAfter = probe === undefined ? undefined : await allocatedBytes(probePid, probe);
  const instructions = await perf;
  return {
    ...result,
    cpuUsPerReq: (cpu * 1e6) / requests,
    waitPct,
    ...(allocBefore === undefined || allocAfter === undefined ? {} : { allocBytesPerReq: (allocAfter - allocBefore) / requests }),
    ...(instructions === undefined ? {} : { instructionsPerReq: instructions / requests }),
  };
}

/** Sums the `instructions` lines of `perf stat -x,` output (one per process with --per-thread off). */
export function instructionsIn(csv: string): number | undefined {
  if (!perfCounted(csv, "instructions")) return undefined;
  return csv
    .split("\n")
    .map((l) => l.split(","))
    .filter((f) => f[2]?.startsWith("instructions") === true && /^\d+$/.test(f[0] ?? ""))
    .reduce((s, f) => s + Number(f[0]), 0);
}

function countInstructions(pids: readonly number[], seconds: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const child = spawn("perf", ["stat", "-x,", "-e", "instructions", "-p", pids.join(","), "--", "sleep", String(seconds)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c));
    child.once("error", () => resolve(undefined));
    child.once("close", () => resolve(instructionsIn(err)));
  });
}
