/**
 * Preloaded into every Node server under load (NODE_OPTIONS=--import), the bare baseline and
 * Portcullis alike: counts the bytes allocated on the V8 heap, a cost that does not depend on the
 * machine's speed or its neighbours. On SIGUSR2 it writes `{"seq":N,"allocatedBytes":B}` to the
 * file named by BENCH_HEAP_PROBE_FILE, B counted since the first SIGUSR2 (which reports 0); seq 0
 * at start-up says the handler is in place (before it, SIGUSR2 would end the process).
 *
 * V8 reports no allocation counter, so it is reconstructed: heap in use now − heap in use at the
 * first reading + everything each garbage collection freed since (v8.GCProfiler gives the heap
 * before and after each one). The profiler does work per collection only, never per request.
 *
 * Read it seldom in a process whose memory is measured: Node's GCProfiler keeps its collection
 * hooks after stop() until a full collection frees it, and each stopped profiler goes on writing
 * every collection's heap statistics into a buffer of its own. One reading before and after every
 * run left 90 of them in Portcullis by the end of `make bench`, and its RSS at 10,000 routes grew
 * from 349 to 414 MiB (10 routes: 165 to 235); bench/serve-bench.ts now reads it in the last round
 * only. Freeing them with a forced full collection at each reading is no cure: V8 then shrinks the
 * young generation, and the next second of load cost 1.7-2× the CPU per request.
 */
import { renameSync, writeFileSync } from "node:fs";
import { GCProfiler, getHeapStatistics } from "node:v8";

interface GcEntry {
  readonly beforeGC: { readonly heapStatistics: { readonly usedHeapSize: number } };
  readonly afterGC: { readonly heapStatistics: { readonly usedHeapSize: number } };
}

const file = process.env.BENCH_HEAP_PROBE_FILE;
if (file !== undefined && file !== "") {
  // Started at the first reading: until a process is read, no profiler records anything in it.
  let profiler: GCProfiler | undefined;
  let firstUsed = 0;
  let freed = 0;
  let seq = 0;
  const report = (allocatedBytes: number) => {
    // Written aside and renamed over, so a reader never sees half a file.
    writeFileSync(`${file}.next`, JSON.stringify({ seq, allocatedBytes }));
    renameSync(`${file}.next`, file);
  };
  process.on("SIGUSR2", () => {
    // stop() hands over the collections so far; a new profiler takes the next ones.
    const entries = (profiler?.stop()?.statistics ?? []) as readonly GcEntry[];
    if (profiler === undefined) firstUsed = getHeapStatistics().used_heap_size;
    profiler = new GCProfiler();
    profiler.start();
    for (const e of entries) freed += e.beforeGC.heapStatistics.usedHeapSize - e.afterGC.heapStatistics.usedHeapSize;
    seq++;
    report(getHeapStatistics().used_heap_size - firstUsed + freed);
  });
  report(0);
}
