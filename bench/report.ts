/**
 * Turns the results into the table printed on stdout and the section of BENCHMARKS.md that
 * `make bench` owns (between the bench:start / bench:end markers; every other section, such as
 * the soak results, is kept as it is).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { ApplyResult } from "./apply-enforced.ts";
import type { CompileReport } from "./compile-bench.ts";
import type { ProfileSummary } from "./profile.ts";
import { renderProfile } from "./profile.ts";
import { PROXY_SCENARIO_NAMES, PROXY_SCENARIOS, type ProxyResult, type ProxyScenario } from "./proxy-bench.ts";
import type { Comparison, ScenarioName, ScenarioSummary, WorldResult } from "./serve-bench.ts";
import { formatSpread, median, spreadOf, type Spread, worstEitherWay } from "./spread.ts";

export const START = "<!-- bench:start -->";
export const END = "<!-- bench:end -->";

export interface Machine {
  readonly date: string;
  readonly nproc: number;
  readonly cpu: string;
  readonly node: string;
  readonly kernel: string;
  readonly method: string;
}

/** How busy the shared host was: load averages, and shares of all CPU time from /proc/stat. */
export interface HostState {
  readonly loadavgStart: string;
  readonly loadavgEnd: string;
  /** All CPUs busy, %, over a few seconds before the benchmark started: the neighbours' load. */
  readonly busyBeforePct: number;
  /** Time the hypervisor took from our virtual CPUs over the whole run, %. */
  readonly stealPct: number;
  /** ES256 crypto.verify per second on the server core at the start (raw loop, pinned), per wall and per CPU second. */
  readonly cryptoVerifyPerS: number;
  readonly cryptoVerifyPerCpuS: number;
  /** Why instructions per request are not counted, when they are not. */
  readonly perfUnavailable?: string;
  /** Seconds the kube-apiserver build took beside the run (a fresh machine; background.ts), when it ran. */
  readonly kubeBuildS?: number;
}

export interface Results {
  readonly machine: Machine;
  readonly host: HostState;
  readonly worlds: readonly WorldResult[];
  readonly proxies?: ProxyResult;
  /** One report per fresh process (bench/compile-bench.ts). */
  readonly compile?: readonly CompileReport[];
  readonly apply?: ApplyResult & { readonly background: number };
  readonly profiles: readonly { readonly scenario: string; readonly summary: ProfileSummary; readonly cpuUsPerReq: number }[];
  /** Stages that failed, with why (their figures are missing). */
  readonly failures: readonly string[];
  readonly wallSeconds: number;
}

export interface Target {
  readonly what: string;
  readonly measured: string;
  readonly target: string;
  readonly met: boolean;
}

/** Each decision-path scenario as the tables and profiles name it. */
export const NAMES: Record<ScenarioName, string> = {
  baseline: "bare node:http (baseline)",
  apiKey: "API key",
  jwtCached: "JWT, cached token",
  baselineAgain: "bare node:http again, a second process (A/A control)",
  verifyCeiling: "bare node:http + crypto.verify per new token (ceiling)",
  jwtNew: "JWT, all-new tokens (ES256)",
};
const SHORT: Record<ScenarioName, string> = {
  baseline: "bare",
  apiKey: "API key",
  jwtCached: "cached JWT",
  baselineAgain: "bare again",
  verifyCeiling: "ceiling",
  jwtNew: "new tokens",
};
const f0 = (x: number) => Math.round(x).toLocaleString("en-US");
const f2 = (x: number) => x.toFixed(2);
const ms = (x: number) => x.toFixed(x < 10 ? 2 : 1);
const us = (s: Spread, digits = 1) =>
  s.rounds.length <= 1 ? s.median.toFixed(digits) : `${s.median.toFixed(digits)} (${s.best.toFixed(digits)}–${s.worst.toFixed(digits)})`;
