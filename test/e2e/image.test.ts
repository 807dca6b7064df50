// The container image, built like `make image` (Dockerfile on a base assembled from this machine's
// Node 24: nothing is pulled) and run like the chart runs it (read-only root filesystem, no
// capabilities, user 65532): standalone on deploy/examples, then in Kubernetes mode with in-cluster
// configuration against a real API server, with the chart's RBAC, env and arguments.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wait, type StartedTestContainer } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, type ApiServer } from "../kube/apiserver.ts";
import { find, renderChart, type Obj } from "../deploy/chart.ts";
import { kubectl, toYaml } from "../deploy/kubectl.ts";
import { send } from "../support/http.ts";
import { buildImage, docker, HardenedContainer, imagePackages, requireDocker } from "./docker.ts";
import { EXAMPLES, freePort, HOST, ROOT } from "./support.ts";
import { writeUnreachableKubeconfig } from "../../deploy/image/unreachable-kubeconfig.ts";

const IMAGE = "portcullis:e2e-test";
const KEY = { "x-api-key": "example-alice-key-change-me" };
/** SecurityPolicies in deploy/examples: each must get a status from the container. */
const EXAMPLE_POLICIES = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith(".yaml"))
  .reduce((n, f) => n + (readFileSync(join(EXAMPLES, f), "utf8").match(/^kind: SecurityPolicy$/gm)?.length ?? 0), 0);

beforeAll(() => {
  requireDocker();
  const seconds = buildImage(IMAGE);
  console.log(`image ${IMAGE} built in ${seconds.toFixed(1)} s`);
}, 900_000);

