import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PORTCULLIS, portcullisNodeFlags, portsIn, rootWithNodeFlags } from "../../bench/servers.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-servers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("portsIn", () => {
  it("reads the ports of Portcullis' start-up line, not of any other line", () => {
    const log = [
      '{"level":30,"msg":"loading"}',
      '{"level":30,"authz":1,"forwardAuth":2,"admin":3,"grpc":4,"msg":"Portcullis listening"}',
      '{"level":30,"status":{"policy":"a/b"}}',
    ].join("\n");
    expect(portsIn(log)).toEqual({ authz: 1, admin: 3, forwardAuth: 2 });
  });

  it("is undefined until that line is complete", () => {
    expect(portsIn('{"level":30,"msg":"loading"}\n')).toBeUndefined();
    expect(portsIn('{"level":30,"authz":1,"forwardAuth":2,"adm')).toBeUndefined();
  });
});

/** The flags node was started with by `binary --version` (a preload prints them before the command's own output). */
function execArgvOf(binary: string): string[] {
  writeFileSync(join(dir, "argv.mjs"), "process.stderr.write(JSON.stringify(process.execArgv) + '\\n');");
  const version = spawnSync(binary, ["--version"], {
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: `--import ${join(dir, "argv.mjs")}` },
  });
  expect(version.status).toBe(0);
  expect(version.stdout).toMatch(/^portcullis \d/);
  return JSON.parse(version.stderr.split("\n")[0]!) as string[];
}

describe("portcullisNodeFlags", () => {
  it("reads the Node flags bin/portcullis really starts Portcullis with (the compile benchmark runs on them)", () => {
    const flags = portcullisNodeFlags();
    expect(flags).toEqual(expect.arrayContaining(["--max-semi-space-size=32", "--min-semi-space-size=32"]));
    expect(flags).toEqual(execArgvOf(PORTCULLIS));
  });
});

describe("rootWithNodeFlags", () => {
  it("makes a bin/portcullis that runs this tree's Portcullis on node with exactly the flags given, before its main module", () => {
    const root = rootWithNodeFlags(join(dir, "min16"), "--max-semi-space-size=32 --min-semi-space-size=16");
    const execArgv = execArgvOf(join(root, "bin/portcullis"));
    expect(execArgv.filter((a) => a.includes("semi-space"))).toEqual(["--max-semi-space-size=32", "--min-semi-space-size=16"]);
  });
});
