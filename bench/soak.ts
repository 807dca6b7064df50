/**
 * Soak: `node bench/soak.ts [--duration 600] [--rate 200] [--churn-ms 1000] [--write inplace|rename|configmap]`
 * (`--duration` in seconds).
 *
 * Runs the real `bin/portcullis serve` as a child process over a temporary manifest folder, sends
 * a fixed request rate over loopback (open loop: the schedule never waits for answers) to the
 * Envoy ext_authz and forward-auth ports, and rewrites policies and Secrets in the folder every
 * `--churn-ms`. Every request has a known expected decision whatever the churn is doing (the
 * churned parts keep a key that is always valid and one that never is), so any other answer is a
 * wrong decision. Each change is also timed until it is enforced: the churn Secret holds a key for
 * its tick only, asked for until it is accepted, after which the previous tick's key must be
 * refused; the next change waits for that (and for `--churn-ms` since the last). The child's RSS is
 * sampled every 5 s. Prints a JSON report; exits 1 when there were errors, wrong decisions, or a
 * change not enforced within ENFORCED_WITHIN_MS.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { POLL_INTERVAL_MS } from "../controller/sources/manifests.ts";
import { writeConfigMapVolume } from "../test/support/configmap-volume.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const DURATION_S = arg("duration", 600);
const RATE = arg("rate", 200);
const CHURN_MS = arg("churn-ms", 1000);
const WRITES = ["inplace", "rename", "configmap"] as const;
const WRITE = (process.argv.includes("--write") ? process.argv[process.argv.indexOf("--write") + 1] : "inplace") as (typeof WRITES)[number];
if (!WRITES.includes(WRITE)) throw new Error(`--write takes one of ${WRITES.join(", ")}`);
/**
 * A change not enforced within this is a failure: the folder's poll (the backstop of its directory
 * watches) plus its debounce and a compile, with room for a busy host. The watches take about 0.1 s.
 */
const ENFORCED_WITHIN_MS = POLL_INTERVAL_MS + 1500;
const HOST = "api.soak.test";
const ROOT = join(import.meta.dirname, "..");

// ---- manifests -------------------------------------------------------------------------------
const routeRef = (rule: string) => `{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api, sectionName: ${rule}}`;
const staticManifests = (jwks: string) => `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: soak}
spec: {gatewayClassName: portcullis, listeners: [{name: http, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: All}}}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: soak}
spec:
  parentRefs: [{name: gw}]
  hostnames: [${HOST}]
  rules:
    - {name: open, matches: [{path: {type: PathPrefix, value: /open}}]}
    - {name: stable, matches: [{path: {type: PathPrefix, value: /stable}}]}
    - {name: churn, matches: [{path: {type: PathPrefix, value: /churn}}]}
    - {name: jwt, matches: [{path: {type: PathPrefix, value: /jwt}}]}
---
apiVersion: v1
kind: Secret
metadata: {name: stable-keys, namespace: soak}
stringData: {alice: stable-alice-key}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: stable, namespace: soak}
spec:
  targetRefs: [${routeRef("stable")}]
  apiKeyAuth: {credentialRefs: [{name: stable-keys}], extractFrom: [{headers: [X-API-Key]}], forwardClientIDHeader: x-client-id}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: jwt, namespace: soak}
spec:
  targetRefs: [${routeRef("jwt")}]
  jwt:
    providers:
      - {name: idp, issuer: https://idp.soak.test, audiences: [soak], localJWKS: {inline: '${jwks}'}, claimToHeaders: [{claim: sub, header: x-user-id}]}
`;

/** The key valid in tick `n` only (client `current` of the churn Secret). */
const tickKey = (n: number) => `tick-${n}-key`;

/** The churned files of tick `n`: the churn Secret and policy change every tick, the noise changes size. */
function churnFiles(n: number): Record<string, string> {
  const extra = Array.from({ length: n % 40 }, (_, i) => `  gen-${n}-${i}: ${randomBytes(12).toString("base64url")}`).join("\n");
  const secret = `apiVersion: v1\nkind: Secret\nmetadata: {name: churn-keys, namespace: soak}\nstringData:\n  always: always-key\n  current: ${tickKey(n)}\n${extra}\n`;
  const header = n % 2 === 0 ? "x-client-a" : "x-client-b";
  const policy = `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: churn, namespace: soak, labels: {tick: "${n}"}}
spec:
  targetRefs: [${routeRef("churn")}]
  apiKeyAuth: {credentialRefs: [{name: churn-keys}], extractFrom: [{headers: [X-API-Key]}], forwardClientIDHeader: ${header}, sanitize: ${n % 3 === 0}}
`;
  const noise = Array.from(
    { length: (n * 7) % 31 },
    (_, i) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: noise-${i}, namespace: soak}
spec: {parentRefs: [{name: gw}], hostnames: [noise-${i}.soak.test]}
---
apiVersion: v1
kind: Secret
metadata: {name: noise-${i}, namespace: soak}
stringData: {c${n}: ${randomBytes(9).toString("base64url")}}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: noise-${i}, namespace: soak}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: noise-${i}}]
  apiKeyAuth: {credentialRefs: [{name: noise-${i}}], extractFrom: [{headers: [X-Key-${n % 5}]}]}
