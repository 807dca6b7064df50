// A kubeconfig whose API server nothing answers (port 1 on loopback): `serve --kubeconfig` with it
// loads every module of Kubernetes mode and listens, and never becomes ready. Used to fill the
// image's compile cache (prime-compile-cache.ts), to check it (test/e2e/image.test.ts) and to time
// start-up (bench/image-startup.ts).
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Writes `kubeconfig` into dir, readable by every user (the container's 65532 too); returns its path. */
export function writeUnreachableKubeconfig(dir: string): string {
  const path = join(dir, "kubeconfig");
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none, namespace: portcullis}}]
current-context: none
`,
  );
  chmodSync(path, 0o644);
  return path;
}
