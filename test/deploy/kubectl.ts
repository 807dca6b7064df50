/** The real kubectl (from PORTCULLIS_KUBE_ASSETS, next to the test API server) for the deploy and e2e suites. */
import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";

export function kubectlPath(): string {
  const assets = process.env.PORTCULLIS_KUBE_ASSETS;
  const hint = "run `make test`, or export PORTCULLIS_KUBE_ASSETS=$(bash test/kube/build-binaries.sh | tail -1)";
  if (!assets) throw new Error(`PORTCULLIS_KUBE_ASSETS is not set; ${hint}`);
  try {
    accessSync(join(assets, "kubectl"), constants.X_OK);
  } catch {
    throw new Error(`PORTCULLIS_KUBE_ASSETS=${assets} has no executable kubectl; ${hint}`);
  }
  return join(assets, "kubectl");
}

/** Runs kubectl (with `kubeconfig` unless it is ""); on failure the error carries kubectl's stderr. */
export function kubectl(kubeconfig: string, args: string[], input?: string): string {
  try {
    return execFileSync(kubectlPath(), [...(kubeconfig ? ["--kubeconfig", kubeconfig] : []), ...args], {
      input,
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
    });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string };
    throw new Error(`kubectl ${args.join(" ")} failed:\n${err.stderr ?? ""}${err.stdout ?? ""}`);
  }
}

/** Objects as one multi-document YAML stream for `kubectl apply -f -`. */
export const toYaml = (objs: readonly object[]): string => objs.map((o) => stringify(o)).join("---\n");
