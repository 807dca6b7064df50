/**
 * Instructions per check, counted by valgrind's callgrind: the figure that does not depend on the
 * day (the virtual CPU here exposes no hardware counter, so `perf stat` counts nothing, and CPU time
 * moves with the neighbours by ±10–30%). The in-process scenarios of bench/in-process.ts (the real
 * ports' handlers, Node's own IncomingMessage and ServerResponse, the 10-route world), each request
 * from its header lines to the answer handed to the socket, on the main thread only: V8's compiler and
 * collector threads are not counted, and neither are scavenges (CHILD_FLAGS). Counting is on only
 * inside V8's JSON.parse reviver walk (`JsonParseInternalizer::Internalize(`, exactly: callgrind's
 * --toggle-collect flips on every function it matches, and the walk's own InternalizeJsonProperty,
 * nested in it, would switch counting off again), whose reviver serves a batch of requests synchronously: start-up, warm-up and the event loop between batches (where the
 * responses' nextTick callbacks run, alike for every scenario) are not counted. Compare two trees by
 * running it in each; a run takes minutes (valgrind runs node about 50 times slower). Two runs of
 * one tree (2026-12-02, a process per scenario, load 4–5) differed by 0.1–0.2% in each scenario's
 * count and by 110 instructions (0.8%) in the API key's count over its baseline; on a busier host
 * the compiler threads may still be behind when counting starts (BENCHMARKS.md, "Instructions per
 * check, by function"), and the count of each function (--keep) is the steadier comparison.
 *
 *   node bench/instructions.ts [--requests 5000] [--scenarios "bare node:http,API key"] [--keep DIR]
 *
 * Prints, per scenario: instructions per request, and over its baseline (in-process.ts' pairs). Each
 * scenario runs in a valgrind process of its own, all at once. With --keep DIR, callgrind's dumps
 * (DIR/<n>/out.<pid>.1 for the nth scenario listed, from 0) are kept for `callgrind_annotate`, and
 * node runs with --perf-basic-prof: V8 then writes where it put each compiled function in
 * /tmp/perf-<pid>.map (copied beside the dumps), by which the dumps' JIT code, which callgrind knows
 * only by address, is named (withJitNames).
 */
import { spawn } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { DiscardingSocket, inProcessScenarios, measureInProcess, serveOne, type InProcessScenario } from "./in-process.ts";

/** The function inside which callgrind counts (V8's JSON.parse with a reviver). */
const COUNTED = "*JsonParseInternalizer::Internalize(*";
/** Requests served per counted batch, between two turns of the event loop. */
const BATCH = 500;

/**
 * The child's V8 flags: serve's young generation (bin/portcullis), emptied before every batch
 * (--expose-gc): a batch of 500 requests (about 2 MB) never fills it, so no scavenge, which fell in
 * one process's window and not another's, is counted; what a check allocates is
 * bench/in-process.ts' figure (V8 heap per request).
 */
const CHILD_FLAGS = ["--max-semi-space-size=32", "--min-semi-space-size=32", "--expose-gc"];

/**
 * After the warm-up, pauses of the main thread, each followed by a few batches: callgrind runs one
 * thread at a time, and V8's compiler threads finish their jobs while the main thread sleeps (the
 * optimised code had not always replaced the baseline code when counting began: the count moved
 * by up to ±5,000 instructions a request between two processes of one tree).
 */
const SETTLE_PAUSES = 5;
const SETTLE_PAUSE_MS = 300;

/** A scavenge (the child runs with --expose-gc). */
function collectYoung(): void {
  (globalThis as unknown as { gc: (options: { type: "minor"; execution: "sync" }) => void }).gc({ type: "minor", execution: "sync" });
}

const DEFAULT_SCENARIOS = ["bare node:http", "API key", "bare node:http, the cached JWT's lines", "JWT, cached token"];

/** Scenario names, split at the commas that begin a new name (a name such as "JWT, cached token" holds ", "). */
export function splitScenarios(list: string): string[] {
  return list.split(/,(?! )/).filter((n) => n !== "");
}

/** Runs `callgrind_control args` on this process, the event loop turning meanwhile (nothing is counted outside COUNTED). */
async function control(...args: string[]): Promise<void> {
  const child = spawn("callgrind_control", [...args, String(process.pid)], { stdio: "ignore" });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const cell = new Int32Array(new SharedArrayBuffer(4));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!done) {
    Atomics.wait(cell, 0, 0, 2);
    await new Promise(setImmediate);
  }
}

