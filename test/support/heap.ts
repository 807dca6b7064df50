/** Measuring what values hold on the V8 heap, for tests of memory bounds. */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
/** A full garbage collection (the test worker is not started with --expose-gc). */
const collect = runInNewContext("gc") as () => void;

/** Bytes of heap that `make()`'s result keeps alive (after full collections), and the result. */
export function heapHeldBy<T>(make: () => T): { bytes: number; value: T } {
  collect();
  collect();
  const before = process.memoryUsage().heapUsed;
  const value = make();
  collect();
  collect();
  return { bytes: process.memoryUsage().heapUsed - before, value };
}
