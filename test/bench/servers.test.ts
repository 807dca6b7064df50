import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { portsIn, rootWithNodeFlags } from "../../bench/servers.ts";

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

describe("rootWithNodeFlags", () => {
  it("makes a bin/portcullis that runs this tree's Portcullis on node with exactly the flags given, before its main module", () => {
    const root = rootWithNodeFlags(join(dir, "min16"), "--max-semi-space-size=32 --min-semi-space-size=16");
    // A preload that prints the flags node was started with, then the command's own output.
    writeFileSync(join(dir, "argv.mjs"), "process.stderr.write(JSON.stringify(process.execArgv) + '\\n');");
    const version = spawnSync(join(root, "bin/portcullis"), ["--version"], {
      encoding: "utf8",
      env: { ...process.env, NODE_OPTIONS: `--import ${join(dir, "argv.mjs")}` },
    });
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^portcullis \d/);
    const execArgv = JSON.parse(version.stderr.split("\n")[0]!) as string[];
    expect(execArgv.filter((a) => a.includes("semi-space"))).toEqual(["--max-semi-space-size=32", "--min-semi-space-size=16"]);
  });
});
