/**
 * The cost of a check without the network: the real Envoy HTTP and forward-auth handlers
 * (server/authz.ts; forward-auth with the header lines the shipped nginx configuration sends) and the
 * bare baseline's handler given the same lines, each given Node's own IncomingMessage and the ServerResponse its
 * server answers with (Node's own for the baselines, HeadResponse for Portcullis' ports) over a socket
 * that discards what is written, on the 10-route world of `make bench`. No syscall, parser or
 * neighbour is in the figure (the header lines are made anew for each request, as the parser makes
 * them, in every scenario alike): CPU nanoseconds and V8 heap bytes per request, the best of several
 * rounds, which a busy day moves far less than a wrk run (the other engineers' load here swings
 * wrk rounds by ±30%, these by a few %). Run it on each tree to compare (bench/compare-trees.ts
 * measures the whole server). With --new-tokens N, a second pair measures all-new tokens: the
 * ceiling's handler (bench/bare-server.ts --verify-jwk: one crypto.verify per token) and Portcullis',
 * each sent N requests per round, every one with a token neither has seen.
 *
 *   node bench/in-process.ts [--requests 200000] [--rounds 5] [--new-tokens 20000]
 */
import { IncomingMessage, ServerResponse } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import { parseArgs } from "node:util";
import { GCProfiler, getHeapStatistics } from "node:v8";
import pino from "pino";
import { createAuthorizer } from "../controller/authz/authorizer.ts";
import { CheckMemo } from "../controller/authz/check-memo.ts";
import { clientAddressDetection } from "../controller/authz/client-address.ts";
import { compile } from "../controller/compile/index.ts";
import { Passwords } from "../controller/features/basicAuth/check.ts";
import { createKeyStore } from "../controller/keys/store.ts";
import { envoyHandler, forwardAuthHandler } from "../controller/server/authz.ts";
import { HeadResponse } from "../controller/server/head-response.ts";
import type { Handler as ServerHandler } from "../controller/server/http.ts";
import { createMetrics, decisionMetrics } from "../controller/server/metrics.ts";
import { ManifestFolder } from "../controller/sources/manifests.ts";
import { bearerSignatureHolds } from "./crypto-verify.ts";
import { createIdp, mintTokens } from "./tokens.ts";
import { buildWorld, envoyCheckHeaders, writeWorld, type Target } from "./world.ts";

/** The baselines' and the all-new-token pair's names. */
export const BARE = "bare node:http";
export const BARE_JWT = "bare node:http, the cached JWT's lines";
export const BARE_FORWARDED = "bare node:http, nginx auth_request's lines";
export const CEILING = "bare node:http + crypto.verify per new token (ceiling)";
export const JWT_NEW = "JWT, all-new tokens (ES256)";

/** Portcullis' ports' handler type; the baselines' handlers call only writeHead and end. */
type Handler = ServerHandler;

export interface InProcessScenario {
  readonly name: string;
  readonly handler: Handler;
  /** The request's header lines as Node's parser hands them over (name, value, …). */
  readonly rawHeaders: readonly string[];
  /** When each request differs (all-new tokens): the next request's header lines; rawHeaders otherwise. */
  readonly nextRawHeaders?: () => readonly string[];
  readonly url: string;
  /** The scenario this one is set against (measured before it, on the same header lines); undefined: a baseline. */
  readonly baseline?: string;
}

export interface InProcessResult {
  readonly name: string;
  /** CPU (user + system) per request, ns: the best round, and every round. */
  readonly cpuNs: number;
  readonly rounds: readonly number[];
  /** V8 heap allocated per request in the best round, bytes. */
  readonly heapBytes: number;
  /** The status of the last answer (200 for every scenario of the world). */
  readonly status: number;
}

/** A socket that takes every write at once and keeps nothing. */
export class DiscardingSocket extends Duplex {
  override _read(): void {}
  override _write(_chunk: unknown, _encoding: string, done: () => void): void {
    done();
  }
}

