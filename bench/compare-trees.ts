/**
 * The same decision path of two or more source trees (commits) side by side, on the same day, core
 * and client: each tree's `bin/portcullis serve` over the same 10-route world, all pinned to the
 * server core and idle but the one under load, `wrk` on the other core. Rounds alternate the
 * trees' order (forwards, then backwards), so each ratio compares runs seconds apart. Measured per
 * tree and scenario (API key, cached JWT, all-new ES256 tokens): server CPU per request, wrk's p99
 * latency (ms) and V8 heap allocated per request (bench/heap-probe.ts, the same probe in every
 * tree). The first tree is the reference. The bare node:http server (bench/bare-server.ts, on
 * Node's default flags, as it ships) takes its turn in every round too: as is for API keys and
 * cached tokens, verifying each new signature for all-new tokens (the ceiling of
 * bench/serve-bench.ts); each tree is also compared with it. Comparing Node flags: trees that
 * differ only in bin/portcullis.
 *
 *   node bench/compare-trees.ts --tree before=/tmp/portcullis-05e4dfe --tree main=. [--rounds 8] [--duration 1]
 *                               [--scenarios api-key,jwt-cached,jwt-new]
 *
 * A tree is a checkout with `node_modules` (a `git archive COMMIT | tar -x` plus a symlink to an
 * installed node_modules will do). Issue 14's check: routes without the new features cost what
 * they cost before them (BENCHMARKS.md, "Routes without the issue-14 features").
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { heapProbeEnv, measure } from "./counters.ts";
import { cryptoVerifyRate } from "./crypto-verify.ts";
import { startBare, startPortcullis, type ServerProcess } from "./servers.ts";
import { formatSpread, median, ratiosByRound, spreadOf } from "./spread.ts";
import { createIdp, mintTokens } from "./tokens.ts";
import { buildWorld, writeWorld, type Target } from "./world.ts";
import { runWrk, tokenWalk, type WrkOptions, type WrkResult } from "./wrk.ts";

const SCENARIO_NAMES = { "api-key": "API key", "jwt-cached": "JWT, cached token", "jwt-new": "JWT, all-new tokens (ES256)" } as const;
type ScenarioKey = keyof typeof SCENARIO_NAMES;

const { values } = parseArgs({
  options: {
    tree: { type: "string", multiple: true, default: [] },
    rounds: { type: "string", default: "8" },
    duration: { type: "string", default: "1" },
    connections: { type: "string", default: "50" },
    scenarios: { type: "string", default: Object.keys(SCENARIO_NAMES).join(",") },
  },
});
const trees = values.tree.map((spec) => {
  const eq = spec.indexOf("=");
  if (eq <= 0) throw new Error(`--tree takes NAME=DIR, not ${JSON.stringify(spec)}`);
  return { name: spec.slice(0, eq), root: spec.slice(eq + 1) };
});
if (trees.length < 2)
  throw new Error(
    "usage: node bench/compare-trees.ts --tree NAME=DIR --tree NAME=DIR [...] [--rounds N] [--duration S] [--scenarios api-key,jwt-cached,jwt-new]",
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

const work = mkdtempSync(join(tmpdir(), "portcullis-compare-"));
const idp = createIdp();
const world = buildWorld({ tenants: 10, keysPerSecret: 20, jwk: idp.jwk });
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
  readonly cpuUsPerReq: number;
  readonly allocBytesPerReq: number;
  readonly rps: number;
  readonly p99Ms: number;
}

const at = (t: Target) => ({ host: t.host, ...t.headers });
function loader(url: string): Contender["load"] {
  const walk = tokenWalk(tokensFile);
  return (scenario, seconds) => {
    const base: Omit<WrkOptions, "url" | "headers" | "tokens"> = { cpu: cpu.load, connections, durationS: seconds };
    switch (scenario) {
      case "api-key":
        return runWrk({ ...base, url: `${url}${world.apiKeyTarget.path}`, headers: at(world.apiKeyTarget) });
      case "jwt-cached":
        return runWrk({
          ...base,
          url: `${url}${world.jwtTarget.path}`,
          headers: { ...at(world.jwtTarget), authorization: `Bearer ${cachedToken}` },
        });
      case "jwt-new":
        return walk({ ...base, url: `${url}${world.jwtTarget.path}`, headers: at(world.jwtTarget) });
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
  const runs = new Map<string, Run[]>();
  const measured = async (c: Contender, scenario: ScenarioKey): Promise<Run> => {
    const r = await measure({ pids: [c.server.pid], heapProbeFile: c.probe }, () => c.load(scenario, durationS));
    if (r.errors > 0 || r.requests === 0 || r.wraps > 0)
      throw new Error(`${c.name}, ${scenario}: ${r.errors} errors and ${r.wraps} token wraps in ${r.requests} requests`);
    return { cpuUsPerReq: r.cpuUsPerReq, allocBytesPerReq: r.allocBytesPerReq ?? NaN, rps: r.rps, p99Ms: r.p99Ms };
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
        runs.set(key, [...(runs.get(key) ?? []), await measured(c, scenario)]);
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
    `| scenario | server | CPU µs/req, median (worst–best) | ${reference}'s CPU ÷ this, by round: median (worst–best) | bare's (ceiling's) CPU ÷ this, by round | p99 ms, median (worst–best) | KiB allocated/req | req/s |`,
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const scenario of scenarioKeys) {
    const base = runs.get(`${scenario}\0${reference}`)!;
    const bare = runs.get(`${scenario}\0${scenario === "jwt-new" ? CEILING : BARE}`);
    for (const c of contenders) {
      const own = runs.get(`${scenario}\0${c.name}`);
      if (own === undefined) continue;
      const kib = (median(own.map((r) => r.allocBytesPerReq)) / 1024).toFixed(1);
      const cpuSpread = formatSpread(
        spreadOf(
          own.map((r) => r.cpuUsPerReq),
          false,
        ),
        1,
      );
      const p99 = formatSpread(
        spreadOf(
          own.map((r) => r.p99Ms),
          false,
        ),
      );
      const rps = Math.round(median(own.map((r) => r.rps)));
      lines.push(
        `| ${SCENARIO_NAMES[scenario]} | ${c.name} | ${cpuSpread} | ${c.name === CEILING || c.name === BARE ? "" : ratio(own, base)} | ${ratio(own, bare)} | ${p99} | ${kib} | ${rps} |`,
      );
    }
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  writeFileSync(join(work, "runs.json"), JSON.stringify(Object.fromEntries(runs), null, 2));
} finally {
  for (const c of contenders) await c.server.stop(5000);
  rmSync(join(work, "world"), { recursive: true, force: true });
  rmSync(tokensFile, { force: true });
  log(`compare: logs and runs.json in ${work}`);
}
