/**
 * Preloaded into every Node server under load (NODE_OPTIONS=--import), the bare baseline and
 * Portcullis alike: counts the bytes allocated on the V8 heap, a cost that does not depend on the
 * machine's speed or its neighbours. On SIGUSR2 it writes `{"seq":N,"allocatedBytes":B}` to the
 * file named by BENCH_HEAP_PROBE_FILE, B counted since the process started; seq 0 at start-up says
 * the handler is in place (before it, SIGUSR2 would end the process).
 *
 * V8 reports no allocation counter, so it is reconstructed: heap in use now − heap in use at the
 * start + everything each garbage collection freed (v8.GCProfiler gives the heap before and after
 * each one). The profiler does work per collection only, never per request.
 */
import { renameSync, writeFileSync } from "node:fs";
import { GCProfiler, getHeapStatistics } from "node:v8";

interface GcEntry {
  readonly beforeGC: { readonly heapStatistics: { readonly usedHeapSize: number } };
  readonly afterGC: { readonly heapStatistics: { readonly usedHeapSize: number } };
}

const file = process.env.BENCH_HEAP_PROBE_FILE;
if (file !== undefined && file !== "") {
  let profiler = new GCProfiler();
  profiler.start();
  const startUsed = getHeapStatistics().used_heap_size;
  let freed = 0;
  let seq = 0;
  const report = (allocatedBytes: number) => {
    // Written aside and renamed over, so a reader never sees half a file.
    writeFileSync(`${file}.next`, JSON.stringify({ seq, allocatedBytes }));
    renameSync(`${file}.next`, file);
  };
  process.on("SIGUSR2", () => {
    // stop() hands over the collections so far; a new profiler takes the next ones.
    const entries = (profiler.stop()?.statistics ?? []) as readonly GcEntry[];
    profiler = new GCProfiler();
    profiler.start();
    for (const e of entries) freed += e.beforeGC.heapStatistics.usedHeapSize - e.afterGC.heapStatistics.usedHeapSize;
    seq++;
    report(getHeapStatistics().used_heap_size - startUsed + freed);
  });
  report(0);
}
