/**
 * `make bench`: every benchmark of the decision path, then the results table on stdout and in
 * BENCHMARKS.md (only the section between the bench:start / bench:end markers is rewritten).
 *
 *   node bench/run.ts [--quick] [--rounds 8] [--proxy-rounds 5] [--duration 1] [--warmup 1] [--connections 50]
 *                     [--tenants 10000] [--changes 100] [--apply-tenants 0]
 *                     [--skip serve,proxies,profile,compile,kube] [--sid-caddy] [--no-write]
 * --sid-caddy adds Debian sid's Caddy (bench/caddy-sid.sh) to the proxies stage beside Debian 12's
 * (three more scenarios, about 40 s; on 2026-11-30 it cost more CPU per request than 2.6.2, so it is
 * not part of the default run).
 * --apply-tenants N loads a world of N tenants into the API server before timing apply → enforced
 * (off by default: loading 10k tenants and rebuilding them on every change takes minutes).
 *
 * Layout: server processes on the last CPU, wrk on the first (taskset), identical for the
 * baseline and Portcullis. Load goes to 127.0.0.1 only.
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Obj } from "../test/kube/objects.ts";
import { benchApplyEnforced, type ApplyResult } from "./apply-enforced.ts";
import { adoptBackground, type BackgroundResult, quietly, runInBackground } from "./background.ts";
import type { CompileReport } from "./compile-bench.ts";
import { cryptoVerifyRate } from "./crypto-verify.ts";
import { cpuShares, loadAverage, perfUnavailableReason, readCpuTimes } from "./host.ts";
import { profileScenario } from "./profile-run.ts";
import type { ProfileSummary } from "./profile.ts";
import { NAMES, renderSection, renderStdout, writeBenchmarksFile, type Results } from "./report.ts";
import { caddyBuild, type CaddyBuild } from "./proxies.ts";
import { benchProxies, type ProxyResult } from "./proxy-bench.ts";
import { benchWorld, type WorldResult } from "./serve-bench.ts";
import { NODE, portcullisNodeFlags } from "./servers.ts";
import { createIdp, mintTokens } from "./tokens.ts";
import { AUDIENCE, buildWorld, ISSUER, writeWorld } from "./world.ts";

const ROOT = join(import.meta.dirname, "..");
/** Debian packages: the load generator, CPU pinning (taskset) and the proxies of the comparison. */
const BENCH_PACKAGES = ["wrk", "util-linux", "nginx-light", "caddy", "haproxy"];
const wallStart = performance.now();
const log = (line: string) => process.stderr.write(`${line}\n`);
const elapsed = () => `${Math.round((performance.now() - wallStart) / 1000)} s`;

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    "proxy-rounds": { type: "string" },
    duration: { type: "string" },
    warmup: { type: "string" },
    connections: { type: "string", default: "50" },
    tenants: { type: "string", default: "10000" },
    changes: { type: "string" },
    "apply-tenants": { type: "string", default: "0" },
    skip: { type: "string", default: "" },
    "no-write": { type: "boolean", default: false },
    "sid-caddy": { type: "boolean", default: false },
  },
});
const quick = flags.quick === true;
// 8 interleaved slices of 1 s (wrk takes whole seconds) per scenario and world, 5 per proxy
// scenario: many short rounds rather than a few long ones, so that a worst round means something on
// a shared VM (single slices swing by ±15% and more), within the time budget of `make bench`.
const rounds = Number(flags.rounds ?? (quick ? 1 : 8));
const proxyRounds = Math.min(rounds, Number(flags["proxy-rounds"] ?? (quick ? 1 : 5)));
const durationS = Number(flags.duration ?? 1);
const warmupS = Number(flags.warmup ?? 1);
/** Unmeasured load right before each measured slice (see serve-bench.ts). */
const sliceWarmupS = quick ? 0 : 1;
const connections = Number(flags.connections);
const tenants = Number(flags.tenants);
const changes = Number(flags.changes ?? (quick ? 10 : 100));
const skip = new Set(flags.skip.split(",").filter((s) => s !== ""));

