import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BARE, BARE_JWT } from "../../bench/in-process.ts";
import { dumpName, readDumps, splitScenarios } from "../../bench/instructions.ts";

/** A callgrind dump as `callgrind_control --dump=NAME` has it written (the lines read, among others). */
const dump = (name: string, total: number) =>
  [
    "# callgrind format",
    "version: 1",
    "cmd: node bench/instructions.ts --child",
    `desc: Trigger: dump ${name}`,
    "events: Ir",
    `summary: ${total}`,
    `totals: ${total}`,
    "",
  ].join("\n");

describe("instruction counts (callgrind)", () => {
  it("splits the scenario list at the commas that begin a name, keeping a name's own ', '", () => {
    expect(splitScenarios(`${BARE},API key,${BARE_JWT},JWT, cached token`)).toEqual([BARE, "API key", BARE_JWT, "JWT, cached token"]);
    expect(splitScenarios("API key,")).toEqual(["API key"]);
  });
  it("reads each dump's name and total, in the order callgrind wrote them (whatever the order of the files' names)", () => {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-instructions-test-"));
    try {
      writeFileSync(join(dir, "out.42.10"), dump(dumpName(1), 700));
      writeFileSync(join(dir, "out.42.2"), dump(dumpName(0), 500));
      writeFileSync(join(dir, "out.42"), "");
      expect([...readDumps(dir)]).toEqual([
        ["scenario-0", 500],
        ["scenario-1", 700],
      ]);
      writeFileSync(join(dir, "out.42.11"), "not a dump");
      expect(() => readDumps(dir)).toThrow("out.42.11: not a callgrind dump");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
