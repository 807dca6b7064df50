/**
 * Instructions per check, counted by valgrind's callgrind: the figure that does not depend on the
 * day (the virtual CPU here exposes no hardware counter, so `perf stat` counts nothing, and CPU time
 * moves with the neighbours by ±10–30%). The in-process scenarios of bench/in-process.ts (the real
 * ports' handlers, Node's own IncomingMessage and ServerResponse, the 10-route world), each request
 * from its header lines to the answer handed to the socket, on the main thread only: V8's compiler and
 * collector threads are not counted, the scavenges the main thread runs are. Counting is on only
 * inside V8's JSON.parse reviver walk (`JsonParseInternalizer::Internalize(`, exactly: callgrind's
 * --toggle-collect flips on every function it matches, and the walk's own InternalizeJsonProperty,
 * nested in it, would switch counting off again), whose reviver serves a batch of requests synchronously: start-up, warm-up and the event loop between batches (where the
 * responses' nextTick callbacks run, alike for every scenario) are not counted. Compare two trees by
 * running it in each; a run takes minutes (valgrind runs node about 50 times slower).
 *
 *   node bench/instructions.ts [--requests 5000] [--scenarios "bare node:http,API key"]
 *
 * Prints, per scenario: instructions per request, and over its baseline (in-process.ts' pairs).
 */
import { spawnSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DiscardingSocket, inProcessScenarios, measureInProcess, serveOne, type InProcessScenario } from "./in-process.ts";

/** The function inside which callgrind counts (V8's JSON.parse with a reviver). */
const COUNTED = "*JsonParseInternalizer::Internalize(*";
/** Requests served per counted batch, between two turns of the event loop. */
const BATCH = 500;

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

/** In valgrind: warms each scenario up, serves `requests` in counted batches, and has callgrind write them out (one dump per scenario). */
async function countEach(scenarios: readonly InProcessScenario[], requests: number): Promise<void> {
  const socket = new DiscardingSocket() as unknown as Socket;
  for (let n = 0; n < scenarios.length; n++) {
    const s = scenarios[n]!;
    await measureInProcess(s, requests, 2);
    for (let served = 0; served < requests; served += BATCH) {
      JSON.parse("0", () => {
        for (let i = 0; i < BATCH; i++) if (serveOne(s, socket) !== 200) throw new Error(`${s.name}: not answered 200`);
        return 0;
      });
      await new Promise(setImmediate);
    }
    // Named by its place: callgrind_control passes a description with an apostrophe or a comma on otherwise.
    await control(`--dump=${dumpName(n)}`);
  }
}

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

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      requests: { type: "string", default: "5000" },
      scenarios: { type: "string", default: DEFAULT_SCENARIOS.join(",") },
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
    );
  } else await countUnderValgrind(names, requests);
}

/** Runs this file's child under callgrind and prints the table. */
async function countUnderValgrind(names: readonly string[], requests: number): Promise<void> {
  // Kept when something fails, for a look at the dumps.
  const dir = mkdtempSync(join(tmpdir(), "portcullis-instructions-"));
  const run = spawnSync(
    "valgrind",
    [
      "--tool=callgrind",
      "--collect-atstart=no",
      `--toggle-collect=${COUNTED}`,
      `--callgrind-out-file=${join(dir, "out.%p")}`,
      process.execPath,
      import.meta.filename,
      "--child",
      "--requests",
      String(requests),
      "--scenarios",
      names.join(","),
    ],
    { stdio: ["ignore", "inherit", "pipe"], encoding: "utf8" },
  );
  if (run.status !== 0) throw new Error(`valgrind failed (${run.status}; its dumps in ${dir}): ${run.stderr.slice(-2000)}`);
  const counts = readDumps(dir);
  const all = await inProcessScenarios(0);
  const lines = ["| scenario | instructions/request | over its baseline | baseline ÷ this |", "|---|---|---|---|"];
  for (const n of names) {
    const count = counts.get(dumpName(names.indexOf(n)));
    if (count === undefined) throw new Error(`no dump for ${n} in ${dir}`);
    const perRequest = count / requests;
    const baseline = all.find((s) => s.name === n)?.baseline;
    const base = baseline === undefined || !names.includes(baseline) ? undefined : counts.get(dumpName(names.indexOf(baseline)));
    const over = base === undefined ? "" : `+${Math.round(perRequest - base / requests)}`;
    const ratio = base === undefined ? "" : `${(base / count).toFixed(3)}×`;
    lines.push(`| ${n} | ${Math.round(perRequest)} | ${over} | ${ratio} |`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  rmSync(dir, { recursive: true, force: true });
}

function fail(message: string): never {
  throw new Error(message);
}
