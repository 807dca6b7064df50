/**
 * Compile time and memory of a large world, in a fresh process so RSS belongs to this world only.
 *   node --expose-gc bench/compile-bench.ts TENANTS KEYS_PER_SECRET   → one JSON line on stdout
 * The objects are built in memory the way the API server hands them over (what Kubernetes mode
 * holds), then go through the same steps as a rebuild: toResources (validation), the input
 * digests (the pipeline's own, per object: what a rebuild pays when every object was replaced; none
 * at start-up, runtime/pipeline.ts sameInput), compile() (cold, then WARM_RUNS warm, each while
 * the previous result is still held, as the pipeline holds the published snapshot).
 *
 * Memory is read from Linux's /proc/self: "settled" after V8's most thorough collection (every
 * garbage collected and its pages returned to the system, as a process at rest ends up), "peak"
 * as the high-water RSS through the compiles, from a full collection of the input's garbage (one
 * that keeps the young generation at its size: the last-resort one shrinks it, and the cold
 * compile then paid for growing it again, about 100 ms of CPU). A fixed number of compiles:
 * with "as many as fit in a time budget" the peak and settled RSS grew with the number of
 * compiles a quiet machine fitted in (garbage V8 had not handed back yet), 418 MiB on a busy day
 * and 597 MiB on a quiet one for the same code.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { toResources } from "../controller/api/resources.ts";
import { compile } from "../controller/compile/index.ts";
import { digestOf } from "../controller/runtime/pipeline.ts";
import { median } from "./spread.ts";
import { createIdp } from "./tokens.ts";
import { buildWorld } from "./world.ts";

export interface CompileReport {
  readonly tenants: number;
  readonly counts: { routes: number; hosts: number; policies: number; apiKeys: number };
  readonly rejected: number;
  readonly acceptedPolicies: number;
  readonly toResourcesMs: number;
  /** Digesting every object of the input once (runtime/pipeline.ts digestOf). */
  readonly inputDigestsMs: number;
  /** First compile in this process (cold JIT), and the median of the next WARM_RUNS: wall time, and CPU time. */
  readonly compileColdMs: number;
  readonly compileWarmMs: number;
  readonly compileColdCpuMs: number;
  readonly compileWarmCpuMs: number;
  /** RSS holding only the input objects, settled. */
  readonly rssInputMiB: number;
  /** RSS holding input + Resources + one compile result, settled; the highest RSS from the settled input through the compiles. */
  readonly rssSettledMiB: number;
  readonly rssPeakMiB: number;
  /** V8 heap in use and reserved, and memory outside the heap (key objects, buffers), settled. */
  readonly heapUsedMiB: number;
  readonly heapTotalMiB: number;
  readonly externalMiB: number;
}

const MiB = 1024 * 1024;
/** Warm compiles after the cold one: always the same number, so the memory figures do not depend on the machine's speed. */
const WARM_RUNS = 3;

type GcOptions = { type: "major"; execution: "sync"; flavor?: "last-resort" };
/** The `gc` of --expose-gc. */
function exposedGc(): (options: GcOptions) => void {
  const gc = (globalThis as { gc?: (options: GcOptions) => void }).gc;
  if (gc === undefined) throw new Error("compile-bench: run node with --expose-gc");
  return gc;
}
/** A full collection that leaves the heap's spaces their size (freed pages stay with the process). */
const collect = () => exposedGc()({ type: "major", execution: "sync" });
/**
 * Collects every garbage and returns freed pages to the system (V8's last-resort collection; a
 * plain one leaves freed pages with the process, which RSS still counts).
 */
const settle = () => exposedGc()({ type: "major", execution: "sync", flavor: "last-resort" });

/** A figure of /proc/self/status in MiB (VmRSS: resident now; VmHWM: highest since the last resetPeakRss). */
function procStatusMiB(field: "VmRSS" | "VmHWM"): number {
  const kB = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  if (kB === undefined) throw new Error(`compile-bench: no ${field} in /proc/self/status`);
  return Number(kB) / 1024;
}

/** Starts VmHWM again from the current RSS (Linux: clear_refs 5). */
const resetPeakRss = () => writeFileSync("/proc/self/clear_refs", "5");
/** The value, the wall milliseconds and the CPU milliseconds (user + system) `f` took. */
const timed = <T>(f: () => T): [T, number, number] => {
  const cpu = process.cpuUsage();
  const t = performance.now();
  const value = f();
  const used = process.cpuUsage(cpu);
  return [value, performance.now() - t, (used.user + used.system) / 1000];
};

function run(tenants: number, keysPerSecret: number): CompileReport {
  const world = buildWorld({ tenants, keysPerSecret, jwk: createIdp().jwk });
  const raws = world.objects.map((object) => ({ object, origin: "kube" }));
  settle();
  const rssInputMiB = procStatusMiB("VmRSS");
  const [{ resources, rejected }, toResourcesMs] = timed(() => toResources(raws));
  const [, inputDigestsMs] = timed(() => {
    for (const list of Object.values(resources)) for (const o of list) digestOf(o);
  });
  collect();
  resetPeakRss();
  const options = { controllerName: "portcullis.io/gateway-controller", gatewayClasses: [] };
  let [result, compileColdMs, compileColdCpuMs] = timed(() => compile(resources, options));
  const warm: number[] = [];
  const warmCpu: number[] = [];
  while (warm.length < WARM_RUNS) {
    const [next, ms, cpuMs] = timed(() => compile(resources, options));
    result = next;
    warm.push(ms);
    warmCpu.push(cpuMs);
  }
  const rssPeakMiB = procStatusMiB("VmHWM");
  settle();
  const rssSettledMiB = procStatusMiB("VmRSS");
  const { heapUsed, heapTotal, external } = process.memoryUsage();
  const accepted = result.statuses.filter((s) =>
    s.ancestors.every((a) => a.conditions.some((c) => c.type === "Accepted" && c.status === "True")),
  ).length;
  return {
    tenants,
    counts: world.counts,
    rejected: rejected.length,
    acceptedPolicies: accepted,
    toResourcesMs,
    inputDigestsMs,
    compileColdMs,
    compileWarmMs: median(warm),
    compileColdCpuMs,
    compileWarmCpuMs: median(warmCpu),
    rssInputMiB,
    rssSettledMiB,
    rssPeakMiB,
    heapUsedMiB: heapUsed / MiB,
    heapTotalMiB: heapTotal / MiB,
    externalMiB: external / MiB,
  };
}

if (import.meta.main) {
  const [tenants = "10000", keys = "20"] = process.argv.slice(2);
  process.stdout.write(`${JSON.stringify(run(Number(tenants), Number(keys)))}\n`);
}
