/**
 * bcrypt comparisons off the decision thread: a small pool of worker threads with a bounded queue.
 * A full queue answers "busy" at once instead of making every later request wait behind it.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";

export interface BcryptPoolOptions {
  /** Worker threads; default: one less than the CPUs, at least 1, at most 4. */
  readonly size?: number;
  /** Comparisons that may wait for a worker; one more is refused ("busy"). Default 64. */
  readonly queueLimit?: number;
}

interface Job {
  readonly id: number;
  readonly password: string;
  readonly hash: string;
  readonly settle: (result: boolean | Error) => void;
}

interface Slot {
  worker: Worker | undefined;
  job: Job | undefined;
}

const WORKER = new URL("./bcrypt-worker.ts", import.meta.url);

export class BcryptPool {
  readonly #slots: Slot[];
  readonly #queueLimit: number;
  readonly #waiting: Job[] = [];
  #nextId = 0;
  #completed = 0;
  #closed = false;

  constructor(options: BcryptPoolOptions = {}) {
    const size = options.size ?? Math.max(1, Math.min(4, availableParallelism() - 1));
    this.#slots = Array.from({ length: size }, () => ({ worker: undefined, job: undefined }));
    this.#queueLimit = options.queueLimit ?? 64;
  }

  /** Comparisons finished so far (matching or not): what tests read to see the work was done. */
  get completed(): number {
    return this.#completed;
  }

  /**
   * Whether `password` matches the bcrypt `hash` ($2a$/$2b$), computed on a worker thread; "busy"
   * when `queueLimit` comparisons are already waiting. Rejects if the worker died mid-comparison.
   */
  compare(password: string, hash: string): Promise<boolean> | "busy" {
    if (this.#closed) throw new Error("the bcrypt pool is closed");
    if (this.#waiting.length >= this.#queueLimit) return "busy";
    return new Promise<boolean>((resolve, reject) => {
      const settle = (result: boolean | Error) => (result instanceof Error ? reject(result) : resolve(result));
      this.#waiting.push({ id: this.#nextId++, password, hash, settle });
      this.#dispatch();
    });
  }

  /** Stops every worker; comparisons still running are rejected. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#waiting.splice(0)) job.settle(new Error("the bcrypt pool was closed"));
    await Promise.all(this.#slots.map((s) => s.worker?.terminate()));
  }

  #dispatch(): void {
    for (const slot of this.#slots) {
      if (slot.job !== undefined) continue;
      const job = this.#waiting.shift();
      if (job === undefined) return;
      slot.job = job;
      const worker = (slot.worker ??= this.#spawn(slot));
      worker.ref();
      worker.postMessage({ id: job.id, password: job.password, hash: job.hash });
    }
  }

  #spawn(slot: Slot): Worker {
    const worker = new Worker(WORKER);
    worker.on("message", (answer: { id: number; ok: boolean }) => {
      const job = slot.job;
      if (job?.id !== answer.id) return;
      slot.job = undefined;
      this.#completed += 1;
      // An idle worker must not keep the process alive (the `check` command exits when done).
      worker.unref();
      job.settle(answer.ok);
      this.#dispatch();
    });
    const lost = (why: Error) => {
      if (slot.worker !== worker) return;
      slot.worker = undefined;
      const job = slot.job;
      slot.job = undefined;
      job?.settle(why);
      if (!this.#closed) this.#dispatch();
    };
    worker.on("error", lost);
    worker.on("exit", (code) => lost(new Error(`bcrypt worker exited (code ${code})`)));
    return worker;
  }
}
