/** Measuring what values hold on the V8 heap, for tests of memory bounds. */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
/** A full garbage collection (the test worker is not started with --expose-gc). */
const collect = runInNewContext("gc") as () => void;

/**
 * Heap in use, bytes, once full collections stop freeing anything: garbage left by earlier tests
 * in the same worker (weak maps, finalizers, flushed code) can take several collections to go, and
 * counted after `make()` it made a held size negative.
 */
function settledHeapUsed(): number {
  let used = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 10; i++) {
    collect();
    const now = process.memoryUsage().heapUsed;
    if (now >= used) return now;
    used = now;
  }
  return used;
}

/** Bytes of heap that `make()`'s result keeps alive (after full collections), and the result. */
export function heapHeldBy<T>(make: () => T): { bytes: number; value: T } {
  const before = settledHeapUsed();
  const value = make();
  return { bytes: settledHeapUsed() - before, value };
}

/** As heapHeldBy, for a `make()` that must be waited for. */
export async function heapHeldByAwaited<T>(make: () => Promise<T>): Promise<{ bytes: number; value: T }> {
  const before = settledHeapUsed();
  const value = await make();
  return { bytes: settledHeapUsed() - before, value };
}
