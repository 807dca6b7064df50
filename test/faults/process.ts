/**
 * `bin/portcullis serve` as a real child process over a temporary manifest folder: its ports (read
 * from its start-up log line), its JSON log lines, its metrics, and its exit.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EPHEMERAL_PORTS } from "../support/app.ts";

const BIN = join(import.meta.dirname, "../../bin/portcullis");

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export interface Served {
  readonly child: ChildProcess;
  /** The manifest folder it serves. */
  readonly dir: string;
  readonly authz: number;
  readonly forwardAuth: number;
  readonly admin: number;
  /** Every JSON log line so far, and the raw stdout text (to show nothing secret was logged). */
  logs(): readonly LogLine[];
  output(): string;
  /** The value of one Prometheus series (summed over matching label sets), 0 when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** SIGTERM (if still running), wait for the exit, remove the folder. */
  close(): Promise<void>;
}

/** Serves a fresh folder holding `files`, or laid out by `files(dir)`. */
export async function serve(files: Record<string, string> | ((dir: string) => void), flags: string[] = []): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-faults-"));
  if (typeof files === "function") files(dir);
  else for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const child = spawn(BIN, ["serve", "--manifests", dir, ...EPHEMERAL_PORTS, ...flags], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const lines: LogLine[] = [];
  let pending = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    pending += chunk;
    const complete = pending.split("\n");
    pending = complete.pop()!;
    for (const line of complete) if (line.startsWith("{")) lines.push(JSON.parse(line) as LogLine);
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const started = Date.now();
  let ports: { authz: number; forwardAuth: number; admin: number } | undefined;
  while (ports === undefined) {
    const line = lines.find((l) => typeof l.authz === "number");
    if (line !== undefined) ports = { authz: line.authz as number, forwardAuth: line.forwardAuth as number, admin: line.admin as number };
    else if (child.exitCode !== null || Date.now() - started > 15_000) throw new Error(`serve did not start: ${err}${out}`);
    else await new Promise((r) => setTimeout(r, 20));
  }
  const admin = ports.admin;
  return {
    child,
    dir,
    ...ports,
    logs: () => lines,
    output: () => out,
    async metric(name, labels = {}) {
      const text = await get(admin, "/metrics");
      let sum = 0;
      for (const line of text.split("\n")) {
        if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
        if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(" ").at(-1));
      }
      return sum;
    },
    exited,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** GET on 127.0.0.1:port, the body as text. */
export function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let body = "";
      res
        .setEncoding("utf8")
        .on("data", (c: string) => (body += c))
        .on("end", () => resolve(body));
    })
      .on("error", reject)
      .end();
  });
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly code: string | undefined;
  readonly ms: number;
}

/** One request on a fresh connection; rejects with the socket error code when there is no answer. */
export function ask(port: number, path: string, headers: Record<string, string>): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c));
      res.on("end", () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(body) as { code?: string }).code;
        } catch {
          code = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, code, ms: performance.now() - t0 });
      });
      res.on("error", (e) => reject(e));
    });
    req.on("error", (e: NodeJS.ErrnoException) => reject(Object.assign(new Error(e.code ?? e.message), { code: e.code ?? e.message })));
    req.end();
  });
}

/** Polls `probe` every 50 ms until it holds; fails after `timeoutMs`. Returns the time it took. */
export async function until(timeoutMs: number, what: string, probe: () => boolean | Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}
