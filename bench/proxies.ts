/**
 * The proxies users would put in front of an app instead of (or with) Portcullis, from Debian, each
 * pinned to the server core and listening on ephemeral loopback ports:
 * - nginx (auth_request) and Caddy (forward_auth) running the exact example files of
 *   deploy/proxies/ (only addresses, ports and the Gateway substituted), asking Portcullis'
 *   forward-auth port; and the same files without the authentication step ("no auth");
 * - HAProxy 2.6 verifying the JWT in-process (jwt_verify with a PEM public key, plus the issuer,
 *   audience and expiry checks Portcullis makes, and the same three claims copied into headers),
 *   and HAProxy with no authentication.
 * Every proxy forwards the request to an "app" that is a second server block (HAProxy: frontend) of
 * the same process answering 200 with no body, over kept-alive connections: all of them pay the
 * same upstream hop, as they would in front of a real app.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, PROXIES, replaceOnce, requireProgram, startDaemon, waitUntil, type Daemon } from "../test/e2e/support.ts";

export type ProxyKind = "nginx" | "caddy" | "haproxy";

export interface RunningProxy {
  readonly kind: ProxyKind;
  readonly url: string;
  /** The processes that do the work (nginx: master and worker). */
  pids(): number[];
  stop(): Promise<void>;
}

/** The Gateway the benchmark world's routes hang off (bench/world.ts). */
const BENCH_GATEWAY = "bench-gateway/gateway";
const NGINX_AUTH_STEP = "        auth_request /.portcullis-auth;\n";

/**
 * deploy/proxies/nginx/portcullis.conf for the benchmark: Portcullis and the app on loopback and the
 * bench Gateway. Without Portcullis (`forwardAuth` undefined) the auth_request step is removed and
 * nothing else.
 */
export function nginxSiteConf(example: string, o: { listen: number; app: number; forwardAuth?: number }): string {
  const file = "deploy/proxies/nginx/portcullis.conf";
  let conf = replaceOnce(example, "server app.default.svc.cluster.local:8080;", `server 127.0.0.1:${o.app};`, file);
  conf = replaceOnce(conf, "listen 8080;", `listen 127.0.0.1:${o.listen};`, file);
  conf = replaceOnce(conf, "X-Portcullis-Gateway maas-system/maas-gateway;", `X-Portcullis-Gateway ${BENCH_GATEWAY};`, file);
  conf = replaceOnce(conf, "server portcullis.portcullis.svc.cluster.local:9003;", `server 127.0.0.1:${o.forwardAuth ?? 9};`, file);
  if (o.forwardAuth === undefined) conf = replaceOnce(conf, NGINX_AUTH_STEP, "", file);
  return `${conf}\nserver {\n    listen 127.0.0.1:${o.app};\n    location / { return 200; }\n}\n`;
}