/** Collections per 1,000 requests: mark-compacts are rare, so small figures keep three decimals. */
const per1k = (x: number) => x.toFixed(x < 0.1 ? 3 : 2);
const kib = (bytes: number | undefined) => (bytes === undefined ? "" : (bytes / 1024).toFixed(1));
const perReq = (x: number | undefined) => (x === undefined ? "" : f0(x));
/** "+1.2" / "−0.4": a difference, signed either way. */
export const signed = (x: number, format: (x: number) => string) => `${x < 0 ? "−" : "+"}${format(Math.abs(x))}`;

/** Which counted costs a table shows (allocation and collections are counted for Node servers only). */
interface Columns {
  readonly alloc: boolean;
  readonly gc: boolean;
  readonly instructions: boolean;
}

function summaryCells(s: ScenarioSummary, c: Columns): string[] {
  return [
    f0(s.rps),
    ms(s.p50Ms),
    ms(s.p99Ms),
    us(s.cpuUsPerReq),
    ...(c.alloc ? [kib(s.allocBytesPerReq)] : []),
    ...(c.gc
      ? s.gc === undefined
        ? ["", "", ""]
        : [per1k(s.gc.scavengesPer1k), per1k(s.gc.markCompactsPer1k), us(s.gc.pauseUsPerReq, 2)]
      : []),
    ...(c.instructions ? [perReq(s.instructionsPerReq)] : []),
    s.waitPct.toFixed(0),
    String(s.errors),
  ];
}

const countedColumns = (summaries: readonly ScenarioSummary[]) => ({
  gc: summaries.some((s) => s.gc !== undefined),
  instructions: summaries.some((s) => s.instructionsPerReq !== undefined),
});
const worldColumns = (worlds: readonly WorldResult[]): Columns => ({
  alloc: true,
  ...countedColumns(worlds.flatMap((w) => Object.values(w.scenarios))),
});
const proxyColumns = (p: ProxyResult): Columns => ({ alloc: false, ...countedColumns(Object.values(p.scenarios)) });

export function resultRows(worlds: readonly WorldResult[]): string[][] {
  const columns = worldColumns(worlds);
  const rows: string[][] = [];
  for (const w of worlds) {
    for (const [name, s] of Object.entries(w.scenarios) as [ScenarioName, ScenarioSummary][]) {
      const c = (w.comparisons as Partial<Record<ScenarioName, Comparison>>)[name];
      rows.push([
        w.label,
        NAMES[name],
        ...summaryCells(s, columns),
        c === undefined ? "" : SHORT[c.reference],
        c === undefined ? "" : formatSpread(c.cpu),
        c === undefined ? "" : formatSpread(c.rps),
        c === undefined ? "" : formatSpread(c.p99),
      ]);
    }
  }
  return rows;
}

const costHeader = (c: Columns) => [
  "req/s",
  "p50 ms",
  "p99 ms",
  "server CPU µs/req (best–worst)",
  ...(c.alloc ? ["KiB allocated/req"] : []),
  ...(c.gc ? ["scavenges/1k req", "mark-compacts/1k req", "GC pause µs/req (best–worst)"] : []),
  ...(c.instructions ? ["instructions/req"] : []),
  "max wait %",
  "errors",
];
const worldHeader = (c: Columns) => [
  "world",
  "scenario",
  ...costHeader(c),
  "vs",
  "CPU ratio (worst–best)",
  "req/s ratio (worst–best)",
  "p99 ratio (worst–best)",
];

/** "worst round 0.93× (median 1.00×, best 1.06×, 8 rounds)". */
const spreadText = (s: Spread, unit = "×") =>
  `worst round ${f2(s.worst)}${unit} (median ${f2(s.median)}${unit}, best ${f2(s.best)}${unit}, ${s.rounds.length} rounds)`;