describe("the image", () => {
  it("runs `bin/portcullis serve` as the numeric non-root user 65532 and exposes the four ports", () => {
    const [config] = JSON.parse(docker(["image", "inspect", IMAGE])) as { Config: Obj }[];
    expect(config!.Config.User).toBe("65532:65532");
    expect(config!.Config.Entrypoint).toEqual(["/app/bin/portcullis"]);
    expect(config!.Config.Cmd).toEqual(["serve"]);
    expect(Object.keys(config!.Config.ExposedPorts).sort()).toEqual(["9001/tcp", "9002/tcp", "9003/tcp", "9090/tcp"]);
  });

  it("holds the lock file's production dependencies and nothing else (no node, vitest, typescript, testcontainers)", () => {
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean }> };
    const production = Object.entries(lock.packages)
      .filter(([path, p]) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path) && p.dev !== true)
      .map(([path]) => path.slice("node_modules/".length));
    const inImage = imagePackages(IMAGE);
    expect(inImage.filter((p) => !production.includes(p))).toEqual([]);
    const direct = Object.keys((JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Obj }).dependencies);
    expect(direct.filter((p) => !inImage.includes(p))).toEqual([]);
    for (const dev of ["node", "vitest", "typescript", "testcontainers"]) expect(inImage).not.toContain(dev);
  });

  // Dockerfile, stage compile-cache: one start of `serve` in Kubernetes mode as 65532 fills
  // node_modules/.cache/node-compile-cache. A start in the hardened container must read an entry
  // for every module it loads (Kubernetes mode's own ones, imported only in that mode, included),
  // none rejected and none written anew: that fails if the priming stops covering what `serve`
  // loads, or its entries stop matching the runtime's uid, Node flags or paths.
  it("ships Node's compile cache: a start in Kubernetes mode, hardened, reads every module from it and writes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-e2e-cache-"));
    chmodSync(dir, 0o755);
    writeUnreachableKubeconfig(dir);
    try {
      const container = await new HardenedContainer(IMAGE)
        .withEnvironment({ NODE_DEBUG_NATIVE: "COMPILE_CACHE" })
        .withBindMounts([{ source: dir, target: "/etc/portcullis", mode: "ro" }])
        .withCommand(["serve", "--kubeconfig", "/etc/portcullis/kubeconfig"])
        .withWaitStrategy(Wait.forLogMessage(/Portcullis listening/).withStartupTimeout(60_000))
        .start();
      const id = container.getId();
      await container.stop({ remove: false, timeout: 20_000 });
      const logs = spawnSync("docker", ["logs", id], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
      docker(["rm", id]);
      const log = logs.stderr;
      const count = (re: RegExp) => log.match(re)?.length ?? 0;
      const read = (module: string) =>
        new RegExp(`reading cache from \\S+ for ESM file://${module.replaceAll(".", "\\.")}\\.\\.\\.\\[[^\\]]*\\]\\.\\.\\. success`).test(
          log,
        );
      // A miss: an entry not read (absent, unreadable), code V8 rejected or compiled without an entry, a write.
      const misses = log
        .split("\n")
        .filter(
          (l) =>
            (l.includes("reading cache from") && !l.includes("success")) ||
            /V8 code cache for .* was (rejected|not initialized)|no transpile cache|Creating temporary file|Cannot create cache directory/.test(
              l,
            ),
        );
      // One object, so that a failure shows all of it (CI once saw 1,111 accepted where 1,675 are).
      expect({
        cacheDirectory: /\[compile cache\] resolved path \/app\/node_modules\/\.cache\/node-compile-cache \+ v\d+\.\S+-65532 /.test(log),
        kubeModeReadFromCache: read("/app/controller/runtime/kube.ts"),
        clientNodeReadFromCache: read("/app/node_modules/@kubernetes/client-node/dist/index.js"),
        misses: misses.slice(0, 20),
        accepted: count(/V8 code cache for \S+ \S+ was accepted/g),
        linesOfDebugOutput: count(/^\[compile cache\]/gm),
      }).toEqual({
        cacheDirectory: true,
        kubeModeReadFromCache: true,
        clientNodeReadFromCache: true,
        misses: [],
        accepted: expect.toSatisfy((n: number) => n > 1600, "more than 1,600 (every module Kubernetes mode loads)"),
        linesOfDebugOutput: expect.any(Number),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("standalone mode in a hardened container", () => {
  let container: StartedTestContainer;
  let url: (port: number) => string;
  beforeAll(async () => {
    container = await new HardenedContainer(IMAGE)
      .withBindMounts([{ source: EXAMPLES, target: "/etc/portcullis/manifests", mode: "ro" }])
      .withCommand(["serve", "--manifests", "/etc/portcullis/manifests"])
      .withExposedPorts(9002, 9003, 9090)
      .withWaitStrategy(Wait.forHttp("/readyz", 9090).forStatusCode(200).withStartupTimeout(60_000))
      .start();
    url = (port) => `http://${container.getHost()}:${container.getMappedPort(port)}`;
  }, 120_000);
  afterAll(async () => {
    await container?.stop();
  });

  it("answers /readyz, an Envoy ext_authz check and a forward-auth check", async () => {
    expect((await fetch(`${url(9090)}/readyz`)).status).toBe(200);
    const allowed = await send(`${url(9002)}/v1/models`, { headers: { host: HOST, ...KEY } });
    expect([allowed.status, allowed.header("x-user-id"), allowed.header("x-envoy-auth-headers-to-remove")]).toEqual([
      200,
      "alice",
      "x-api-key,x-user-email,x-user-group",
    ]);
    const denied = await send(`${url(9003)}/`, {
      headers: { "x-forwarded-method": "GET", "x-forwarded-host": HOST, "x-forwarded-uri": "/v1/chat" },
    });
    expect([denied.status, denied.header("www-authenticate")]).toEqual([401, `Bearer realm="http://${HOST}/v1/chat"`]);
  });

  it("runs as uid 65532 and cannot write its root filesystem", async () => {
    const probe = `const fs = require("fs"); let w; try { fs.writeFileSync("/app/x", ""); w = "writable"; } catch (e) { w = e.code; } console.log(process.getuid() + " " + w);`;
    const out = await container.exec(["node", "-e", probe]);
    expect(out.output.trim()).toBe("65532 EROFS");
  });

  it("stops cleanly on SIGTERM (PID 1 drains and exits 0)", async () => {
    const id = container.getId();
    await container.stop({ remove: false, timeout: 20_000 });
    expect(docker(["inspect", "-f", "{{.State.ExitCode}}", id]).trim()).toBe("0");
    docker(["rm", id]);
  }, 60_000);
});

describe("Kubernetes mode: in-cluster config, the chart's RBAC, env and args", () => {
  const SA = "system:serviceaccount:portcullis:portcullis";
  const POD = "portcullis-7d9f8-abcde";
  let server: ApiServer;
  let container: StartedTestContainer;
  let saDir: string;
  const ports: Record<string, number> = {};
  const k = (args: string[], input?: string) => kubectl(server.kubeconfigPath, args, input);

  beforeAll(async () => {
    server = await startApiServer({ users: [{ name: SA, groups: ["system:serviceaccounts", "system:serviceaccounts:portcullis"] }] });
    for (const f of [join(ROOT, "crds"), join(ROOT, "test/kube/crds/gateway-api.yaml")]) k(["apply", "-f", f]);
    k(["wait", "--for", "condition=established", "--timeout", "60s", "crd", "--all"]);
    for (const ns of ["portcullis", "maas-system"]) k(["create", "namespace", ns]);
    const chart = renderChart({}, { kubeconfig: server.kubeconfigPath });
    k(["apply", "-f", "-"], toYaml(chart.objects.map((o) => o.obj).filter((o) => /Role|ServiceAccount/.test(o.kind))));
    k(["apply", "-f", EXAMPLES]);

    // What the kubelet gives the pod: the service account's token, CA and namespace, and the env.
    saDir = mkdtempSync(join(tmpdir(), "portcullis-e2e-sa-"));
    writeFileSync(join(saDir, "token"), server.tokenFor(SA, ["system:serviceaccounts", "system:serviceaccounts:portcullis"]));
    writeFileSync(join(saDir, "ca.crt"), server.ca);
    writeFileSync(join(saDir, "namespace"), "portcullis");
    chmodSync(saDir, 0o755);
    for (const f of ["token", "ca.crt", "namespace"]) chmodSync(join(saDir, f), 0o644);
    const spec = find(chart, "Deployment").spec.template.spec.containers[0];
    const env: Record<string, string> = {};
    for (const e of spec.env as Obj[])
      env[e.name] = e.value ?? { "metadata.namespace": "portcullis", "metadata.name": POD }[e.valueFrom.fieldRef.fieldPath as string];
    // Host networking reaches the API server on loopback; the ports move to free ones.
    for (const name of ["AUTHZ", "FORWARD_AUTH", "ADMIN", "GRPC"])
      env[`PORTCULLIS_${name}_PORT`] = String((ports[name] = await freePort()));
    env.KUBERNETES_SERVICE_HOST = "127.0.0.1";
    env.KUBERNETES_SERVICE_PORT = new URL(server.server).port;
    container = await new HardenedContainer(IMAGE)
      .withNetworkMode("host")
      .withEnvironment(env)
      .withCommand(spec.args as string[])
      .withBindMounts([{ source: saDir, target: "/var/run/secrets/kubernetes.io/serviceaccount", mode: "ro" }])
      .withWaitStrategy(Wait.forLogMessage(/Portcullis listening/).withStartupTimeout(60_000))
      .start();
  }, 240_000);
  afterAll(async () => {
    await container?.stop();
    await server?.stop();
    if (saDir) rmSync(saDir, { recursive: true, force: true });
  });

  const admin = (path: string) => fetch(`http://127.0.0.1:${ports.ADMIN}${path}`);
  const until = async (what: string, probe: () => Promise<boolean> | boolean) => {
    const deadline = Date.now() + 60_000;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`${what} within 60 s; container log:\n${await logs()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const logs = async () => {
    const chunks: string[] = [];
    const stream = await container.logs();
    stream.on("data", (c: Buffer | string) => chunks.push(c.toString()));
    await new Promise((r) => setTimeout(r, 300));
    stream.destroy();
    return chunks.join("").split("\n").slice(-30).join("\n");
  };

  it("becomes ready on the cluster's objects and decides with a Secret it may read", async () => {
    await until("ready", async () => (await admin("/readyz")).status === 200);
    const r = await send(`http://127.0.0.1:${ports.AUTHZ}/v1/models`, { headers: { host: HOST, ...KEY } });
    expect([r.status, r.header("x-user-id")]).toEqual([200, "alice"]);
  }, 90_000);

  it("takes the Lease in its namespace under the pod's name and writes the policies' status", async () => {
    await until("the Lease held by the pod", () => {
      const lease = k(["get", "lease", "-n", "portcullis", "-o", "json", "--ignore-not-found", "portcullis-status-writer"]);
      return lease !== "" && (JSON.parse(lease) as Obj).spec?.holderIdentity === POD;
    });
    await until("status on every example policy", () => {
      const list = JSON.parse(k(["get", "securitypolicies", "-n", "maas-system", "-o", "json"])) as { items: Obj[] };
      return (
        list.items.length === EXAMPLE_POLICIES &&
        list.items.every((p) => p.status?.ancestors?.some((a: Obj) => a.controllerName === "portcullis.io/gateway-controller"))
      );
    });
  }, 150_000);
});
