/**
 * The servers under load, as child processes pinned with taskset to the server core: the bare
 * node:http baseline (bench/bare-server.ts) and `bin/portcullis serve`, both on the same Node 24.
 * Every port Portcullis has is asked for as 0 (ephemeral) and read back from its start-up log line.
 * Flags are taken from `serve --help`, so a build with more ports (or fewer flags) still runs.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { cpuSeconds } from "./counters.ts";

const ROOT = join(import.meta.dirname, "..");
export const NODE = join(ROOT, "node_modules/.bin/node");
export const PORTCULLIS = join(ROOT, "bin/portcullis");

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  /** http://127.0.0.1:PORT of the port under load (Portcullis: the Envoy ext_authz port). */
  readonly url: string;
  /** Portcullis' forward-auth port (what nginx and Caddy ask). */
  readonly forwardAuthPort?: number;
  /** Milliseconds from spawn to ready (Portcullis: /readyz answers 200). */
  readonly startupMs: number;
  /** CPU seconds the process used up to ready: the start-up's cost, whatever else ran on its core. */
  readonly startupCpuS: number;
  /** Resident set size now and at its peak (VmHWM), MiB, from /proc. */
  memory(): { rssMiB: number; peakMiB: number };
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Usage text by bin/portcullis path: each tree's build may know other flags. */
const usageTexts = new Map<string, string>();

/** The flags this build of `portcullis serve` knows (read from its usage text). */
function knownFlags(binary: string): string[] {
  let usageText = usageTexts.get(binary);
  if (usageText === undefined) {
    const usage = spawnSync(binary, ["serve", "--help"], { encoding: "utf8" });
    usageTexts.set(binary, (usageText = `${usage.stdout}${usage.stderr}`));
  }
  return [...new Set([...usageText.matchAll(/--([a-z][a-z-]+)\b/g)].map((m) => m[1]!))];
}

/** Every port ephemeral, and no drain delay on stop (a benchmark has no load balancer to tell). */
function flagsForBench(binary: string): string[] {
  const known = knownFlags(binary);
  const ports = known.filter((f) => f.endsWith("-port")).flatMap((f) => [`--${f}`, "0"]);
  return [...ports, ...(known.includes("shutdown-delay-seconds") ? ["--shutdown-delay-seconds", "0"] : [])];
}

/** The bare node:http baseline; with `verifyJwk`, the bare server that also verifies each token's signature. */
export async function startBare(cpu: string, env: Readonly<Record<string, string>> = {}, verifyJwk?: string): Promise<ServerProcess> {
  const started = performance.now();
  const args = [NODE, join(ROOT, "bench/bare-server.ts"), "0", ...(verifyJwk === undefined ? [] : ["--verify-jwk", verifyJwk])];
  const child = spawn("taskset", ["-c", cpu, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`bare server exited (${code})`)));
    createInterface({ input: child.stdout! }).once("line", (line) => resolve((JSON.parse(line) as { port: number }).port));
  });
  child.removeAllListeners("exit");
  return handle(
    verifyJwk === undefined ? "bare node:http" : "bare node:http + crypto.verify",
    child,
    `http://127.0.0.1:${port}`,
    performance.now() - started,
  );
}

export interface PortcullisOptions {
  readonly cpu?: string;
  readonly manifests?: string;
  readonly kubeconfig?: string;
  readonly args?: readonly string[];
  /** Extra environment (e.g. NODE_OPTIONS for --cpu-prof). */
  readonly env?: Readonly<Record<string, string>>;
  /** Where its stdout/stderr go (JSON logs). */
  readonly logFile: string;
  readonly readyTimeoutMs?: number;
  /** Another source tree to run `bin/portcullis` of (bench/compare-trees.ts); default: this one. */
  readonly root?: string;
}

/**
 * The Node flags `binary` (bin/portcullis) runs Portcullis with, read from its `exec` line: for a
 * benchmark process that must run as Portcullis does (bench/run.ts' compile processes).
 */
