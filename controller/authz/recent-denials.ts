/** The last denials, for the admin page: what the audit log says of each, in a bounded ring. */

/** One denial as the audit line records it: no query, no credential, no header value. */
export interface DenialRecord {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly protocol: string;
  readonly method: string;
  readonly host: string;
  /** Normalised path without the query (it may carry a token or an API key). */
  readonly path: string;
  readonly status: number;
  readonly code: string;
  readonly route: string | undefined;
  readonly policy: string | undefined;
  /** The operator's reason (the decision's message). */
  readonly reason: string;
}

/** Keeps the newest `capacity` denials; O(1) per record. */
export class RecentDenials {
  readonly capacity: number;
  readonly #ring: (DenialRecord | undefined)[];
  #next = 0;

  constructor(capacity = 50) {
    this.capacity = capacity;
    this.#ring = new Array<DenialRecord | undefined>(capacity);
  }

  record(denial: DenialRecord): void {
    this.#ring[this.#next] = denial;
    this.#next = (this.#next + 1) % this.capacity;
  }

  /** Newest first. */
  list(): DenialRecord[] {
    const out: DenialRecord[] = [];
    for (let i = 1; i <= this.capacity; i++) {
      const d = this.#ring[(this.#next - i + this.capacity) % this.capacity];
      if (d !== undefined) out.push(d);
    }
    return out;
  }
}
