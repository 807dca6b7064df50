/**
 * A map that holds at most `capacity` entries by keeping two generations: new entries go to the
 * current one; when it is half full it becomes the previous one and the old previous is dropped
 * whole. Eviction is O(1). (Deleting the oldest entry of one big Map one at a time is not: V8
 * leaves deleted slots at the front until it rehashes, and finding the next oldest key walks
 * them; at 10,000 entries that walk cost about 6 µs per insert.)
 *
 * With `weigh`, the capacity is a total weight (bytes, say) rather than a count: each entry weighs
 * `weigh(value, key)`, read when it is set, replaced or deleted. A value may shrink while held (the
 * bound then errs on the safe side) but must not grow; one weighing more than half the capacity
 * is not kept at all.
 */
export class BoundedMap<K, V> {
  readonly #half: number;
  readonly #weigh: ((value: V, key: K) => number) | undefined;
  #current = new Map<K, V>();
  #previous = new Map<K, V>();
  #currentWeight = 0;
  #previousWeight = 0;

  constructor(capacity: number, weigh?: (value: V, key: K) => number) {
    this.#half = Math.max(1, Math.floor(capacity / 2));
    this.#weigh = weigh;
  }

  get(key: K): V | undefined {
    const found = this.#current.get(key);
    return found !== undefined ? found : this.#previous.get(key);
  }

  set(key: K, value: V): void {
    const weight = this.#weightOf(value, key);
    if (weight > this.#half) {
      this.delete(key);
      return;
    }
    const held = this.#current.has(key) ? this.#weightOf(this.#current.get(key)!, key) : 0;
    if (this.#currentWeight - held + weight > this.#half) {
      this.#previous = this.#current;
      this.#previousWeight = this.#currentWeight;
      this.#current = new Map();
      this.#currentWeight = 0;
    } else this.#currentWeight -= held;
    this.#deleteFromPrevious(key);
    this.#current.set(key, value);
    this.#currentWeight += weight;
  }

  delete(key: K): void {
    if (this.#current.has(key)) {
      this.#currentWeight -= this.#weightOf(this.#current.get(key)!, key);
      this.#current.delete(key);
    }
    this.#deleteFromPrevious(key);
  }

  /** Entries held. */
  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  /** Total weight held (the entry count without `weigh`); at most the capacity. */
  get weight(): number {
    return this.#currentWeight + this.#previousWeight;
  }

  #deleteFromPrevious(key: K): void {
    if (!this.#previous.has(key)) return;
    this.#previousWeight -= this.#weightOf(this.#previous.get(key)!, key);
    this.#previous.delete(key);
  }

  #weightOf(value: V, key: K): number {
    return this.#weigh === undefined ? 1 : this.#weigh(value, key);
  }
}