/** One request through `s.handler`, synchronously; returns the status written. */
export function serveOne(s: InProcessScenario, socket: Socket): number {
  const req = new IncomingMessage(socket);
  req.method = "GET";
  req.url = s.url;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = "1.1";
  // As the parser does: new strings of the lines' bytes for every request (a string reused would keep
  // the hash V8 caches in it, and a literal's concatenation is not flat), then req.headers built from them when first read.
  const lines = (s.nextRawHeaders?.() ?? s.rawHeaders).map((line) => Buffer.from(line, "latin1").toString("latin1"));
  (req as unknown as { _addHeaderLines(lines: string[], n: number): void })._addHeaderLines(lines, lines.length);
  // Node's server reads both before it calls the handler of every HTTP/1.1 request (requireHostHeader,
  // Expect: 100-continue), so every handler, the bare one too, finds req.headers built.
  void req.headers.host;
  void req.headers.expect;
  // A baseline gets Node's own ServerResponse, as bench/bare-server.ts's handler does.
  const res = s.baseline === undefined ? (new ServerResponse(req) as HeadResponse) : new HeadResponse(req);
  res.shouldKeepAlive = true;
  res.assignSocket(socket);
  void s.handler(req, res);
  res.detachSocket(socket);
  // statusCode reads 200 before anything is written: only an answer already sent is the handler's.
  if (!res.headersSent) throw new Error(`${s.name}: the handler did not answer synchronously`);
  return res.statusCode;
}

/** `requests` requests per round; the event loop turns every 500, as under load (Node's tick queue drains). */
export async function measureInProcess(s: InProcessScenario, requests: number, rounds: number): Promise<InProcessResult> {
  const socket = new DiscardingSocket() as unknown as Socket;
  const run = async (n: number) => {
    let status = 0;
    for (let i = 0; i < n; i++) {
      status = serveOne(s, socket);
      if (i % 500 === 499) await new Promise(setImmediate);
    }
    return status;
  };
  let status = await run(Math.min(requests, 20_000));
  const results: { cpuNs: number; heapBytes: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    const allocated = countAllocation();
    const cpuBefore = process.cpuUsage();
    status = await run(requests);
    const cpu = process.cpuUsage(cpuBefore);
    results.push({ cpuNs: ((cpu.user + cpu.system) * 1000) / requests, heapBytes: allocated() / requests });
  }
  const best = results.reduce((a, b) => (b.cpuNs < a.cpuNs ? b : a));
  return { name: s.name, cpuNs: best.cpuNs, rounds: results.map((r) => r.cpuNs), heapBytes: best.heapBytes, status };
}

/**
 * Starts counting the V8 heap allocated, garbage included; the function returned stops and answers
 * the bytes since: heap in use then minus now, plus what every collection in between freed (V8's
 * own reports, GCProfiler).
 */
export function countAllocation(): () => number {
  const gc = new GCProfiler();
  gc.start();
  const usedBefore = getHeapStatistics().used_heap_size;
  return () => {
    let freed = 0;
    for (const e of (gc.stop()?.statistics ?? []) as { beforeGC: GcHeap; afterGC: GcHeap }[])
      freed += e.beforeGC.heapStatistics.usedHeapSize - e.afterGC.heapStatistics.usedHeapSize;
    return getHeapStatistics().used_heap_size - usedBefore + freed;
  };
}

/**
 * V8 heap bytes `call` allocates per call, the least of `rounds` rounds of `calls` calls: the first
 * round may run before V8's optimizing compiler has (on a busy host it waits for a core), and an
 * allocation a later round still shows is the code's own.
 */
export function leastAllocationPerCall(call: () => unknown, calls = 100_000, rounds = 3): number {
  let least = Infinity;
  for (let round = 0; round < rounds; round++) {
    const allocated = countAllocation();
    for (let i = 0; i < calls; i++) call();
    least = Math.min(least, allocated() / calls);
  }
  return least;
}

interface GcHeap {
  readonly heapStatistics: { readonly usedHeapSize: number };
}

/**
 * The bare baseline (bench/bare-server.ts's handler) and the API key, the bare baseline given the cached JWT's
 * lines and the cached JWT, each pair on the same lines (the Envoy port's, as envoyCheckHeaders), over the 10-route world, then the API key through the forward-auth port with nginx's header lines beside
 * the bare handler given the same lines; with `newTokens` > 0, then the all-new-token pair, the ceiling first: each walks
 * its own way through the same `newTokens` distinct tokens (minted here) and throws once past the last.
 */