/**
 * In valgrind: warms each scenario up, serves `requests` in counted batches, and has callgrind write them out (one dump per scenario).
 * With `keep`, also how long V8's perf map was at each dump (perfMapLengths): code written later may reuse an address.
 */
async function countEach(scenarios: readonly InProcessScenario[], requests: number, keep: string | undefined): Promise<void> {
  const socket = new DiscardingSocket() as unknown as Socket;
  for (let n = 0; n < scenarios.length; n++) {
    const s = scenarios[n]!;
    await measureInProcess(s, requests, 2);
    for (let p = 0; p < SETTLE_PAUSES; p++) {
      await sleep(SETTLE_PAUSE_MS);
      for (let i = 0; i < 2 * BATCH; i++) serveOne(s, socket);
    }
    for (let served = 0; served < requests; served += BATCH) {
      // Outside the count: the batch then allocates in an empty young generation, and no collection falls in it.
      collectYoung();
      JSON.parse("0", () => {
        for (let i = 0; i < BATCH; i++) if (serveOne(s, socket) !== 200) throw new Error(`${s.name}: not answered 200`);
        return 0;
      });
      await new Promise(setImmediate);
    }
    // Named by its place: callgrind_control passes a description with an apostrophe or a comma on otherwise.
    await control(`--dump=${dumpName(n)}`);
    if (keep !== undefined) appendFileSync(join(keep, PERF_MAP_LENGTHS), `${dumpName(n)} ${statSync(perfMapOf(process.pid)).size}\n`);
  }
}

/** Where V8's --perf-basic-prof writes the code of process `pid`. */
const perfMapOf = (pid: number | undefined): string => `/tmp/perf-${pid}.map`;
/** The file of a kept run's perf map lengths: "<dump name> <bytes>" per line. */
const PERF_MAP_LENGTHS = "perf-map-lengths";

/** What the dump of the `n`th scenario is called. */
export const dumpName = (n: number): string => `scenario-${n}`;

/** The counted instructions of each dump in `dir`, by dump name (dumpName), in the order written. */
export function readDumps(dir: string): Map<string, number> {
  const counts = new Map<string, number>();
  const dumps = readdirSync(dir)
    .filter((f) => /^out\.\d+\.\d+$/.test(f))
    .sort((a, b) => Number(a.split(".")[2]) - Number(b.split(".")[2]));
  for (const f of dumps) {
    const text = readFileSync(join(dir, f), "utf8");
    const name = /^desc: Trigger: dump (.*)$/m.exec(text);
    const totals = /^totals: (\d+)/m.exec(text);
    if (name === null || totals === null) throw new Error(`${f}: not a callgrind dump`);
    counts.set(name[1]!.trim(), Number(totals[1]));
  }
  return counts;
}

/**
 * `dump` (a callgrind dump) with V8's names for the functions callgrind knows only by address (JIT
 * code: `fn=(id) 0x…`): the name of the `perfMap` entry (V8's --perf-basic-prof lines "start size
 * name", hexadecimal) whose code holds the address, the latest entry where code was written over
 * freed code. callgrind_annotate then adds up the code objects of one function (each tier's name is
 * V8's own: `JS:*f` optimised by TurboFan, `JS:+f` by Maglev, `JS:^f` Sparkplug, `JS:~f` interpreted).
 */
export function withJitNames(dump: string, perfMap: string): string {
  const starts: number[] = [];
  const ends: number[] = [];
  const names: string[] = [];
  for (const line of perfMap.split("\n")) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (m === null) continue;
    const start = Number.parseInt(m[1]!, 16);
    starts.push(start);
    ends.push(start + Number.parseInt(m[2]!, 16));
    names.push(m[3]!);
  }
  const nameAt = (address: number): string | undefined => {
    for (let i = starts.length - 1; i >= 0; i--) if (starts[i]! <= address && address < ends[i]!) return names[i];
    return undefined;
  };
  return dump.replace(/^(c?fn=\(\d+\)) 0x([0-9a-f]+)$/gm, (line, defined: string, address: string) => {
    const name = nameAt(Number.parseInt(address, 16));
    return name === undefined ? line : `${defined} ${name}`;
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      requests: { type: "string", default: "5000" },
      scenarios: { type: "string", default: DEFAULT_SCENARIOS.join(",") },
      keep: { type: "string" },
      child: { type: "boolean", default: false },
    },
  });
  const requests = Math.ceil(Number(values.requests) / BATCH) * BATCH;
  const names = splitScenarios(values.scenarios);
  if (values.child) {
    const all = await inProcessScenarios(0);
    await countEach(
      names.map((n) => all.find((s) => s.name === n) ?? fail(`no scenario ${JSON.stringify(n)}`)),
      requests,
      values.keep,
    );
  } else await countUnderValgrind(names, requests, values.keep);
}

