/**
 * Throughput and latency of the decision port in one world, against the bare node:http baseline.
 * All servers run at once, pinned to the same server core (idle while another is loaded); wrk
 * has the other core. Scenarios are interleaved in rounds (baseline, API key, cached JWT, the bare
 * server verifying every new token, new JWTs, raw crypto.verify) so each ratio compares runs
 * taken seconds apart: on a shared machine, background load drifts over minutes, and a ratio of
 * two distant runs would measure the drift.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { NODE, startBare, startPortcullis, type ServerProcess } from "./servers.ts";
import type { Target, World } from "./world.ts";
import { runWrk, type WrkResult } from "./wrk.ts";

export type ScenarioName = "baseline" | "apiKey" | "jwtCached" | "verifyCeiling" | "jwtNew";
export const SCENARIOS: readonly ScenarioName[] = ["baseline", "apiKey", "jwtCached", "verifyCeiling", "jwtNew"];

export interface ServeBenchOptions {
  readonly label: string;
  readonly manifests: string;
  readonly world: World;
  readonly tokens: { readonly file: string; readonly cached: string };
  readonly jwkFile: string;
  readonly cpus: { readonly server: string; readonly load: string };
  readonly connections: number;
  readonly warmupS: number;
  /** Unmeasured load right before each measured slice. */
  readonly sliceWarmupS: number;
  readonly durationS: number;
  readonly rounds: number;
  readonly cryptoMs: number;
  readonly logDir: string;
}

/**
 * A wrk run plus, from /proc, the server's CPU time per request (utime + stime over the run) and
 * the share of the run its threads spent runnable but waiting for a CPU (other processes on the
 * pinned core: the measure of how disturbed the run was).
 */
export type Run = WrkResult & { readonly cpuUsPerReq: number; readonly waitPct: number };

export interface ScenarioSummary {
  readonly runs: readonly Run[];
  /** Highest run-queue wait of the server over the rounds, % of the run. */
  readonly waitPct: number;
  readonly rps: number;
  /** Server CPU per request, µs: the per-request cost, independent of saturation. */
  readonly cpuUsPerReq: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly wraps: number;
  /** Median over rounds of (this run ÷ the baseline run of the same round). */
  readonly rpsRatio: number;
  readonly p99Ratio: number;
  /** Median over rounds of (baseline CPU µs/req ÷ this CPU µs/req): the req/s ratio a core of its own would give. */
  readonly cpuRatio: number;
}

