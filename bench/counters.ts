/**
 * What a server process spent over one measured run, read from outside it: CPU time and run-queue
 * wait from /proc, garbage collections and bytes allocated on the V8 heap from bench/heap-probe.ts
 * (Node servers only), and instructions from `perf stat` where the host has hardware counters.
 * Several processes (a proxy and Portcullis behind it) are summed; the probe is read in one of them.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { quietly } from "./background.ts";
import { askFile, type GcTally, type HeapProbeReport, type ProbeAsk } from "./heap-probe.ts";
import { perfCounted } from "./host.ts";
import { spreadOf, type Spread } from "./spread.ts";

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Field `field` of /proc/PID/task/TID/schedstat (0: ns on a CPU, 1: ns waiting on a run queue), summed over the threads. */
function schedstatNs(pid: number, field: 0 | 1): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[field]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return total;
}

/** Nanoseconds the process's threads have waited on a run queue so far (/proc/PID/task/TID/schedstat). */
export const runQueueWaitNs = (pid: number): number => schedstatNs(pid, 1);

/**
 * Nanoseconds the process's threads have run on a CPU so far, to the nanosecond (the scheduler's
 * own account), where /proc/PID/stat counts 10 ms ticks: 1% of a 1 s run.
 */
export const runNs = (pid: number): number => schedstatNs(pid, 0);

/** The processes under measurement; `probe` when one of them runs bench/heap-probe.ts. */
export interface Measured {
  readonly pids: readonly number[];
  readonly probe?: HeapProbe;
}

/** A process running bench/heap-probe.ts: its pid, its report file, and whether this run counts allocation too. */
export interface HeapProbe {
  readonly pid: number;
  readonly file: string;
  /** Each counted run leaves a profiler behind in the process (bench/heap-probe.ts): count seldom. */
  readonly allocations: boolean;
}

/** The environment that makes a Node server load bench/heap-probe.ts and report to `file`. */
export function heapProbeEnv(file: string): Record<string, string> {
  return { NODE_OPTIONS: `--import ${join(import.meta.dirname, "heap-probe.ts")}`, BENCH_HEAP_PROBE_FILE: file };
}

/** The probe's last report, once it has started (see bench/heap-probe.ts). */
function probeReport(file: string): HeapProbeReport | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as HeapProbeReport) : undefined;
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

/** Asks the probe for a reading (SIGUSR2) once its handler is in place, and waits for the answer. */
async function readProbe(p: HeapProbe, ask: ProbeAsk | undefined = p.allocations ? "allocations" : undefined): Promise<HeapProbeReport> {
  const { seq } = await poll(`heap probe of pid ${p.pid} (${p.file}) to start`, () => probeReport(p.file));
  if (ask !== undefined) writeFileSync(askFile(p.file), ask);
  process.kill(p.pid, "SIGUSR2");
  return poll(`heap probe of pid ${p.pid} (${p.file})`, () => {
    const now = probeReport(p.file);
    return now !== undefined && now.seq > seq ? now : undefined;
  });
}

/**
 * A full collection in a server running the probe, once, after its start-up and before any load:
 * what start-up left in the old generation is then not collected in the middle of a measured
 * round (where, in the 10,000-route world, it cost a round of new tokens about 40 µs per request).
 * Every Node server of a comparison is settled alike; what the load leaves is collected, and
 * counted, as before.
 */
export async function settleHeap(pid: number, file: string): Promise<void> {
  await readProbe({ pid, file, allocations: false }, "settle");
}

/** Per-request costs of one run. */
export interface RunCosts {
  /** Server CPU (user + system, all measured processes) per request, µs. */
  readonly cpuUsPerReq: number;
  /** Largest share of the run a measured process spent runnable but waiting for a CPU, %. */
  readonly waitPct: number;
  /** V8 heap bytes allocated per request (Node servers with the probe, runs that count allocation), else undefined. */
  readonly allocBytesPerReq?: number;
  /** The probed process's garbage collections during the run (Node servers with the probe), else undefined. */
  readonly gc?: GcTally;
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
  const before = m.probe === undefined ? undefined : await readProbe(m.probe);
  const cpuBefore = m.pids.map(cpuSeconds);
  const waitBefore = m.pids.map(runQueueWaitNs);
  const perf = perfSeconds === undefined ? undefined : countInstructions(m.pids, perfSeconds);
  const result = await work();
  const requests = Math.max(1, result.requests);
  const cpu = m.pids.reduce((s, pid, i) => s + cpuSeconds(pid) - cpuBefore[i]!, 0);
  const waitPct = Math.max(...m.pids.map((pid, i) => (100 * (runQueueWaitNs(pid) - waitBefore[i]!)) / 1e9 / result.durationS));
  const after = m.probe === undefined ? undefined : await readProbe(m.probe);
  const instructions = await perf;
  const allocated =
    after?.allocatedBytes !== undefined && before?.allocatedBytes !== undefined ? after.allocatedBytes - before.allocatedBytes : undefined;
  return {
    ...result,
    cpuUsPerReq: (cpu * 1e6) / requests,
    waitPct,
    ...(allocated === undefined ? {} : { allocBytesPerReq: allocated / requests }),
    ...(before === undefined || after === undefined ? {} : { gc: gcBetween(before.gc, after.gc) }),
    ...(instructions === undefined ? {} : { instructionsPerReq: instructions / requests }),
  };
}

/** The collections from one reading of the probe to a later one. */
function gcBetween(before: GcTally, after: GcTally): GcTally {
  return {
    scavenges: after.scavenges - before.scavenges,
    markCompacts: after.markCompacts - before.markCompacts,
    pauseMs: after.pauseMs - before.pauseMs,
  };
}

/** A server's garbage collection over several runs, per request served. */
export interface GcPerRequest {
  /** Scavenges (young-generation collections) per 1,000 requests, over all the runs together. */
  readonly scavengesPer1k: number;
  /** Mark-compacts (full collections) per 1,000 requests, over all the runs together. */
  readonly markCompactsPer1k: number;
  /** The main thread's pause in collections, µs per request, by run (lower is better). */
  readonly pauseUsPerReq: Spread;
}

/** The collections of the runs that counted them, per request; undefined when none did. */
export function gcPerRequest(runs: readonly { readonly requests: number; readonly gc?: GcTally }[]): GcPerRequest | undefined {
  const counted = runs.filter((r): r is typeof r & { gc: GcTally } => r.gc !== undefined && r.requests > 0);
  if (counted.length === 0) return undefined;
  const requests = counted.reduce((n, r) => n + r.requests, 0);
  const per1k = (f: (g: GcTally) => number) => (1000 * counted.reduce((n, r) => n + f(r.gc), 0)) / requests;
  return {
    scavengesPer1k: per1k((g) => g.scavenges),
    markCompactsPer1k: per1k((g) => g.markCompacts),
    pauseUsPerReq: spreadOf(
      counted.map((r) => (r.gc.pauseMs * 1000) / r.requests),
      false,
    ),
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
