/**
 * The same decision path of two or more source trees (commits) side by side, on the same day, core
 * and client: each tree's `bin/portcullis serve` over the same 10-route world, all pinned to the
 * server core and idle but the one under load, `wrk` on the other core. Rounds alternate the
 * trees' order (forwards, then backwards), so each ratio compares runs seconds apart. Measured per
 * tree and scenario (API key, cached JWT): server CPU per request and V8 heap allocated per
 * request (bench/heap-probe.ts, the same probe in every tree). The first tree is the reference.
 *
 *   node bench/compare-trees.ts --tree before=/tmp/portcullis-05e4dfe --tree main=. [--rounds 8] [--duration 1]
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
import { startPortcullis, type ServerProcess } from "./servers.ts";
import { formatSpread, median, ratiosByRound, spreadOf } from "./spread.ts";
import { createIdp, mintTokens } from "./tokens.ts";
import { buildWorld, writeWorld, type Target } from "./world.ts";
import { runWrk } from "./wrk.ts";

const { values } = parseArgs({
  options: {
    tree: { type: "string", multiple: true, default: [] },
    rounds: { type: "string", default: "8" },
    duration: { type: "string", default: "1" },
    connections: { type: "string", default: "50" },
  },
});
const trees = values.tree.map((spec) => {
  const eq = spec.indexOf("=");
  if (eq <= 0) throw new Error(`--tree takes NAME=DIR, not ${JSON.stringify(spec)}`);
  return { name: spec.slice(0, eq), root: spec.slice(eq + 1) };
});
if (trees.length < 2)
  throw new Error("usage: node bench/compare-trees.ts --tree NAME=DIR --tree NAME=DIR [...] [--rounds N] [--duration S]");
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
const [token] = await mintTokens(idp, 1);
const scenarios: Readonly<Record<string, { target: Target; headers: Record<string, string> }>> = {
  "API key": { target: world.apiKeyTarget, headers: {} },
  "JWT, cached token": { target: world.jwtTarget, headers: { authorization: `Bearer ${token}` } },
};

interface Run {
  readonly cpuUsPerReq: number;
  readonly allocBytesPerReq: number;
  readonly rps: number;
}

const servers: { name: string; server: ServerProcess; probe: string }[] = [];
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
    servers.push({ name: tree.name, server, probe });
    log(`compare: ${tree.name} (${tree.root}) ready, pid ${server.pid}`);
  }
  const runs = new Map<string, Run[]>();
  const load = async (s: (typeof servers)[number], scenario: string, measured: boolean): Promise<Run | undefined> => {
    const { target, headers } = scenarios[scenario]!;
    const wrk = () =>
      runWrk({
        url: `${s.server.url}${target.path}`,
        cpu: cpu.load,
        connections,
        durationS,
        headers: { host: target.host, ...target.headers, ...headers },
      });
    if (!measured) return void (await wrk());
    const r = await measure({ pids: [s.server.pid], heapProbeFile: s.probe }, wrk);
    if (r.errors > 0 || r.requests === 0) throw new Error(`${s.name}, ${scenario}: ${r.errors} errors in ${r.requests} requests`);
    return { cpuUsPerReq: r.cpuUsPerReq, allocBytesPerReq: r.allocBytesPerReq ?? NaN, rps: r.rps };
  };
  // Warm-up: every tree and scenario once, unmeasured.
  for (const s of servers) for (const scenario of Object.keys(scenarios)) await load(s, scenario, false);
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? servers : [...servers].reverse();
    for (const scenario of Object.keys(scenarios)) {
      for (const s of order) {
        await load(s, scenario, false);
        const run = (await load(s, scenario, true))!;
        const key = `${scenario}\0${s.name}`;
        runs.set(key, [...(runs.get(key) ?? []), run]);
      }
    }
    log(`compare: round ${round} of ${rounds} done`);
  }
  const reference = servers[0]!.name;
  const lines = [
    `| scenario | tree | server CPU µs/req, median (worst–best) | CPU ratio to ${reference} by round, median (worst–best) | KiB allocated/req | req/s |`,
    "|---|---|---|---|---|---|",
  ];
  for (const scenario of Object.keys(scenarios)) {
    const base = runs.get(`${scenario}\0${reference}`)!;
    for (const s of servers) {
      const own = runs.get(`${scenario}\0${s.name}`)!;
      const ratio =
        s.name === reference
          ? ""
          : formatSpread(
              spreadOf(
                ratiosByRound(own, base, (a, b) => a.cpuUsPerReq / b.cpuUsPerReq),
                false,
              ),
            );
      const kib = (median(own.map((r) => r.allocBytesPerReq)) / 1024).toFixed(1);
      const cpuSpread = formatSpread(
        spreadOf(
          own.map((r) => r.cpuUsPerReq),
          false,
        ),
        1,
      );
      lines.push(`| ${scenario} | ${s.name} | ${cpuSpread} | ${ratio} | ${kib} | ${Math.round(median(own.map((r) => r.rps)))} |`);
    }
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  writeFileSync(join(work, "runs.json"), JSON.stringify(Object.fromEntries(runs), null, 2));
} finally {
  for (const s of servers) await s.server.stop(5000);
  rmSync(join(work, "world"), { recursive: true, force: true });
  log(`compare: logs and runs.json in ${work}`);
}
