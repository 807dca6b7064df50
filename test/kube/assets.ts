/**
 * The Kubernetes test binaries (etcd, kube-apiserver, kubectl): PORTCULLIS_KUBE_ASSETS when set
 * (`make test` passes it), else the folder test/kube/build-binaries.sh left in its cache
 * (${PORTCULLIS_CACHE_DIR:-$HOME/.cache/portcullis}/kube-<version>-<tags>, or the untagged
 * kube-<version> it also accepts), so the kube, deploy and e2e suites run under a plain `vitest run`
 * too. Without either they fail, naming the command that builds the binaries: never skip.
 */
import { accessSync, constants, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const BUILD_BINARIES = join(import.meta.dirname, "build-binaries.sh");
const BUILD = "bash test/kube/build-binaries.sh";

/** The binaries a usable folder holds, each an executable (kubectl may be a link to the system's). */
const BINARIES = ["etcd", "kube-apiserver", "kubectl"] as const;

/**
 * The folder holding the binaries. Throws when PORTCULLIS_KUBE_ASSETS lacks one of them, or, unset,
 * when no cached build holds them all; the message names the command that builds them.
 */
export function kubeAssetsDir(env: NodeJS.ProcessEnv = process.env): string {
  const stated = env.PORTCULLIS_KUBE_ASSETS;
  if (stated) {
    const missing = missingIn(stated);
    if (missing !== undefined)
      throw new Error(`PORTCULLIS_KUBE_ASSETS=${stated} has no executable ${missing}; unset it to use the build \`${BUILD}\` caches`);
    return stated;
  }
  const cached = cachedDirs(env);
  const found = cached.find((dir) => missingIn(dir) === undefined);
  if (found === undefined)
    throw new Error(
      `no Kubernetes test binaries in ${cached.join(" or ")}: run \`${BUILD}\` once (it builds them there, in several minutes), or set PORTCULLIS_KUBE_ASSETS to a folder holding ${BINARIES.join(", ")}`,
    );
  return found;
}

/** The first of BINARIES that is not an executable in `dir`, or undefined when all are. */
function missingIn(dir: string): string | undefined {
  return BINARIES.find((bin) => {
    try {
      accessSync(join(dir, bin), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

/** Where build-binaries.sh caches its build, the tagged folder first: its cache root, KUBE_VERSION and BUILD_TAGS, read from the script. */
function cachedDirs(env: NodeJS.ProcessEnv): string[] {
  const script = readFileSync(BUILD_BINARIES, "utf8");
  const version = /^KUBE_VERSION=(\S+)/m.exec(script)?.[1];
  const tags = /^BUILD_TAGS=(\S+)/m.exec(script)?.[1];
  if (version === undefined || tags === undefined) throw new Error(`${BUILD_BINARIES} sets no KUBE_VERSION or BUILD_TAGS`);
  const root = env.PORTCULLIS_CACHE_DIR || join(env.HOME || homedir(), ".cache", "portcullis");
  return [join(root, `kube-${version}-${tags}`), join(root, `kube-${version}`)];
}