`,
  ).join("\n");
  return { "40-churn-secret.yaml": secret, "41-churn-policy.yaml": policy, "50-noise.yaml": noise || "# none this tick\n" };
}

/**
 * Writes the churned files of tick `n` (and, for a ConfigMap volume, the static ones with them).
 * `--write inplace` (default) rewrites each file; `--write rename` writes a new file and renames it
 * into place, as editors save; `--write configmap` updates the folder as the kubelet updates a
 * ConfigMap volume (a new hidden directory, then one `..data` symlink swap).
 */
function writeTick(dir: string, n: number, staticText: string): void {
  const files = churnFiles(n);
  if (WRITE === "configmap") return writeConfigMapVolume(dir, { "00-static.yaml": staticText, ...files });
  if (n === 0) writeFileSync(join(dir, "00-static.yaml"), staticText);
  for (const [name, text] of Object.entries(files)) {
    if (WRITE !== "rename") {
      writeFileSync(join(dir, name), text);
      continue;
    }
    const tmp = join(dir, `.${name}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, join(dir, name));
  }
}

// ---- the probe requests, each with its expected decision --------------------------------------
interface Probe {
  readonly name: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly status: number;
  /** Deny: the reason code. */
  readonly code?: string;
  /** Allow: identity headers that must be present, any one of the alternatives. */
  readonly identity?: readonly Record<string, string>[];
}

async function probes(): Promise<{ probes: Probe[]; jwks: string }> {
  const key = await generateKeyPair("ES256", { extractable: true });
  const stranger = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(key.publicKey)), kid: "soak-1", alg: "ES256", use: "sig" };
  const exp = Math.floor(Date.now() / 1000) + DURATION_S + 3600;
  const mint = (k: CryptoKey, aud: string) =>
    new SignJWT({ sub: "soak-user", aud, iss: "https://idp.soak.test", exp }).setProtectedHeader({ alg: "ES256", kid: "soak-1" }).sign(k);
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const list: Probe[] = [
    { name: "open", path: "/open/x", headers: {}, status: 200, identity: [{}] },
    {
      name: "stable-good",
      path: "/stable",
      headers: { "x-api-key": "stable-alice-key" },
      status: 200,
      identity: [{ "x-client-id": "alice" }],
    },
    {
      name: "stable-spoof",
      path: "/stable",
      headers: { "x-api-key": "stable-alice-key", "x-client-id": "mallory" },
      status: 200,
      identity: [{ "x-client-id": "alice" }],
    },
    { name: "stable-bad", path: "/stable", headers: { "x-api-key": "stable-alice-kez" }, status: 401, code: "apikey_invalid" },
    { name: "stable-none", path: "/stable", headers: {}, status: 401, code: "apikey_missing" },
    {
      name: "churn-always",
      path: "/churn/a",
      headers: { "x-api-key": "always-key" },
      status: 200,
      identity: [{ "x-client-a": "always" }, { "x-client-b": "always" }],
    },
    { name: "churn-never", path: "/churn/a", headers: { "x-api-key": "never-key" }, status: 401, code: "apikey_invalid" },
    {
      name: "jwt-good",
      path: "/jwt",
      headers: bearer(await mint(key.privateKey, "soak")),
      status: 200,
      identity: [{ "x-user-id": "soak-user" }],
    },
    { name: "jwt-forged", path: "/jwt", headers: bearer(await mint(stranger.privateKey, "soak")), status: 401, code: "jwt_invalid" },
    { name: "jwt-audience", path: "/jwt", headers: bearer(await mint(key.privateKey, "other")), status: 403, code: "jwt_audience" },
    { name: "no-route", path: "/nowhere", headers: {}, status: 403, code: "route_not_found" },
  ];
  return { probes: list, jwks: JSON.stringify({ keys: [jwk] }) };
}

// ---- one request -------------------------------------------------------------------------------
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
type Outcome =
  | { ok: true; status: number; headers: Record<string, string | string[] | undefined>; body: string }
  | { ok: false; error: string };

