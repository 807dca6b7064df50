// Test harness: a real kube-apiserver (v1.20.2) + etcd on loopback, in a fresh temp dir.
// Binaries come from test/kube/build-binaries.sh (kubeAssetsDir: PORTCULLIS_KUBE_ASSETS, else its cache).
// Without them the harness throws: integration tests must fail, never skip, on a machine without the binaries.
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import { kubeAssetsDir } from "./assets.ts";

export interface KubeUser {
  readonly name: string;
  /** Extra groups; the API server adds system:authenticated itself. */
  readonly groups?: readonly string[];
}

export interface StartOptions {
  /** Users besides the admin that get a static token (e.g. for RBAC tests). Default: `portcullis`, no groups. */
  readonly users?: readonly KubeUser[];
  /** How long to wait for etcd and then /readyz on each start. Default 60 s (2-core CI under load). */
  readonly readyTimeoutMs?: number;
}

export interface ApiServer {
  /** https://127.0.0.1:PORT; the same across stopApiServer()/startApiServer(). */
  readonly server: string;
  /** Bearer token of `admin` (group system:masters, so RBAC does not apply). */
  readonly token: string;
  /** kubeconfig for the admin; verifies the API server's self-signed certificate. */
  readonly kubeconfigPath: string;
  /** PEM bundle that verifies the serving certificate. */
  readonly ca: string;
  /** Temp dir holding data, certs and logs; removed by stop(). */
  readonly dir: string;
  readonly logs: { readonly etcd: string; readonly apiserver: string };
  /** Token of a user declared in StartOptions.users (throws for undeclared ones: tokens are read at start). */
  tokenFor(name: string, groups?: readonly string[]): string;
  /** Writes (once) and returns a kubeconfig for a declared user. */
  kubeconfigFor(name: string, groups?: readonly string[]): string;
  /** Stops only kube-apiserver (etcd keeps the data), e.g. to test reconnects. */
  stopApiServer(): Promise<void>;
  /** Starts kube-apiserver again on the same port with the same data; resolves when ready. */
  startApiServer(): Promise<void>;
  /** stopApiServer(), wait `ms`, startApiServer(). */
  pause(ms: number): Promise<void>;
  /** Stops both processes and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const ADMIN = "admin";
const live = new Set<ChildProcess>();
const liveDirs = new Set<string>(); // temp dirs to remove if the test process dies before stop()
let cleanupInstalled = false;

/** Starts etcd and kube-apiserver; resolves once /readyz is ok and the default namespace exists. */
export async function startApiServer(options: StartOptions = {}): Promise<ApiServer> {
  const assets = kubeAssetsDir();
  installCleanup();
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "portcullis-kube-"));
  liveDirs.add(dir);
  const logs = { etcd: path.join(dir, "etcd.log"), apiserver: path.join(dir, "kube-apiserver.log") };
  const [etcdPort, peerPort, securePort] = await freePorts(3);
  const server = `https://127.0.0.1:${securePort}`;

  const users = new Map<string, string>(); // userKey -> token
  const tokenLines: string[] = [];
  const addUser = (name: string, groups: readonly string[]) => {
    const token = randomBytes(24).toString("hex");
    users.set(userKey(name, groups), token);
    // Format: token,user,uid,"group1,group2" (see kube-apiserver --token-auth-file).
    tokenLines.push(`${token},${name},${name},"${groups.join(",")}"`);
  };
  addUser(ADMIN, ["system:masters"]);
  for (const u of options.users ?? [{ name: "portcullis" }]) addUser(u.name, u.groups ?? []);
  fs.writeFileSync(path.join(dir, "tokens.csv"), tokenLines.join("\n") + "\n", { mode: 0o600 });

  const sa = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  fs.writeFileSync(path.join(dir, "sa.key"), sa.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  fs.writeFileSync(path.join(dir, "sa.pub"), sa.publicKey.export({ type: "spki", format: "pem" }));

  const etcdArgs = [
    "--name=portcullis-test",
    `--data-dir=${path.join(dir, "etcd")}`,
    `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
    `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=portcullis-test=http://127.0.0.1:${peerPort}`,
    "--logger=zap",
    "--log-outputs=stderr",
  ];
  const apiArgs = [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${securePort}`,
    "--insecure-port=0",
    `--cert-dir=${path.join(dir, "pki")}`, // no --tls-cert-file: the API server self-signs into this dir
    `--token-auth-file=${path.join(dir, "tokens.csv")}`,
    "--authorization-mode=RBAC",
    `--service-account-key-file=${path.join(dir, "sa.pub")}`,
    `--service-account-signing-key-file=${path.join(dir, "sa.key")}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    "--service-cluster-ip-range=10.0.0.0/24",
    "--v=1",
  ];

  let etcd: ChildProcess | undefined;
  let apiserver: ChildProcess | undefined;
  let ca = "";
  const fail = async (what: string, cause: unknown): Promise<never> => {
    await terminate(apiserver);
    await terminate(etcd);
    // Keep the logs for reading, drop etcd's data (its WAL alone is 64 MB).
    liveDirs.delete(dir);
    fs.rmSync(path.join(dir, "etcd"), { recursive: true, force: true });
    throw new Error(
      `${what}: ${cause instanceof Error ? cause.message : String(cause)}\n` +
        `  logs: ${logs.apiserver}\n        ${logs.etcd}\n` +
        `--- kube-apiserver.log (tail) ---\n${tail(logs.apiserver)}\n--- etcd.log (tail) ---\n${tail(logs.etcd)}`,
    );
  };

  const launchApiServer = async (): Promise<void> => {
    apiserver = launch(path.join(assets, "kube-apiserver"), apiArgs, logs.apiserver);
    const adminToken = users.get(userKey(ADMIN, ["system:masters"]))!;
    await waitFor(readyTimeoutMs, apiserver, "kube-apiserver", async () => {
      if (!ca) ca = readServingCa(path.join(dir, "pki"));
      if (!ca) return false;
      const ready = await get(`${server}/readyz`, { token: adminToken, ca });
      if (ready.status !== 200) return false;
      // /readyz does not wait for the bootstrap controller to create the default namespace.
      return (await get(`${server}/api/v1/namespaces/default`, { token: adminToken, ca })).status === 200;
    });
  };

  try {
    etcd = launch(path.join(assets, "etcd"), etcdArgs, logs.etcd);
    await waitFor(readyTimeoutMs, etcd, "etcd", async () => {
      const r = await get(`http://127.0.0.1:${etcdPort}/health`, {});
      return r.status === 200 && r.body.includes('"health":"true"');
    });
  } catch (err) {
    return fail("etcd did not become healthy", err);
  }
  try {
    await launchApiServer();
  } catch (err) {
    return fail("kube-apiserver did not become ready", err);
  }

  const kubeconfigs = new Map<string, string>();
  const writeKubeconfig = (file: string, user: string, token: string) => {
    const config = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "test", cluster: { server, "certificate-authority-data": Buffer.from(ca).toString("base64") } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: "test", context: { cluster: "test", user, namespace: "default" } }],
      "current-context": "test",
    };
    fs.writeFileSync(file, stringify(config), { mode: 0o600 });
    return file;
  };
  const tokenFor = (name: string, groups: readonly string[] = []): string => {
    const token = users.get(userKey(name, groups));
    if (token === undefined) {
      throw new Error(`no token for user ${name} [${groups.join(",")}]: declare it in startApiServer({ users })`);
    }
    return token;
  };
  const adminToken = tokenFor(ADMIN, ["system:masters"]);
  const kubeconfigPath = writeKubeconfig(path.join(dir, "kubeconfig"), ADMIN, adminToken);
  let stopped = false;

  const handle: ApiServer = {
    server,
    token: adminToken,
    kubeconfigPath,
    ca,
    dir,
    logs,
    tokenFor,
    kubeconfigFor(name, groups = []) {
      const key = userKey(name, groups);
      const existing = kubeconfigs.get(key);
      if (existing) return existing;
      const file = writeKubeconfig(path.join(dir, `kubeconfig-${kubeconfigs.size + 1}`), name, tokenFor(name, groups));
      kubeconfigs.set(key, file);
      return file;
    },
    async stopApiServer() {
      await terminate(apiserver);
      apiserver = undefined;
    },
    async startApiServer() {
      if (stopped) throw new Error("startApiServer() after stop()");
      if (apiserver) throw new Error("kube-apiserver is already running");
      try {
        await launchApiServer();
      } catch (err) {
        return fail("kube-apiserver did not become ready after a restart", err);
      }
    },
    async pause(ms) {
      await handle.stopApiServer();
      await sleep(ms);
      await handle.startApiServer();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate(apiserver);
      await terminate(etcd);
      fs.rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    },
  };
  return handle;
}

