/**
 * The real helm 3 binary (test/deploy/ensure-helm.sh puts it in the cache; `make test` passes its path
 * as PORTCULLIS_HELM). Helm's own state (repositories, cache, registry config) goes to a throw-away
 * folder, so the tests never read or write the user's helm configuration.
 */
import { accessSync, constants, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";

const HINT = "run the tests with `make test`, or set PORTCULLIS_HELM=$(bash test/deploy/ensure-helm.sh | tail -1)/helm";

export function helmPath(): string {
  const helm = process.env.PORTCULLIS_HELM;
  if (!helm) throw new Error(`PORTCULLIS_HELM is not set; ${HINT}`);
  try {
    accessSync(helm, constants.X_OK);
  } catch {
    throw new Error(`PORTCULLIS_HELM=${helm} is not an executable; ${HINT}`);
  }
  return helm;
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
