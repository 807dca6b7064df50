/** Starts the real `serve` app on ephemeral loopback ports over a temporary manifest folder. */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { loadConfig, type ServeConfig } from "../../controller/config.ts";
import { startApp, type App } from "../../controller/runtime/app.ts";
import { stringify } from "yaml";
import { kubeCluster, LEASE_NAMESPACE } from "./kube-cluster.ts";
import { securityPolicy, type PolicyFeatures } from "./manifests.ts";

export interface TestApp extends App {
  readonly dir: string;
  readonly authz: string;
  readonly forwardAuth: string;
  readonly admin: string;
  write(file: string, text: string): void;
  close(): Promise<void>;
}

export const EXAMPLES = join(import.meta.dirname, "../../deploy/examples");

/**
 * A token from the example issuer, valid 10 minutes, minted as the README mints it (with
 * deploy/demo-issuer/mint-example-token.ts, outside the manifest folder, which reads every file).
 */
export function exampleToken(subject = "alice", audience = "maas-gateway", roles = ""): string {
  const mint = join(import.meta.dirname, "../../deploy/demo-issuer/mint-example-token.ts");
  return execFileSync(process.execPath, [mint, subject, audience, roles], { encoding: "utf8" }).trim();
}

/**
 * A manifest file to add to EXAMPLES: HTTPRoute maas-system/`name` on the examples' maas-gateway
 * for `host`, and SecurityPolicy maas-system/`policy` on it holding `features`.
 */
export function exampleRouteWithPolicy(name: string, host: string, policy: string, features: PolicyFeatures): string {
  const route = { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", metadata: { name, namespace: "maas-system" } };
  return `${stringify({ ...route, spec: { parentRefs: [{ name: "maas-gateway" }], hostnames: [host] } })}---
${securityPolicy(policy, features, undefined, { namespace: "maas-system", route: name })}`;
}

/** `serve` flags that put every port on an ephemeral port (0) of 127.0.0.1, so that tests run in parallel never collide. */
export const EPHEMERAL_PORTS: readonly string[] = [
  "--bind-address",
  "127.0.0.1",
  "--authz-port",
  "0",
  "--forward-auth-port",
  "0",
  "--admin-port",
  "0",
  "--grpc-port",
  "0",
];

/** The `serve` config of `flags` (its source among them) on EPHEMERAL_PORTS, with short shutdown timings unless `flags` set them (a flag may be given once). */
export function testServeConfig(flags: readonly string[]): ServeConfig {
  const timings = Object.entries({ "--shutdown-grace-seconds": "2", "--shutdown-delay-seconds": "0" }).filter(
    ([flag]) => !flags.includes(flag),
  );
  return loadConfig(["serve", ...EPHEMERAL_PORTS, ...timings.flat(), ...flags], {}) as ServeConfig;
}

/** The real `serve` app with testServeConfig(`flags`), silent, once ready; its ports as URLs. */
async function startServing(flags: readonly string[]): Promise<App & Pick<TestApp, "authz" | "forwardAuth" | "admin">> {
  const app = await startApp(testServeConfig(flags), pino({ level: "silent" }));
  await app.ready;
  return {
    ...app,
    authz: `http://127.0.0.1:${app.ports.authz}`,
    forwardAuth: `http://127.0.0.1:${app.ports.forwardAuth}`,
    admin: `http://127.0.0.1:${app.ports.admin}`,
  };
}

/** `files` are written into a fresh folder (after copying `copyFrom`, if given). */
export async function startTestApp(files: Record<string, string>, copyFrom?: string, flags: string[] = []): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-manifests-"));
  if (copyFrom !== undefined) cpSync(copyFrom, dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const app = await startServing(["--manifests", dir, ...flags]);
  return {
    ...app,
    dir,
    write: (file, text) => writeFileSync(join(dir, file), text),
    async close() {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The app in Kubernetes mode over the file's real API server (kube-cluster.ts), once `objects` are
 * created there: for worlds only that mode reads, such as a ListenerSet, which a manifest folder
 * refuses. Ready once every watch has listed them and the first snapshot holds them. `close()` stops
 * the app and removes the objects, so the next world starts from an empty cluster.
 */
export async function startKubeTestApp(
  objects: readonly object[],
  flags: readonly string[] = [],
): Promise<Pick<TestApp, "authz" | "close">> {
  const cluster = await kubeCluster();
  const remove = await cluster.load(objects);
  try {
    const app = await startServing(["--kubeconfig", cluster.kubeconfig, "--lease-namespace", LEASE_NAMESPACE, ...flags]);
    return {
      authz: app.authz,
      async close() {
        await app.stop();
        await remove();
      },
    };
  } catch (e) {
    await remove();
    throw e;
  }
}

/** Polls `probe` until it returns true, or fails after `timeoutMs`. */
export async function within(timeoutMs: number, probe: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