/** The smallest main configuration around a site file: one worker, no access log. */
export function nginxMainConf(dir: string): string {
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/site.conf;
}
`;
}

/**
 * deploy/proxies/caddy/Caddyfile plus the app site; without Portcullis, the forward_auth block
 * (from its line to its closing brace) is removed and nothing else.
 */
export function caddyfile(example: string, o: { app: number; withAuth: boolean }): string {
  const lines = example.split("\n");
  if (!o.withAuth) {
    const starts = lines.flatMap((l, i) => (/^\s*forward_auth .*\{$/.test(l) ? [i] : []));
    if (starts.length !== 1) throw new Error(`deploy/proxies/caddy/Caddyfile: expected one forward_auth block, found ${starts.length}`);
    // Blocks open at the end of a line and close on a line of their own; placeholders ({...}) stay inside lines.
    let depth = 0;
    let end = starts[0]!;
    for (; end < lines.length; end++) {
      const line = lines[end]!.trim();
      if (line.endsWith("{")) depth++;
      else if (line === "}" && --depth === 0) break;
    }
    if (depth !== 0) throw new Error("deploy/proxies/caddy/Caddyfile: the forward_auth block does not close");
    lines.splice(starts[0]!, end - starts[0]! + 1);
  }
  return `${lines.join("\n")}\n:${o.app} {\n\trespond 200\n}\n`;
}

/** A Caddy binary and its version. */
export interface CaddyBuild {
  readonly binary: string;
  /** The first word `caddy version` prints (2.6.2; later releases prefix a v: v2.11.4). */
  readonly version: string;
}

/** `binary` (default: the caddy on PATH) and its version; throws when it does not run. */
export function caddyBuild(binary = requireProgram("caddy")): CaddyBuild {
  const version = execFileSync(binary, ["version"], { encoding: "utf8" }).trim().split(/\s+/)[0]!;
  return { binary, version: version.replace(/^v/, "") };
}

export interface JwtCheck {
  readonly publicKeyPem: string;
  readonly issuer: string;
  readonly audience: string;
}

/**
 * HAProxy forwarding every request to its app (a second frontend on `app` answering 200); with `jwt`,
 * only after verifying `Authorization: Bearer` as an ES256 JWT signed by the key, from the issuer,
 * for the audience, not expired (401 / 403 otherwise), and copying sub, department and email into
 * request headers as Portcullis' policy does.
 */
export function haproxyConf(o: { listen: number; app: number; keyFile?: string; jwt?: JwtCheck }): string {
  const lines = [
    "global",
    "  nbthread 1",
    "  maxconn 4096",
    "defaults",
    "  mode http",
    "  timeout client 30s",
    "  timeout server 30s",
    "  timeout connect 5s",
    "frontend bench",
    `  bind 127.0.0.1:${o.listen}`,
  ];
  if (o.jwt !== undefined) {
    if (o.keyFile === undefined) throw new Error("haproxyConf: jwt needs keyFile");
    lines.push(
      "  http-request set-var(txn.bearer) http_auth_bearer",
      "  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('$.alg')",
      "  http-request deny deny_status 401 unless { var(txn.alg) -m str ES256 }",
      `  http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"${o.keyFile}") -m int 1 }`,
      `  http-request deny deny_status 401 unless { var(txn.bearer),jwt_payload_query('$.iss') -m str "${o.jwt.issuer}" }`,
      `  http-request deny deny_status 403 unless { var(txn.bearer),jwt_payload_query('$.aud') -m str "${o.jwt.audience}" }`,
      "  http-request set-var(txn.now) date()",
      "  http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int')",
      "  http-request deny deny_status 401 if { var(txn.exp),sub(txn.now) -m int lt 0 }",
      "  http-request set-header x-user-id %[var(txn.bearer),jwt_payload_query('$.sub')]",
      "  http-request set-header x-user-group %[var(txn.bearer),jwt_payload_query('$.department')]",
      "  http-request set-header x-user-email %[var(txn.bearer),jwt_payload_query('$.email')]",
    );
  }
  lines.push("  default_backend app", "backend app", `  server app 127.0.0.1:${o.app}`);
  lines.push("frontend app_site", `  bind 127.0.0.1:${o.app}`, "  http-request return status 200");
  return `${lines.join("\n")}\n`;
}

/** The process and its children (nginx's worker), from /proc. */
function processTree(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    return [pid, ...children.flatMap(processTree)];
  } catch {
    return [];
  }
}

async function running(
  kind: ProxyKind,
  daemon: Daemon & { child: ChildProcess },
  port: number,
  ready: (url: string) => Promise<boolean>,
): Promise<RunningProxy> {
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(daemon, 20_000, () => ready(url));
  return { kind, url, pids: () => processTree(daemon.child.pid!), stop: () => daemon.stop() };
}

/**
 * Starts `kind` pinned to `cpu`; `forwardAuth` is Portcullis' forward-auth port (nginx, Caddy) or
 * absent for no authentication; `binary` another build of the proxy than the one on PATH (Caddy from
 * Debian sid, bench/caddy-sid.sh).
 */
export async function startProxy(
  kind: ProxyKind,
  cpu: string,
  o: { forwardAuth?: number; jwt?: JwtCheck; binary?: string },
  ready: (url: string) => Promise<boolean>,
): Promise<RunningProxy> {
  const [listen, app] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), `portcullis-bench-${kind}-`));
  switch (kind) {
    case "nginx": {
      chmodSync(dir, 0o755); // nginx workers run as nobody
      for (const t of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, t), { mode: 0o777 });
      const example = readFileSync(join(PROXIES, "nginx/portcullis.conf"), "utf8");
      writeFileSync(join(dir, "site.conf"), nginxSiteConf(example, { listen, app, forwardAuth: o.forwardAuth }));
      writeFileSync(join(dir, "nginx.conf"), nginxMainConf(dir));
      const args = ["-c", cpu, requireProgram("nginx"), "-e", join(dir, "nginx.log"), "-p", dir, "-c", join(dir, "nginx.conf")];
      return running(kind, startDaemon(kind, "taskset", args, { dir }), listen, ready);
    }
    case "caddy": {
      const example = readFileSync(join(PROXIES, "caddy/Caddyfile"), "utf8");
      writeFileSync(join(dir, "Caddyfile"), caddyfile(example, { app, withAuth: o.forwardAuth !== undefined }));
      const env = {
        ...process.env,
        HOME: dir,
        XDG_DATA_HOME: join(dir, "data"),
        XDG_CONFIG_HOME: join(dir, "config"),
        LISTEN_PORT: String(listen),
        PORTCULLIS_FORWARD_AUTH: `127.0.0.1:${o.forwardAuth ?? 9}`,
        PORTCULLIS_GATEWAY: BENCH_GATEWAY,
        UPSTREAM: `127.0.0.1:${app}`,
      };
      const args = ["-c", cpu, o.binary ?? requireProgram("caddy"), "run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"];
      return running(kind, startDaemon(kind, "taskset", args, { env, dir }), listen, ready);
    }
    case "haproxy": {
      const keyFile = join(dir, "jwt-public.pem");
      if (o.jwt !== undefined) writeFileSync(keyFile, o.jwt.publicKeyPem);
      writeFileSync(join(dir, "haproxy.cfg"), haproxyConf({ listen, app, keyFile, jwt: o.jwt }));
      const args = ["-c", cpu, requireProgram("haproxy"), "-db", "-f", join(dir, "haproxy.cfg")];
      return running(kind, startDaemon(kind, "taskset", args, { dir }), listen, ready);
    }
  }
}
