/**
 * Preloaded (node --import) into a server whose memory is under study (bench/rss-rounds.ts): on
 * SIGUSR2 it writes what the process holds to BENCH_MEMORY_PROBE_FILE as JSON, first as it is, then
 * after a full garbage collection, so live data (heap used after the collection) is told apart from
 * garbage the heap has not collected yet, from heap committed but unused, and from memory outside
 * the V8 heap (RSS − heap committed: code, Buffers, OpenSSL, thread stacks, malloc).
 * `{ seq, before, after }`, each `{ rss, heapTotal, heapUsed, external, arrayBuffers }` in bytes
 * (process.memoryUsage()) plus `spaces`: per V8 space, committed and used bytes.
 */
import { renameSync, writeFileSync } from "node:fs";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

const file = process.env.BENCH_MEMORY_PROBE_FILE;
if (file !== undefined && file !== "") {
  // The collector's entry point, without --expose-gc on the command line (bin/portcullis sets the flags).
  setFlagsFromString("--expose-gc");
  const collect = runInNewContext("gc") as () => void;
  const sample = () => ({
    ...process.memoryUsage(),
    spaces: Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { committed: s.space_size, used: s.space_used_size }])),
  });
  let seq = 0;
  process.on("SIGUSR2", () => {
    const before = sample();
    collect();
    const after = sample();
    seq++;
    writeFileSync(`${file}.next`, JSON.stringify({ seq, before, after }));
    renameSync(`${file}.next`, file);
  });
  writeFileSync(file, JSON.stringify({ seq }));
}
