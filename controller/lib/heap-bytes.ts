/**
 * An upper estimate of the V8 heap a plain JSON-like value holds (strings, numbers, arrays, plain
 * objects), in bytes, for caches bounded by memory rather than by entries. Calibrated on Node 24
 * (64-bit, no pointer compression; test/lib/heap-bytes.test.ts measures it): a string costs its
 * header and 1 byte per character (2 when any is beyond Latin-1); an object a header, its keys, and
 * 11 words per property (a slot, and the hidden class and descriptor a key never seen before adds);
 * an array a header and a word per element. Shared strings and objects are counted each time they
 * are reached.
 */
export function estimatedHeapBytes(value: unknown): number {
  switch (typeof value) {
    case "string":
      return stringBytes(value);
    case "number":
      return HEAP_NUMBER;
    case "object": {
      if (value === null) return 0;
      if (Array.isArray(value)) {
        let n = ARRAY_HEADER + WORD * value.length;
        for (const item of value) n += estimatedHeapBytes(item);
        return n;
      }
      let n = OBJECT_HEADER;
      for (const key in value) n += PROPERTY + stringBytes(key) + estimatedHeapBytes((value as Record<string, unknown>)[key]);
      return n;
    }
    default:
      return WORD;
  }
}

const WORD = 8;
const HEAP_NUMBER = 16;
const PROPERTY = 11 * WORD;
const STRING_HEADER = 24;
const ARRAY_HEADER = 48;
const OBJECT_HEADER = 64;
const BEYOND_LATIN1 = /[^\x00-\xff]/;

const stringBytes = (s: string) => STRING_HEADER + (BEYOND_LATIN1.test(s) ? 2 : 1) * s.length;
