/**
 * Throughput, latency and per-request cost of the decision port in one world, against the bare
 * node:http baseline. All servers run at once, pinned to the same server core (idle while another is
 * loaded); wrk has the other core. Scenarios are interleaved in rounds (baseline, API key, cached
 * JWT, the baseline again in a second process, the bare server verifying every new token, new JWTs),
 * forwards in odd rounds and backwards in even ones, so each ratio compares runs taken seconds apart
 * and no scenario always follows the same one: on a shared machine, background load drifts over
 * minutes, and a ratio of two distant runs would measure the drift. The second bare process is the
 * A/A control: its ratios to the first are what the rounds' noise alone makes of two identical servers.
 */
import { request } from "node:http";
import { join } from "node:path";
import { quietly } from "./background.ts";
import { type GcPerRequest, gcPerRequest, heapProbeEnv, measure, type RunCosts, settleHeap } from "./counters.ts";
import { startBare, startPortcullis, type ServerProcess } from "./servers.ts";
import { median, ratiosByRound, spreadOf, type Spread } from "./spread.ts";
import { envoyCheckHeaders, type Target, type World } from "./world.ts";
import { runWrk, tokenWalk, type WrkResult } from "./wrk.ts";

export type ScenarioName = "baseline" | "apiKey" | "jwtCached" | "baselineAgain" | "verifyCeiling" | "jwtNew";
/** In round order: the A/A control as far from the baseline as the cached JWT is, on the other side. */
export const SCENARIOS: readonly ScenarioName[] = ["baseline", "apiKey", "jwtCached", "baselineAgain", "verifyCeiling", "jwtNew"];
/**
 * What each scenario is compared with: the bare server for cached checks and for the A/A control
 * (the same bare server in a second process), the bare server that verifies every new token's
 * signature (and does nothing else) for new tokens.
 */
export const REFERENCE = {
  apiKey: "baseline",
  jwtCached: "baseline",
  baselineAgain: "baseline",
  jwtNew: "verifyCeiling",
} as const satisfies Partial<Record<ScenarioName, ScenarioName>>;
export type ComparedScenario = keyof typeof REFERENCE;

/** How a set of scenarios is loaded and measured (bench/serve-bench.ts, bench/proxy-bench.ts). */
export interface RoundsOptions {
  readonly manifests: string;
  readonly world: World;
  readonly tokens: { readonly file: string; readonly cached: string };
  readonly cpus: { readonly server: string; readonly load: string };
  readonly connections: number;
  readonly warmupS: number;
  /** Unmeasured load right before each measured slice. */
  readonly sliceWarmupS: number;
  readonly durationS: number;
  readonly rounds: number;
  readonly logDir: string;
}

export interface ServeBenchOptions extends RoundsOptions {
  readonly label: string;
  readonly jwkFile: string;
  /** Count instructions with perf stat (only where the host has hardware counters). */
  readonly perf: boolean;
}

/** A wrk run plus what the server spent on it; `rssMiB` of Portcullis as the run ends. */
export type Run = WrkResult & RunCosts & { readonly rssMiB?: number };

export interface ScenarioSummary {
  readonly runs: readonly Run[];
  /** Highest run-queue wait of the server over the rounds, % of the run. */
  readonly waitPct: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Server CPU per request, µs, by round: the per-request cost, independent of saturation. */
  readonly cpuUsPerReq: Spread;
  /** Medians of the counted costs over the runs that counted them (allocation: the last round; see bench/counters.ts). */
  readonly allocBytesPerReq?: number;
  readonly instructionsPerReq?: number;
  /** The server's garbage collection over every round (bench/heap-probe.ts; Portcullis alone behind a proxy). */
  readonly gc?: GcPerRequest;
  readonly errors: number;
  readonly wraps: number;
}

/** A Portcullis scenario against its reference, round by round. */
export interface Comparison {
  readonly reference: ScenarioName;
  /** req/s ÷ the reference's req/s of the same round. */
  readonly rps: Spread;
  /** p99 ÷ the reference's p99 of the same round (lower is better). */
  readonly p99: Spread;
  /** Reference CPU µs/req ÷ this CPU µs/req: the req/s ratio each would reach on a core of its own. */
  readonly cpu: Spread;
}

