/**
 * The same decision path of two or more source trees (commits), or of this tree on other Node
 * flags, side by side on the same day, core and client: each contender's `bin/portcullis serve`
 * over the same world (10 routes unless --tenants says otherwise), all pinned to the server core
 * and idle but the one under load, `wrk` on the other core. Rounds alternate the contenders' order
 * (forwards, then backwards), so each ratio compares runs seconds apart. Measured per contender and
 * scenario (API key, cached JWT, all-new ES256 tokens): server CPU per request, wrk's p99 latency
 * (ms), and from bench/heap-probe.ts (the same probe in every contender) scavenges and mark-compacts
 * per 1,000 requests and the GC pause per request in every round, V8 heap allocated per request in
 * the last round; for Portcullis, its RSS after every run (the highest per scenario, and over all).
 * The first contender is the reference. The bare node:http server (bench/bare-server.ts, on Node's
 * default flags, as it ships) takes its turn in every round too: as is for API keys and cached
 * tokens, verifying each new signature for all-new tokens (the ceiling of bench/serve-bench.ts);
 * each contender is also compared with it.
 *
 *   node bench/compare-trees.ts --tree before=/tmp/portcullis-05e4dfe --tree main=. [--rounds 8] [--duration 1]
 *                               [--scenarios api-key,jwt-cached,jwt-new] [--tenants 10]
 *   node bench/compare-trees.ts --flags shipped="--max-semi-space-size=32" --flags min16="--max-semi-space-size=32 --min-semi-space-size=16"
 *
 * A tree is a checkout with `node_modules` (a `git archive COMMIT | tar -x` plus a symlink to an
 * installed node_modules will do); a --flags contender runs this tree's sources on node with exactly
 * those flags (bin/portcullis' own are not added). Issue 14's check: routes without the new
 * features cost what they cost before them (BENCHMARKS.md, "Routes without the issue-14 features").
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { gcPerRequest, heapProbeEnv, measure, settleHeap } from "./counters.ts";
import { cryptoVerifyRate } from "./crypto-verify.ts";
import type { GcTally } from "./heap-probe.ts";
import { rootWithNodeFlags, startBare, startPortcullis, type ServerProcess } from "./servers.ts";
import { formatSpread, median, ratiosByRound, spreadOf } from "./spread.ts";
import { createIdp, mintTokens } from "./tokens.ts";
import { buildWorld, envoyCheckHeaders, writeWorld } from "./world.ts";
import { runWrk, tokenWalk, type WrkOptions, type WrkResult } from "./wrk.ts";

const SCENARIO_NAMES = { "api-key": "API key", "jwt-cached": "JWT, cached token", "jwt-new": "JWT, all-new tokens (ES256)" } as const;
type ScenarioKey = keyof typeof SCENARIO_NAMES;

const { values } = parseArgs({
  options: {
    tree: { type: "string", multiple: true, default: [] },
    flags: { type: "string", multiple: true, default: [] },
    tenants: { type: "string", default: "10" },
    rounds: { type: "string", default: "8" },
    duration: { type: "string", default: "1" },
    connections: { type: "string", default: "50" },
    scenarios: { type: "string", default: Object.keys(SCENARIO_NAMES).join(",") },
  },
});
/** NAME=VALUE of --tree and --flags. */
const named = (option: string, spec: string) => {
  const eq = spec.indexOf("=");
  if (eq <= 0) throw new Error(`--${option} takes NAME=VALUE, not ${JSON.stringify(spec)}`);
  return { name: spec.slice(0, eq), value: spec.slice(eq + 1) };
};
const work = mkdtempSync(join(tmpdir(), "portcullis-compare-"));
const trees = [
  ...values.tree.map((spec) => {
    const { name, value } = named("tree", spec);
    return { name, root: value };
  }),
  ...values.flags.map((spec) => {
    const { name, value } = named("flags", spec);
    return { name, root: rootWithNodeFlags(join(work, `flags-${name}`), value) };
  }),
];
if (trees.length < 2)
  throw new Error(
    "usage: node bench/compare-trees.ts (--tree NAME=DIR | --flags NAME=NODE_FLAGS) ×2 or more [--rounds N] [--duration S] [--scenarios api-key,jwt-cached,jwt-new] [--tenants N]",
  );
const chosen = values.scenarios.split(",").filter((s) => s !== "");
for (const s of chosen) {
  if (!Object.hasOwn(SCENARIO_NAMES, s))
    throw new Error(`--scenarios: ${JSON.stringify(s)} is not one of ${Object.keys(SCENARIO_NAMES).join(", ")}`);
}
const scenarioKeys = chosen as ScenarioKey[];
const rounds = Number(values.rounds);
const durationS = Number(values.duration);
const connections = Number(values.connections);
const nproc = cpus().length;
const cpu = { server: String(nproc - 1), load: "0" };
const log = (line: string) => process.stderr.write(`${line}\n`);

