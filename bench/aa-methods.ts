/**
 * The A/A control under each way of comparing two servers that bench/serve-bench.ts could use
 * (issue 17): two identical bare node:http servers (bench/bare-server.ts), both pinned to the
 * server core, wrk on the other, compared round by round as a target's ratio is taken. Whatever
 * such a comparison makes of two identical servers is the host's noise; a method can judge a
 * target of 0.90× only if its A/A worst round stays well above that. Every method takes one sample
 * in every round, the methods in turn (forwards in odd rounds, backwards in even ones), so all of
 * them see the same stretch of the host's day. The runs of 2026-12-02 and what they decided:
 * BENCHMARKS.md, "The A/A control under five ways of comparing two servers".
 *
 *   node bench/aa-methods.ts [--rounds 10] [--connections 50] [--pace-ms 4] [--methods turns,abba,together,togetherLong,fresh,pacedTurns,pacedTogether] [--a-alone S] [--b-verifies]
 *
 * With --a-alone S, every round starts with A loaded alone, S seconds saturated then S paced,
 * unmeasured: the two processes get histories of their own, as servers taking turns do.
 *
 * With --b-verifies, B is the bare server verifying each request's ES256 token (the ceiling of
 * serve-bench.ts, about 5× A's cost): an A/B check that a method does not pull a costlier server's
 * ratio towards 1 (two servers sharing a core in the same milliseconds could each slow the other).
 *
 * Methods (A is the first server, B the second; every ratio is B against A):
 * - turns: the method of bench/serve-bench.ts: each server alone in turn, 1 s of unmeasured load
 *   then 1 s measured, CPU from /proc/PID/stat (10 ms ticks); turnsNs is the same runs read from
 *   the scheduler's nanoseconds (/proc/PID/task/TID/schedstat).
 * - abba: four 1 s slices A, B, B, A (B, A, A, B in even rounds), no load between them; each
 *   server's figure from its two slices together (CPU and requests summed, p99 averaged): ABBA
 *   cancels a drift that is linear over the round.
 * - together: both servers loaded at once by two wrk processes (each with half the connections)
 *   for 1 s unmeasured, then 2 s measured: the host's noise lands on both in the same milliseconds;
 *   togetherLong measures 4 s; fresh loads two servers started for the sample (and stopped after it)
 *   together, 2 s unmeasured then 4 s measured, so no process carries a state of its own from sample to sample.
 * - pacedTurns, pacedTogether: as turns (2 s measured) and together, with every connection paced
 *   (bench/wrk/pace.lua) to a rate well below saturation, for p99 read as latency, not as queueing.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpuSeconds, runNs } from "./counters.ts";
import { startBare, type ServerProcess } from "./servers.ts";
import { roundOrder } from "./serve-bench.ts";
import { spreadOf, type Spread, worstEitherWay } from "./spread.ts";
import { createIdp, mintTokens } from "./tokens.ts";
import { envoyCheckHeaders } from "./world.ts";
import { runWrk, type WrkResult } from "./wrk.ts";

const METHODS = ["turns", "turnsNs", "abba", "together", "togetherLong", "fresh", "pacedTurns", "pacedTogether"] as const;
type Method = (typeof METHODS)[number];

const { values: flags } = parseArgs({
  options: {
    rounds: { type: "string", default: "10" },
    connections: { type: "string", default: "50" },
    "pace-ms": { type: "string", default: "4" },
    methods: { type: "string", default: "turns,abba,together,togetherLong,pacedTurns,pacedTogether" },
    "b-verifies": { type: "boolean", default: false },
    "a-alone": { type: "string", default: "0" },
  },
});
const rounds = Number(flags.rounds);
const connections = Number(flags.connections);
const paceMs = Number(flags["pace-ms"]);
const aAloneS = Number(flags["a-alone"]);
const chosen = flags.methods.split(",").filter((m) => m !== "");
for (const m of chosen)
  if (!(METHODS as readonly string[]).includes(m)) throw new Error(`unknown method ${m}: one of ${METHODS.join(", ")}`);
const nproc = cpus().length;
const cpu = { server: String(nproc - 1), load: "0" };
const log = (line: string) => process.stderr.write(`${line}\n`);

/** What one server did over a sample: requests, CPU by both clocks, and the p99 of its slices. */
interface Tally {
  readonly requests: number;
  readonly cpuTickS: number;
  readonly cpuNs: number;
  /** p99 of each measured slice, ms. */
  readonly p99Ms: readonly number[];
}

