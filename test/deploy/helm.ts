/**
 * The real helm 3 binary: PORTCULLIS_HELM when set (`make test` passes it), else the one
 * test/deploy/ensure-helm.sh left in the cache (${PORTCULLIS_CACHE_DIR:-$HOME/.cache/portcullis}/helm-<version>/helm),
 * so the chart tests run under a plain `vitest run` too. Helm's own state (repositories, cache,
 * registry config) goes to a throw-away folder, so the tests never read or write the user's helm
 * configuration.
 */
import { accessSync, constants, mkdtempSync, readFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";

const ENSURE_HELM = join(import.meta.dirname, "ensure-helm.sh");
const INSTALL = "bash test/deploy/ensure-helm.sh";

/**
 * The helm executable's path. Throws, naming the command that installs it, when PORTCULLIS_HELM is
 * not an executable or, unset, the cache has none of the version ensure-helm.sh installs.
 */
export function helmPath(env: NodeJS.ProcessEnv = process.env): string {
  const stated = env.PORTCULLIS_HELM;
  const helm = stated || join(cachedHelmDir(env), "helm");
  try {
    accessSync(helm, constants.X_OK);
  } catch {
    throw new Error(
      stated
        ? `PORTCULLIS_HELM=${stated} is not an executable; unset it to use the cached helm, which \`${INSTALL}\` installs`
        : `no helm at ${helm}: run \`${INSTALL}\` once (it puts helm there), or set PORTCULLIS_HELM to a helm 3 binary`,
    );
  }
  return helm;
}

/** The folder ensure-helm.sh puts helm in: its cache root and HELM_VERSION, read from the script (one place says the version). */
function cachedHelmDir(env: NodeJS.ProcessEnv): string {
  const version = /^HELM_VERSION=(\S+)/m.exec(readFileSync(ENSURE_HELM, "utf8"))?.[1];
  if (version === undefined) throw new Error(`${ENSURE_HELM} sets no HELM_VERSION`);
  return join(env.PORTCULLIS_CACHE_DIR || join(env.HOME || homedir(), ".cache", "portcullis"), `helm-${version}`);
}

let helmHome: string | undefined;

/** Runs helm with `args`; on failure the error's message carries helm's stderr (its reason). */
export function helm(args: readonly string[]): string {
  helmHome ??= mkdtempSync(join(tmpdir(), "portcullis-helm-"));
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: helmHome,
    HELM_CACHE_HOME: join(helmHome, "cache"),
    HELM_CONFIG_HOME: join(helmHome, "config"),
    HELM_DATA_HOME: join(helmHome, "data"),
  };
  try {
    return execFileSync(helmPath(), args, { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`helm ${args.join(" ")} failed:\n${err.stderr || err.stdout || err.message}`);
  }
}
