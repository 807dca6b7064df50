// Which cache test/kube/build-binaries.sh answers with, without building (a build takes minutes
// and the network): fake binaries that print what the real ones would.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const SCRIPT = join(import.meta.dirname, "build-binaries.sh");
const BASH = spawnSync("bash", ["-c", "command -v bash"], { encoding: "utf8" }).stdout.trim();
const TAGGED = "kube-1.20.2-providerless";
const UNTAGGED = "kube-1.20.2";

let cache: string;
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), "portcullis-build-binaries-"));
});
afterEach(() => rmSync(cache, { recursive: true, force: true }));

/** A cache folder whose kube-apiserver reports `version`. */
function fakeAssets(name: string, version = "v1.20.2"): string {
  const dir = join(cache, name);
  mkdirSync(dir);
  const script = (file: string, body: string) => {
    writeFileSync(join(dir, file), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, file), 0o755);
  };
  script("kube-apiserver", `echo "Kubernetes ${version}"`);
  script("etcd", "echo 'etcd Version: 3.4.23'");
  script("kubectl", "exit 0");
  return dir;
}

/**
 * Runs the script against the fake cache, with a PATH of the tools it needs before it builds and
 * without apt-get: where it would build, it fails at once instead.
 */
function build() {
  const r = spawnSync(BASH, [SCRIPT], { env: { PATH: pathWithoutApt(), HOME: cache, PORTCULLIS_CACHE_DIR: cache }, encoding: "utf8" });
  return { status: r.status, assets: r.stdout.trim().split("\n").at(-1), stderr: r.stderr };
}

function pathWithoutApt(): string {
  const bin = join(cache, "bin");
  mkdirSync(bin);
  for (const tool of ["mkdir", "grep", "flock", "rm", "mktemp", "dirname", "cat"]) {
    const found = spawnSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
    if (found !== "") symlinkSync(found, join(bin, tool));
  }
  return bin;
}

describe("build-binaries.sh, cached", () => {
  it("answers with the providerless build's folder", () => {
    const dir = fakeAssets(TAGGED);
    expect(build()).toMatchObject({ status: 0, assets: dir });
  });
  it("answers with a cache built before the providerless tag when there is no other", () => {
    const dir = fakeAssets(UNTAGGED);
    expect(build()).toMatchObject({ status: 0, assets: dir });
  });
  it("prefers the providerless build to the older one", () => {
    fakeAssets(UNTAGGED);
    const dir = fakeAssets(TAGGED);
    expect(build()).toMatchObject({ status: 0, assets: dir });
  });
  it("does not take a cache of another Kubernetes version: it builds (here: stops for want of apt-get)", () => {
    fakeAssets(TAGGED, "v1.21.0");
    fakeAssets(UNTAGGED, "v1.19.7");
    const r = build();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("missing required tool: apt-get");
  });
});
