/**
 * Preloaded into every Node server under load (NODE_OPTIONS=--import), the bare baseline and
 * Portcullis alike: V8's own counts of what the server's garbage collection costs, figures that do
 * not depend on the machine's speed or its neighbours. Nothing of it is loaded outside the benchmark.
 *
 * On SIGUSR2 it writes `{"seq":N,"gc":{"scavenges":S,"markCompacts":M,"pauseMs":P},"allocatedBytes":B}`
 * to the file named by BENCH_HEAP_PROBE_FILE; seq 0 at start-up says the handler is in place (before
 * it, SIGUSR2 would end the process).
 * - `gc`: collections since start-up, from Node's PerformanceObserver 'gc' entries: scavenges
 *   (young generation, by copying or by minor mark-sweep), mark-compacts (full collections), and
 *   the main thread's pause in every collection, incremental marking steps included, ms. The
 *   observer does work per collection only, never per request, and is never stopped.
 * - `allocatedBytes`: only when the reader asked for it by writing "allocations" to
 *   `${BENCH_HEAP_PROBE_FILE}.ask` before the signal; bytes allocated on the V8 heap since the first
 *   such reading (which reports 0). V8 reports no allocation counter, so it is reconstructed: heap
 *   in use now − heap in use at the first reading + everything each collection freed since
 *   (v8.GCProfiler gives the heap before and after each one).
 *
 * - A reading asked with "settle" (settleHeap in bench/counters.ts) first runs a full collection:
 *   once, right after start-up, so that the garbage start-up left in the old generation is not
 *   collected in the middle of a measured round (in the 10,000-route world that collection cost
 *   about 300 ms of the main thread, +40 µs per request in a one-second round of new tokens:
 *   BENCHMARKS.md, "All-new tokens: why the rounds spread"). Collections the load causes are counted as before.
 *
 * Ask for allocations seldom in a process whose memory is measured: Node's GCProfiler keeps its
 * collection hooks after stop() until a full collection frees it, and each stopped profiler goes on
 * writing every collection's heap statistics into a buffer of its own. One reading before and after
 * every run left 90 of them in Portcullis by the end of `make bench`, and its RSS at 10,000 routes
 * grew from 349 to 414 MiB (10 routes: 165 to 235); bench/serve-bench.ts asks in the last round
 * only. Freeing them with a forced full collection at each reading is no cure: V8 then shrinks the
 * young generation, and the next second of load cost 1.7-2× the CPU per request.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { constants, type NodeGCPerformanceDetail, type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";
import { GCProfiler, getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

interface GcEntry {
  readonly beforeGC: { readonly heapStatistics: { readonly usedHeapSize: number } };
  readonly afterGC: { readonly heapStatistics: { readonly usedHeapSize: number } };
}

/** Collections since start-up; `pauseMs` is the main thread's time inside them. */
export interface GcTally {
  scavenges: number;
  markCompacts: number;
  pauseMs: number;
}

/** What a reading of the probe answers (see the file comment). */
export interface HeapProbeReport {
  readonly seq: number;
  readonly gc: GcTally;
  readonly allocatedBytes?: number;
}

/** The request file a reader writes "allocations" (count allocation) or "settle" (a full collection first) to before SIGUSR2. */
export const askFile = (file: string): string => `${file}.ask`;

/** What a reading may ask for besides the collection counts (see the file comment). */
export type ProbeAsk = "allocations" | "settle";

/** A full collection, from V8's gc() exposed in a context of its own (the process was not started with --expose-gc). */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

/** Adds one 'gc' performance entry to `tally`. */
function tallyGc(tally: GcTally, entry: PerformanceEntry): void {
  // A 'gc' entry carries its kind in `detail`, which the PerformanceEntry type leaves out.
  const { kind } = (entry as PerformanceEntry & { readonly detail: NodeGCPerformanceDetail }).detail;
  if (kind === constants.NODE_PERFORMANCE_GC_MINOR || kind === constants.NODE_PERFORMANCE_GC_MINOR_MARK_SWEEP) tally.scavenges++;
  else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) tally.markCompacts++;
  tally.pauseMs += entry.duration;
}

const file = process.env.BENCH_HEAP_PROBE_FILE;
if (file !== undefined && file !== "") {
  const gc: GcTally = { scavenges: 0, markCompacts: 0, pauseMs: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) tallyGc(gc, e);
  });
  observer.observe({ entryTypes: ["gc"] });
  // Started at the first reading that asks for allocations: until then it records nothing.
  let profiler: GCProfiler | undefined;
  let firstUsed = 0;
  let freed = 0;
  let seq = 0;
  const report = (allocatedBytes: number | undefined) => {
    const answer: HeapProbeReport = { seq, gc, ...(allocatedBytes === undefined ? {} : { allocatedBytes }) };
    // Written aside and renamed over, so a reader never sees half a file.
    writeFileSync(`${file}.next`, JSON.stringify(answer));
    renameSync(`${file}.next`, file);
  };
  const allocatedSoFar = () => {
    // stop() hands over the collections so far; a new profiler takes the next ones.
    const entries = (profiler?.stop()?.statistics ?? []) as readonly GcEntry[];
    if (profiler === undefined) firstUsed = getHeapStatistics().used_heap_size;
    profiler = new GCProfiler();
    profiler.start();
    for (const e of entries) freed += e.beforeGC.heapStatistics.usedHeapSize - e.afterGC.heapStatistics.usedHeapSize;
    return getHeapStatistics().used_heap_size - firstUsed + freed;
  };
  process.on("SIGUSR2", () => {
    // Entries of the last collections may still wait for delivery.
    for (const e of observer.takeRecords()) tallyGc(gc, e);
    const askPath = askFile(file);
    const ask = existsSync(askPath) ? readFileSync(askPath, "utf8") : "";
    rmSync(askPath, { force: true });
    if (ask !== "settle") {
      seq++;
      report(ask === "allocations" ? allocatedSoFar() : undefined);
      return;
    }
    collectGarbage();
    // Its entry is delivered on a later turn of the event loop; tallied before this answer, so no run's counts take it in.
    setTimeout(() => {
      for (const e of observer.takeRecords()) tallyGc(gc, e);
      seq++;
      report(undefined);
    }, 20);
  });
  report(undefined);
}