// Set-up: for apply → enforced (the last stage), the kube-apiserver + etcd binaries: on a fresh
// machine their build (about 3 minutes of CPU) runs beside everything else, stopped during every
// measurement and the load before it (background.ts); cached, it is found at once. `make bench` starts it beside npm ci and hands it over
// in PORTCULLIS_BENCH_KUBE_BUILD (bench/start-beside.sh); otherwise it starts here. Then wrk and the
// proxies (Debian).
const startedBuild = process.env.PORTCULLIS_BENCH_KUBE_BUILD;
const kubeBuildStart = startedBuild === undefined ? Date.now() : statSync(join(startedBuild, "pgid")).mtimeMs;
let kubeBuildS: number | undefined;
const afterBuild = (build: BackgroundResult) => {
  // Reported only when it ran beside the measurements (a cached build answers at once).
  if (build.besideMeasurements) kubeBuildS = (Date.now() - kubeBuildStart) / 1000;
  return build.stdout.trim().split("\n").at(-1);
};
const kubeAssets =
  // A build started for this run is taken over even when it is not needed: it must not run beside a measurement.
  startedBuild !== undefined
    ? adoptBackground(startedBuild)
        .then(afterBuild)
        .finally(() => rmSync(startedBuild, { recursive: true, force: true }))
    : skip.has("kube") || process.env.PORTCULLIS_KUBE_ASSETS !== undefined
      ? Promise.resolve(process.env.PORTCULLIS_KUBE_ASSETS)
      : runInBackground("bash", [join(ROOT, "test/kube/build-binaries.sh")]).then(afterBuild);
// Awaited by the kube stage; a failed build fails that stage only.
kubeAssets.catch(() => undefined);
execFileSync("bash", [join(ROOT, "test/e2e/ensure-packages.sh"), ...BENCH_PACKAGES], { stdio: "inherit" });
// With --sid-caddy, Debian sid's Caddy beside bookworm's in the proxies stage (a few seconds of
// download, cached); when it cannot be had, that stage runs with bookworm's only and says so.
const sidCaddy: Promise<CaddyBuild | undefined> =
  skip.has("proxies") || flags["sid-caddy"] !== true
    ? Promise.resolve(undefined)
    : new Promise<CaddyBuild | undefined>((resolve) =>
        execFile("bash", [join(ROOT, "bench/caddy-sid.sh")], (error, stdout, stderr) => {
          if (error !== null) {
            log(`bench: Debian sid's Caddy is not available, the proxies stage runs Debian 12's only: ${stderr.trim().split("\n").at(-1)}`);
            resolve(undefined);
          } else resolve(caddyBuild(stdout.trim().split("\n").at(-1)));
        }),
      );

const nproc = cpus().length;
const cpuSet = { server: String(nproc - 1), load: "0" };
if (nproc < 2) log("WARNING: one CPU only: wrk and the server share it, so every figure understates the server");
const work = mkdtempSync(join(tmpdir(), "portcullis-bench-"));
log(
  `bench: work dir ${work}; server CPU ${cpuSet.server}, wrk CPU ${cpuSet.load}; ${rounds} round(s) × ${durationS} s after ${warmupS} s warm-up, ${connections} connections`,
);

const machine = {
  date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  nproc,
  cpu: /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? "unknown CPU",
  node: execFileSync(NODE, ["--version"], { encoding: "utf8" }).trim(),
  kernel: execFileSync("uname", ["-r"], { encoding: "utf8" }).trim(),
  method:
    `Server (bare node:http or Portcullis) pinned to CPU ${cpuSet.server}, \`wrk -t1 -c${connections}\` pinned to CPU ${cpuSet.load} (taskset), keep-alive, loopback; ` +
    "each Node server's start-up garbage collected (one full collection, bench/counters.ts settleHeap) before any load; " +
    `${warmupS} s warm-up per scenario, then ${rounds} interleaved round(s) of ${durationS} s per scenario (${proxyRounds} for the proxies; forwards in odd rounds, backwards in even ones), each after ${sliceWarmupS} s of unmeasured load.`,
};
// The neighbours' load just before we add ours, and the hypervisor's steal over the whole run.
const loadavgStart = loadAverage();
const cpuAtStart = readCpuTimes();
// (With the background build stopped: it is ours.)
const busyBeforePct = await quietly(async () => {
  await new Promise((r) => setTimeout(r, 2000));
  return cpuShares(cpuAtStart, readCpuTimes()).busyPct;
});
const perfUnavailable = perfUnavailableReason();

