import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tokenStart } from "../../bench/wrk.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-wrk-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("tokenStart", () => {
  it("gives the byte offset of token n, skipping empty lines and wrapping around the list", () => {
    const file = join(dir, "tokens.txt");
    writeFileSync(file, "aaa\n\nbb\nc\n\n");
    expect([0, 1, 2, 3, 4].map((n) => tokenStart(file, n))).toEqual([0, 5, 8, 0, 5]);
  });
  it("reads a file again once it is rewritten (the list is minted twice in a run)", () => {
    const file = join(dir, "tokens.txt");
    writeFileSync(file, "a\nb\n");
    expect(tokenStart(file, 1)).toBe(2);
    writeFileSync(file, "first-token\nsecond\n");
    expect(tokenStart(file, 1)).toBe(12);
  });
  it("refuses a file without a token", () => {
    const file = join(dir, "tokens.txt");
    writeFileSync(file, "\n\n");
    expect(() => tokenStart(file, 0)).toThrow(/holds no token/);
  });
});
