/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time per function,
 * and inclusive ("total") time per project function (each function counted once per stack, so
 * recursion does not inflate it).
 *   node bench/profile.ts FILE.cpuprofile [top] [last-ms]
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileLine {
  readonly name: string;
  readonly selfPct: number;
  readonly totalPct: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Share of samples in which the process was idle (waiting on epoll). */
  readonly idlePct: number;
  readonly self: readonly ProfileLine[];
  /** Project functions (controller/) by inclusive time. */
  readonly project: readonly ProfileLine[];
  /** Self time grouped: Portcullis code, node:http & net internals, crypto, GC, idle, other. */
  readonly groups: Readonly<Record<string, number>>;
}

const ROOT = new URL("..", import.meta.url).pathname;

function label(frame: CallFrame): string {
  const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
  if (frame.url === "") return name;
  const file = frame.url.startsWith("file://") ? relative(ROOT, new URL(frame.url).pathname) : frame.url;
  return `${name} ${file.replace(/^node_modules\//, "")}:${frame.lineNumber + 1}`;
}

/** Native calls that write to a socket: on loopback the kernel's whole TCP path runs inside them. */
const SOCKET_WRITES = new Set(["writeLatin1String", "writeUtf8String", "writeAsciiString", "writeBuffer", "writev"]);

function groupOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (functionName === "(idle)") return "idle";
  if (functionName === "(garbage collector)") return "gc";
  if (url === "" && SOCKET_WRITES.has(functionName)) return "socket writes (syscalls)";
  if (url.includes("/controller/")) return "portcullis";
  if (url.includes("node_modules/prom-client/")) return "prom-client";
  if (url.includes("node_modules/pino")) return "pino";
  if (url.includes("node_modules/")) return "other dependencies";
  if (/node:(_http|http|net|stream|events|internal\/(http|streams|stream_base|net|timers|async_hooks|process\/task_queues))/.test(url))
    return "node:http/net/events";
  if (/crypto/.test(url)) return "node:crypto";
  if (functionName === "(program)") return "unattributed native";
  if (url === "") return "other native";
  return "other";
}

/** `windowMs`: only the samples of the profile's last `windowMs` (the load phase, without start-up). */
export function summarize(profile: CpuProfile, top = 15, windowMs = Infinity): ProfileSummary {
  let t = profile.startTime;
  const times = profile.timeDeltas.map((d) => (t += d));
  const from = (times.at(-1) ?? 0) - windowMs * 1000;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    if (times[i]! >= from) selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const groups: Record<string, number> = {};
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const name = label(node.callFrame);
    self.set(name, (self.get(name) ?? 0) + us);
    const g = groupOf(node.callFrame);
    groups[g] = (groups[g] ?? 0) + us;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)!.callFrame;
      if (!frame.url.includes("/controller/")) continue;
      const n = label(frame);
      if (seen.has(n)) continue;
      seen.add(n);
      inclusive.set(n, (inclusive.get(n) ?? 0) + us);
    }
  }
  const pct = (us: number) => Math.round((1000 * us) / total) / 10;
  const busy = total - (groups.idle ?? 0) || 1;
  const busyPct = (us: number) => Math.round((1000 * us) / busy) / 10;
  const lines = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    totalMs: Math.round(total / 1000),
    idlePct: pct(groups.idle ?? 0),
    // Percentages below are of busy (non-idle) time.
    self: lines(self)
      .filter(([n]) => n !== "(idle)")
      .slice(0, top)
      .map(([name, us]) => ({ name, selfPct: busyPct(us), totalPct: busyPct(inclusive.get(name) ?? us) })),
    project: lines(inclusive)
      .slice(0, top)
      .map(([name, us]) => ({ name, selfPct: busyPct(self.get(name) ?? 0), totalPct: busyPct(us) })),
    groups: Object.fromEntries(
      Object.entries(groups)
        .filter(([g]) => g !== "idle")
        .map(([g, us]) => [g, busyPct(us)])
        .sort((a, b) => (b[1] as number) - (a[1] as number)),
    ),
  };
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
}

/**
 * Markdown lines for a summary (self-time table, then the project's inclusive-time table). With
 * `cpuUsPerReq` (server CPU per request during the profiled load), shares become µs per request.
 */
export function renderProfile(title: string, s: ProfileSummary, rows = 12, cpuUsPerReq = NaN): string[] {
  const us = (pct: number) => (Number.isFinite(cpuUsPerReq) ? ` (${((pct / 100) * cpuUsPerReq).toFixed(1)} µs)` : "");
  const groups = Object.entries(s.groups)
    .map(([g, p]) => `${g} ${p}%${us(p)}`)
    .join(", ");
  const perReq = Number.isFinite(cpuUsPerReq) ? `, ${cpuUsPerReq.toFixed(1)} µs of server CPU per request while profiled` : "";
  return [
    `**${title}** — ${s.totalMs} ms of load sampled, idle ${s.idlePct}%${perReq}. Busy time by area: ${groups}.`,
    "",
    "| self % of busy (µs/req) | total % | function |",
    "|---:|---:|---|",
    ...s.self.slice(0, rows).map((l) => `| ${l.selfPct}${us(l.selfPct)} | ${l.totalPct} | \`${l.name}\` |`),
    "",
    ...(s.project.length === 0
      ? []
      : [
          "Portcullis functions by inclusive time:",
          "",
          "| total % of busy (µs/req) | self % | function |",
          "|---:|---:|---|",
          ...s.project.slice(0, rows).map((l) => `| ${l.totalPct}${us(l.totalPct)} | ${l.selfPct} | \`${l.name}\` |`),
          "",
        ]),
  ];
}

if (import.meta.main) {
  const [file, top = "20", windowMs] = process.argv.slice(2);
  if (file === undefined) throw new Error("usage: node bench/profile.ts FILE.cpuprofile [top] [last-ms]");
  const summary = summarize(readProfile(file), Number(top), windowMs === undefined ? Infinity : Number(windowMs));
  process.stdout.write(`${renderProfile(file, summary, Number(top)).join("\n")}\n`);
}
