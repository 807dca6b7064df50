/**
 * Where Portcullis' memory goes at scale, round by round (issue 17's RSS target): the 10k world
 * served by Portcullis pinned to one CPU, optionally beside a CPU hog pinned to the same CPU (a busy
 * host, or a pod with a CPU limit of 1), loaded by wrk on the other CPU with all-new tokens, a
 * cached token and an API key in turn. After each run it prints the RSS, the V8 heap committed and
 * used, memory outside the heap, and the server's CPU per request; at the end the heap after a full
 * collection (the live data), by space (bench/memory-probe.ts).
 *
 *   node bench/rss-rounds.ts [--tenants 10000] [--rounds 8] [--duration 2] [--hog] [--json FILE]
 *                            [--node-flags="--max-semi-space-size=32 --heap-growing-percent=70"]
 * Without --node-flags the server runs through bin/portcullis with its own flags; with them, on
 * node with exactly those flags (to compare candidates).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpuSeconds } from "./counters.ts";
import { NODE, portsIn, rootWithNodeFlags, startPortcullis } from "./servers.ts";
import { createIdp, mintTokens } from "./tokens.ts";
import { buildWorld, envoyCheckHeaders, writeWorld } from "./world.ts";
import { runWrk, tokenWalk, type WrkResult } from "./wrk.ts";

const { values: flags } = parseArgs({
  options: {
    tenants: { type: "string", default: "10000" },
    rounds: { type: "string", default: "8" },
    duration: { type: "string", default: "2" },
    connections: { type: "string", default: "50" },
    hog: { type: "boolean", default: false },
    "node-flags": { type: "string" },
    json: { type: "string" },
  },
});
const rounds = Number(flags.rounds);
const durationS = Number(flags.duration);
const connections = Number(flags.connections);
const log = (line: string) => process.stderr.write(`${line}\n`);

const nproc = cpus().length;
const cpu = { server: String(nproc - 1), load: "0" };
const work = mkdtempSync(join(tmpdir(), "portcullis-rss-"));
const idp = createIdp();
const world = buildWorld({ tenants: Number(flags.tenants), keysPerSecret: 20, jwk: idp.jwk });
writeWorld(world, join(work, "world"));
// Enough new tokens for every all-new run at 10k/s; a walk that wraps would hit the cache.
const tokens = await mintTokens(idp, rounds * durationS * 10_000 + 20_000);
const cachedToken = tokens.pop()!;
writeFileSync(join(work, "tokens.txt"), `${tokens.join("\n")}\n`);

// The neighbour: a busy loop on the server's CPU at the same priority, from before Portcullis starts.
const hog = flags.hog ? spawn("taskset", ["-c", cpu.server, NODE, "-e", "for(;;){}"], { stdio: "ignore" }) : undefined;
// Also when Portcullis does not start (the rejection ends this process).
process.once("exit", () => hog?.kill());
const probeFile = join(work, "memory.json");
const logFile = join(work, "portcullis.log");
const portcullis = await startPortcullis({
  cpu: cpu.server,
  manifests: join(work, "world"),
  logFile,
  env: { NODE_OPTIONS: `--import ${join(import.meta.dirname, "memory-probe.ts")}`, BENCH_MEMORY_PROBE_FILE: probeFile },
  readyTimeoutMs: 240_000,
  ...(flags["node-flags"] === undefined ? {} : { root: rootWithNodeFlags(join(work, "root"), flags["node-flags"]) }),
});
const adminPort = portsIn(readFileSync(logFile, "utf8"))!.admin;

/** The process's V8 heap and memory outside it, MiB, from its /metrics (prom-client's default metrics). */
async function heapMiB(): Promise<{ heapTotal: number; heapUsed: number; external: number }> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^portcullis_${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN) / 2 ** 20;
  return {
    heapTotal: value("nodejs_heap_size_total_bytes"),
    heapUsed: value("nodejs_heap_size_used_bytes"),
    external: value("nodejs_external_memory_bytes"),
  };
}

