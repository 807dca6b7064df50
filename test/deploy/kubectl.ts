/** The real kubectl (next to the test API server's binaries: test/kube/assets.ts) for the deploy and e2e suites. */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { stringify } from "yaml";
import { kubeAssetsDir } from "../kube/assets.ts";

/** kubectl's path; throws, naming the command that builds it, when there is none (kubeAssetsDir). */
export function kubectlPath(): string {
  return join(kubeAssetsDir(), "kubectl");
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