/** A target met only when its worst round meets it. */
export function worstRound(what: string, s: Spread, goal: number, higherIsBetter: boolean, sound: boolean, unit = "×"): Target {
  const met = sound && (higherIsBetter ? s.worst >= goal : s.worst <= goal);
  return {
    what,
    measured: spreadText(s, unit),
    target: `${higherIsBetter ? "≥" : "≤"} ${goal.toFixed(2)}${unit} in every round`,
    met,
  };
}

export function targets(r: Results): Target[] {
  const out: Target[] = [];
  for (const w of r.worlds) {
    for (const name of ["apiKey", "jwtCached", "jwtNew"] as const) {
      const c = w.comparisons[name];
      const s = w.scenarios[name];
      const sound = s.errors === 0 && s.wraps === 0;
      const goal = name === "jwtNew" ? 0.85 : 0.9;
      const ref = name === "jwtNew" ? "the bare server verifying each new token" : "bare";
      out.push(worstRound(`${NAMES[name]}, ${w.label}: CPU per request, ${ref} ÷ Portcullis`, c.cpu, goal, true, sound));
      out.push(worstRound(`${NAMES[name]}, ${w.label}: req/s ÷ ${ref}`, c.rps, goal, true, sound));
      if (name !== "jwtNew") out.push(worstRound(`${NAMES[name]}, ${w.label}: p99 ÷ ${ref}`, c.p99, 1.2, false, sound));
    }
    out.push({
      what: `${w.label}: start-up to ready, CPU time (wall time)`,
      measured: `${w.startupCpuS.toFixed(1)} s (${(w.startupMs / 1000).toFixed(1)} s)`,
      target: "≤ 5 s of CPU",
      met: w.startupCpuS <= 5,
    });
    out.push({
      what: `${w.label}: Portcullis RSS after every run (highest; peak)`,
      measured: `${f0(w.maxRssAfterRunMiB)} MiB; ${f0(w.peakRssMiB)} MiB`,
      target: "≤ 512 MiB",
      met: w.maxRssAfterRunMiB <= 512,
    });
  }
  const [small, large] = [r.worlds[0], r.worlds[1]];
  if (small !== undefined && large !== undefined) {
    for (const name of ["apiKey", "jwtCached", "jwtNew"] as const) {
      const cost = large.scenarios[name].cpuUsPerReq.median / small.scenarios[name].cpuUsPerReq.median;
      out.push({
        what: `${NAMES[name]}: per-request CPU at ${large.label} ÷ at ${small.label} (medians)`,
        measured: `${f2(cost)}×`,
        target: "≤ 1.2×",
        met: cost <= 1.2,
      });
    }
  }
  if (r.proxies !== undefined) {
    const p = r.proxies;
    const sound = (...names: ProxyScenario[]) => names.every((n) => p.scenarios[n]?.errors === 0 && p.scenarios[n].wraps === 0);
    out.push(
      worstRound(
        "nginx + Portcullis req/s ÷ HAProxy jwt_verify, repeated token",
        p.nginxVsHaproxy,
        2,
        true,
        sound("nginxJwt", "haproxyJwt"),
      ),
      worstRound(
        `Caddy ${p.caddy.bookworm.version} (Debian 12) + Portcullis req/s ÷ HAProxy jwt_verify, repeated token`,
        p.caddyVsHaproxy,
        2,
        true,
        sound("caddyJwt", "haproxyJwt"),
      ),
      ...(p.caddySidVsHaproxy === undefined
        ? []
        : [
            worstRound(
              `Caddy ${p.caddy.sid?.version} (Debian sid) + Portcullis req/s ÷ HAProxy jwt_verify, repeated token`,
              p.caddySidVsHaproxy,
              2,
              true,
              sound("caddySidJwt", "haproxyJwt"),
            ),
          ]),
      worstRound(
        "Portcullis alone req/s ÷ HAProxy jwt_verify, all-new tokens",
        p.newTokensVsHaproxy,
        0.75,
        true,
        sound("portcullisJwtNew", "haproxyJwtNew"),
      ),
    );
  }
  if (r.compile !== undefined && r.compile.length > 0) {
    const runs = r.compile;
    const cold = spreadOf(
      runs.map((c) => c.compileColdCpuMs),
      false,
    );
    const coldWall = spreadOf(
      runs.map((c) => c.compileColdMs),
      false,
    );
    const warm = median(runs.map((c) => c.compileWarmCpuMs));
    const warmWall = median(runs.map((c) => c.compileWarmMs));
    out.push({
      what: "compile() of 10k policies + 10k routes + 100k API keys, cold / warm: CPU time (wall time)",
      measured: `worst process ${f0(cold.worst)} (median ${f0(cold.median)}, best ${f0(cold.best)}, ${runs.length} processes) / ${f0(warm)} ms (${f0(coldWall.worst)} / ${f0(warmWall)} ms)`,
      target: "≤ 1,000 ms of CPU, cold, in every process",
      met: cold.worst <= 1000,
    });
    const settled = Math.max(...runs.map((c) => c.rssSettledMiB));
    const peak = Math.max(...runs.map((c) => c.rssPeakMiB));
    out.push({
      what: "RSS holding that world and its snapshot (settled / peak while compiling; highest process)",
      measured: `${f0(settled)} / ${f0(peak)} MiB`,
      target: "≤ 512 MiB",
      met: peak <= 512,
    });
  }
  if (r.apply !== undefined) {
    const world = r.apply.background > 0 ? ` over ${f0(r.apply.background)} more objects` : "";
    out.push({
      what: `apply → enforced, real API server, ${r.apply.changes} changes${world}: p99`,
      measured: `${f0(r.apply.p99Ms)} ms (p50 ${f0(r.apply.p50Ms)})`,
      target: "≤ 1,000 ms",
      met: r.apply.p99Ms <= 1000,
    });
  }
  return out;
}

