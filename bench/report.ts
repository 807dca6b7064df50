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
import type { ScenarioName, WorldResult } from "./serve-bench.ts";

export const START = "<!-- bench:start -->";
export const END = "<!-- bench:end -->";

export interface Machine {
  readonly date: string;
  readonly nproc: number;
  readonly cpu: string;
  readonly node: string;
  readonly kernel: string;
  readonly loadavg: string;
  readonly method: string;
}

export interface Results {
  readonly machine: Machine;
  readonly worlds: readonly WorldResult[];
  readonly compile?: CompileReport;
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

const NAMES: Record<ScenarioName, string> = {
  baseline: "bare node:http (baseline)",
  apiKey: "API key",
  jwtCached: "JWT, cached token",
  verifyCeiling: "bare node:http + crypto.verify per request (ceiling)",
  jwtNew: "JWT, all-new tokens (ES256)",
};
const f0 = (x: number) => Math.round(x).toLocaleString("en-US");
const f2 = (x: number) => x.toFixed(2);
const ms = (x: number) => x.toFixed(x < 10 ? 2 : 1);

export function resultRows(worlds: readonly WorldResult[]): string[][] {
  const rows: string[][] = [];
  for (const w of worlds) {
    for (const [name, s] of Object.entries(w.scenarios) as [ScenarioName, WorldResult["scenarios"][ScenarioName]][]) {
      const vsCrypto =
        name === "jwtNew"
          ? `${f2(w.jwtNewVsCrypto)}× of ${f0(w.cryptoRate)}/s (CPU: ${f2(w.jwtNewVsCryptoCpu)}×); ${f2(w.jwtNewVsCeiling)}× the ceiling`
          : name === "verifyCeiling"
            ? `${f2(w.ceilingVsCrypto)}× of ${f0(w.cryptoRate)}/s`
            : "";
      const ratio = name === "baseline" ? "1.00" : f2(s.rpsRatio);
      const p99 = name === "baseline" ? "1.00" : f2(s.p99Ratio);
      const cpu = name === "baseline" ? "1.00" : f2(s.cpuRatio);
      rows.push([
        w.label,
        NAMES[name],
        f0(s.rps),
        ms(s.p50Ms),
        ms(s.p99Ms),
        ratio,
        p99,
        vsCrypto,
        s.cpuUsPerReq.toFixed(1),
        cpu,
        s.waitPct.toFixed(0),
        String(s.errors),
      ]);
    }
  }
  return rows;
}

const HEADER = [
  "world",
  "scenario",
  "req/s",
  "p50 ms",
  "p99 ms",
  "req/s ÷ bare",
  "p99 ÷ bare",
  "vs crypto.verify",
  "server CPU µs/req",
  "bare CPU ÷ this CPU",
  "max wait %",
  "errors",
];

export function targets(r: Results): Target[] {
  const out: Target[] = [];
  for (const w of r.worlds) {
    for (const name of ["apiKey", "jwtCached"] as const) {
      const s = w.scenarios[name];
      out.push({
        what: `${NAMES[name]}, ${w.label}: req/s`,
        measured: `${f2(s.rpsRatio)}× bare (per CPU-second: ${f2(s.cpuRatio)}×)`,
        target: "≥ 0.90× bare",
        met: s.rpsRatio >= 0.9 && s.errors === 0,
      });
      out.push({
        what: `${NAMES[name]}, ${w.label}: p99`,
        measured: `${f2(s.p99Ratio)}× bare`,
        target: "≤ 1.2× bare",
        met: s.p99Ratio <= 1.2 && s.errors === 0,
      });
    }
    const n = w.scenarios.jwtNew;
    out.push({
      what: `${NAMES.jwtNew}, ${w.label}`,
      measured: `${f2(w.jwtNewVsCrypto)}× crypto.verify (per CPU-second: ${f2(w.jwtNewVsCryptoCpu)}×); the bare server verifying the same tokens reaches ${f2(w.ceilingVsCrypto)}×, Portcullis ${f2(w.jwtNewVsCeiling)}× of it`,
      target: "≥ 0.80× crypto.verify",
      met: w.jwtNewVsCrypto >= 0.8 && n.errors === 0 && n.wraps === 0,
    });
  }
  const [small, large] = [r.worlds[0], r.worlds[1]];
  if (small !== undefined && large !== undefined) {
    for (const name of ["apiKey", "jwtCached", "jwtNew"] as const) {
      const cost = large.scenarios[name].cpuUsPerReq / small.scenarios[name].cpuUsPerReq;
      out.push({
        what: `${NAMES[name]}: per-request CPU at ${large.label} ÷ at ${small.label}`,
        measured: `${f2(cost)}×`,
        target: "≤ 1.2×",
        met: cost <= 1.2,
      });
    }
  }
  if (r.compile !== undefined) {
    const c = r.compile;
    out.push({
      what: "compile() of 10k policies + 10k routes + 100k API keys (cold / warm)",
      measured: `${f0(c.compileColdMs)} / ${f0(c.compileWarmMs)} ms`,
      target: "≤ 1,000 ms",
      met: c.compileColdMs <= 1000,
    });
    out.push({
      what: "RSS holding that world and its snapshot (settled / peak)",
      measured: `${f0(c.rssSettledMiB)} / ${f0(c.rssPeakMiB)} MiB`,
      target: "≤ 512 MiB",
      met: c.rssPeakMiB <= 512,
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
    textTable(HEADER, resultRows(r.worlds)),
    "",
    textTable(["", "target", "measured", "goal"], t),
  ].join("\n");
}

export function renderSection(r: Results): string {
  const m = r.machine;
  const lines: string[] = [
    START,
    "## Decision path (`make bench`)",
    "",
    `Generated by \`bench/run.ts\` on ${m.date} in ${Math.round(r.wallSeconds)} s. Machine: ${m.nproc} CPUs (${m.cpu}), Linux ${m.kernel},`,
    `Node ${m.node}; load average at start ${m.loadavg}. ${m.method}`,
    "",
    ...(r.failures.length > 0 ? ["**Stages that failed in this run:**", "", ...r.failures.map((f) => `- ${f}`), ""] : []),
    "### Throughput and latency",
    "",
    ...markdownTable(HEADER, resultRows(r.worlds)),
    "",
    'Ratios are medians over rounds of each run divided by the baseline run of the same round. "server CPU µs/req" is the',
    "server process's user + system CPU time over the run divided by the requests answered: the per-request cost, which",
    'other processes on the machine do not distort. "bare CPU ÷ this CPU" is therefore the req/s ratio the two servers',
    'would show on a core of their own. "max wait %" is the largest share of a run the server spent runnable but waiting',
    "for its CPU (taken by another process): above a few %, that run's req/s and latency measure the neighbours too.",
    "The ceiling row is bench/bare-server.ts with `--verify-jwk`: node:http plus one crypto.verify of each new token's ES256",
    "signature and nothing else, the least any HTTP service checking every new token does; it shows what the HTTP exchange",
    "alone leaves of the raw crypto.verify loop on this machine.",
    "",
  ];
  for (const w of r.worlds) {
    lines.push(
      `- ${w.label}: ${f0(w.counts.routes)} HTTPRoutes on ${f0(w.counts.hosts)} hosts, ${f0(w.counts.policies)} SecurityPolicies, ${f0(w.counts.apiKeys)} API keys;` +
        ` start-up to ready ${(w.startupMs / 1000).toFixed(1)} s; RSS after the runs ${f0(w.rssMiB)} MiB (peak ${f0(w.peakRssMiB)} MiB);` +
        ` baseline req/s by round ${w.scenarios.baseline.runs.map((x) => f0(x.rps)).join(" / ")}; crypto.verify/s by round ${w.cryptoRuns.map((c) => f0(c.verifiesPerSecond)).join(" / ")} (per CPU-second ${w.cryptoRuns.map((c) => f0(c.verifiesPerCpuSecond)).join(" / ")}).`,
    );
  }
  lines.push(
    "",
    "### Targets",
    "",
    ...markdownTable(
      ["", "what", "measured", "target"],
      targets(r).map((x) => [x.met ? "✅" : "❌", x.what, x.measured, x.target]),
    ),
    "",
  );
  if (r.compile !== undefined) {
    const c = r.compile;
    lines.push(
      "### Compile (fresh process, objects as the API server returns them)",
      "",
      `${f0(c.counts.policies)} SecurityPolicies (${f0(c.acceptedPolicies)} Accepted), ${f0(c.counts.routes)} HTTPRoutes on ${f0(c.counts.hosts)} hosts, ${f0(c.counts.apiKeys)} API keys:`,
      `toResources (validation) ${f0(c.toResourcesMs)} ms; input fingerprint (SHA-256 of each object's JSON, as the pipeline does) ${f0(c.fingerprintMs)} ms;`,
      `compile() cold ${f0(c.compileColdMs)} ms, warm ${f0(c.compileWarmMs)} ms. RSS with the input only ${f0(c.rssInputMiB)} MiB,`,
      `with input + Resources + snapshot ${f0(c.rssSettledMiB)} MiB after GC, peak ${f0(c.rssPeakMiB)} MiB; V8 heap in use ${f0(c.heapUsedMiB)} MiB`,
      `of ${f0(c.heapTotalMiB)} MiB reserved, ${f0(c.externalMiB)} MiB outside the heap.`,
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
