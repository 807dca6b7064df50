/**
 * Against what users would pick instead, through real proxies (bench/proxies.ts): nginx
 * auth_request → Portcullis and Caddy forward_auth → Portcullis against the same proxy with no
 * authentication (what authentication adds, in latency and CPU per request), and HAProxy's
 * in-process jwt_verify on the same tokens. Every server-side process (proxy, Portcullis) is pinned
 * to the server core, wrk to the other: each pair gets one core, as HAProxy alone does. Scenarios
 * are interleaved in rounds like bench/serve-bench.ts, and CPU per request is the sum over the
 * processes that served it.
 */
import { request } from "node:http";
import { join } from "node:path";
import { heapProbeEnv, measure, settleHeap } from "./counters.ts";
import { startProxy, type CaddyBuild, type JwtCheck, type ProxyKind, type RunningProxy } from "./proxies.ts";
import { roundOrder, summarize, type RoundsOptions, type Run, type ScenarioSummary } from "./serve-bench.ts";
import { startPortcullis, type ServerProcess } from "./servers.ts";
import { median, ratiosByRound, spreadOf, type Spread } from "./spread.ts";
import { envoyCheckHeaders, type Target } from "./world.ts";
import { runWrk, tokenWalk, type WrkResult } from "./wrk.ts";

export const PROXY_SCENARIOS = [
  "nginx",
  "nginxApiKey",
  "nginxJwt",
  "caddy",
  "caddyApiKey",
  "caddyJwt",
  "caddySid",
  "caddySidApiKey",
  "caddySidJwt",
  "haproxy",
  "haproxyJwt",
  "haproxyJwtNew",
  "portcullisJwtNew",
] as const;
export type ProxyScenario = (typeof PROXY_SCENARIOS)[number];

export const PROXY_SCENARIO_NAMES: Record<ProxyScenario, string> = {
  nginx: "nginx, no auth",
  nginxApiKey: "nginx auth_request → Portcullis, API key",
  nginxJwt: "nginx auth_request → Portcullis, JWT (repeated token)",
  caddy: "Caddy (Debian 12), no auth",
  caddyApiKey: "Caddy (Debian 12) forward_auth → Portcullis, API key",
  caddyJwt: "Caddy (Debian 12) forward_auth → Portcullis, JWT (repeated token)",
  caddySid: "Caddy (Debian sid), no auth",
  caddySidApiKey: "Caddy (Debian sid) forward_auth → Portcullis, API key",
  caddySidJwt: "Caddy (Debian sid) forward_auth → Portcullis, JWT (repeated token)",
  haproxy: "HAProxy, no auth",
  haproxyJwt: "HAProxy jwt_verify, JWT (repeated token)",
  haproxyJwtNew: "HAProxy jwt_verify, all-new tokens",
  portcullisJwtNew: "Portcullis alone (ext_authz port), all-new tokens",
};

/** For each scenario with authentication, the same proxy without it. */
export const WITHOUT_AUTH: Partial<Record<ProxyScenario, ProxyScenario>> = {
  nginxApiKey: "nginx",
  nginxJwt: "nginx",
  caddyApiKey: "caddy",
  caddyJwt: "caddy",
  caddySidApiKey: "caddySid",
  caddySidJwt: "caddySid",
  haproxyJwt: "haproxy",
  haproxyJwtNew: "haproxy",
};

export interface ProxyBenchOptions extends RoundsOptions {
  readonly jwt: JwtCheck;
  /** Debian 12's Caddy (on PATH) and, when bench/caddy-sid.sh could provide it, Debian sid's: its scenarios run only then. */
  readonly caddy: { readonly bookworm: CaddyBuild; readonly sid?: CaddyBuild };
}

/** The scenarios a run has: the Debian sid Caddy ones only with that Caddy. */
export function proxyScenarios(withSidCaddy: boolean): ProxyScenario[] {
  return PROXY_SCENARIOS.filter((s) => withSidCaddy || !s.startsWith("caddySid"));
}

/** What authentication adds to the same proxy, medians of per-round differences. */
export interface Added {
  readonly cpuUsPerReq: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** req/s with authentication ÷ without, by round. */
  readonly rps: Spread;
}