const idp = createIdp();
const world = buildWorld({ tenants: Number(values.tenants), keysPerSecret: 20, jwk: idp.jwk });
writeWorld(world, join(work, "world"));
const jwkFile = join(work, "idp.jwk.json");
writeFileSync(jwkFile, JSON.stringify(idp.jwk));
const tokensFile = join(work, "tokens.txt");
const newTokens = scenarioKeys.includes("jwt-new");
// Every server walks the token list on its own: enough distinct tokens that none of them wraps
// round, for a server as fast as the raw crypto.verify loop (measured first, on the server core).
writeFileSync(tokensFile, `${(await mintTokens(idp, 1000)).join("\n")}\n`);
const tokenCount = newTokens
  ? Math.ceil((await cryptoVerifyRate(tokensFile, jwkFile, cpu.server, 1000)).verifiesPerCpuSecond * durationS * (1 + 2 * rounds)) +
    (1 + 2 * rounds) * connections
  : 0;
const tokens = await mintTokens(idp, tokenCount + 1);
const cachedToken = tokens.pop()!;
writeFileSync(tokensFile, `${tokens.join("\n")}\n`);
if (newTokens) log(`compare: minted ${tokenCount} distinct tokens`);

/** A server taking turns on the server core, with how it is loaded in each scenario it takes part in. */
interface Contender {
  readonly name: string;
  readonly server: ServerProcess;
  readonly probe: string;
  /** Loads it for `durationS` in `scenario`; each contender walks the new tokens on its own. */
  readonly load: (scenario: ScenarioKey, durationS: number) => Promise<WrkResult>;
  readonly scenarios: readonly ScenarioKey[];
}

interface Run {
  readonly requests: number;
  readonly cpuUsPerReq: number;
  /** Counted in the last round only (bench/heap-probe.ts). */
  readonly allocBytesPerReq?: number;
  readonly gc?: GcTally;
  readonly rps: number;
  readonly p99Ms: number;
  /** Portcullis' RSS as the run ends, MiB (not measured for the bare servers). */
  readonly rssMiB?: number;
}

function loader(url: string): Contender["load"] {
  const walk = tokenWalk(tokensFile);
  return (scenario, seconds) => {
    const base: Omit<WrkOptions, "url" | "headers" | "tokens"> = { cpu: cpu.load, connections, durationS: seconds };
    switch (scenario) {
      case "api-key":
        return runWrk({ ...base, url: `${url}${world.apiKeyTarget.path}`, headers: envoyCheckHeaders(world.apiKeyTarget) });
      case "jwt-cached":
        return runWrk({
          ...base,
          url: `${url}${world.jwtTarget.path}`,
          headers: envoyCheckHeaders(world.jwtTarget, { authorization: `Bearer ${cachedToken}` }),
        });
      case "jwt-new":
        return walk({ ...base, url: `${url}${world.jwtTarget.path}`, headers: envoyCheckHeaders(world.jwtTarget) });
    }
  };
}