/** Asks bench/memory-probe.ts for its sample before and after a full collection. */
async function probeAfterGc(): Promise<unknown> {
  const seq = (JSON.parse(readFileSync(probeFile, "utf8")) as { seq: number }).seq;
  process.kill(portcullis.pid, "SIGUSR2");
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const report = JSON.parse(readFileSync(probeFile, "utf8")) as { seq: number };
    if (report.seq > seq) return report;
  }
  throw new Error("the memory probe did not answer in 30 s");
}

type Scenario = "jwtNew" | "jwtCached" | "apiKey";
const newTokens = tokenWalk(join(work, "tokens.txt"));
const load = (scenario: Scenario, seconds: number): Promise<WrkResult> => {
  const base = { cpu: cpu.load, connections, durationS: seconds };
  const { apiKeyTarget: a, jwtTarget: j } = world;
  const url = (t: typeof a) => `${portcullis.url}${t.path}`;
  if (scenario === "apiKey") return runWrk({ ...base, url: url(a), headers: envoyCheckHeaders(a) });
  if (scenario === "jwtCached")
    return runWrk({ ...base, url: url(j), headers: envoyCheckHeaders(j, { authorization: `Bearer ${cachedToken}` }) });
  return newTokens({ ...base, url: url(j), headers: envoyCheckHeaders(j) });
};

const rows: Record<string, unknown>[] = [];
try {
  log(
    `rss-rounds: ${world.counts.routes} routes, ready in ${(portcullis.startupMs / 1000).toFixed(1)} s, RSS ${portcullis.memory().rssMiB.toFixed(0)} MiB; hog ${hog !== undefined}; flags ${flags["node-flags"] ?? "bin/portcullis"}`,
  );
  for (let round = 1; round <= rounds; round++) {
    for (const scenario of ["jwtNew", "jwtCached", "apiKey"] as const) {
      const cpuBefore = cpuSeconds(portcullis.pid);
      const run = await load(scenario, durationS);
      const cpuUs = ((cpuSeconds(portcullis.pid) - cpuBefore) * 1e6) / run.requests;
      const heap = await heapMiB();
      const row = {
        round,
        scenario,
        rps: Math.round(run.rps),
        cpuUsPerReq: cpuUs,
        errors: run.errors,
        rssMiB: portcullis.memory().rssMiB,
        ...heap,
      };
      rows.push(row);
      log(
        `round ${round} ${scenario.padEnd(9)} ${String(row.rps).padStart(6)} req/s ${cpuUs.toFixed(1).padStart(5)} µs/req  RSS ${row.rssMiB.toFixed(0)}  heap ${heap.heapUsed.toFixed(0)}/${heap.heapTotal.toFixed(0)}  external ${heap.external.toFixed(0)} MiB${run.errors > 0 ? `  ${run.errors} errors` : ""}`,
      );
    }
  }
  const gc = await probeAfterGc();
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const { before, after } = gc as {
    before: Record<string, number>;
    after: Record<string, number> & { spaces: Record<string, { committed: number; used: number }> };
  };
  log(
    `before a full GC: RSS ${mib(before.rss!)}, heap ${mib(before.heapUsed!)}/${mib(before.heapTotal!)}, external ${mib(before.external!)}, arrayBuffers ${mib(before.arrayBuffers!)} MiB`,
  );
  log(
    `after it:         RSS ${mib(after.rss!)}, heap ${mib(after.heapUsed!)}/${mib(after.heapTotal!)}, external ${mib(after.external!)}, arrayBuffers ${mib(after.arrayBuffers!)} MiB`,
  );
  log(
    `  spaces (used/committed MiB): ${Object.entries(after.spaces)
      .map(([n, s]) => `${n} ${mib(s.used)}/${mib(s.committed)}`)
      .join(", ")}`,
  );
  if (flags.json !== undefined)
    writeFileSync(
      flags.json,
      JSON.stringify({ flags: flags["node-flags"] ?? "bin", hog: hog !== undefined, startupMs: portcullis.startupMs, rows, gc }, null, 1),
    );
} finally {
  await portcullis.stop();
  hog?.kill();
  if (existsSync(work)) rmSync(work, { recursive: true, force: true });
}