/** One sample of a method: B against A. */
interface Sample {
  /** A's CPU per request ÷ B's (higher: B cheaper), by /proc ticks and by the scheduler's ns. */
  readonly cpuTicks: number;
  readonly cpuNs: number;
  /** B's requests ÷ A's, per second of measured load. */
  readonly rps: number;
  /** B's p99 ÷ A's (the mean over its slices). */
  readonly p99: number;
  /** Each server's CPU µs per request (ns clock). */
  readonly usPerReq: readonly [number, number];
}

const bVerifies = flags["b-verifies"] === true;
const idp = createIdp();
const jwkFile = join(mkdtempSync(join(tmpdir(), "portcullis-aa-")), "idp.jwk.json");
writeFileSync(jwkFile, JSON.stringify(idp.jwk));
const token = (await mintTokens(idp, 1))[0]!;
const target = { host: "t1.tenants.bench.example.com", path: "/m1/api/items", headers: { authorization: `Bearer ${token}` } };
const headers = envoyCheckHeaders(target);

/** Loads each listed server with its own wrk, all at once; `paced` paces every connection. */
function load(servers: readonly ServerProcess[], durationS: number, paced: boolean): Promise<WrkResult[]> {
  const perServer = Math.max(1, Math.round(connections / servers.length));
  return Promise.all(
    servers.map((s) =>
      runWrk({
        url: `${s.url}${target.path}`,
        cpu: cpu.load,
        connections: perServer,
        durationS,
        headers,
        ...(paced ? { paceMs } : {}),
      }),
    ),
  );
}

/** Measures `servers` loaded together for `durationS`; one tally per server. */
async function measured(servers: readonly ServerProcess[], durationS: number, paced: boolean): Promise<Tally[]> {
  const ticks = servers.map((s) => cpuSeconds(s.pid));
  const ns = servers.map((s) => runNs(s.pid));
  const results = await load(servers, durationS, paced);
  return servers.map((s, i) => {
    const r = results[i]!;
    if (r.errors > 0) throw new Error(`${r.errors} errors loading ${s.url}`);
    return { requests: r.requests, cpuTickS: cpuSeconds(s.pid) - ticks[i]!, cpuNs: runNs(s.pid) - ns[i]!, p99Ms: [r.p99Ms] };
  });
}

const add = (a: Tally, b: Tally): Tally => ({
  requests: a.requests + b.requests,
  cpuTickS: a.cpuTickS + b.cpuTickS,
  cpuNs: a.cpuNs + b.cpuNs,
  p99Ms: [...a.p99Ms, ...b.p99Ms],
});

function sampleOf(a: Tally, b: Tally): Sample {
  const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const us = (t: Tally) => t.cpuNs / 1000 / t.requests;
  return {
    cpuTicks: a.cpuTickS / a.requests / (b.cpuTickS / b.requests),
    cpuNs: us(a) / us(b),
    rps: b.requests / a.requests,
    p99: mean(b.p99Ms) / mean(a.p99Ms),
    usPerReq: [us(a), us(b)],
  };
}

/** One turn of `s` alone: `warmS` unmeasured, then `durationS` measured. */
async function turn(s: ServerProcess, warmS: number, durationS: number, paced: boolean): Promise<Tally> {
  await load([s], warmS, paced);
  return (await measured([s], durationS, paced))[0]!;
}