export interface WorldResult {
  readonly label: string;
  readonly counts: World["counts"];
  readonly startupMs: number;
  readonly rssMiB: number;
  readonly peakRssMiB: number;
  readonly scenarios: Readonly<Record<ScenarioName, ScenarioSummary>>;
  /** Raw crypto.verify rate of each round (verifies per wall second and per CPU second), and medians. */
  readonly cryptoRuns: readonly CryptoRate[];
  readonly cryptoRate: number;
  readonly cryptoCpuRate: number;
  /** Median over rounds of (new-token req/s ÷ crypto.verify rate of the same round). */
  readonly jwtNewVsCrypto: number;
  /** The same per CPU second: (1 / server CPU per new-token request) ÷ verifies per CPU second. */
  readonly jwtNewVsCryptoCpu: number;
  /** Median over rounds of (bare + crypto.verify server req/s ÷ crypto.verify rate): what HTTP alone leaves of the primitive. */
  readonly ceilingVsCrypto: number;
  /** Median over rounds of (new-token req/s ÷ bare + crypto.verify server req/s of the same round). */
  readonly jwtNewVsCeiling: number;
}

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

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** One request, for the pre-check that every scenario is really a 200 with the expected headers. */
function probe(
  url: string,
  target: Target,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${target.path}`, { headers: { host: target.host, ...target.headers, ...headers } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

export interface CryptoRate {
  readonly verifiesPerSecond: number;
  readonly verifiesPerCpuSecond: number;
}

export function cryptoVerifyRate(o: Pick<ServeBenchOptions, "tokens" | "jwkFile" | "cpus">, durationMs: number): Promise<CryptoRate> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "taskset",
      ["-c", o.cpus.server, NODE, join(import.meta.dirname, "crypto-verify.ts"), o.tokens.file, o.jwkFile, String(durationMs)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c));
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0 ? resolve(JSON.parse(out) as CryptoRate) : reject(new Error(`crypto-verify exited ${code}`)),
    );
  });
}

export async function benchWorld(o: ServeBenchOptions, log: (line: string) => void): Promise<WorldResult> {
  const bare = await startBare(o.cpus.server);
  const ceiling = await startBare(o.cpus.server, {}, o.jwkFile);
  let portcullis: ServerProcess | undefined;
  try {
    portcullis = await startPortcullis({
      cpu: o.cpus.server,
      manifests: o.manifests,
      logFile: join(o.logDir, `portcullis-${o.world.counts.routes}.log`),
      readyTimeoutMs: 240_000,
    });
    log(
      `  ${o.label}: Portcullis ready in ${(portcullis.startupMs / 1000).toFixed(1)} s (pid ${portcullis.pid}, pinned to CPU ${o.cpus.server})`,
    );
    const { apiKeyTarget, jwtTarget } = o.world;
    const bearer = { authorization: `Bearer ${o.tokens.cached}` };
    // Fail loudly rather than benchmark a 401.
    const checks = [await probe(portcullis.url, apiKeyTarget, {}), await probe(portcullis.url, jwtTarget, bearer)];
    for (const c of checks) {
      if (c.status !== 200 || typeof c.headers["x-user-id"] !== "string") throw new Error(`pre-check failed: ${JSON.stringify(c)}`);
    }
    // The ceiling must really verify: the token passes, the same token with another signature does not.
    const forged = { authorization: `Bearer ${o.tokens.cached.slice(0, o.tokens.cached.lastIndexOf(".") + 1)}${"A".repeat(86)}` };
    const ceilingChecks = [(await probe(ceiling.url, jwtTarget, bearer)).status, (await probe(ceiling.url, jwtTarget, forged)).status];
    if (ceilingChecks.join() !== "200,401")
      throw new Error(`pre-check of the bare + crypto.verify server failed: ${ceilingChecks.join(", ")}`);
    let tokenOffset = 0;
    let ceilingOffset = 0;
    const run = async (scenario: ScenarioName, durationS: number): Promise<Run> => {
      const pid = scenario === "baseline" ? bare.pid : scenario === "verifyCeiling" ? ceiling.pid : portcullis!.pid;
      const [before, waitBefore] = [cpuSeconds(pid), runQueueWaitNs(pid)];
      const result = await load(scenario, durationS);
      const waitPct = (100 * (runQueueWaitNs(pid) - waitBefore)) / 1e9 / result.durationS;
      return { ...result, cpuUsPerReq: ((cpuSeconds(pid) - before) * 1e6) / Math.max(1, result.requests), waitPct };
    };
    const load = async (scenario: ScenarioName, durationS: number): Promise<WrkResult> => {
      const base = { cpu: o.cpus.load, connections: o.connections, durationS };
      const at = (t: Target) => ({ host: t.host, ...t.headers });
      switch (scenario) {
        case "baseline":
          return runWrk({ ...base, url: `${bare.url}${apiKeyTarget.path}`, headers: at(apiKeyTarget) });
        case "apiKey":
          return runWrk({ ...base, url: `${portcullis!.url}${apiKeyTarget.path}`, headers: at(apiKeyTarget) });
        case "jwtCached":
          return runWrk({ ...base, url: `${portcullis!.url}${jwtTarget.path}`, headers: { ...at(jwtTarget), ...bearer } });
        case "verifyCeiling": {
          // Its own walk through the tokens: it caches nothing, so only Portcullis needs unseen ones.
          const r = await runWrk({
            ...base,
            url: `${ceiling.url}${jwtTarget.path}`,
            headers: at(jwtTarget),
            tokens: { file: o.tokens.file, offset: ceilingOffset },
          });
          ceilingOffset += r.requests + o.connections;
          return r;
        }
        case "jwtNew": {
          const r = await runWrk({
            ...base,
            url: `${portcullis!.url}${jwtTarget.path}`,
            headers: at(jwtTarget),
            tokens: { file: o.tokens.file, offset: tokenOffset },
          });
          tokenOffset += r.requests + o.connections; // requests still in flight at the end were sent too
          return r;
        }
      }
    };
    for (const s of SCENARIOS) {
      const warm = await run(s, o.warmupS);
      if (warm.errors > warm.requests / 1000)
        throw new Error(`${o.label} ${s}: ${warm.errors} of ${warm.requests} warm-up requests failed (not 2xx, or socket errors)`);
    }
    const runs: Record<ScenarioName, Run[]> = { baseline: [], apiKey: [], jwtCached: [], verifyCeiling: [], jwtNew: [] };
    const cryptoRuns: CryptoRate[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      for (const s of SCENARIOS) {
        // The servers take turns on one core: the one whose turn starts finds its caches filled
        // by the others. A second of load first measures the steady state, not the hand-over.
        if (o.sliceWarmupS > 0) await load(s, o.sliceWarmupS);
        runs[s].push(await run(s, o.durationS));
      }
      cryptoRuns.push(await cryptoVerifyRate(o, o.cryptoMs));
      log(
        `  ${o.label} round ${round}/${o.rounds}: ${SCENARIOS.map((s) => `${s} ${Math.round(runs[s].at(-1)!.rps)}`).join(", ")} req/s; crypto.verify ${Math.round(cryptoRuns.at(-1)!.verifiesPerSecond)}/s`,
      );
    }
    const memory = portcullis.memory();
    const perRound = (s: ScenarioName, f: (r: Run, b: Run) => number) => median(runs[s].map((r, i) => f(r, runs.baseline[i]!)));
    const summary = (s: ScenarioName): ScenarioSummary => ({
      runs: runs[s],
      rps: median(runs[s].map((r) => r.rps)),
      cpuUsPerReq: median(runs[s].map((r) => r.cpuUsPerReq)),
      p50Ms: median(runs[s].map((r) => r.p50Ms)),
      p99Ms: median(runs[s].map((r) => r.p99Ms)),
      errors: runs[s].reduce((n, r) => n + r.errors, 0),
      waitPct: Math.max(...runs[s].map((r) => r.waitPct)),
      wraps: runs[s].reduce((n, r) => n + r.wraps, 0),
      rpsRatio: perRound(s, (r, b) => r.rps / b.rps),
      p99Ratio: perRound(s, (r, b) => r.p99Ms / b.p99Ms),
      cpuRatio: perRound(s, (r, b) => b.cpuUsPerReq / r.cpuUsPerReq),
    });
    return {
      label: o.label,
      counts: o.world.counts,
      startupMs: portcullis.startupMs,
      rssMiB: memory.rssMiB,
      peakRssMiB: memory.peakMiB,
      scenarios: {
        baseline: summary("baseline"),
        apiKey: summary("apiKey"),
        jwtCached: summary("jwtCached"),
        verifyCeiling: summary("verifyCeiling"),
        jwtNew: summary("jwtNew"),
      },
      cryptoRuns,
      cryptoRate: median(cryptoRuns.map((c) => c.verifiesPerSecond)),
      cryptoCpuRate: median(cryptoRuns.map((c) => c.verifiesPerCpuSecond)),
      jwtNewVsCrypto: median(runs.jwtNew.map((r, i) => r.rps / cryptoRuns[i]!.verifiesPerSecond)),
      jwtNewVsCryptoCpu: median(runs.jwtNew.map((r, i) => 1e6 / r.cpuUsPerReq / cryptoRuns[i]!.verifiesPerCpuSecond)),
      ceilingVsCrypto: median(runs.verifyCeiling.map((r, i) => r.rps / cryptoRuns[i]!.verifiesPerSecond)),
      jwtNewVsCeiling: median(runs.jwtNew.map((r, i) => r.rps / runs.verifyCeiling[i]!.rps)),
    };
  } finally {
    await portcullis?.stop();
    await ceiling.stop();
    await bare.stop();
  }
}