/**
 * The A/A control's paragraph: the bare server in a second process ÷ the first, round by round, in
 * each world (what the rounds' noise alone makes of two identical servers), with each ratio's worst
 * round read either way (spread.ts worstEitherWay); none without it.
 */
export function noiseFloor(worlds: readonly WorldResult[]): string[] {
  if (worlds.length === 0) return [];
  const measured = worlds.map((w) => {
    const c = w.comparisons.baselineAgain;
    const either = (s: Spread, higherIsBetter: boolean) => `${f2(worstEitherWay(s, higherIsBetter))}× either way`;
    return (
      `${w.label}: CPU ${spreadText(c.cpu)}, ${either(c.cpu, true)}; req/s ${spreadText(c.rps)}, ${either(c.rps, true)};` +
      ` p99 ${spreadText(c.p99)}, ${either(c.p99, false)}`
    );
  });
  return [
    "**The noise between two identical servers (A/A control).** The bare server again, in a second process that takes its",
    `turn in every round like the others, ÷ the first, as each target's ratio is taken: ${measured.join("; ")}. A worst`,
    "round is read against it: where two identical servers' worst round falls short of a goal, a check costing nothing",
    "would miss that goal in some run. The two servers are alike, so a best round of 1.25× is as far off as a worst of",
    '0.80×: "either way" is the worst round read in both directions, the noise a target\'s worst round must clear.',
    "",
  ];
}

export function proxyRows(p: ProxyResult): string[][] {
  return PROXY_SCENARIOS.flatMap((name) => {
    const a = p.added[name];
    const summary = p.scenarios[name];
    if (summary === undefined) return [];
    return [
      [
        PROXY_SCENARIO_NAMES[name],
        ...summaryCells(summary, proxyColumns(p)),
        a === undefined ? "" : signed(a.cpuUsPerReq, (x) => x.toFixed(1)),
        a === undefined ? "" : `${signed(a.p50Ms, ms)} / ${signed(a.p99Ms, ms)}`,
        a === undefined ? "" : formatSpread(a.rps),
      ],
    ];
  });
}

