/**
 * The cost of a check without the network: the real Envoy HTTP handler (server/authz.ts) and the
 * bare baseline's handler, each given Node's own IncomingMessage and ServerResponse over a socket
 * that discards what is written, on the 10-route world of `make bench`. No syscall, parser or
 * neighbour is in the figure (the header lines are made anew for each request, as the parser makes
 * them, in every scenario alike): CPU nanoseconds and V8 heap bytes per request, the best of several
 * rounds, which a busy day moves far less than a wrk run (the other engineers' load here swings
 * wrk rounds by ±30%, these by a few %). Run it on each tree to compare (bench/compare-trees.ts
 * measures the whole server):
 *
 *   node bench/in-process.ts [--requests 200000] [--rounds 5]
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
import { envoyHandler } from "../controller/server/authz.ts";
import { createMetrics, decisionMetrics } from "../controller/server/metrics.ts";
import { ManifestFolder } from "../controller/sources/manifests.ts";
import { createIdp, mintTokens } from "./tokens.ts";
import { buildWorld, writeWorld, type Target } from "./world.ts";

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface InProcessScenario {
  readonly name: string;
  readonly handler: Handler;
  /** The request's header lines as Node's parser hands them over (name, value, …). */
  readonly rawHeaders: readonly string[];
  readonly url: string;
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
class DiscardingSocket extends Duplex {
  override _read(): void {}
  override _write(_chunk: unknown, _encoding: string, done: () => void): void {
    done();
  }
}

/** One request through `s.handler`, synchronously; returns the status written. */
function serveOne(s: InProcessScenario, socket: Socket): number {
  const req = new IncomingMessage(socket);
  req.method = "GET";
  req.url = s.url;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = "1.1";
  // As the parser does: new strings of the lines' bytes for every request (a string reused would keep
  // the hash V8 caches in it, and a literal's concatenation is not flat), then req.headers built from them when first read.
  const lines = s.rawHeaders.map((line) => Buffer.from(line, "latin1").toString("latin1"));
  (req as unknown as { _addHeaderLines(lines: string[], n: number): void })._addHeaderLines(lines, lines.length);
  const res = new ServerResponse(req);
  res.shouldKeepAlive = true;
  res.assignSocket(socket);
  void s.handler(req, res);
  res.detachSocket(socket);
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
    const gc = new GCProfiler();
    gc.start();
    const usedBefore = getHeapStatistics().used_heap_size;
    const cpuBefore = process.cpuUsage();
    status = await run(requests);
    const cpu = process.cpuUsage(cpuBefore);
    let freed = 0;
    for (const e of (gc.stop()?.statistics ?? []) as { beforeGC: GcHeap; afterGC: GcHeap }[])
      freed += e.beforeGC.heapStatistics.usedHeapSize - e.afterGC.heapStatistics.usedHeapSize;
    results.push({
      cpuNs: ((cpu.user + cpu.system) * 1000) / requests,
      heapBytes: (getHeapStatistics().used_heap_size - usedBefore + freed) / requests,
    });
  }
  const best = results.reduce((a, b) => (b.cpuNs < a.cpuNs ? b : a));
  return { name: s.name, cpuNs: best.cpuNs, rounds: results.map((r) => r.cpuNs), heapBytes: best.heapBytes, status };
}

interface GcHeap {
  readonly heapStatistics: { readonly usedHeapSize: number };
}

/** The bare baseline (bench/bare-server.ts's handler), API key and cached JWT scenarios over the 10-route world. */
export async function inProcessScenarios(): Promise<InProcessScenario[]> {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-in-process-"));
  try {
    const idp = createIdp();
    const world = buildWorld({ tenants: 10, keysPerSecret: 20, jwk: idp.jwk });
    writeWorld(world, dir);
    const [token] = await mintTokens(idp, 1);
    const { resources } = new ManifestFolder(dir).load();
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
    const lines = (target: Target, extra: Record<string, string> = {}) => [
      "Host",
      target.host,
      ...Object.entries({ ...target.headers, ...extra }).flat(),
    ];
    const bare: Handler = (_req, res) => {
      res.writeHead(200);
      res.end();
    };
    return [
      { name: "bare node:http", handler: bare, rawHeaders: lines(world.apiKeyTarget), url: world.apiKeyTarget.path },
      { name: "API key", handler: envoy, rawHeaders: lines(world.apiKeyTarget), url: world.apiKeyTarget.path },
      {
        name: "JWT, cached token",
        handler: envoy,
        rawHeaders: lines(world.jwtTarget, { Authorization: `Bearer ${token}` }),
        url: world.jwtTarget.path,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { requests: { type: "string", default: "200000" }, rounds: { type: "string", default: "5" } } });
  const lines = ["| scenario | CPU ns/request (best; every round) | + over bare, ns | V8 heap B/request |", "|---|---|---|---|"];
  let bare: InProcessResult | undefined;
  for (const s of await inProcessScenarios()) {
    const r = await measureInProcess(s, Number(values.requests), Number(values.rounds));
    if (r.status !== 200) throw new Error(`${r.name}: answered ${r.status}, not 200`);
    bare ??= r;
    const rounds = r.rounds.map((x) => x.toFixed(0)).join(" / ");
    const over = r === bare ? "" : `+${(r.cpuNs - bare.cpuNs).toFixed(0)}`;
    lines.push(`| ${r.name} | ${r.cpuNs.toFixed(0)} (${rounds}) | ${over} | ${r.heapBytes.toFixed(0)} |`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}
