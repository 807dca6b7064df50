/** The bcrypt worker pool: right answers off the main thread, a bounded queue, a counter of work done. */
import { afterAll, describe, expect, it } from "vitest";
import { BcryptPool } from "../../../controller/features/basicAuth/bcrypt-pool.ts";

/** "dave-pass" at cost 4. */
const DAVE = "$2b$04$9t7mzy6Ee2uUcRUoow4ImuGysJfr/Yk41PVW6L9yQxqzpMvyjRniu";

const pool = new BcryptPool({ size: 2, queueLimit: 2 });
afterAll(() => pool.close());

describe("BcryptPool", () => {
  it("answers whether a password matches, and counts each comparison", async () => {
    expect(await pool.compare("dave-pass", DAVE)).toBe(true);
    expect(await pool.compare("wrong", DAVE)).toBe(false);
    expect(await pool.compare("dave-pass", "$2b$04$not-a-hash")).toBe(false);
    expect(pool.completed).toBe(3);
  });

  it("is busy, at once, when queueLimit comparisons already wait for a worker", async () => {
    const running = [pool.compare("a", DAVE), pool.compare("b", DAVE)];
    const waiting = [pool.compare("c", DAVE), pool.compare("d", DAVE)];
    expect(pool.compare("e", DAVE)).toBe("busy");
    expect(await Promise.all([...running, ...waiting])).toEqual([false, false, false, false]);
    expect(await pool.compare("dave-pass", DAVE)).toBe(true);
  });

  it("refuses work once closed", async () => {
    const closed = new BcryptPool({ size: 1 });
    await closed.close();
    expect(() => closed.compare("x", DAVE)).toThrow("closed");
  });
});
