/**
 * End-to-end plumbing: real processes (Portcullis' own binary, Caddy, nginx) on free loopback ports,
 * an upstream that echoes what reached it, and failures that say why (with the process' log) instead
 * of skipping.
 */
import { spawn, type ChildProcess } from "node:child_process";
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { send } from "../support/http.ts";

export const ROOT = join(import.meta.dirname, "../..");
export const PROXIES = join(ROOT, "deploy/proxies");
export const EXAMPLES = join(ROOT, "deploy/examples");
export const HOST = "api.maas.example.com";

/**
 * A port nothing listens on now and that this process has not handed out before: the kernel may
 * give a just-closed port to the next listen(0), and two daemons started side by side (two
 * replicas) would then be given the same port.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const server = createNetServer();
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}
const handedOut = new Set<number>();

/** Fails with an install hint when a required program is missing: never a silent skip. */
export function requireProgram(name: string, hint = "run `bash test/e2e/ensure-packages.sh` (make test does)"): string {
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/sbin"]) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this directory
    }
  }
  throw new Error(`${name} is not installed: ${hint}`);
}

export interface Daemon {
  readonly name: string;
  readonly dir: string;
  log(): string;
  stop(): Promise<void>;
}

/** Starts `cmd args` with its output in a log file in a fresh temp dir (or `dir`); stop() removes the dir. */
export function startDaemon(
  name: string,
  cmd: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; dir?: string } = {},
): Daemon & { child: ChildProcess } {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), `portcullis-e2e-${name}-`));
  const logFile = join(dir, `${name}.log`);
  const fd = openSync(logFile, "a");
  const child = spawn(cmd, args, { stdio: ["ignore", fd, fd], env: options.env ?? process.env, cwd: dir });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    name,
    dir,
    child,
    log: () => tail(logFile),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until `probe` passes; on timeout or early exit, fails with the daemon's log. */
export async function waitUntil(daemon: Daemon & { child: ChildProcess }, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) {
      throw new Error(`${daemon.name} exited (${daemon.child.exitCode ?? daemon.child.signalCode}) before it was ready:\n${daemon.log()}`);
    }
    try {
      if (await probe()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${daemon.name} not ready after ${timeoutMs} ms (${last}):\n${daemon.log()}`);
    await sleep(100);
  }
}

export function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export interface Portcullis extends Daemon {
  readonly forwardAuth: number;
  readonly authz: number;
  readonly admin: number;
}

/**
 * `bin/portcullis serve` in standalone mode on deploy/examples, configured through PORTCULLIS_*
 * variables, on ports `pickPort` gives (freePort unless a test chooses).
 */
export async function startPortcullis(manifests = EXAMPLES, pickPort = freePort): Promise<Portcullis> {
  // freePort() hands back a port it has closed again; until Node has started and listens (seconds
  // under load) another test's outgoing connection may take it as its local port. Portcullis then
  // exits saying the port is in use: start again on new ports rather than fail the test.
  for (let attempt = 1; ; attempt++) {
    const [authz, forwardAuth, admin, grpc] = [await pickPort(), await pickPort(), await pickPort(), await pickPort()];
    const env = {
      ...process.env,
      PORTCULLIS_BIND_ADDRESS: "127.0.0.1",
      PORTCULLIS_AUTHZ_PORT: String(authz),
      PORTCULLIS_FORWARD_AUTH_PORT: String(forwardAuth),
      PORTCULLIS_ADMIN_PORT: String(admin),
      // Every port free and of its own, or parallel runs collide on the default 9001.
      PORTCULLIS_GRPC_PORT: String(grpc),
      PORTCULLIS_LOG_LEVEL: "warn",
      PORTCULLIS_SHUTDOWN_DELAY_SECONDS: "0",
    };
    const daemon = startDaemon("portcullis", join(ROOT, "bin/portcullis"), ["serve", "--manifests", manifests], { env });
    try {
      await waitUntil(
        daemon,
        30_000,
        async () => (await fetch(`http://127.0.0.1:${admin}/readyz`, { signal: AbortSignal.timeout(5_000) })).status === 200,
      );
      return { ...daemon, authz, forwardAuth, admin };
    } catch (e) {
      await daemon.stop();
      if (attempt === PORT_ATTEMPTS || !PORT_TAKEN.test((e as Error).message)) throw e;
    }
  }
}

