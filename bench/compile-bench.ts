/**
 * Compile time and memory of a large world, in a fresh process so RSS belongs to this world only.
 *   node --expose-gc bench/compile-bench.ts TENANTS KEYS_PER_SECRET   → one JSON line on stdout
 * The objects are built in memory the way the API server hands them over (what Kubernetes mode
 * holds), then go through the same steps as a rebuild: toResources (validation), the input
 * fingerprint (the pipeline's own, per object), compile() (cold, then warm).
 */
import { toResources } from "../controller/api/resources.ts";
import { compile } from "../controller/compile/index.ts";
import { fingerprintOf } from "../controller/runtime/pipeline.ts";
import { median } from "./spread.ts";
import { createIdp } from "./tokens.ts";
import { buildWorld } from "./world.ts";

export interface CompileReport {
  readonly tenants: number;
  readonly counts: { routes: number; hosts: number; policies: number; apiKeys: number };
  readonly rejected: number;
  readonly acceptedPolicies: number;
  readonly toResourcesMs: number;
  readonly fingerprintMs: number;
  /** First compile in this process (cold JIT), and the median of the next one to three: wall time, and CPU time. */
  readonly compileColdMs: number;
  readonly compileWarmMs: number;
  readonly compileColdCpuMs: number;
  readonly compileWarmCpuMs: number;
  /** RSS with only the input objects in memory (after a GC). */
  readonly rssInputMiB: number;
  /** RSS holding input + Resources + one snapshot (after a GC), and the process's peak RSS. */
  readonly rssSettledMiB: number;
  readonly rssPeakMiB: number;
  /** V8 heap in use and reserved, and memory outside the heap (key objects, buffers), after a GC. */
  readonly heapUsedMiB: number;
  readonly heapTotalMiB: number;
  readonly externalMiB: number;
}

const MiB = 1024 * 1024;
const gc = () => (globalThis as { gc?: () => void }).gc?.();
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
  gc();
  const rssInputMiB = process.memoryUsage().rss / MiB;
  const [{ resources, rejected }, toResourcesMs] = timed(() => toResources(raws));
  const [, fingerprintMs] = timed(() => fingerprintOf(resources));
  const options = { controllerName: "portcullis.io/gateway-controller", gatewayClasses: [] };
  let [result, compileColdMs, compileColdCpuMs] = timed(() => compile(resources, options));
  // Up to three warm runs, fewer when compile is slow (make bench has a time budget).
  const warm: number[] = [];
  const warmCpu: number[] = [];
  while (warm.length < 3 && (warm.length === 0 || warm.reduce((a, b) => a + b, 0) + compileColdMs < 6000)) {
    const [next, ms, cpuMs] = timed(() => compile(resources, options));
    result = next;
    warm.push(ms);
    warmCpu.push(cpuMs);
  }
  gc();
  const accepted = result.statuses.filter((s) =>
    s.ancestors.every((a) => a.conditions.some((c) => c.type === "Accepted" && c.status === "True")),
  ).length;
  return {
    tenants,
    counts: world.counts,
    rejected: rejected.length,
    acceptedPolicies: accepted,
    toResourcesMs,
    fingerprintMs,
    compileColdMs,
    compileWarmMs: median(warm),
    compileColdCpuMs,
    compileWarmCpuMs: median(warmCpu),
    rssInputMiB,
    rssSettledMiB: process.memoryUsage().rss / MiB,
    rssPeakMiB: (process.resourceUsage().maxRSS * 1024) / MiB,
    heapUsedMiB: process.memoryUsage().heapUsed / MiB,
    heapTotalMiB: process.memoryUsage().heapTotal / MiB,
    externalMiB: process.memoryUsage().external / MiB,
  };
}

if (import.meta.main) {
  const [tenants = "10000", keys = "20"] = process.argv.slice(2);
  process.stdout.write(`${JSON.stringify(run(Number(tenants), Number(keys)))}\n`);
}
