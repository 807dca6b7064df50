/**
 * apply → enforced against a real kube-apiserver + etcd (test/kube/apiserver.ts): Portcullis runs
 * as a child process in Kubernetes mode (user "portcullis", least-privilege RBAC) over the seed
 * manifests of deploy/examples. Each change alternates between
 *   - a Secret rotation (alice gets a new API key; enforced = the new key is answered 200), and
 *   - a SecurityPolicy edit (forwardClientIDHeader renamed; enforced = the new header comes back),
 * applied as one JSON merge patch (what `kubectl apply` sends for an existing object, without its
 * preceding GET), timed from the start of the request to the first decision that reflects it,
 * polled on the ext_authz port every millisecond or so.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { Agent, request } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startApiServer, type ApiServer } from "../test/kube/apiserver.ts";
import { Kube, pathOf, readManifests, type Obj } from "../test/kube/objects.ts";
import { median } from "./spread.ts";
import { startPortcullis, type ServerProcess } from "./servers.ts";

const ROOT = join(import.meta.dirname, "..");
const EXAMPLES = join(ROOT, "deploy/examples");
const HOST = "api.maas.example.com";

export interface ApplyResult {
  readonly changes: number;
  /** apply start → first decision that reflects the change, ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Of which: the API write itself (until the API server acknowledged), median ms. */
  readonly writeP50Ms: number;
  /** And the part after the acknowledgement (watch event, debounce, rebuild, publish), p50/p99 ms. */
  readonly afterWriteP50Ms: number;
  readonly afterWriteP99Ms: number;
  readonly startupMs: number;
  /** The slowest single decision of the polling probes: how long a rebuild holds up checks. */
  readonly slowestCheckMs: number;
}

/** Nearest-rank percentile. */
export const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
let slowestCheckMs = 0;

function ask(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  const sent = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/models`, { agent, headers: { host: HOST, ...headers } }, (res) => {
      res.resume();
      res.on("end", () => {
        slowestCheckMs = Math.max(slowestCheckMs, performance.now() - sent);
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/** A JSON merge patch as the admin (status writes by Portcullis never conflict with it). */
function mergePatch(api: ApiServer, object: Obj, patch: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(patch);
    const req = httpsRequest(
      `${api.server}${pathOf(object)}`,
      {
        method: "PATCH",
        ca: api.ca,
        headers: { authorization: `Bearer ${api.token}`, "content-type": "application/merge-patch+json", accept: "application/json" },
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c));
        res.on("end", () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`PATCH ${pathOf(object)}: ${res.statusCode} ${text.slice(0, 300)}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function poll(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (performance.now() > deadline) throw new Error(`${what} not enforced within ${timeoutMs} ms`);
    await sleep(1);
  }
}

/**
 * `background`: objects loaded into the API server before Portcullis starts (a large world), so
 * each change costs a rebuild of all of them; the changes still edit the seed example.
 */
export async function benchApplyEnforced(
  changes: number,
  logDir: string,
  log: (line: string) => void,
  background: readonly Obj[] = [],
): Promise<ApplyResult & { background: number }> {
  const example = (file: string) => readManifests(join(EXAMPLES, file));
  const [secret] = example("20-api-keys.yaml") as [Obj];
  const [policy] = example("40-apikey-policy.yaml") as [Obj];
  let api: ApiServer | undefined;
  let server: ServerProcess | undefined;
  try {
    const started = performance.now();
    api = await startApiServer({ users: [{ name: "portcullis" }] });
    const kube = new Kube(api.kubeconfigPath);
    await kube.installCrds(join(ROOT, "crds/gateway.envoyproxy.io_securitypolicies.yaml"), join(ROOT, "test/kube/crds/gateway-api.yaml"));
    // The shipped RBAC, bound to the API server's static-token user "portcullis" (as the tests do).
    const shipped = join(ROOT, "deploy/base/rbac.yaml");
    const rbac = readManifests(existsSync(shipped) ? shipped : join(ROOT, "test/kube/testdata/rbac.yaml"));
    const leaseNamespace =
      rbac.find((o) => o.kind === "Role" && JSON.stringify((o as { rules?: unknown }).rules).includes("leases"))?.metadata.namespace ??
      "default";
    const namespaces = new Set([
      "maas-system",
      leaseNamespace,
      ...rbac.flatMap((o) => (o.metadata.namespace === undefined ? [] : [o.metadata.namespace])),
    ]);
    for (const ns of namespaces) await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    for (const o of rbac)
      await kube.apply(
        "subjects" in o ? { ...o, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "portcullis" }] } : o,
      );
    for (const file of ["00-gateway.yaml", "10-routes.yaml", "20-api-keys.yaml", "30-jwt-policy.yaml", "40-apikey-policy.yaml"])
      for (const o of example(file)) await kube.apply(o);
    if (background.length > 0) {
      const t = performance.now();
      await kube.createAll(background);
      log(`  ${background.length} background objects created in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    server = await startPortcullis({
      kubeconfig: api.kubeconfigFor("portcullis"),
      args: ["--lease-namespace", leaseNamespace, "--identity", "bench"],
      logFile: join(logDir, "portcullis-kube.log"),
      readyTimeoutMs: 300_000,
    });
    const url = server.url;
    // The example Secret holds its keys in `data` (base64), as a manifest folder reads them.
    let key = Buffer.from(secret.data.alice as string, "base64").toString("utf8");
    await poll("the seed policy", 120_000, async () => (await ask(url, { "x-api-key": key })).headers["x-user-id"] === "alice");
    log(`  API server and Portcullis (Kubernetes mode) ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    slowestCheckMs = 0;
    const total: number[] = [];
    const write: number[] = [];
    const after: number[] = [];
    for (let i = 0; i < changes; i++) {
      let object: Obj;
      let patch: unknown;
      let enforced: () => Promise<boolean>;
      if (i % 2 === 0) {
        const next = `bench-${i}-${randomBytes(12).toString("hex")}`;
        [object, patch] = [secret, { stringData: { alice: next } }];
        enforced = async () => (await ask(url, { "x-api-key": next })).status === 200;
        key = next;
      } else {
        const next = `x-client-${i}`;
        [object, patch] = [policy, { spec: { apiKeyAuth: { forwardClientIDHeader: next } } }];
        enforced = async () => (await ask(url, { "x-api-key": key })).headers[next] === "alice";
      }
      const t0 = performance.now();
      await mergePatch(api, object, patch);
      const acked = performance.now();
      await poll(`change ${i}`, 60_000, enforced);
      const t1 = performance.now();
      total.push(t1 - t0);
      write.push(acked - t0);
      after.push(t1 - acked);
      await sleep(20);
    }
    return {
      changes,
      p50Ms: percentile(total, 50),
      p99Ms: percentile(total, 99),
      maxMs: Math.max(...total),
      writeP50Ms: median(write),
      afterWriteP50Ms: percentile(after, 50),
      afterWriteP99Ms: percentile(after, 99),
      startupMs: server.startupMs,
      slowestCheckMs,
      background: background.length,
    };
  } finally {
    agent.destroy();
    await server?.stop();
    await api?.stop();
  }
}