async function sample(method: Exclude<Method, "turnsNs">, round: number, a: ServerProcess, b: ServerProcess): Promise<Sample> {
  const [first, second] = round % 2 === 1 ? [a, b] : [b, a];
  const inTurns = async (warmS: number, durationS: number, paced: boolean) => {
    const one = await turn(first, warmS, durationS, paced);
    const other = await turn(second, warmS, durationS, paced);
    return first === a ? sampleOf(one, other) : sampleOf(other, one);
  };
  switch (method) {
    case "turns":
      return inTurns(1, 1, false);
    case "pacedTurns":
      return inTurns(1, 2, true);
    case "abba": {
      const [x1] = await measured([first], 1, false);
      const [y1] = await measured([second], 1, false);
      const [y2] = await measured([second], 1, false);
      const [x2] = await measured([first], 1, false);
      const [x, y] = [add(x1!, x2!), add(y1!, y2!)];
      return first === a ? sampleOf(x, y) : sampleOf(y, x);
    }
    case "fresh": {
      const [x, y] = [await startBare(cpu.server), await startBare(cpu.server, {}, bVerifies ? jwkFile : undefined)];
      try {
        await load([x, y], 2, false);
        const [tx, ty] = await measured([x, y], 4, false);
        return sampleOf(tx!, ty!);
      } finally {
        await x.stop();
        await y.stop();
      }
    }
    case "together":
    case "togetherLong":
    case "pacedTogether": {
      const paced = method === "pacedTogether";
      await load([a, b], 1, paced);
      const [ta, tb] = await measured([a, b], method === "togetherLong" ? 4 : 2, paced);
      return sampleOf(ta!, tb!);
    }
  }
}

const a = await startBare(cpu.server);
const b = await startBare(cpu.server, {}, bVerifies ? jwkFile : undefined);
const samples = new Map<Method, Sample[]>(chosen.map((m) => [m as Method, []]));
if (samples.has("turns")) samples.set("turnsNs", []);
const started = Date.now();
try {
  log(
    `aa-methods: ${bVerifies ? "the bare server (A) and the bare server verifying every token (B)" : "two bare servers"} on CPU ${cpu.server} (pids ${a.pid}, ${b.pid}), wrk on CPU ${cpu.load}; ${rounds} rounds`,
  );
  await load([a], 2, false);
  await load([b], 2, false);
  for (let round = 1; round <= rounds; round++) {
    if (aAloneS > 0) {
      await load([a], aAloneS, false);
      await load([a], aAloneS, true);
    }
    const line: string[] = [];
    for (const method of roundOrder(chosen as Exclude<Method, "turnsNs">[], round)) {
      const s = await sample(method, round, a, b);
      samples.get(method)!.push(s);
      if (method === "turns") samples.get("turnsNs")!.push(s);
      line.push(
        `${method} cpu ${s.cpuNs.toFixed(3)} (ticks ${s.cpuTicks.toFixed(3)}) rps ${s.rps.toFixed(3)} p99 ${s.p99.toFixed(2)} [${s.usPerReq.map((x) => x.toFixed(1)).join("/")} µs]`,
      );
    }
    log(`round ${round}/${rounds} [${Math.round((Date.now() - started) / 1000)} s]: ${line.join("; ")}`);
  }
} finally {
  await a.stop();
  await b.stop();
}

/** Worst round as the targets read it, then either way (an A/A ratio of 1.25 is as far off as 0.80), median, best. */
const f = (s: Spread, higherIsBetter: boolean) =>
  `worst ${s.worst.toFixed(3)} (either way ${worstEitherWay(s, higherIsBetter).toFixed(3)}) median ${s.median.toFixed(3)} best ${s.best.toFixed(3)}`;
const rows = [...samples].map(([method, xs]) => {
  const cpuRatio = spreadOf(
    xs.map((x) => (method === "turns" ? x.cpuTicks : x.cpuNs)),
    true,
  );
  const us = spreadOf(
    xs.flatMap((x) => x.usPerReq),
    false,
  );
  return {
    method,
    cpu: cpuRatio,
    rps: spreadOf(
      xs.map((x) => x.rps),
      true,
    ),
    p99: spreadOf(
      xs.map((x) => x.p99),
      false,
    ),
    us,
  };
});
for (const r of rows)
  process.stdout.write(
    `${r.method.padEnd(13)} CPU ${f(r.cpu, true)} | req/s ${f(r.rps, true)} | p99 ${f(r.p99, false)} | server µs/req ${r.us.best.toFixed(1)}–${r.us.worst.toFixed(1)}\n`,
  );
process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), rounds, connections, paceMs, aAloneS, bVerifies, rows })}\n`);
