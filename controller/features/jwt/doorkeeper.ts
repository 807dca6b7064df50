/**
 * The token cache's doorkeeper (token-cache.ts, admission on second sight): which tokens verified
 * once, under which key array, until when. Held in typed arrays, a ring of slots overwritten
 * oldest first, so a record is no object on the heap: a record per new token as objects (its digest
 * string, the record, its number and the map's slot) was about 210 bytes of old generation per new
 * token, which the next full collection had to clear (issue 17). Found through a table of chains by
 * entry key; a chain link names the sequence number of the record it points to, so a slot
 * overwritten since is the chain's end, and nothing is unlinked. Capacity grows by doubling up to
 * the bound, so a cache that sees few tokens holds little.
 */
import type { VerificationKey } from "../../api/jwks.ts";

/**
 * Bytes one slot takes, its share of the chain heads included (at most two heads per slot): the
 * SHA-256 (32), valid-until (8), sequence (8), entry key (4), link (4) and the link's sequence (8),
 * the key array's reference (4), and two heads of 4 + 8.
 */
export const SLOT_BYTES = 32 + 8 + 8 + 4 + 4 + 8 + 4 + 2 * (4 + 8);

/** Slots of the first allocation; each growth doubles them. */
const FIRST_SLOTS = 64;

/** Records a lookup compares at most: beyond, a token is verified again (never less). */
const MAX_CHAIN = 16;

/** SHA-256 bytes per record. */
const DIGEST_BYTES = 32;

export class Doorkeeper {
  readonly #maxSlots: number;
  #slots = 0;
  /** Records written since the last (re)allocation: the next goes to slot `#written % #slots`, with sequence `#sequence + 1`. */
  #written = 0;
  #sequence = 0;
  #digests = new Uint8Array(0);
  #validUntil = new Float64Array(0);
  /** Each slot's sequence number (0: never written). */
  #sequenceOf = new Float64Array(0);
  #entryKey = new Int32Array(0);
  #next = new Int32Array(0);
  #nextSequence = new Float64Array(0);
  #keys: (readonly VerificationKey[] | undefined)[] = [];
  #heads = new Int32Array(0);
  #headSequence = new Float64Array(0);

  /** `maxBytes`: the bound on the slots' bytes (SLOT_BYTES each); 0 records nothing. */
  constructor(maxBytes: number) {
    this.#maxSlots = Math.floor(maxBytes / SLOT_BYTES);
  }

  /** Bytes allocated for records, at most the bound. */
  get bytes(): number {
    return this.#slots * SLOT_BYTES;
  }

  /**
   * Whether a record under `entryKey` and this very `keys` array is valid at `now` with `digest` (a
   * SHA-256 as 32 latin1 characters), or with any digest when `digest` is undefined (asked first:
   * a new token's entry key holds none, and its digest is then never computed).
   */
  holds(entryKey: number, digest: string | undefined, keys: readonly VerificationKey[], now: number): boolean {
    if (this.#slots === 0) return false;
    const bucket = entryKey & (this.#heads.length - 1);
    let slot = this.#heads[bucket]!;
    let expected = this.#headSequence[bucket]!;
    for (let step = 0; step < MAX_CHAIN && expected !== 0 && this.#sequenceOf[slot] === expected; step++) {
      if (
        this.#entryKey[slot] === entryKey &&
        this.#keys[slot] === keys &&
        now < this.#validUntil[slot]! &&
        (digest === undefined || this.#digestAt(slot, digest))
      )
        return true;
      expected = this.#nextSequence[slot]!;
      slot = this.#next[slot]!;
    }
    return false;
  }

  /** Records that the token with `digest` (as for `holds`) under `entryKey` verified under `keys`, until `validUntil` (epoch ms). */
  record(entryKey: number, digest: string, keys: readonly VerificationKey[], validUntil: number): void {
    if (this.#maxSlots === 0) return;
    if (this.#written >= this.#slots && this.#slots < this.#maxSlots) this.#grow();
    const slot = this.#nextSlot(entryKey, keys, validUntil);
    for (let i = 0; i < DIGEST_BYTES; i++) this.#digests[slot * DIGEST_BYTES + i] = digest.charCodeAt(i);
  }

  /** Takes the next slot for a record (its digest still to be written there) and links it first in its chain. */
  #nextSlot(entryKey: number, keys: readonly VerificationKey[], validUntil: number): number {
    const slot = this.#written % this.#slots;
    this.#written++;
    const sequence = ++this.#sequence;
    this.#validUntil[slot] = validUntil;
    this.#entryKey[slot] = entryKey;
    this.#keys[slot] = keys;
    const bucket = entryKey & (this.#heads.length - 1);
    this.#next[slot] = this.#heads[bucket]!;
    this.#nextSequence[slot] = this.#headSequence[bucket]!;
    this.#sequenceOf[slot] = sequence;
    this.#heads[bucket] = slot;
    this.#headSequence[bucket] = sequence;
    return slot;
  }

  #digestAt(slot: number, digest: string): boolean {
    const at = slot * DIGEST_BYTES;
    for (let i = 0; i < DIGEST_BYTES; i++) if (this.#digests[at + i] !== digest.charCodeAt(i)) return false;
    return true;
  }

  /** Twice the slots (at most the bound), the records held written again oldest first. */
  #grow(): void {
    const old = {
      slots: this.#slots,
      written: this.#written,
      digests: this.#digests,
      validUntil: this.#validUntil,
      entryKey: this.#entryKey,
      keys: this.#keys,
    };
    const slots = Math.min(this.#maxSlots, Math.max(FIRST_SLOTS, 2 * this.#slots));
    // A power of two between slots and twice as many: two heads per slot at most (SLOT_BYTES).
    const buckets = 2 ** Math.ceil(Math.log2(slots));
    this.#slots = slots;
    this.#written = 0;
    this.#digests = new Uint8Array(slots * DIGEST_BYTES);
    this.#validUntil = new Float64Array(slots);
    this.#sequenceOf = new Float64Array(slots);
    this.#entryKey = new Int32Array(slots);
    this.#next = new Int32Array(slots);
    this.#nextSequence = new Float64Array(slots);
    this.#keys = new Array<readonly VerificationKey[] | undefined>(slots).fill(undefined);
    this.#heads = new Int32Array(buckets);
    this.#headSequence = new Float64Array(buckets);
    // Grown only once full: every old slot holds a record, the oldest at `written % slots`.
    for (let n = 0; n < old.slots; n++) {
      const from = (old.written + n) % old.slots;
      const to = this.#nextSlot(old.entryKey[from]!, old.keys[from]!, old.validUntil[from]!);
      this.#digests.set(old.digests.subarray(from * DIGEST_BYTES, (from + 1) * DIGEST_BYTES), to * DIGEST_BYTES);
    }
  }
}