const PORT_ATTEMPTS = 3;
/** What Portcullis says when a port it was given is taken (controller/runtime/app.ts cannotListen). */
const PORT_TAKEN = /: the port is in use \(/;

/** deploy/examples plus test/e2e/situations.yaml in a fresh folder, for startPortcullis(). */
export function examplesWithSituations(): string {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-e2e-manifests-"));
  for (const f of readdirSync(EXAMPLES)) if (f.endsWith(".yaml")) copyFileSync(join(EXAMPLES, f), join(dir, f));
  copyFileSync(join(import.meta.dirname, "situations.yaml"), join(dir, "99-situations.yaml"));
  return dir;
}

export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /**
   * The headers as a CGI, WSGI or Rack application reads them: HTTP_ + the name upper-cased with
   * "-" and "_" both as "_", every value of every spelling kept in arrival order. X-User-Id and
   * X_User_Id are both HTTP_X_USER_ID there.
   */
  readonly cgi: Readonly<Record<string, readonly string[]>>;
  readonly body: string;
}

/**
 * Asks the app behind the proxy to put these headers (a JSON object of name to value) on its
 * response too, as an app that answers CORS itself does.
 */
export const ECHO_RESPONSE_HEADERS = "x-echo-response-headers";

/** The app behind the proxy: answers 200 with what it received, as JSON (and the headers ECHO_RESPONSE_HEADERS asks for). */
export interface Upstream {
  readonly port: number;
  readonly seen: Seen[];
  close(): Promise<void>;
}

export async function startUpstream(): Promise<Upstream> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const cgi: Record<string, string[]> = {};
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        (cgi[`HTTP_${req.rawHeaders[i]!.toUpperCase().replaceAll("-", "_")}`] ??= []).push(req.rawHeaders[i + 1]!);
      const record = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        cgi,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      seen.push(record);
      const asked = req.headers[ECHO_RESPONSE_HEADERS];
      const extra: Record<string, string> = typeof asked === "string" ? JSON.parse(asked) : {};
      res.writeHead(200, { ...extra, "content-type": "application/json", "x-upstream": "echo" });
      res.end(JSON.stringify(record));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Portcullis on deploy/examples, situations.yaml and `extra` manifests, with an echo upstream: what the proxies under test stand in front of. */
export interface Stage {
  readonly portcullis: Portcullis;
  readonly upstream: Upstream;
  readonly behind: Behind;
  /** What the upstream saw since `before` (its count of requests then): the last request, undefined when none; asserts at most one. */
  seenSince(before: number): Seen | undefined;
  stop(): Promise<void>;
}

/** Starts a Stage; `extra` maps file names to manifests added to the examples. Fails (never skips) without caddy and nginx. */
export async function startStage(extra: Readonly<Record<string, string>> = {}): Promise<Stage> {
  requireProgram("caddy");
  requireProgram("nginx");
  const manifests = examplesWithSituations();
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(manifests, name), text);
  const started = await Promise.allSettled([startPortcullis(manifests), startUpstream()]);
  const stopAll = async () => {
    for (const s of started) if (s.status === "fulfilled") await ("stop" in s.value ? s.value.stop() : s.value.close());
    rmSync(manifests, { recursive: true, force: true });
  };
  const [p, u] = started;
  if (p.status === "rejected" || u.status === "rejected") {
    await stopAll();
    throw p.status === "rejected" ? p.reason : (u as PromiseRejectedResult).reason;
  }
  const [portcullis, upstream] = [p.value, u.value];
  return {
    portcullis,
    upstream,
    behind: { forwardAuth: portcullis.forwardAuth, upstream: upstream.port },
    seenSince(before) {
      const count = upstream.seen.length - before;
      if (count > 1) throw new Error(`the upstream was called ${count} times for one request`);
      return count === 1 ? upstream.seen[upstream.seen.length - 1] : undefined;
    },
    stop: stopAll,
  };
}

/** Replaces `from` with `to`, insisting that `from` occurs exactly once (so the example cannot drift silently). */
export function replaceOnce(text: string, from: string, to: string, file: string): string {
  const n = text.split(from).length - 1;
  if (n !== 1) throw new Error(`${file}: expected "${from}" exactly once, found ${n} times`);
  return text.replace(from, to);
}

/** A proxy in front of an upstream, asking Portcullis; `url` is its loopback address. */
export interface Proxy extends Daemon {
  readonly url: string;
}

