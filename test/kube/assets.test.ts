/** Finding the Kubernetes test binaries (test/kube/assets.ts): PORTCULLIS_KUBE_ASSETS, else build-binaries.sh's cache, else a message saying how to build them. */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { kubeAssetsDir } from "./assets.ts";

const SCRIPT = readFileSync(join(import.meta.dirname, "build-binaries.sh"), "utf8");
const VERSION = /^KUBE_VERSION=(\S+)/m.exec(SCRIPT)![1]!;
const TAGS = /^BUILD_TAGS=(\S+)/m.exec(SCRIPT)![1]!;

describe("kubeAssetsDir", () => {
  let cache: string;
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), "portcullis-kube-cache-"));
  });
  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  /** A folder `name` under the cache holding an executable of each name in `binaries`. */
  const folder = (name: string, binaries = ["etcd", "kube-apiserver", "kubectl"]) => {
    const dir = join(cache, name);
    mkdirSync(dir);
    for (const bin of binaries) {
      writeFileSync(join(dir, bin), "#!/bin/sh\n");
      chmodSync(join(dir, bin), 0o755);
    }
    return dir;
  };

  it("without PORTCULLIS_KUBE_ASSETS, finds the build build-binaries.sh cached (PORTCULLIS_CACHE_DIR, else ~/.cache/portcullis)", () => {
    const tagged = folder(`kube-${VERSION}-${TAGS}`);
    expect(kubeAssetsDir({ PORTCULLIS_CACHE_DIR: cache })).toBe(tagged);
    const home = join(cache, "home");
    mkdirSync(join(home, ".cache", "portcullis"), { recursive: true });
    expect(() => kubeAssetsDir({ HOME: home })).toThrow(join(home, ".cache", "portcullis", `kube-${VERSION}-${TAGS}`));
  });

  it("takes the untagged build the script also accepts, the tagged one first", () => {
    const untagged = folder(`kube-${VERSION}`);
    expect(kubeAssetsDir({ PORTCULLIS_CACHE_DIR: cache })).toBe(untagged);
    const tagged = folder(`kube-${VERSION}-${TAGS}`);
    expect(kubeAssetsDir({ PORTCULLIS_CACHE_DIR: cache })).toBe(tagged);
  });

  it("passes over a cached folder without every binary (a build that did not finish)", () => {
    folder(`kube-${VERSION}-${TAGS}`, ["etcd", "kube-apiserver"]);
    const untagged = folder(`kube-${VERSION}`);
    expect(kubeAssetsDir({ PORTCULLIS_CACHE_DIR: cache })).toBe(untagged);
  });

  it("PORTCULLIS_KUBE_ASSETS wins over the cache", () => {
    folder(`kube-${VERSION}-${TAGS}`);
    const own = folder("mine");
    expect(kubeAssetsDir({ PORTCULLIS_CACHE_DIR: cache, PORTCULLIS_KUBE_ASSETS: own })).toBe(own);
  });

  it("fails with the command that builds the binaries when the cache has none", () => {
    expect(() => kubeAssetsDir({ PORTCULLIS_CACHE_DIR: cache })).toThrow(
      /no Kubernetes test binaries in .*: run `bash test\/kube\/build-binaries\.sh` once/,
    );
  });

  it("fails, naming the variable and the binary, when PORTCULLIS_KUBE_ASSETS lacks one", () => {
    const partial = folder("partial", ["etcd", "kube-apiserver"]);
    expect(() => kubeAssetsDir({ PORTCULLIS_CACHE_DIR: cache, PORTCULLIS_KUBE_ASSETS: partial })).toThrow(
      /PORTCULLIS_KUBE_ASSETS=.*partial has no executable kubectl.*build-binaries\.sh/,
    );
  });
});
