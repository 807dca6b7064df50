/**
 * The state of the host during a run, read from /proc: how busy the machine was with other work
 * (the benchmark shares it), how much time the hypervisor took from our virtual CPUs (steal), and
 * whether `perf stat` can count instructions here (most virtual machines expose no hardware counters).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";

/** Aggregate CPU time of all CPUs, clock ticks (the first line of /proc/stat). */
export interface CpuTimes {
  readonly busy: number;
  readonly idle: number;
  readonly steal: number;
}

/**
 * Parses the "cpu" line of /proc/stat (user nice system idle iowait irq softirq steal ...): busy is
 * user + nice + system + irq + softirq; idle is idle + iowait; guest time is already inside user.
 * Throws on text without that line.
 */
export function parseProcStat(text: string): CpuTimes {
  const line = /^cpu\s+([\d\s]+)$/m.exec(text)?.[1];
  if (line === undefined) throw new Error("/proc/stat has no aggregate cpu line");
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).map(Number);
  return { busy: user + nice + system + irq + softirq, idle: idle + iowait, steal };
}

export function readCpuTimes(): CpuTimes {
  return parseProcStat(readFileSync("/proc/stat", "utf8"));
}

/** Shares of all CPU time between two readings, %: busy (any process, ours included), steal. */
export function cpuShares(before: CpuTimes, after: CpuTimes): { busyPct: number; stealPct: number } {
  const d = (k: keyof CpuTimes) => after[k] - before[k];
  const total = d("busy") + d("idle") + d("steal");
  return total <= 0 ? { busyPct: 0, stealPct: 0 } : { busyPct: (100 * d("busy")) / total, stealPct: (100 * d("steal")) / total };
}

export const loadAverage = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

/**
 * Whether `perf stat -x,` output counted an event (CSV: value,unit,event,...): "<not supported>"
 * and "<not counted>" in the value field mean the hardware counter is not available.
 */
export function perfCounted(csv: string, event: string): boolean {
  return csv
    .split("\n")
    .map((l) => l.split(","))
    .some((fields) => fields[2]?.startsWith(event) === true && /^\d+$/.test(fields[0] ?? ""));
}

/** Why instructions per request cannot be counted on this host, or undefined when they can. */
export function perfUnavailableReason(): string | undefined {
  const r = spawnSync("perf", ["stat", "-x,", "-e", "instructions", "--", "true"], { encoding: "utf8" });
  if (r.error !== undefined) return "`perf` is not installed";
  return perfCounted(r.stderr, "instructions")
    ? undefined
    : `\`perf stat -e instructions\` counts nothing here (${r.stderr.includes("<not supported>") ? "the virtual CPU exposes no hardware counters" : "not permitted"})`;
}