/** What a proxy stands in front of: Portcullis' forward-auth port and the upstream's; `port`: where it listens (a free one when absent). */
export interface Behind {
  readonly forwardAuth: number;
  readonly upstream: number;
  readonly port?: number;
}

/** Caddy running `caddyfile` (deploy/proxies/caddy/Caddyfile or a variant), its variables set to `behind`. */
export async function startCaddy(caddyfile: string, behind: Behind): Promise<Proxy> {
  const port = behind.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "portcullis-e2e-caddy-"));
  const env = {
    ...process.env,
    HOME: dir,
    XDG_DATA_HOME: join(dir, "data"),
    XDG_CONFIG_HOME: join(dir, "config"),
    LISTEN_PORT: String(port),
    PORTCULLIS_FORWARD_AUTH: `127.0.0.1:${behind.forwardAuth}`,
    UPSTREAM: `127.0.0.1:${behind.upstream}`,
  };
  const daemon = startDaemon("caddy", requireProgram("caddy"), ["run", "--config", caddyfile, "--adapter", "caddyfile"], { env, dir });
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(daemon, 20_000, async () => (await send(`${url}/healthz`, { headers: { host: HOST } })).status === 200);
  return { ...daemon, url };
}

/**
 * nginx running deploy/proxies/nginx/portcullis.conf, only its server addresses and listen port
 * replaced; `edit` changes the file as an operator would first (a header added, say).
 */
export async function startNginx(behind: Behind, edit: (conf: string) => string = (conf) => conf): Promise<Proxy> {
  const port = behind.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "portcullis-e2e-nginx-"));
  chmodSync(dir, 0o755); // nginx workers run as nobody
  const file = join(PROXIES, "nginx/portcullis.conf");
  let conf = edit(readFileSync(file, "utf8"));
  conf = replaceOnce(conf, "server portcullis.portcullis.svc.cluster.local:9003;", `server 127.0.0.1:${behind.forwardAuth};`, file);
  conf = replaceOnce(conf, "server app.default.svc.cluster.local:8080;", `server 127.0.0.1:${behind.upstream};`, file);
  conf = replaceOnce(conf, "listen 8080;", `listen 127.0.0.1:${port};`, file);
  writeFileSync(join(dir, "portcullis.conf"), conf);
  for (const t of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) {
    mkdirSync(join(dir, t));
    chmodSync(join(dir, t), 0o777);
  }
  // The smallest main configuration around the example, as /etc/nginx/nginx.conf is around conf.d/.
  writeFileSync(
    join(dir, "nginx.conf"),
    `
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx.log info;
events { worker_connections 256; }
http {
  access_log ${dir}/nginx.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/portcullis.conf;
}
`,
  );
  const daemon = startDaemon("nginx", requireProgram("nginx"), ["-e", join(dir, "nginx.log"), "-p", dir, "-c", join(dir, "nginx.conf")], {
    dir,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(daemon, 20_000, async () => (await send(`${url}/healthz`, { headers: { host: HOST } })).status === 200);
  return { ...daemon, url };
}

/** A TCP relay to a loopback port that counts the connections made through it (what a proxy opens to Portcullis or the app). */
export interface Relay {
  readonly port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** Holds every answer back this long (ms), so that concurrent requests are all in flight at once; 0 by default. */
  delayMs: number;
  /** Every byte sent through it to the target so far, one character per byte (what the proxy wrote). */
  received(): string;
  close(): Promise<void>;
}

export async function startRelay(target: number): Promise<Relay> {
  let accepted = 0;
  const received: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createNetServer((client) => {
    accepted++;
    const upstream = connect(target, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      // A reset on one side ends the other, as the proxy would see it on a direct connection.
      s.on("error", () => (s === client ? upstream : client).destroy());
    }
    client.on("data", (chunk: Buffer) => received.push(chunk));
    client.pipe(upstream);
    // Answers keep their order: every chunk waits the same time.
    upstream.on("data", (chunk: Buffer) => {
      if (relay.delayMs === 0) client.write(chunk);
      else setTimeout(() => client.write(chunk), relay.delayMs);
    });
    upstream.on("end", () => setTimeout(() => client.end(), relay.delayMs));
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const relay: Relay = {
    port: (server.address() as AddressInfo).port,
    connections: () => accepted,
    delayMs: 0,
    received: () => Buffer.concat(received).toString("latin1"),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return relay;
}