const BARE = "bare";
const CEILING = "ceiling";
const contenders: Contender[] = [];
try {
  for (const tree of trees) {
    const probe = join(work, `heap-${tree.name}.json`);
    const server = await startPortcullis({
      cpu: cpu.server,
      manifests: join(work, "world"),
      logFile: join(work, `portcullis-${tree.name}.log`),
      env: heapProbeEnv(probe),
      root: tree.root,
    });
    contenders.push({ name: tree.name, server, probe, load: loader(server.url), scenarios: scenarioKeys });
    log(`compare: ${tree.name} (${tree.root}) ready, pid ${server.pid}`);
  }
  const answering = scenarioKeys.filter((s) => s !== "jwt-new");
  if (answering.length > 0) {
    const probe = join(work, "heap-bare.json");
    const server = await startBare(cpu.server, heapProbeEnv(probe));
    contenders.push({ name: BARE, server, probe, load: loader(server.url), scenarios: answering });
  }
  if (newTokens) {
    const probe = join(work, "heap-ceiling.json");
    const server = await startBare(cpu.server, heapProbeEnv(probe), jwkFile);
    contenders.push({ name: CEILING, server, probe, load: loader(server.url), scenarios: ["jwt-new"] });
  }
  // What start-up left in each old generation is collected now, not in the middle of a round (bench/counters.ts).
  for (const c of contenders) await settleHeap(c.server.pid, c.probe);
  const runs = new Map<string, Run[]>();
  const isBare = (c: Contender) => c.name === BARE || c.name === CEILING;
  // Allocation in the last round only: each reading of it grows the process's memory (bench/heap-probe.ts).
  const measured = async (c: Contender, scenario: ScenarioKey, allocations: boolean): Promise<Run> => {
    const pid = c.server.pid;
    const r = await measure(
      { pids: [pid], probe: { pid, file: c.probe, allocations } },
      async (): Promise<WrkResult & { rssMiB?: number }> => {
        const result = await c.load(scenario, durationS);
        return isBare(c) ? result : { ...result, rssMiB: c.server.memory().rssMiB };
      },
    );
    if (r.errors > 0 || r.requests === 0 || r.wraps > 0)
      throw new Error(`${c.name}, ${scenario}: ${r.errors} errors and ${r.wraps} token wraps in ${r.requests} requests`);
    const { requests, cpuUsPerReq, allocBytesPerReq, gc, rps, p99Ms, rssMiB } = r;
    return { requests, cpuUsPerReq, allocBytesPerReq, gc, rps, p99Ms, rssMiB };
  };
  // Warm-up: every contender and scenario once, unmeasured.
  for (const c of contenders) for (const scenario of c.scenarios) await c.load(scenario, durationS);
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? contenders : [...contenders].reverse();
    for (const scenario of scenarioKeys) {
      for (const c of order) {
        if (!c.scenarios.includes(scenario)) continue;
        // A second of load first: the contender whose turn starts finds its caches filled by the others.
        await c.load(scenario, durationS);
        const key = `${scenario}\0${c.name}`;
        runs.set(key, [...(runs.get(key) ?? []), await measured(c, scenario, round === rounds)]);
      }
    }
    log(`compare: round ${round} of ${rounds} done`);
  }
  const reference = trees[0]!.name;
  const ratio = (own: readonly Run[], base: readonly Run[] | undefined) =>
    base === undefined || own === base
      ? ""
      : formatSpread(
          spreadOf(
            ratiosByRound(own, base, (a, b) => b.cpuUsPerReq / a.cpuUsPerReq),
            true,
          ),
        );
  const lines = [
    `| scenario | server | CPU µs/req, median (worst–best) | ${reference}'s CPU ÷ this, by round: median (worst–best) | bare's (ceiling's) CPU ÷ this, by round | p99 ms, median (worst–best) | scavenges/1k req | mark-compacts/1k req | GC pause µs/req, median (worst–best) | KiB allocated/req | RSS after the runs, highest MiB | req/s |`,
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  const spread = (own: readonly Run[], f: (r: Run) => number, digits: number) => formatSpread(spreadOf(own.map(f), false), digits);
  for (const scenario of scenarioKeys) {
    const base = runs.get(`${scenario}\0${reference}`)!;
    const bare = runs.get(`${scenario}\0${scenario === "jwt-new" ? CEILING : BARE}`);
    for (const c of contenders) {
      const own = runs.get(`${scenario}\0${c.name}`);
      if (own === undefined) continue;
      const alloc = own.flatMap((r) => (r.allocBytesPerReq === undefined ? [] : [r.allocBytesPerReq]));
      const gc = gcPerRequest(own);
      const rss = own.flatMap((r) => (r.rssMiB === undefined ? [] : [r.rssMiB]));
      const cells = [
        SCENARIO_NAMES[scenario],
        c.name,
        spread(own, (r) => r.cpuUsPerReq, 1),
        isBare(c) ? "" : ratio(own, base),
        ratio(own, bare),
        spread(own, (r) => r.p99Ms, 2),
        gc === undefined ? "" : gc.scavengesPer1k.toFixed(2),
        gc === undefined ? "" : gc.markCompactsPer1k.toFixed(3),
        gc === undefined ? "" : formatSpread(gc.pauseUsPerReq),
        alloc.length === 0 ? "" : (median(alloc) / 1024).toFixed(1),
        rss.length === 0 ? "" : Math.max(...rss).toFixed(0),
        String(Math.round(median(own.map((r) => r.rps)))),
      ];
      lines.push(`| ${cells.join(" | ")} |`);
    }
  }
  const highestRss = (c: Contender) =>
    Math.max(...scenarioKeys.flatMap((scenario) => (runs.get(`${scenario}\0${c.name}`) ?? []).map((r) => r.rssMiB ?? 0)));
  lines.push(
    "",
    `RSS after every run, highest over all scenarios (${world.counts.routes} routes): ${contenders
      .filter((c) => !isBare(c))
      .map((c) => `${c.name} ${highestRss(c).toFixed(0)} MiB`)
      .join(", ")}.`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
  writeFileSync(join(work, "runs.json"), JSON.stringify(Object.fromEntries(runs), null, 2));
} finally {
  for (const c of contenders) await c.server.stop(5000);
  rmSync(join(work, "world"), { recursive: true, force: true });
  rmSync(tokensFile, { force: true });
  log(`compare: logs and runs.json in ${work}`);
}