// The IdP and the tokens: enough distinct ones that no token is sent twice in a world.
const idp = createIdp();
const jwkFile = join(work, "idp.jwk.json");
writeFileSync(jwkFile, JSON.stringify(idp.jwk));
const tokensFile = join(work, "tokens.txt");
writeFileSync(tokensFile, `${(await mintTokens(idp, 2000)).join("\n")}\n`);
const probe =
  skip.has("serve") && skip.has("proxies") && skip.has("profile")
    ? { verifiesPerSecond: 0, verifiesPerCpuSecond: 0 }
    : await quietly(() => cryptoVerifyRate(tokensFile, jwkFile, cpuSet.server, 1000));
const probeRate = probe.verifiesPerSecond;
// Enough for a server that gets its core to itself later in the run (HTTP leaves it at most 0.8× of the raw loop).
const tokenCount = Math.min(
  400_000,
  Math.ceil(0.8 * probe.verifiesPerCpuSecond * (warmupS + rounds * (sliceWarmupS + durationS))) + (1 + 2 * rounds) * connections,
);
const minting = performance.now();
const tokens = await mintTokens(idp, tokenCount + 1);
const cachedToken = tokens.pop()!;
writeFileSync(tokensFile, `${tokens.join("\n")}\n`);
log(
  `bench: crypto.verify ES256 ≈ ${Math.round(probeRate)}/s; minted ${tokenCount} distinct tokens in ${((performance.now() - minting) / 1000).toFixed(1)} s [${elapsed()}]`,
);

// 1–3. Throughput and latency, 10 routes and 10k routes / 10k hosts.
const worlds: WorldResult[] = [];
const manifestsOf = (n: number) => join(work, `world-${n}`);
// The 10-route world serves every stage under load (worlds, proxies, profiles).
const smallWorld = buildWorld({ tenants: 10, keysPerSecret: 20, jwk: idp.jwk });
writeWorld(smallWorld, manifestsOf(10));
for (const n of skip.has("serve") ? [] : [10, tenants]) {
  const world = n === 10 ? smallWorld : buildWorld({ tenants: n, keysPerSecret: 20, jwk: idp.jwk });
  if (n !== 10) writeWorld(world, manifestsOf(n));
  const label = `${n.toLocaleString("en-US")} routes`;
  log(`bench: ${label} world [${elapsed()}]`);
  worlds.push(
    await benchWorld(
      {
        label,
        manifests: manifestsOf(n),
        world,
        tokens: { file: tokensFile, cached: cachedToken },
        jwkFile,
        cpus: cpuSet,
        connections,
        warmupS,
        sliceWarmupS,
        durationS,
        rounds,
        logDir: work,
        perf: perfUnavailable === undefined,
      },
      log,
    ),
  );
}

// A stage that fails is reported (and makes the exit status 1); the other results still get written.
const failures: string[] = [];
async function stage<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (e) {
    log(`bench: ${name} FAILED: ${(e as Error).stack ?? String(e)}`);
    failures.push(`${name}: ${(e as Error).message.split("\n")[0]}`);
    return undefined;
  }
}

// Against the proxies users would pick instead (10-route world).
let proxies: ProxyResult | undefined;
if (!skip.has("proxies")) {
  log(`bench: proxies (nginx, Caddy, HAProxy) [${elapsed()}]`);
  const publicKeyPem = idp.publicKey.export({ type: "spki", format: "pem" }).toString();
  const caddy = { bookworm: caddyBuild(), sid: await sidCaddy };
  proxies = await stage("proxies", () =>
    benchProxies(
      {
        manifests: manifestsOf(10),
        world: smallWorld,
        tokens: { file: tokensFile, cached: cachedToken },
        jwt: { publicKeyPem, issuer: ISSUER, audience: AUDIENCE },
        caddy,
        cpus: cpuSet,
        connections,
        warmupS,
        sliceWarmupS,
        durationS,
        rounds: proxyRounds,
        logDir: work,
      },
      log,
    ),
  );
}

