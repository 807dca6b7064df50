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

/**
 * As heapHeldBy, counting ArrayBuffer memory too (typed arrays keep their bytes outside the V8 heap):
 * bytes of heap and array buffers that `make()`'s result keeps alive.
 */
export function memoryHeldBy<T>(make: () => T): { bytes: number; value: T } {
  const before = settledMemory();
  const value = make();
  return { bytes: settledMemory() - before, value };
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Heap in use plus array buffers, once full collections free neither three times in a row: V8 frees
 * a dead buffer's memory while it sweeps, after the collection that found it dead returned.
 */
function settledMemory(): number {
  let used = Number.POSITIVE_INFINITY;
  let still = 0;
  for (let i = 0; i < 30 && still < 3; i++) {
    collect();
    // The buffers' memory is freed by V8's sweeper, on another thread: it is given 10 ms.
    Atomics.wait(PAUSE, 0, 0, 10);
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    still = heapUsed + arrayBuffers >= used ? still + 1 : 0;
    used = Math.min(used, heapUsed + arrayBuffers);
  }
  return used;
}