export interface WorldResult {
  readonly label: string;
  readonly counts: World["counts"];
  readonly startupMs: number;
  readonly startupCpuS: number;
  /** Portcullis' RSS after its last run, its highest after any run, and its peak (VmHWM), MiB. */
  readonly rssMiB: number;
  readonly maxRssAfterRunMiB: number;
  readonly peakRssMiB: number;
  readonly scenarios: Readonly<Record<ScenarioName, ScenarioSummary>>;
  readonly comparisons: Readonly<Record<ComparedScenario, Comparison>>;
}

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

/** The scenarios of round `round` (1-based): forwards in odd rounds, backwards in even ones. */
export function roundOrder<T>(scenarios: readonly T[], round: number): T[] {
  return round % 2 === 1 ? [...scenarios] : [...scenarios].reverse();
}

export function summarize(runs: readonly Run[]): ScenarioSummary {
  const counted = (f: (r: Run) => number | undefined) => {
    const xs = runs.map(f).filter((x): x is number => x !== undefined);
    return xs.length > 0 ? median(xs) : undefined;
  };
  const alloc = counted((r) => r.allocBytesPerReq);
  const instructions = counted((r) => r.instructionsPerReq);
  const gc = gcPerRequest(runs);
  return {
    runs,
    rps: median(runs.map((r) => r.rps)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    cpuUsPerReq: spreadOf(
      runs.map((r) => r.cpuUsPerReq),
      false,
    ),
    ...(alloc === undefined ? {} : { allocBytesPerReq: alloc }),
    ...(instructions === undefined ? {} : { instructionsPerReq: instructions }),
    ...(gc === undefined ? {} : { gc }),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    waitPct: Math.max(...runs.map((r) => r.waitPct)),
    wraps: runs.reduce((n, r) => n + r.wraps, 0),
  };
}

export function compare(runs: readonly Run[], reference: readonly Run[], name: ScenarioName): Comparison {
  return {
    reference: name,
    rps: spreadOf(
      ratiosByRound(runs, reference, (r, b) => r.rps / b.rps),
      true,
    ),
    p99: spreadOf(
      ratiosByRound(runs, reference, (r, b) => r.p99Ms / b.p99Ms),
      false,
    ),
    cpu: spreadOf(
      ratiosByRound(runs, reference, (r, b) => b.cpuUsPerReq / r.cpuUsPerReq),
      true,
    ),
  };
}

export async function benchWorld(o: ServeBenchOptions, log: (line: string) => void): Promise<WorldResult> {
  const probeFile = (name: string) => join(o.logDir, `heap-probe-${name}-${o.world.counts.routes}.json`);
  const bare = await startBare(o.cpus.server, heapProbeEnv(probeFile("bare")));
  const bareAgain = await startBare(o.cpus.server, heapProbeEnv(probeFile("bare-again")));
  const ceiling = await startBare(o.cpus.server, heapProbeEnv(probeFile("ceiling")), o.jwkFile);
  let portcullis: ServerProcess | undefined;
  try {
    // Its start-up is measured (CPU time to ready): no background job beside it.
    portcullis = await quietly(() =>
      startPortcullis({
        cpu: o.cpus.server,
        manifests: o.manifests,
        logFile: join(o.logDir, `portcullis-${o.world.counts.routes}.log`),
        env: heapProbeEnv(probeFile("portcullis")),
        readyTimeoutMs: 240_000,
      }),
    );
    log(
      `  ${o.label}: Portcullis ready in ${(portcullis.startupMs / 1000).toFixed(1)} s, ${portcullis.startupCpuS.toFixed(1)} s of CPU (pid ${portcullis.pid}, pinned to CPU ${o.cpus.server})`,
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
    const servers: Record<ScenarioName, ServerProcess> = {
      baseline: bare,
      baselineAgain: bareAgain,
      verifyCeiling: ceiling,
      apiKey: portcullis,
      jwtCached: portcullis,
      jwtNew: portcullis,
    };
    const probes = { baseline: probeFile("bare"), baselineAgain: probeFile("bare-again"), verifyCeiling: probeFile("ceiling") } as Partial<
      Record<ScenarioName, string>
    >;
    // What start-up left in each old generation is collected now, not in the middle of a round (bench/counters.ts).
    for (const [s, file] of [
      [bare, probeFile("bare")],
      [bareAgain, probeFile("bare-again")],
      [ceiling, probeFile("ceiling")],
      [portcullis, probeFile("portcullis")],
    ] as const)
      await quietly(() => settleHeap(s.pid, file));
    // Each its own walk through the tokens: the ceiling caches nothing, but Portcullis must see only unseen ones.
    const ceilingTokens = tokenWalk(o.tokens.file);
    const newTokens = tokenWalk(o.tokens.file);
    // The heap probe counts collections in every run, allocation in the last round only: each
    // allocation reading leaves a profiler behind that grows the process's memory
    // (bench/heap-probe.ts), and the allocation per request hardly differs from round to round.
    const run = async (scenario: ScenarioName, durationS: number, countAllocations: boolean): Promise<Run> => {
      const s = servers[scenario];
      const measured = {
        pids: [s.pid],
        probe: { pid: s.pid, file: probes[scenario] ?? probeFile("portcullis"), allocations: countAllocations },
      };
      // Portcullis' RSS as the load leaves it, read before the probe's reading collects the heap.
      const loaded = async () => {
        const result = await load(scenario, durationS);
        return s === portcullis ? { ...result, rssMiB: portcullis.memory().rssMiB } : result;
      };
      return measure(measured, loaded, o.perf ? durationS : undefined);
    };
    const load = async (scenario: ScenarioName, durationS: number): Promise<WrkResult> => {
      const base = { cpu: o.cpus.load, connections: o.connections, durationS };
      switch (scenario) {
        case "baseline":
        case "baselineAgain":
          return runWrk({ ...base, url: `${servers[scenario].url}${apiKeyTarget.path}`, headers: envoyCheckHeaders(apiKeyTarget) });
        case "apiKey":
          return runWrk({ ...base, url: `${portcullis!.url}${apiKeyTarget.path}`, headers: envoyCheckHeaders(apiKeyTarget) });
        case "jwtCached":
          return runWrk({ ...base, url: `${portcullis!.url}${jwtTarget.path}`, headers: envoyCheckHeaders(jwtTarget, bearer) });
        case "verifyCeiling":
          return ceilingTokens({ ...base, url: `${ceiling.url}${jwtTarget.path}`, headers: envoyCheckHeaders(jwtTarget) });
        case "jwtNew":
          return newTokens({ ...base, url: `${portcullis!.url}${jwtTarget.path}`, headers: envoyCheckHeaders(jwtTarget) });
      }
    };
    for (const s of SCENARIOS) {
      const warm = await run(s, o.warmupS, false);
      if (warm.errors > warm.requests / 1000)
        throw new Error(`${o.label} ${s}: ${warm.errors} of ${warm.requests} warm-up requests failed (not 2xx, or socket errors)`);
    }
    const runs: Record<ScenarioName, Run[]> = { baseline: [], apiKey: [], jwtCached: [], baselineAgain: [], verifyCeiling: [], jwtNew: [] };
    for (let round = 1; round <= o.rounds; round++) {
      for (const s of roundOrder(SCENARIOS, round)) {
        // The servers take turns on one core: the one whose turn starts finds its caches filled
        // by the others. A second of load first measures the steady state, not the hand-over.
        if (o.sliceWarmupS > 0) await load(s, o.sliceWarmupS);
        runs[s].push(await run(s, o.durationS, round === o.rounds));
      }
      log(
        `  ${o.label} round ${round}/${o.rounds}: ${SCENARIOS.map((s) => `${s} ${Math.round(runs[s].at(-1)!.rps)} req/s ${runs[s].at(-1)!.cpuUsPerReq.toFixed(1)} µs`).join(", ")}`,
      );
    }
    const memory = portcullis.memory();
    const comparison = (s: ComparedScenario) => compare(runs[s], runs[REFERENCE[s]], REFERENCE[s]);
    return {
      label: o.label,
      counts: o.world.counts,
      startupMs: portcullis.startupMs,
      startupCpuS: portcullis.startupCpuS,
      rssMiB: memory.rssMiB,
      maxRssAfterRunMiB: Math.max(...Object.values(runs).flatMap((rs) => rs.map((r) => r.rssMiB ?? 0))),
      peakRssMiB: memory.peakMiB,
      scenarios: {
        baseline: summarize(runs.baseline),
        apiKey: summarize(runs.apiKey),
        jwtCached: summarize(runs.jwtCached),
        baselineAgain: summarize(runs.baselineAgain),
        verifyCeiling: summarize(runs.verifyCeiling),
        jwtNew: summarize(runs.jwtNew),
      },
      comparisons: {
        apiKey: comparison("apiKey"),
        jwtCached: comparison("jwtCached"),
        baselineAgain: comparison("baselineAgain"),
        jwtNew: comparison("jwtNew"),
      },
    };
  } finally {
    await portcullis?.stop();
    await ceiling.stop();
    await bareAgain.stop();
    await bare.stop();
  }
}
