/** The doorkeeper's slots: a ring of records found by entry key, never answering for a record overwritten since. */
import { describe, expect, it } from "vitest";
import { hash } from "node:crypto";
import { Doorkeeper, SLOT_BYTES } from "../../../controller/features/jwt/doorkeeper.ts";
import type { VerificationKey } from "../../../controller/api/jwks.ts";

const keys = [{ kid: "k" }] as unknown as readonly VerificationKey[];
const digestOf = (text: string) => hash("sha256", text, "binary");

describe("Doorkeeper", () => {
  it("answers for a recorded digest under its entry key and key array, until its limit, and for nothing else", () => {
    const door = new Doorkeeper(1024 * SLOT_BYTES);
    door.record(7, digestOf("a"), keys, 1_000);
    expect(door.holds(7, digestOf("a"), keys, 999)).toBe(true);
    expect(door.holds(7, undefined, keys, 999)).toBe(true);
    expect(door.holds(7, digestOf("a"), keys, 1_000)).toBe(false);
    expect(door.holds(7, digestOf("b"), keys, 1)).toBe(false);
    expect(door.holds(8, digestOf("a"), keys, 1)).toBe(false);
    expect(door.holds(7, digestOf("a"), [...keys], 1)).toBe(false);
    // Another entry key in the same chain (the table has as many chains as a power of two of slots).
    expect(door.holds(7 + 1024, undefined, keys, 1)).toBe(false);
  });
  it("never follows a chain into a slot overwritten since: the overwritten record is gone, the new one answers", () => {
    const door = new Doorkeeper(64 * SLOT_BYTES);
    door.record(1, digestOf("first"), keys, Infinity);
    door.record(1, digestOf("second"), keys, Infinity);
    // 63 more records of other entry keys: the first's slot now holds the last of them.
    for (let i = 0; i < 63; i++) door.record(100 + i, digestOf(`other-${i}`), keys, Infinity);
    expect(door.holds(1, digestOf("first"), keys, 1)).toBe(false);
    expect(door.holds(1, digestOf("second"), keys, 1)).toBe(true);
    expect(door.holds(162, digestOf("other-62"), keys, 1)).toBe(true);
    expect(door.bytes).toBe(64 * SLOT_BYTES);
  });
  it("allocates as records come, doubling up to its bound, and keeps every record while it grows", () => {
    const door = new Doorkeeper(300 * SLOT_BYTES);
    expect(door.bytes).toBe(0);
    for (let i = 0; i < 65; i++) door.record(i * 3, digestOf(String(i)), keys, Infinity);
    expect(door.bytes).toBe(128 * SLOT_BYTES);
    for (let i = 65; i < 300; i++) door.record(i * 3, digestOf(String(i)), keys, Infinity);
    expect(door.bytes).toBe(300 * SLOT_BYTES);
    expect(Array.from({ length: 300 }, (_, i) => door.holds(i * 3, digestOf(String(i)), keys, 1)).every(Boolean)).toBe(true);
    door.record(900, digestOf("300"), keys, Infinity);
    expect([door.holds(0, digestOf("0"), keys, 1), door.holds(900, digestOf("300"), keys, 1)]).toEqual([false, true]);
  });
  it("records nothing under a bound smaller than one slot", () => {
    const door = new Doorkeeper(SLOT_BYTES - 1);
    door.record(1, digestOf("a"), keys, Infinity);
    expect([door.holds(1, digestOf("a"), keys, 1), door.bytes]).toEqual([false, 0]);
  });
});