function send(port: number, path: string, headers: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, agent, headers, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ ok: true, status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on("error", (e) => resolve({ ok: false, error: e.message }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out after 5 s")));
    req.on("error", (e) => resolve({ ok: false, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end();
  });
}

/** The headers the policies set upstream. */
const IDENTITY_HEADERS = ["x-client-id", "x-client-a", "x-client-b", "x-user-id"];

/** Why `outcome` is not what `probe` expects; undefined when it is. */
function judge(probe: Probe, outcome: Outcome & { ok: true }): string | undefined {
  if (outcome.status !== probe.status) return `status ${outcome.status}, expected ${probe.status}`;
  if (probe.code !== undefined) {
    const code = (JSON.parse(outcome.body) as { code?: string }).code;
    return code === probe.code ? undefined : `code ${code}, expected ${probe.code}`;
  }
  const fits = probe.identity!.some((want) => Object.entries(want).every(([h, v]) => outcome.headers[h] === v));
  const stray = IDENTITY_HEADERS.filter((h) => outcome.headers[h] !== undefined && !probe.identity!.some((w) => h in w));
  return fits && stray.length === 0 ? undefined : `identity headers ${JSON.stringify(outcome.headers)}`;
}

// ---- main --------------------------------------------------------------------------------------
async function main(): Promise<number> {
  const { probes: list, jwks } = await probes();
  const dir = mkdtempSync(join(tmpdir(), "portcullis-soak-"));
  const staticText = staticManifests(jwks);
  let tick = 0;
  writeTick(dir, tick, staticText);

  const child = spawn(
    join(ROOT, "bin/portcullis"),
    ["serve", "--manifests", dir, "--bind-address", "127.0.0.1", "--authz-port", "0", "--forward-auth-port", "0", "--admin-port", "0"],
    {
      env: { ...process.env, PORTCULLIS_GRPC_PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const logLevels: Record<string, number> = {};
  let ports: { authz: number; forwardAuth: number; admin: number } | undefined;
  let pending = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      const entry = JSON.parse(line) as { level: number; authz?: number; forwardAuth?: number; admin?: number };
      logLevels[entry.level] = (logLevels[entry.level] ?? 0) + 1;
      if (ports === undefined && entry.authz !== undefined)
        ports = { authz: entry.authz, forwardAuth: entry.forwardAuth!, admin: entry.admin! };
    }
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  for (let waited = 0; ports === undefined; waited += 50) {
    if (waited > 20_000) throw new Error(`serve did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const { authz, forwardAuth, admin } = ports;

  const stats = { sent: 0, answered: 0, errors: 0, wrong: 0, byProbe: {} as Record<string, number>, examples: [] as string[] };
  const latencies: number[] = [];
  const rss: { t: number; mib: number }[] = [];
  const started = Date.now();
  const sampleRss = () => {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1]);
    rss.push({ t: Math.round((Date.now() - started) / 1000), mib: Math.round((kb / 1024) * 10) / 10 });
  };
  sampleRss();
  const rssTimer = setInterval(sampleRss, 5000);
  const endAt = started + DURATION_S * 1000;
  // Each change, timed until its key is accepted; then the previous tick's key must be refused.
  const enforcedMs: number[] = [];
  let notEnforced = 0;
  const churn = (async () => {
    const churnHeaders = (n: number) => ({ host: HOST, "x-api-key": tickKey(n) });
    while (Date.now() + CHURN_MS < endAt) {
      const written = Date.now();
      tick += 1;
      writeTick(dir, tick, staticText);
      let accepted = false;
      while (!accepted && Date.now() - written <= ENFORCED_WITHIN_MS) {
        const outcome = await send(authz, "/churn/a", churnHeaders(tick));
        accepted = outcome.ok && outcome.status === 200;
        if (!accepted) await new Promise((r) => setTimeout(r, 10));
      }
      if (!accepted) {
        notEnforced += 1;
        if (stats.examples.length < 10) stats.examples.push(`tick ${tick}: not enforced within ${ENFORCED_WITHIN_MS} ms`);
      } else {
        enforcedMs.push(Date.now() - written);
        const previous = await send(authz, "/churn/a", churnHeaders(tick - 1));
        if (!previous.ok || previous.status !== 401) {
          stats.wrong += 1;
          stats.byProbe["revoked-tick-key"] = (stats.byProbe["revoked-tick-key"] ?? 0) + 1;
          if (stats.examples.length < 10)
            stats.examples.push(`tick ${tick - 1}'s key after tick ${tick} was enforced: ${JSON.stringify(previous)}`);
        }
      }
      await new Promise((r) => setTimeout(r, Math.max(0, written + CHURN_MS - Date.now())));
    }
  })();

  // Open loop: every 10 ms, the requests due by now are sent, whatever is still in flight.
  const inFlight = new Set<Promise<void>>();
  const fire = (n: number) => {
    const probe = list[n % list.length]!;
    const viaForwardAuth = Math.floor(n / list.length) % 2 === 1;
    const headers = viaForwardAuth
      ? {
          ...probe.headers,
          "x-forwarded-method": "GET",
          "x-forwarded-host": HOST,
          "x-forwarded-uri": probe.path,
          "x-forwarded-proto": "https",
          // As the shipped nginx and Caddy files do: the proxy replaces every identity header with the answer's.
          "x-portcullis-replaces": IDENTITY_HEADERS.join(", "),
        }
      : { ...probe.headers, host: HOST };
    const t0 = performance.now();
    stats.sent += 1;
    const p = send(viaForwardAuth ? forwardAuth : authz, viaForwardAuth ? "/auth" : probe.path, headers).then((outcome) => {
      inFlight.delete(p);
      latencies.push(performance.now() - t0);
      if (!outcome.ok) {
        stats.errors += 1;
        if (stats.examples.length < 10) stats.examples.push(`${probe.name}: ${outcome.error}`);
        return;
      }
      stats.answered += 1;
      const problem = judge(probe, outcome);
      if (problem !== undefined) {
        stats.wrong += 1;
        stats.byProbe[probe.name] = (stats.byProbe[probe.name] ?? 0) + 1;
        if (stats.examples.length < 10)
          stats.examples.push(`${probe.name} via ${viaForwardAuth ? "forward-auth" : "ext_authz"}: ${problem}`);
      }
    });
    inFlight.add(p);
  };
  let next = 0;
  await new Promise<void>((resolve) => {
    const pump = setInterval(() => {
      const now = Date.now();
      const due = Math.floor(((Math.min(now, endAt) - started) / 1000) * RATE);
      while (next < due) fire(next++);
      if (now >= endAt) {
        clearInterval(pump);
        resolve();
      }
    }, 10);
  });
  await churn;
  await Promise.all(inFlight);
  sampleRss();
  clearInterval(rssTimer);
  const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  const generation = Number(/^portcullis_snapshot_generation (\d+)/m.exec(metrics)?.[1]);
  child.kill("SIGTERM");
  const exitCode = await exited;
  agent.destroy();
  rmSync(dir, { recursive: true, force: true });

  const pctOf = (sorted: readonly number[], p: number) =>
    Math.round((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0) * 100) / 100;
  latencies.sort((a, b) => a - b);
  enforcedMs.sort((a, b) => a - b);
  const pct = (p: number) => pctOf(latencies, p);
  const settled = rss.filter((s) => s.t >= Math.min(60, DURATION_S / 4));
  // RSS is a GC sawtooth: compare the peaks of equal windows, not a regression line through it.
  const windowS = Math.max(10, Math.floor(DURATION_S / 5));
  const peaks = Array.from({ length: Math.ceil(DURATION_S / windowS) }, (_, i) =>
    Math.max(...rss.filter((x) => x.t >= i * windowS && x.t < (i + 1) * windowS).map((x) => x.mib)),
  );
  const report = {
    durationSeconds: DURATION_S,
    rate: RATE,
    churnEveryMs: CHURN_MS,
    write: WRITE,
    churnTicks: tick,
    changeEnforcedMs: { p50: pctOf(enforcedMs, 50), p99: pctOf(enforcedMs, 99), max: pctOf(enforcedMs, 100) },
    changesNotEnforcedWithinBound: notEnforced,
    enforcedWithinBoundMs: ENFORCED_WITHIN_MS,
    snapshotsPublished: generation,
    requests: stats.sent,
    answered: stats.answered,
    errors: stats.errors,
    wrongDecisions: stats.wrong,
    wrongByProbe: stats.byProbe,
    examples: stats.examples,
    achievedRate: Math.round((stats.sent / DURATION_S) * 10) / 10,
    latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9), max: pct(100) },
    rssMiB: {
      first: rss[0]?.mib,
      afterWarmup: settled[0]?.mib,
      last: rss.at(-1)?.mib,
      min: Math.min(...settled.map((s) => s.mib)),
      max: Math.max(...settled.map((s) => s.mib)),
      windowSeconds: windowS,
      peakPerWindow: peaks,
      growthOfPeaks: Math.round((peaks.at(-1)! - peaks[1]!) * 10) / 10,
      samples: rss,
    },
    childLogLines: logLevels,
    childStderr: stderr.slice(0, 2000),
    childExitCode: exitCode,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return stats.errors === 0 && stats.wrong === 0 && notEnforced === 0 && exitCode === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`soak: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  },
);