const proxyHeader = (p: ProxyResult) => [
  "scenario",
  ...costHeader(proxyColumns(p)),
  "added CPU µs/req",
  "added p50 / p99 ms",
  "req/s ÷ no auth (worst–best)",
];

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)];
}

/** Plain-text table for stdout. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function renderStdout(r: Results): string {
  const t = targets(r).map((x) => [x.met ? "MET" : "NOT MET", x.what, x.measured, x.target]);
  return [
    ...r.failures.map((f) => `FAILED: ${f}`),
    textTable(worldHeader(worldColumns(r.worlds)), resultRows(r.worlds)),
    ...(r.proxies === undefined ? [] : ["", textTable(proxyHeader(r.proxies), proxyRows(r.proxies))]),
    "",
    textTable(["", "target", "measured", "goal"], t),
  ].join("\n");
}

export function renderSection(r: Results): string {
  const m = r.machine;
  const h = r.host;
  const lines: string[] = [
    START,
    "## Decision path (`make bench`)",
    "",
    `Generated by \`bench/run.ts\` on ${m.date} in ${Math.round(r.wallSeconds)} s. Machine: ${m.nproc} CPUs (${m.cpu}), Linux ${m.kernel}, Node ${m.node}.`,
    `Host state: load average ${h.loadavgStart} at the start and ${h.loadavgEnd} at the end; all CPUs ${h.busyBeforePct.toFixed(0)}% busy with other work`,
    `just before the run; steal ${h.stealPct.toFixed(1)}% over the run; ES256 crypto.verify ${f0(h.cryptoVerifyPerS)}/s on the server core (${f0(h.cryptoVerifyPerCpuS)} per CPU-second). ${m.method}`,
    `Instructions per request: ${h.perfUnavailable === undefined ? "counted with `perf stat -e instructions` on the measured processes" : `${h.perfUnavailable}, so the machine-independent figure is the V8 heap allocated per request (bench/heap-probe.ts)`}.`,
    ...(h.kubeBuildS === undefined
      ? []
      : [
          `kube-apiserver and etcd were built during this run (${Math.round(h.kubeBuildS)} s from the build's start, test/kube/build-binaries.sh; \`make bench\` starts it beside npm ci), stopped during every measurement and the load before it.`,
        ]),
    "",
    ...(r.failures.length > 0 ? ["**Stages that failed in this run:**", "", ...r.failures.map((f) => `- ${f}`), ""] : []),
    "### Targets (a target is met only when its worst round meets it)",
    "",
    "Times are judged by the CPU time they take (the wall time, which waits for a core the neighbours hold, is shown beside).",
    "",
    ...markdownTable(
      ["", "what", "measured", "target"],
      targets(r).map((x) => [x.met ? "✅" : "❌", x.what, x.measured, x.target]),
    ),
    "",
    ...noiseFloor(r.worlds),
    "### Cost per request and throughput",
    "",
    ...markdownTable(worldHeader(worldColumns(r.worlds)), resultRows(r.worlds)),
    "",
    '"server CPU µs/req" is the server process\'s user + system CPU time over a run divided by the requests it answered:',
    "the per-request cost, which a busy neighbour slows less than it slows req/s (it still lengthens memory-bound work). The",
    'ratios are per round, against the run named in "vs" taken seconds before or after it on the same core: the CPU ratio',
    "(its CPU per request ÷ ours) is the req/s ratio the two would reach on a core of their own. Each cell gives the",
    'median over rounds, then the worst and best round. "KiB allocated/req" is the V8 heap allocated per request in the last',
    "round (the same probe runs in every Node server, read in that round only: each reading grows the memory of the process",
    "it counts in): it does not depend on the machine or its neighbours. Nor do the collection counts, taken by the same probe",
    "in every round from V8's own reports (Node's PerformanceObserver 'gc' entries): scavenges (young generation) and",
    "mark-compacts (full collections) per 1,000 requests over all rounds. The GC pause is the main thread's wall time in",
    "every collection (incremental marking steps included) per request, by round: a busy neighbour lengthens it.",
    '"max wait %" is the largest',
    "share of a run the server spent runnable but waiting for its CPU (taken by another process). The ceiling is",
    "bench/bare-server.ts with `--verify-jwk`: node:http plus one crypto.verify of each new token's ES256 signature and",
    "nothing else, the least any HTTP service checking every new token does.",
    "",
  ];
  for (const w of r.worlds) {
    lines.push(
      `- ${w.label}: ${f0(w.counts.routes)} HTTPRoutes on ${f0(w.counts.hosts)} hosts, ${f0(w.counts.policies)} SecurityPolicies, ${f0(w.counts.apiKeys)} API keys;` +
        ` start-up to ready ${(w.startupMs / 1000).toFixed(1)} s (${w.startupCpuS.toFixed(1)} s of CPU); RSS after the runs ${f0(w.rssMiB)} MiB (highest after a run ${f0(w.maxRssAfterRunMiB)}, peak ${f0(w.peakRssMiB)} MiB);` +
        ` bare server CPU µs/req by round ${w.scenarios.baseline.cpuUsPerReq.rounds.map((x) => x.toFixed(1)).join(" / ")}.`,
    );
  }
  lines.push("");
  if (r.proxies !== undefined) {
    const p = r.proxies;
    lines.push(
      "### Against what users would pick instead (10-route world, Debian's proxies)",
      "",
      ...markdownTable(proxyHeader(p), proxyRows(p)),
      "",
      "nginx and Caddy run the example files of deploy/proxies/ as they are (addresses, ports and the Gateway substituted);",
      '"no auth" is the same file without the auth_request line or the forward_auth block. HAProxy verifies the token',
      "in-process (jwt_verify with the PEM public key, then issuer, audience and expiry, and copies three claims into",
      "headers, as the policy does). Every proxy forwards each request it lets through, over kept-alive connections, to an",
      "app that is a second server block (HAProxy: frontend) of the same process answering 200, so every scenario pays the",
      "same upstream hop, as in front of a real app. Every proxy, and Portcullis behind nginx or Caddy, is pinned to",
      "the server core: each column of CPU is the sum over the processes that served the request; the collections are",
      'Portcullis\' alone (its forward-auth port behind nginx or Caddy, its ext_authz port alone). "added" is the median',
      "over rounds of (with authentication − without) for the same proxy.",
      `Caddy: ${p.caddy.bookworm.version} is Debian 12's (\`apt-get install caddy\`)` +
        (p.caddy.sid === undefined
          ? "; Debian sid's was not part of this run (`node bench/run.ts --sid-caddy` adds it)."
          : `, ${p.caddy.sid.version} Debian sid's (bench/caddy-sid.sh: extracted from its .deb, not installed).`),
      `Repeated token, pair ÷ HAProxy: nginx ${formatSpread(p.nginxVsHaproxy)}, Caddy ${p.caddy.bookworm.version} ${formatSpread(p.caddyVsHaproxy)}` +
        (p.caddySidVsHaproxy === undefined ? "" : `, Caddy ${p.caddy.sid?.version} ${formatSpread(p.caddySidVsHaproxy)}`) +
        ";",
      `all-new tokens, Portcullis alone ÷ HAProxy: ${formatSpread(p.newTokensVsHaproxy)} (median, worst–best round).`,
      "A pair does the proxy's own work and Portcullis' on one core, so it serves fewer requests than the proxy with no",
      `authentication; that proxy alone ÷ HAProxy jwt_verify (repeated token) bounds the pair's ratio: nginx ${formatSpread(p.aloneVsHaproxy.nginx)},` +
        ` Caddy ${p.caddy.bookworm.version} ${formatSpread(p.aloneVsHaproxy.caddy)}` +
        (p.aloneVsHaproxy.caddySid === undefined ? "" : `, Caddy ${p.caddy.sid?.version} ${formatSpread(p.aloneVsHaproxy.caddySid)}`) +
        ".",
      "",
    );
  }
  if (r.compile !== undefined && r.compile.length > 0) {
    const c = r.compile[0]!;
    const byProcess = (f: (c: CompileReport) => number) => r.compile!.map((run) => f0(f(run))).join(" / ");
    lines.push(
      `### Compile (${r.compile.length} fresh processes, one after the other, objects as the API server returns them)`,
      "",
      `${f0(c.counts.policies)} SecurityPolicies (${f0(c.acceptedPolicies)} Accepted), ${f0(c.counts.routes)} HTTPRoutes on ${f0(c.counts.hosts)} hosts, ${f0(c.counts.apiKeys)} API keys; each figure by process:`,
      `toResources (validation) ${byProcess((x) => x.toResourcesMs)} ms; input digests (SHA-256 of each object's JSON, as the pipeline digests the objects a rebuild replaced; none at start-up) ${byProcess((x) => x.inputDigestsMs)} ms;`,
      `compile() cold ${byProcess((x) => x.compileColdMs)} ms (${byProcess((x) => x.compileColdCpuMs)} ms of CPU), warm (median of 3, each holding the previous result) ${byProcess((x) => x.compileWarmMs)} ms (${byProcess((x) => x.compileWarmCpuMs)} ms of CPU).`,
      `RSS with the input only ${byProcess((x) => x.rssInputMiB)} MiB, with input + Resources + one compile result ${byProcess((x) => x.rssSettledMiB)} MiB (settled: after V8's last-resort`,
      `collection, which returns freed pages to the system), highest while compiling ${byProcess((x) => x.rssPeakMiB)} MiB (VmHWM, reset after a full collection before the cold compile); settled V8 heap in use`,
      `${byProcess((x) => x.heapUsedMiB)} MiB of ${byProcess((x) => x.heapTotalMiB)} MiB reserved, ${byProcess((x) => x.externalMiB)} MiB outside the heap.`,
      "",
    );
  }
  if (r.apply !== undefined) {
    const a = r.apply;
    lines.push(
      "### Apply → enforced (real kube-apiserver + etcd, Kubernetes mode)",
      "",
      `Seed manifests of deploy/examples${a.background > 0 ? ` plus ${f0(a.background)} objects of a generated world` : ""}.`,
      `${a.changes} changes alternating a Secret key rotation and a SecurityPolicy edit: p50 ${f0(a.p50Ms)} ms, p99 ${f0(a.p99Ms)} ms,`,
      `max ${f0(a.maxMs)} ms, from the start of the write (one JSON merge patch, as \`kubectl apply\` sends) to the first decision`,
      `reflecting it. The API write itself takes ${f0(a.writeP50Ms)} ms at p50; after it is acknowledged: p50 ${f0(a.afterWriteP50Ms)} ms, p99 ${f0(a.afterWriteP99Ms)} ms.`,
      `The slowest single check answered while the changes were rebuilt took ${f0(a.slowestCheckMs)} ms (rebuilds share the thread that answers checks, compiling in slices of 10 ms).`,
      "",
    );
  }
  if (r.profiles.length > 0) {
    lines.push("### Where the time goes (node --cpu-prof under the same load, 10-route world)", "");
    for (const p of r.profiles) lines.push(...renderProfile(p.scenario, p.summary, 10, p.cpuUsPerReq));
  }
  lines.push(END);
  return lines.join("\n");
}

/** Replaces our section of BENCHMARKS.md (or appends it), keeping everything else. */
export function writeBenchmarksFile(file: string, section: string): void {
  const current = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  const next =
    start !== -1 && end > start
      ? `${current.slice(0, start)}${section}${current.slice(end + END.length)}`
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}
