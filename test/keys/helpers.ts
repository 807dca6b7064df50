/**
 * Test fixtures for the key store: a real JWKS HTTP server on 127.0.0.1 whose behaviour the test
 * switches at will (good document, error status, delay, garbage, huge body), counting hits per
 * path; signing keys made with jose; a pino logger that captures its output.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import pino, { type Logger } from "pino";

export type Behaviour =
  | { readonly kind: "jwks"; readonly doc: unknown }
  | { readonly kind: "status"; readonly status: number }
  | { readonly kind: "raw"; readonly body: string; readonly contentType?: string }
  /** Answers nothing for `ms` (longer than any fetch timeout in the tests). */
  | { readonly kind: "hang"; readonly ms: number }
  /** Sends headers at once, then one byte every `everyMs`, never finishing in time. */
  | { readonly kind: "trickle"; readonly everyMs: number }
  /** A body of `bytes` bytes; chunked (no Content-Length) unless `declareLength`. */
  | { readonly kind: "huge"; readonly bytes: number; readonly declareLength: boolean }
  | { readonly kind: "redirect"; readonly location: string }
  /** Closes the connection without answering. */
  | { readonly kind: "reset" }
  /** The n-th request to the path gets `steps[n]` (the last step from then on). */
  | { readonly kind: "sequence"; readonly steps: readonly Behaviour[] };

export interface JwksServer {
  readonly origin: string;
  /** `${origin}${path}`; every path is served by the behaviour set for it (default: path "/"). */
  url(path?: string): string;
  set(behaviour: Behaviour, path?: string): void;
  hits(path?: string): number;
  /** Bytes actually written for "huge" bodies (to show the client stopped reading). */
  hugeBytesWritten(): number;
  close(): Promise<void>;
}

/** Serves HTTPS with this key and certificate instead of plain HTTP. */
export interface ServerTls {
  readonly keyPem: string;
  readonly certPem: string;
}

export async function startJwksServer(initial: Behaviour, tls?: ServerTls): Promise<JwksServer> {
  const behaviours = new Map<string, Behaviour>([["/", initial]]);
  const hits = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  let hugeWritten = 0;
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const set = behaviours.get(path) ?? behaviours.get("/")!;
    const b = set.kind === "sequence" ? set.steps[Math.min(hits.get(path)! - 1, set.steps.length - 1)]! : set;
    switch (b.kind) {
      case "sequence":
        throw new Error("a sequence step cannot be a sequence");
      case "reset":
        req.socket.destroy();
        return;
      case "jwks":
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(b.doc));
        return;
      case "status":
        res.writeHead(b.status, { "content-type": "text/plain" }).end("nope");
        return;
      case "raw":
        res.writeHead(200, { "content-type": b.contentType ?? "application/json" }).end(b.body);
        return;
      case "hang":
        later(b.ms, () => res.writeHead(200).end("{}"));
        return;
      case "trickle": {
        res.writeHead(200, { "content-type": "application/json" });
        res.write("{");
        const tick = () =>
          later(b.everyMs, () => {
            if (res.destroyed) return;
            res.write(" ");
            tick();
          });
        tick();
        return;
      }
      case "huge": {
        res.writeHead(200, b.declareLength ? { "content-length": String(b.bytes) } : {});
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let left = b.bytes;
        const pump = () => {
          while (left > 0 && !res.destroyed) {
            const n = Math.min(left, chunk.length);
            left -= n;
            hugeWritten += n;
            if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
              res.once("drain", pump);
              return;
            }
          }
          if (!res.destroyed) res.end();
        };
        res.on("error", () => {});
        pump();
        return;
      }
      case "redirect":
        res.writeHead(302, { location: b.location }).end();
        return;
    }
  };
  const server: Server = tls === undefined ? createServer(handle) : createHttpsServer({ key: tls.keyPem, cert: tls.certPem }, handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `${tls === undefined ? "http" : "https"}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (path = "/") => `${origin}${path}`,
    set: (behaviour, path = "/") => void behaviours.set(path, behaviour),
    hits: (path = "/") => hits.get(path) ?? 0,
    hugeBytesWritten: () => hugeWritten,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface TestKey {
  readonly kid: string;
  /** The public JWK as published in a JWKS. */
  readonly jwk: JWK;
}

export async function makeKey(kid: string): Promise<TestKey> {
  const { publicKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { kid, jwk: { ...jwk, kid, alg: "RS256", use: "sig" } };
}

export function jwks(...keys: TestKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => k.jwk) };
}

/** A pino logger writing JSON lines into `lines`. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(s) });
  return { logger, lines };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes. */
export async function eventually(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}