export interface ProxyResult {
  /** Every scenario of proxyScenarios(caddy.sid !== undefined). */
  readonly scenarios: Readonly<Partial<Record<ProxyScenario, ScenarioSummary>>>;
  readonly added: Readonly<Partial<Record<ProxyScenario, Added>>>;
  readonly caddy: ProxyBenchOptions["caddy"];
  /** Round by round: each pair on a repeated token ÷ HAProxy verifying it; Portcullis on new tokens ÷ HAProxy on new tokens. */
  readonly nginxVsHaproxy: Spread;
  readonly caddyVsHaproxy: Spread;
  readonly caddySidVsHaproxy?: Spread;
  readonly newTokensVsHaproxy: Spread;
  /**
   * Round by round: each proxy with no authentication ÷ HAProxy verifying a repeated token. A pair
   * does the proxy's work and Portcullis' on the same core, so this is more than it can reach.
   */
  readonly aloneVsHaproxy: { readonly nginx: Spread; readonly caddy: Spread; readonly caddySid?: Spread };
}

function statusOf(url: string, target: Target, headers: Readonly<Record<string, string>> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${target.path}`, { headers: { host: target.host, ...target.headers, ...headers } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

export function addedBy(runs: readonly Run[], without: readonly Run[]): Added {
  const diff = (f: (r: Run) => number) => median(ratiosByRound(runs, without, (a, b) => f(a) - f(b)));
  return {
    cpuUsPerReq: diff((r) => r.cpuUsPerReq),
    p50Ms: diff((r) => r.p50Ms),
    p99Ms: diff((r) => r.p99Ms),
    rps: spreadOf(
      ratiosByRound(runs, without, (a, b) => a.rps / b.rps),
      true,
    ),
  };
}

export async function benchProxies(o: ProxyBenchOptions, log: (line: string) => void): Promise<ProxyResult> {
  const { apiKeyTarget, jwtTarget } = o.world;
  const bearer = { authorization: `Bearer ${o.tokens.cached}` };
  const running: RunningProxy[] = [];
  let portcullis: ServerProcess | undefined;
  try {
    // The heap probe counts Portcullis' collections (never its allocation here: see bench/heap-probe.ts).
    const probeFile = join(o.logDir, "heap-probe-portcullis-proxies.json");
    portcullis = await startPortcullis({
      cpu: o.cpus.server,
      manifests: o.manifests,
      logFile: join(o.logDir, "portcullis-proxies.log"),
      env: heapProbeEnv(probeFile),
    });
    // What its start-up left in the old generation is collected now, not in the middle of a round (bench/counters.ts).
    await settleHeap(portcullis.pid, probeFile);
    const forwardAuth = portcullis.forwardAuthPort;
    if (forwardAuth === undefined) throw new Error("Portcullis did not report its forward-auth port");
    const answers = async (url: string) => (await statusOf(url, apiKeyTarget, {})) > 0;
    const start = async (kind: ProxyKind, options: { forwardAuth?: number; jwt?: JwtCheck; binary?: string }) => {
      const p = await startProxy(kind, o.cpus.server, options, answers);
      running.push(p);
      return p;
    };
    const proxies = {
      nginx: await start("nginx", {}),
      nginxAuth: await start("nginx", { forwardAuth }),
      caddy: await start("caddy", { binary: o.caddy.bookworm.binary }),
      caddyAuth: await start("caddy", { forwardAuth, binary: o.caddy.bookworm.binary }),
      ...(o.caddy.sid === undefined
        ? {}
        : {
            caddySid: await start("caddy", { binary: o.caddy.sid.binary }),
            caddySidAuth: await start("caddy", { forwardAuth, binary: o.caddy.sid.binary }),
          }),
      haproxy: await start("haproxy", {}),
      haproxyJwt: await start("haproxy", { jwt: o.jwt }),
    };
    // Fail loudly rather than benchmark a 401, or an "authentication" that lets anyone in.
    const forged = { authorization: `Bearer ${o.tokens.cached.slice(0, o.tokens.cached.lastIndexOf(".") + 1)}${"A".repeat(86)}` };
    const expected: [string, Promise<number>, number][] = [
      ["nginx, no auth", statusOf(proxies.nginx.url, apiKeyTarget), 200],
      ["nginx + Portcullis, API key", statusOf(proxies.nginxAuth.url, apiKeyTarget), 200],
      ["nginx + Portcullis, JWT", statusOf(proxies.nginxAuth.url, jwtTarget, bearer), 200],
      ["nginx + Portcullis, forged JWT", statusOf(proxies.nginxAuth.url, jwtTarget, forged), 401],
      ["Caddy, no auth", statusOf(proxies.caddy.url, apiKeyTarget), 200],
      ["Caddy + Portcullis, API key", statusOf(proxies.caddyAuth.url, apiKeyTarget), 200],
      ["Caddy + Portcullis, JWT", statusOf(proxies.caddyAuth.url, jwtTarget, bearer), 200],
      ["Caddy + Portcullis, forged JWT", statusOf(proxies.caddyAuth.url, jwtTarget, forged), 401],
      ...(proxies.caddySid === undefined || proxies.caddySidAuth === undefined
        ? []
        : ([
            ["Caddy (sid), no auth", statusOf(proxies.caddySid.url, apiKeyTarget), 200],
            ["Caddy (sid) + Portcullis, API key", statusOf(proxies.caddySidAuth.url, apiKeyTarget), 200],
            ["Caddy (sid) + Portcullis, JWT", statusOf(proxies.caddySidAuth.url, jwtTarget, bearer), 200],
            ["Caddy (sid) + Portcullis, forged JWT", statusOf(proxies.caddySidAuth.url, jwtTarget, forged), 401],
          ] as [string, Promise<number>, number][])),
      ["HAProxy, no auth", statusOf(proxies.haproxy.url, jwtTarget), 200],
      ["HAProxy jwt_verify", statusOf(proxies.haproxyJwt.url, jwtTarget, bearer), 200],
      ["HAProxy jwt_verify, forged JWT", statusOf(proxies.haproxyJwt.url, jwtTarget, forged), 401],
      ["HAProxy jwt_verify, no token", statusOf(proxies.haproxyJwt.url, jwtTarget), 401],
    ];
    for (const [what, status, want] of expected) {
      const got = await status;
      if (got !== want) throw new Error(`proxy pre-check failed: ${what} answered ${got}, expected ${want}`);
    }
    // HAProxy caches nothing, but Portcullis must see only unseen tokens: each its own walk.
    const haproxyTokens = tokenWalk(o.tokens.file);
    const portcullisTokens = tokenWalk(o.tokens.file);
    const base = { cpu: o.cpus.load, connections: o.connections };
    const at = (t: Target) => ({ host: t.host, ...t.headers });
    // The proxies that ask Portcullis: only their scenarios (and Portcullis alone) count its collections.
    const asking = new Set([proxies.nginxAuth, proxies.caddyAuth, proxies.caddySidAuth]);
    /** A scenario's processes (CPU summed over them), its load, and whether Portcullis serves its requests. */
    const plan = (s: ProxyScenario): { pids: number[]; load: (durationS: number) => Promise<WrkResult>; portcullis: boolean } => {
      const through = (p: RunningProxy, t: Target, headers: Record<string, string> = {}) => ({
        pids: p.kind === "haproxy" ? p.pids() : [...p.pids(), portcullis!.pid],
        portcullis: asking.has(p),
        load: (durationS: number) => runWrk({ ...base, durationS, url: `${p.url}${t.path}`, headers: { ...at(t), ...headers } }),
      });
      const walking = (url: string, pids: number[], walk: ReturnType<typeof tokenWalk>) => ({
        pids,
        portcullis: url === portcullis!.url,
        load: (durationS: number) => walk({ ...base, durationS, url: `${url}${jwtTarget.path}`, headers: envoyCheckHeaders(jwtTarget) }),
      });
      switch (s) {
        case "nginx":
          return through(proxies.nginx, apiKeyTarget);
        case "nginxApiKey":
          return through(proxies.nginxAuth, apiKeyTarget);
        case "nginxJwt":
          return through(proxies.nginxAuth, jwtTarget, bearer);
        case "caddy":
          return through(proxies.caddy, apiKeyTarget);
        case "caddyApiKey":
          return through(proxies.caddyAuth, apiKeyTarget);
        case "caddyJwt":
          return through(proxies.caddyAuth, jwtTarget, bearer);
        case "caddySid":
          return through(proxies.caddySid!, apiKeyTarget);
        case "caddySidApiKey":
          return through(proxies.caddySidAuth!, apiKeyTarget);
        case "caddySidJwt":
          return through(proxies.caddySidAuth!, jwtTarget, bearer);
        case "haproxy":
          return through(proxies.haproxy, jwtTarget);
        case "haproxyJwt":
          return through(proxies.haproxyJwt, jwtTarget, bearer);
        case "haproxyJwtNew":
          return walking(proxies.haproxyJwt.url, proxies.haproxyJwt.pids(), haproxyTokens);
        case "portcullisJwtNew":
          return walking(portcullis!.url, [portcullis!.pid], portcullisTokens);
      }
    };
    const scenarios = proxyScenarios(o.caddy.sid !== undefined);
    const plans = Object.fromEntries(scenarios.map((s) => [s, plan(s)])) as Record<ProxyScenario, ReturnType<typeof plan>>;
    const run = (s: ProxyScenario, durationS: number): Promise<Run> => {
      const { pids, load, portcullis: probed } = plans[s];
      const probe = probed ? { probe: { pid: portcullis!.pid, file: probeFile, allocations: false } } : {};
      return measure({ pids, ...probe }, () => load(durationS));
    };
    for (const s of scenarios) {
      const warm = await run(s, o.warmupS);
      // No answer at all within the warm-up is a proxy that hangs, not a fast one with no errors.
      if (warm.requests === 0 || warm.errors > warm.requests / 1000)
        throw new Error(`proxies ${s}: ${warm.errors} of ${warm.requests} warm-up requests failed (not 2xx, or socket errors)`);
    }
    const runs = Object.fromEntries(scenarios.map((s) => [s, [] as Run[]])) as Record<ProxyScenario, Run[]>;
    for (let round = 1; round <= o.rounds; round++) {
      for (const s of roundOrder(scenarios, round)) {
        if (o.sliceWarmupS > 0) await plans[s].load(o.sliceWarmupS);
        runs[s].push(await run(s, o.durationS));
      }
      log(`  proxies round ${round}/${o.rounds}: ${scenarios.map((s) => `${s} ${Math.round(runs[s].at(-1)!.rps)}`).join(", ")} req/s`);
    }
    const vs = (a: ProxyScenario, b: ProxyScenario) =>
      spreadOf(
        ratiosByRound(runs[a], runs[b], (x, y) => x.rps / y.rps),
        true,
      );
    const added: Partial<Record<ProxyScenario, Added>> = {};
    for (const [s, without] of Object.entries(WITHOUT_AUTH) as [ProxyScenario, ProxyScenario][])
      if (s in runs) added[s] = addedBy(runs[s], runs[without]);
    const sid = o.caddy.sid !== undefined;
    return {
      scenarios: Object.fromEntries(scenarios.map((s) => [s, summarize(runs[s])])),
      added,
      caddy: o.caddy,
      nginxVsHaproxy: vs("nginxJwt", "haproxyJwt"),
      caddyVsHaproxy: vs("caddyJwt", "haproxyJwt"),
      ...(sid ? { caddySidVsHaproxy: vs("caddySidJwt", "haproxyJwt") } : {}),
      newTokensVsHaproxy: vs("portcullisJwtNew", "haproxyJwtNew"),
      aloneVsHaproxy: {
        nginx: vs("nginx", "haproxyJwt"),
        caddy: vs("caddy", "haproxyJwt"),
        ...(sid ? { caddySid: vs("caddySid", "haproxyJwt") } : {}),
      },
    };
  } finally {
    for (const p of running) await p.stop();
    await portcullis?.stop();
  }
}
