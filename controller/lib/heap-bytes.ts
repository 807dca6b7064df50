import { fnv1a, FNV_OFFSET } from "./fingerprint.ts";

/**
 * An upper estimate of the V8 heap a plain JSON-like value holds (strings, numbers, arrays, plain
 * objects), in bytes, for caches bounded by memory rather than by entries. Calibrated on Node 24
 * (64-bit, no pointer compression; test/lib/heap-bytes.test.ts measures it): a string costs its
 * header and 1 byte per character (2 when any is beyond Latin-1); an object a header, its keys, and
 * 11 words per property (a slot, and the hidden class and descriptor a key never seen before adds);
 * an array a header and a word per element. Shared strings and objects are counted each time they
 * are reached.
 *
 * With `shapes`, an object whose member names, in order, were priced before (its shape) costs a
 * word per property and its values only: V8 gives every object of one shape the same hidden class
 * and the same interned names, so they exist once however many objects share them (tokens of one
 * issuer carry claims of a few shapes).
 */
export function estimatedHeapBytes(value: unknown, shapes?: KnownShapes): number {
  if (typeof value !== "object" || value === null) return scalarBytes(value);
  let total = 0;
  // Containers still to price (iterative, so deep nesting cannot exhaust the stack): none for a flat object.
  let pending: object[] | undefined;
  let current: object | undefined = value;
  while (current !== undefined) {
    if (Array.isArray(current)) {
      total += ARRAY_HEADER + WORD * current.length;
      for (const item of current) {
        if (typeof item === "object" && item !== null) (pending ??= []).push(item);
        else total += scalarBytes(item);
      }
    } else {
      // Both prices at once; which one applies is known once every name is read.
      let names = 0;
      let properties = 0;
      let shape = FNV_OFFSET;
      for (const key in current) {
        const member = (current as Record<string, unknown>)[key];
        if (typeof member === "object" && member !== null) (pending ??= []).push(member);
        else total += scalarBytes(member);
        names += stringBytes(key);
        properties++;
        if (shapes !== undefined) shape = shapeStep(shape, key);
      }
      total += OBJECT_HEADER + (shapes?.priced(shape) ? WORD * properties : PROPERTY * properties + names);
    }
    current = pending?.pop();
  }
  return total;
}

/** A value that is not an object: a string by its characters, a number as a heap number, null nothing, anything else a word. */
function scalarBytes(value: unknown): number {
  if (typeof value === "string") return stringBytes(value);
  if (typeof value === "number") return HEAP_NUMBER;
  return value === null ? 0 : WORD;
}

/**
 * The object shapes an estimate has priced in full, as 32-bit fingerprints of their member names
 * in order. Bounded: past `capacity` shapes, a new one is priced in full every time (never too
 * low). Two shapes with one fingerprint (about one chance in 2^32 per pair) would price the
 * second's names once too few: some hundred bytes, once.
 */
export class KnownShapes {
  readonly #seen = new Set<number>();
  readonly #capacity: number;

  constructor(capacity = 4096) {
    this.#capacity = capacity;
  }

  /** Whether `shape` was priced before; remembers it (room permitting) so the next object of that shape is not. */
  priced(shape: number): boolean {
    if (this.#seen.has(shape)) return true;
    if (this.#seen.size < this.#capacity) this.#seen.add(shape);
    return false;
  }
}

/** The shape fingerprint carried on over one more name, then a separator (so "ab", "c" and "a", "bc" differ). */
const shapeStep = (hash: number, name: string) => fnv1a(hash, name, 0, name.length) ^ 0xffff;

const WORD = 8;
const HEAP_NUMBER = 16;
const PROPERTY = 11 * WORD;
const STRING_HEADER = 24;
const ARRAY_HEADER = 48;
const OBJECT_HEADER = 64;

/** Any character beyond Latin-1 (V8 answers at once for a string it holds one byte a character). */
const BEYOND_LATIN1 = /[^\x00-\xff]/;

const stringBytes = (s: string) => STRING_HEADER + (BEYOND_LATIN1.test(s) ? 2 : 1) * s.length;