/**
 * Runs this file's child under callgrind, one process per scenario (all at once), and prints the
 * table; each scenario's dumps are kept in `keep`/<its place> when given. A process of its own: in
 * one process the harness (serveOne, the header lines' Buffer round trip) and Node's own code were
 * compiled for the scenario before and then again, differently from process to process.
 */
async function countUnderValgrind(names: readonly string[], requests: number, keep: string | undefined): Promise<void> {
  // Kept when something fails, for a look at the dumps.
  const dir = keep ?? mkdtempSync(join(tmpdir(), "portcullis-instructions-"));
  const counts = await Promise.all(names.map((name, i) => countOne(name, requests, join(dir, String(i)), keep !== undefined)));
  const all = await inProcessScenarios(0);
  const lines = ["| scenario | instructions/request | over its baseline | baseline ÷ this |", "|---|---|---|---|"];
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    const count = counts[i]!;
    const perRequest = count / requests;
    const baseline = all.find((s) => s.name === n)?.baseline;
    const base = baseline === undefined || !names.includes(baseline) ? undefined : counts[names.indexOf(baseline)];
    const over = base === undefined ? "" : `+${Math.round(perRequest - base / requests)}`;
    const ratio = base === undefined ? "" : `${(base / count).toFixed(3)}×`;
    lines.push(`| ${n} | ${Math.round(perRequest)} | ${over} | ${ratio} |`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  if (keep === undefined) rmSync(dir, { recursive: true, force: true });
}

/** The instructions callgrind counted over `requests` requests of scenario `name`, in a process of its own writing its dumps to `dir`. */
async function countOne(name: string, requests: number, dir: string, keep: boolean): Promise<number> {
  mkdirSync(dir, { recursive: true });
  const child = spawn(
    "valgrind",
    [
      "--tool=callgrind",
      "--collect-atstart=no",
      `--toggle-collect=${COUNTED}`,
      `--callgrind-out-file=${join(dir, "out.%p")}`,
      process.execPath,
      ...CHILD_FLAGS,
      ...(keep ? ["--perf-basic-prof"] : []),
      import.meta.filename,
      "--child",
      ...(keep ? ["--keep", dir] : []),
      "--requests",
      String(requests),
      "--scenarios",
      name,
    ],
    { stdio: ["ignore", "inherit", "pipe"] },
  );
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    stderr = (stderr + text).slice(-2000);
  });
  const status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  if (status !== 0) throw new Error(`valgrind failed for ${name} (${status}; its dumps in ${dir}): ${stderr}`);
  const count = readDumps(dir).get(dumpName(0)) ?? fail(`no dump for ${name} in ${dir}`);
  if (keep) {
    const perfMap = readFileSync(perfMapOf(child.pid));
    writeFileSync(join(dir, `perf-${child.pid}.map`), perfMap);
    nameJitCode(dir, perfMap);
  }
  return count;
}

/** Names the JIT's code in the dumps of `dir` (withJitNames), each by `perfMap` as it stood when the dump was written. */
export function nameJitCode(dir: string, perfMap: Buffer): void {
  const lengths = new Map<string, number>();
  for (const line of readFileSync(join(dir, PERF_MAP_LENGTHS), "utf8").split("\n")) {
    const [name, bytes] = line.split(" ");
    if (name !== undefined && bytes !== undefined) lengths.set(name, Number(bytes));
  }
  for (const f of readdirSync(dir).filter((f) => /^out\.\d+\.\d+$/.test(f))) {
    const dump = readFileSync(join(dir, f), "utf8");
    const length = lengths.get(/^desc: Trigger: dump (.*)$/m.exec(dump)?.[1]?.trim() ?? "") ?? fail(`${f}: no perf map length`);
    writeFileSync(join(dir, f), withJitNames(dump, perfMap.subarray(0, length).toString("utf8")));
  }
}

function fail(message: string): never {
  throw new Error(message);
}
