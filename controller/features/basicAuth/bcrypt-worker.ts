/**
 * A bcrypt worker thread (see bcrypt-pool.ts): answers `{ id, password, hash }` with `{ id, ok }`.
 * Each comparison costs 2^cost rounds, tens to hundreds of milliseconds, which is why it runs here
 * and not on the thread that decides every request.
 */
import { parentPort } from "node:worker_threads";
import bcrypt from "bcryptjs";

parentPort!.on("message", (job: { id: number; password: string; hash: string }) => {
  let ok = false;
  try {
    ok = bcrypt.compareSync(job.password, job.hash);
  } catch {
    // A hash bcryptjs cannot read never matches.
  }
  parentPort!.postMessage({ id: job.id, ok });
});