export async function inProcessScenarios(newTokens = 0): Promise<InProcessScenario[]> {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-in-process-"));
  try {
    const idp = createIdp();
    const world = buildWorld({ tenants: 10, keysPerSecret: 20, jwk: idp.jwk });
    writeWorld(world, dir);
    const [token, ...distinct] = await mintTokens(idp, 1 + newTokens);
    const { resources } = new ManifestFolder(dir).read().latest;
    const { snapshot } = compile(resources, { controllerName: "portcullis.io/gateway-controller", gatewayClasses: [] });
    const logger = pino({ level: "info" }, pino.destination("/dev/null"));
    const served = { snapshot, memo: new CheckMemo() };
    const authorizer = createAuthorizer({
      current: () => served,
      keys: createKeyStore({ logger }),
      logger,
      metrics: decisionMetrics(createMetrics()),
      onNoRoute: "deny",
      onNoPolicy: "allow",
      passwords: new Passwords(),
      clientAddress: clientAddressDetection({ trustedHops: 0, trustedCidrs: [] }),
    });
    const envoy = envoyHandler(authorizer);
    const lines = (target: Target, extra: Record<string, string> = {}) => Object.entries(envoyCheckHeaders(target, extra)).flat();
    const bare: Handler = (_req, res) => {
      res.writeHead(200);
      res.end();
    };
    const ceiling: Handler = (req, res) => {
      res.writeHead(bearerSignatureHolds(req.headers.authorization, idp.publicKey) ? 200 : 401);
      res.end();
    };
    const walk = (): InProcessScenario["nextRawHeaders"] => {
      let next = 0;
      return () => {
        const t = distinct[next++];
        if (t === undefined) throw new Error(`all ${distinct.length} new tokens were sent: mint more`);
        return lines(world.jwtTarget, { Authorization: `Bearer ${t}` });
      };
    };
    const jwtNew = (name: string, handler: Handler, baseline?: string): InProcessScenario => ({
      name,
      handler,
      rawHeaders: lines(world.jwtTarget, { Authorization: `Bearer ${distinct[0]}` }),
      nextRawHeaders: walk(),
      url: world.jwtTarget.path,
      baseline,
    });
    // What the shipped nginx configuration (deploy/proxies/nginx/portcullis.conf) sends the forward-auth
    // port for the API-key request, its own lines first, then the client's.
    const t = world.apiKeyTarget;
    const cachedJwtLines = lines(world.jwtTarget, { Authorization: `Bearer ${token}` });
    const nginxLines = [
      ...["Host", "portcullis", "X-Original-Method", "GET", "X-Original-URI", t.path, "X-Forwarded-Host", t.host],
      ...["X-Forwarded-Proto", "http", "X-Forwarded-For", "192.0.2.10", "X-Portcullis-Replaces", "x-user-id, x-user-group, x-user-email"],
      ...Object.entries(t.headers).flat(),
    ];
    return [
      { name: BARE, handler: bare, rawHeaders: lines(t), url: t.path },
      { name: "API key", handler: envoy, rawHeaders: lines(t), url: t.path, baseline: BARE },
      { name: BARE_JWT, handler: bare, rawHeaders: cachedJwtLines, url: world.jwtTarget.path },
      { name: "JWT, cached token", handler: envoy, rawHeaders: cachedJwtLines, url: world.jwtTarget.path, baseline: BARE_JWT },
      { name: BARE_FORWARDED, handler: bare, rawHeaders: nginxLines, url: "/" },
      {
        name: "API key, forward-auth",
        handler: forwardAuthHandler(authorizer),
        rawHeaders: nginxLines,
        url: "/",
        baseline: BARE_FORWARDED,
      },
      ...(newTokens > 0 ? [jwtNew(CEILING, ceiling), jwtNew(JWT_NEW, envoy, CEILING)] : []),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      requests: { type: "string", default: "200000" },
      rounds: { type: "string", default: "5" },
      "new-tokens": { type: "string", default: "0" },
    },
  });
  const requests = Number(values.requests);
  const rounds = Number(values.rounds);
  const newTokenRequests = Number(values["new-tokens"]);
  // Each new-token scenario's warm-up (measureInProcess: as many as a round, up to 20,000) and rounds.
  const scenarios = await inProcessScenarios(newTokenRequests > 0 ? Math.min(newTokenRequests, 20_000) + rounds * newTokenRequests : 0);
  const lines = [
    "| scenario | CPU ns/request (best; every round) | + over its baseline (bare, or the ceiling for new tokens), ns | ratio baseline ÷ this | V8 heap B/request |",
    "|---|---|---|---|---|",
  ];
  const measured = new Map<string, InProcessResult>();
  for (const s of scenarios) {
    const r = await measureInProcess(s, s.nextRawHeaders === undefined ? requests : newTokenRequests, rounds);
    if (r.status !== 200) throw new Error(`${r.name}: answered ${r.status}, not 200`);
    measured.set(r.name, r);
    const base = s.baseline === undefined ? undefined : measured.get(s.baseline)!;
    const perRound = r.rounds.map((x) => x.toFixed(0)).join(" / ");
    const over = base === undefined ? "" : `+${(r.cpuNs - base.cpuNs).toFixed(0)}`;
    const ratio = base === undefined ? "" : `${(base.cpuNs / r.cpuNs).toFixed(2)}×`;
    lines.push(`| ${r.name} | ${r.cpuNs.toFixed(0)} (${perRound}) | ${over} | ${ratio} | ${r.heapBytes.toFixed(0)} |`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}
