import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BARE, BARE_JWT } from "../../bench/in-process.ts";
import { dumpName, nameJitCode, readDumps, splitScenarios, withJitNames } from "../../bench/instructions.ts";

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
  it("names the JIT's code callgrind knows by address after the perf map entry that holds it, the latest where code was written over", () => {
    const perfMap = [
      "1000 100 JS:*check file:///c.ts:1:1",
      "2000 10 JS:^old file:///o.ts:2:2",
      "2000 20 JS:+decide file:///a.ts:3:3",
      "",
    ].join("\n");
    const dump = [
      "fn=(1) 0x0000000000001010",
      "0 5",
      "cfn=(2) 0x0000000000002004",
      "calls=1 0",
      "fn=(3) 0x0000000000003000",
      "fn=(4) main",
      "fn=(1)",
    ].join("\n");
    expect(withJitNames(dump, perfMap).split("\n")).toEqual([
      "fn=(1) JS:*check file:///c.ts:1:1",
      "0 5",
      "cfn=(2) JS:+decide file:///a.ts:3:3",
      "calls=1 0",
      "fn=(3) 0x0000000000003000",
      "fn=(4) main",
      "fn=(1)",
    ]);
  });
  it("names each dump by the perf map as it stood when that dump was written", () => {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-instructions-test-"));
    try {
      const first = "1000 100 JS:*bare file:///b.ts:1:1\n";
      const perfMap = Buffer.from(`${first}1000 100 JS:*later file:///l.ts:1:1\n`);
      writeFileSync(join(dir, "perf-map-lengths"), `${dumpName(0)} ${first.length}\n${dumpName(1)} ${perfMap.length}\n`);
      writeFileSync(join(dir, "out.42.1"), `desc: Trigger: dump ${dumpName(0)}\nfn=(1) 0x1010\n`);
      writeFileSync(join(dir, "out.42.2"), `desc: Trigger: dump ${dumpName(1)}\nfn=(1) 0x1010\n`);
      nameJitCode(dir, perfMap);
      expect(readFileSync(join(dir, "out.42.1"), "utf8")).toContain("fn=(1) JS:*bare");
      expect(readFileSync(join(dir, "out.42.2"), "utf8")).toContain("fn=(1) JS:*later");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
