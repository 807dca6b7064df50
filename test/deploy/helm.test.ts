/** Finding helm (test/deploy/helm.ts): PORTCULLIS_HELM, else the cache ensure-helm.sh fills, else a message saying how to install it. */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { helm, helmPath } from "./helm.ts";

const VERSION = /^HELM_VERSION=(\S+)/m.exec(readFileSync(join(import.meta.dirname, "ensure-helm.sh"), "utf8"))![1]!;

describe("helmPath", () => {
  let cache: string;
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), "portcullis-helm-cache-"));
  });
  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  /** An executable named helm where ensure-helm.sh puts the pinned version under `cache`. */
  const cachedHelm = () => {
    const dir = join(cache, `helm-${VERSION}`);
    mkdirSync(dir);
    writeFileSync(join(dir, "helm"), "#!/bin/sh\n");
    chmodSync(join(dir, "helm"), 0o755);
    return join(dir, "helm");
  };

  it("without PORTCULLIS_HELM, finds the helm ensure-helm.sh cached (PORTCULLIS_CACHE_DIR, else ~/.cache/portcullis)", () => {
    const helmFile = cachedHelm();
    expect(helmPath({ PORTCULLIS_CACHE_DIR: cache })).toBe(helmFile);
    const home = join(cache, "home");
    mkdirSync(join(home, ".cache", "portcullis"), { recursive: true });
    expect(() => helmPath({ HOME: home })).toThrow(join(home, ".cache", "portcullis", `helm-${VERSION}`, "helm"));
  });
  it("PORTCULLIS_HELM wins over the cache", () => {
    cachedHelm();
    const own = join(cache, "my-helm");
    writeFileSync(own, "#!/bin/sh\n");
    chmodSync(own, 0o755);
    expect(helmPath({ PORTCULLIS_CACHE_DIR: cache, PORTCULLIS_HELM: own })).toBe(own);
  });
  it("fails with the command that installs helm when the cache has none", () => {
    expect(() => helmPath({ PORTCULLIS_CACHE_DIR: cache })).toThrow(/no helm at .*: run `bash test\/deploy\/ensure-helm\.sh` once/);
  });
  it("fails, naming the variable, when PORTCULLIS_HELM is not an executable", () => {
    expect(() => helmPath({ PORTCULLIS_HELM: join(cache, "none") })).toThrow(
      /PORTCULLIS_HELM=.*none is not an executable.*ensure-helm\.sh/,
    );
  });
  it("runs the helm found (a plain `vitest run` on a machine where ensure-helm.sh ran)", () => {
    expect(helm(["version", "--template", "{{.Version}}"])).toBe(VERSION);
  });
});