// Profiles of each decision path (10-route world).
const profiles: { scenario: string; summary: ProfileSummary; cpuUsPerReq: number }[] = [];
if (!skip.has("profile")) {
  for (const scenario of ["baseline", "apiKey", "jwtCached", "verifyCeiling", "jwtNew"] as const) {
    log(`bench: profiling ${scenario} [${elapsed()}]`);
    const options = {
      manifests: manifestsOf(10),
      world: smallWorld,
      cachedToken,
      tokensFile,
      cpus: cpuSet,
      connections,
      warmupS,
      durationS: quick ? 2 : 3,
      dir: work,
      jwkFile,
    };
    const summary = await stage(`profile ${scenario}`, () => quietly(() => profileScenario(options, scenario)));
    if (summary !== undefined) profiles.push({ scenario: NAMES[scenario], summary, cpuUsPerReq: summary.cpuUsPerReq });
  }
}

// 4. Compile time and RSS, COMPILE_PROCESSES fresh processes pinned to the server core, one after the other.
const COMPILE_PROCESSES = 3;
let compile: CompileReport[] | undefined;
if (!skip.has("compile")) {
  log(`bench: compile of ${tenants.toLocaleString("en-US")} policies + routes, ${COMPILE_PROCESSES} processes [${elapsed()}]`);
  compile = await stage("compile", async () => {
    const runs: CompileReport[] = [];
    for (let i = 0; i < COMPILE_PROCESSES; i++) runs.push(await quietly(() => compileInFreshProcess()));
    return runs;
  });
}

/** One run of bench/compile-bench.ts, on the Node flags bin/portcullis runs Portcullis with (its heap's sizes). */
function compileInFreshProcess(): Promise<CompileReport> {
  return new Promise<CompileReport>((resolve, reject) => {
    const child = spawn(
      "taskset",
      ["-c", cpuSet.server, NODE, "--expose-gc", ...portcullisNodeFlags(), join(ROOT, "bench/compile-bench.ts"), String(tenants), "20"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c));
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0 ? resolve(JSON.parse(out) as CompileReport) : reject(new Error(`compile-bench exited ${code}`)),
    );
  });
}

// 5. apply → enforced against the real API server.
let apply: (ApplyResult & { background: number }) | undefined;
if (!skip.has("kube")) {
  log(`bench: apply → enforced, ${changes} changes against a real kube-apiserver [${elapsed()}]`);
  const applyTenants = Number(flags["apply-tenants"]);
  const background = applyTenants > 0 ? (buildWorld({ tenants: applyTenants, keysPerSecret: 20, jwk: idp.jwk }).objects as Obj[]) : [];
  apply = await stage("apply → enforced", async () => {
    process.env.PORTCULLIS_KUBE_ASSETS = await kubeAssets;
    return benchApplyEnforced(changes, work, log, background);
  });
}

const host = {
  loadavgStart,
  loadavgEnd: loadAverage(),
  busyBeforePct,
  stealPct: cpuShares(cpuAtStart, readCpuTimes()).stealPct,
  cryptoVerifyPerS: probeRate,
  cryptoVerifyPerCpuS: probe.verifiesPerCpuSecond,
  ...(perfUnavailable === undefined ? {} : { perfUnavailable }),
  ...(kubeBuildS === undefined ? {} : { kubeBuildS }),
};
const wallSeconds = (performance.now() - wallStart) / 1000;
const results: Results = { machine, host, worlds, proxies, compile, apply, profiles, failures, wallSeconds };
writeFileSync(join(work, "results.json"), JSON.stringify(results, null, 2));
process.stdout.write(`\n${renderStdout(results)}\n\n`);
if (flags["no-write"] !== true) {
  writeBenchmarksFile(join(ROOT, "BENCHMARKS.md"), renderSection(results));
  log(`bench: BENCHMARKS.md rewritten (section between the bench markers)`);
}
// Large files (tokens, manifests) go; logs, profiles and results.json stay for reading.
rmSync(tokensFile, { force: true });
for (const n of [10, tenants]) rmSync(manifestsOf(n), { recursive: true, force: true });
log(`bench: done in ${elapsed()}; logs, profiles and results.json in ${work}`);
if (failures.length > 0) process.exitCode = 1;
