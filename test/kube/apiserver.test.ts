// Tests of the API server harness itself: the guarantees other integration suites rely on.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, type ApiServer } from "./apiserver.ts";
import { kubeAssetsDir } from "./assets.ts";

const run = promisify(execFile);

function client<T extends k8s.ApiType>(kubeconfig: string, api: k8s.ApiConstructor<T>): T {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc.makeApiClient(api);
}

async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    if (err instanceof k8s.ApiException) return err.code;
    throw err;
  }
}

describe("startApiServer without binaries", () => {
  it("fails with a clear message instead of skipping", async () => {
    const saved = { assets: process.env.PORTCULLIS_KUBE_ASSETS, cache: process.env.PORTCULLIS_CACHE_DIR };
    const emptyCache = fs.mkdtempSync(path.join(os.tmpdir(), "portcullis-empty-cache-"));
    try {
      delete process.env.PORTCULLIS_KUBE_ASSETS;
      process.env.PORTCULLIS_CACHE_DIR = emptyCache;
      await expect(startApiServer()).rejects.toThrow(/no Kubernetes test binaries in .*: run `bash test\/kube\/build-binaries\.sh` once/);
      process.env.PORTCULLIS_KUBE_ASSETS = path.join(os.tmpdir(), "portcullis-no-such-assets");
      await expect(startApiServer()).rejects.toThrow(/has no executable etcd/);
    } finally {
      for (const [name, value] of [
        ["PORTCULLIS_KUBE_ASSETS", saved.assets],
        ["PORTCULLIS_CACHE_DIR", saved.cache],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      fs.rmSync(emptyCache, { recursive: true, force: true });
    }
  });
});

describe("startApiServer", () => {
  let server: ApiServer;

  beforeAll(async () => {
    server = await startApiServer({ users: [{ name: "portcullis" }, { name: "auditor", groups: ["auditors"] }] });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  it("serves an admin kubeconfig that verifies the self-signed certificate", async () => {
    expect(server.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const kubeconfig = fs.readFileSync(server.kubeconfigPath, "utf8");
    expect(kubeconfig).toContain("certificate-authority-data");
    expect(kubeconfig).not.toContain("insecure-skip-tls-verify");
    const namespaces = await client(server.kubeconfigPath, k8s.CoreV1Api).listNamespace();
    expect(namespaces.items.map((n) => n.metadata?.name)).toContain("default");
  });

  it("gives declared users tokens that RBAC applies to", async () => {
    expect(() => server.tokenFor("nobody")).toThrow(/declare it/);
    expect(server.tokenFor("auditor", ["auditors"])).not.toBe(server.tokenFor("portcullis"));
    const asPortcullis = client(server.kubeconfigFor("portcullis"), k8s.CoreV1Api);
    expect(await statusOf(asPortcullis.listNamespace())).toBe(403);

    const rbac = client(server.kubeconfigPath, k8s.RbacAuthorizationV1Api);
    await rbac.createClusterRole({
      body: { metadata: { name: "ns-reader" }, rules: [{ apiGroups: [""], resources: ["namespaces"], verbs: ["list"] }] },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: "portcullis-ns-reader" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "ns-reader" },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "portcullis" }],
      },
    });
    // RBAC reads through an informer cache, so the binding takes effect shortly after it is created.
    await expect.poll(() => statusOf(asPortcullis.listNamespace()), { timeout: 10_000 }).toBe(200);
    expect(await statusOf(asPortcullis.listNamespacedSecret({ namespace: "default" }))).toBe(403);
  });

  it("stops and restarts kube-apiserver on the same port with the same data", async () => {
    const core = client(server.kubeconfigPath, k8s.CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "survivor" }, data: { k: "v" } } });
    const before = server.server;

    await server.stopApiServer();
    await expect(core.readNamespacedConfigMap({ namespace: "default", name: "survivor" })).rejects.toThrow(/ECONNREFUSED|fetch failed/);
    await server.startApiServer();

    expect(server.server).toBe(before);
    const cm = await core.readNamespacedConfigMap({ namespace: "default", name: "survivor" });
    expect(cm.data).toEqual({ k: "v" });
    await server.pause(500);
    expect((await core.readNamespacedConfigMap({ namespace: "default", name: "survivor" })).data).toEqual({ k: "v" });
  }, 120_000);

  it("provides a kubectl that talks to it", async () => {
    const kubectl = path.join(kubeAssetsDir(), "kubectl");
    const { stdout } = await run(kubectl, ["--kubeconfig", server.kubeconfigPath, "get", "namespaces", "-o", "name"]);
    expect(stdout.split("\n")).toContain("namespace/default");
  });
});

describe("stop()", () => {
  it("removes the temp dir and ends both processes", async () => {
    const server = await startApiServer();
    // Linux only, like the rest of the integration suite: find the children by their temp dir argument.
    const pids = fs
      .readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/cmdline`, "utf8").includes(server.dir);
        } catch {
          return false;
        }
      });
    expect(pids.length).toBe(2);
    await server.stop();
    expect(fs.existsSync(server.dir)).toBe(false);
    for (const pid of pids) expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    await server.stop(); // idempotent
  }, 120_000);
});