function userKey(name: string, groups: readonly string[]): string {
  return `${name}\u0000${[...groups].sort().join(",")}`;
}

/** Reserves distinct loopback ports by holding them all open, then releasing them. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

function launch(bin: string, args: readonly string[], logFile: string): ChildProcess {
  const fd = fs.openSync(logFile, "a"); // append: a restarted API server keeps its earlier log
  try {
    const child = spawn(bin, args, { stdio: ["ignore", fd, fd] });
    live.add(child);
    child.once("exit", () => live.delete(child));
    child.once("error", () => live.delete(child));
    return child;
  } finally {
    fs.closeSync(fd);
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** SIGTERM, then SIGKILL after 10 s. Resolves when the process is gone. */
async function terminate(child: ChildProcess | undefined): Promise<void> {
  if (!child || exited(child) || child.pid === undefined) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await gone;
  clearTimeout(timer);
}

async function waitFor(timeoutMs: number, child: ChildProcess, name: string, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = "not ready";
  for (;;) {
    if (exited(child)) throw new Error(`${name} exited (code ${child.exitCode}, signal ${child.signalCode})`);
    try {
      if (await ready()) return;
    } catch (err) {
      last = err; // connection refused while starting up is expected
    }
    if (Date.now() > deadline) {
      throw new Error(`${name} not ready after ${timeoutMs} ms (last: ${last instanceof Error ? last.message : String(last)})`);
    }
    await sleep(150);
  }
}

/** The self-signed apiserver.crt holds the serving cert and the CA that signed it. */
function readServingCa(certDir: string): string {
  try {
    return fs.readFileSync(path.join(certDir, "apiserver.crt"), "utf8");
  } catch {
    return "";
  }
}

function get(url: string, opts: { token?: string; ca?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = opts.token ? { Authorization: `Bearer ${opts.token}` } : undefined;
    const mod = url.startsWith("https:") ? https : http;
    const req = mod.get(url, { headers, ca: opts.ca, timeout: 3000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`timeout on ${url}`)));
    req.on("error", reject);
  });
}

function tail(file: string, lines = 25): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Kills children and removes their dirs when the test process ends, including on SIGINT/SIGTERM. */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = () => {
    for (const child of live) child.kill("SIGKILL");
    live.clear();
    for (const dir of liveDirs) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort: the process is exiting anyway
      }
    }
    liveDirs.clear();
  };
  process.once("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      killAll();
      // Restore the default (exit) unless someone else handles the signal.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.once(sig, onSignal);
  }
}