export function portcullisNodeFlags(binary = PORTCULLIS): string[] {
  const exec = readFileSync(binary, "utf8")
    .split("\n")
    .find((line) => line.startsWith("exec "));
  if (exec === undefined) throw new Error(`${binary} has no exec line to read Node's flags from`);
  return exec.split(/\s+/).filter((word) => word.startsWith("--"));
}

/**
 * A tree of its own, `dir`, whose bin/portcullis runs this tree's sources on node with exactly
 * `nodeFlags` instead of bin/portcullis' own (to compare Node flags); returns `dir`, for
 * PortcullisOptions.root.
 */
export function rootWithNodeFlags(dir: string, nodeFlags: string): string {
  mkdirSync(join(dir, "bin"), { recursive: true });
  const script = join(dir, "bin/portcullis");
  writeFileSync(script, `#!/bin/sh\nexec "${NODE}" --disable-warning=ExperimentalWarning ${nodeFlags} "${ROOT}/controller/main.ts" "$@"\n`);
  chmodSync(script, 0o755);
  return dir;
}

export async function startPortcullis(o: PortcullisOptions): Promise<ServerProcess> {
  const binary = o.root === undefined ? PORTCULLIS : join(o.root, "bin/portcullis");
  const benchFlags = flagsForBench(binary);
  const started = performance.now();
  const source = o.manifests !== undefined ? ["--manifests", o.manifests] : ["--kubeconfig", o.kubeconfig!];
  const args = ["serve", ...source, "--bind-address", "127.0.0.1", ...benchFlags, "--shutdown-grace-seconds", "1", ...(o.args ?? [])];
  const command = o.cpu === undefined ? [binary, ...args] : ["taskset", "-c", o.cpu, binary, ...args];
  // Logs go straight to a file, as a container runtime takes them: a pipe that this (busy) process
  // drains would make Portcullis wait on its own log lines (pino writes synchronously).
  const fd = openSync(o.logFile, "w");
  const child = spawn(command[0]!, command.slice(1), { env: { ...process.env, ...o.env }, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  let exited: number | null | undefined;
  child.once("exit", (code) => (exited = code));
  const portsDeadline = Date.now() + (o.readyTimeoutMs ?? 120_000);
  let found: { authz: number; admin: number; forwardAuth: number } | undefined;
  while ((found = portsIn(readFileSync(o.logFile, "utf8"))) === undefined) {
    if (exited !== undefined) throw new Error(`Portcullis exited (${exited}); see ${o.logFile}`);
    if (Date.now() > portsDeadline) throw new Error(`Portcullis did not log its ports in time; see ${o.logFile}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const deadline = Date.now() + (o.readyTimeoutMs ?? 120_000);
  while (
    (await fetch(`http://127.0.0.1:${found.admin}/readyz`).then(
      (r) => r.status,
      () => 0,
    )) !== 200
  ) {
    if (Date.now() > deadline || exited !== undefined) throw new Error(`Portcullis did not become ready; see ${o.logFile}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    ...handle("portcullis", child, `http://127.0.0.1:${found.authz}`, performance.now() - started),
    forwardAuthPort: found.forwardAuth,
  };
}

/** The ports of the start-up line ("Portcullis listening"), once logged. */
export function portsIn(log: string): { authz: number; admin: number; forwardAuth: number } | undefined {
  for (const line of log.split("\n")) {
    if (!line.includes('"forwardAuth"') || !line.endsWith("}")) continue;
    const entry = JSON.parse(line) as { authz?: unknown; admin?: unknown; forwardAuth?: unknown };
    if (typeof entry.authz === "number" && typeof entry.admin === "number" && typeof entry.forwardAuth === "number")
      return { authz: entry.authz, admin: entry.admin, forwardAuth: entry.forwardAuth };
  }
  return undefined;
}

function handle(name: string, child: ChildProcess, url: string, startupMs: number): ServerProcess {
  const pid = child.pid!;
  return {
    name,
    pid,
    url,
    startupMs,
    startupCpuS: cpuSeconds(pid),
    memory() {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
      return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
    },
    stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill("SIGTERM");
      });
    },
  };
}
