/**
 * What a catalogue case runs with: check() on the security world, and the same world served by
 * the real server (Envoy ext_authz and forward-auth ports) reached over raw sockets, so a case can
 * send what fetch() never would: repeated Host or Authorization lines, invalid bytes, 1000 headers.
 */
import { connect } from "node:net";
import type { AuthzRequest } from "../../controller/authz/request.ts";
import { startJwksServer, type JwksServer } from "../keys/helpers.ts";
import pino from "pino";
import { createOidcProviders } from "../../controller/features/oidc/provider.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { startTestProvider, type TestProvider } from "../support/oidc-provider.ts";
import { toAuthzRequest } from "../../controller/server/grpc.ts";
import { decider, type Decider } from "../support/world.ts";
import { fromDecision, managedHeadersOf, type Outcome } from "./outcome.ts";
import { HOST, makeKeys, manifests, type Keys } from "./world.ts";

export type Headers = readonly (readonly [string, string])[] | Readonly<Record<string, string>>;

export interface Ctx {
  readonly keys: Keys;
  readonly decider: Decider;
  /** check() on the security world; requests default to GET http://api.example.com. */
  check(request: Partial<AuthzRequest> & { path: string }): Promise<Outcome>;
  /** GET `path` on the Envoy ext_authz port (Host api.example.com unless `headers` has one). */
  envoy(path: string, headers?: Headers, method?: string): Promise<Outcome>;
  /** GET /auth on the forward-auth port with these headers (Host is Portcullis' own unless given). */
  forward(headers: Headers): Promise<Outcome>;
  /** Sends `text` as is to the Envoy ext_authz port. */
  raw(text: string | Buffer): Promise<Outcome>;
  /** A server that counts every fetch: a token pointing at it must never make Portcullis call it. */
  readonly lure: JwksServer;
  /** The OpenID provider of the `web` policy (oidc on /web). */
  readonly op: TestProvider;
  close(): Promise<void>;
}

export async function createCtx(): Promise<Ctx> {
  const keys = makeKeys();
  const op = await startTestProvider({
    redirectUris: [`http://${HOST}/web/oauth2/callback`],
    postLogoutRedirectUris: [`http://${HOST}/`],
  });
  const text = manifests(keys, op);
  const d = decider(text, { oidc: createOidcProviders({ logger: pino({ level: "silent" }), timeoutMs: 2000 }) });
  const app: TestApp = await startTestApp({ "world.yaml": text });
  const lure = await startJwksServer({ kind: "jwks", doc: { keys: [] } });
  const port = (url: string) => Number(new URL(url).port);
  const managed = managedHeadersOf(d.result.snapshot.policies);
  const raw = async (p: number, t: string | Buffer): Promise<Outcome> => ({ ...(await exchange(p, t)), managed });
  return {
    keys,
    decider: d,
    check: async (request) => fromDecision(await d(request), managed),
    envoy: (path, headers = {}, method = "GET") => raw(port(app.authz), requestText(method, path, withHost(headers))),
    forward: (headers) => raw(port(app.forwardAuth), requestText("GET", "/auth", withHost(headers, "portcullis.internal"))),
    raw: (t) => raw(port(app.authz), t),
    lure,
    op,
    async close() {
      await app.close();
      await lure.close();
      await op.close();
    },
  };
}

function withHost(headers: Headers, host = HOST): Headers {
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  return pairs.some(([n]) => n.toLowerCase() === "host") ? pairs : [["host", host], ...pairs];
}

/** An HTTP/1.1 request with every header line exactly as given (repeats included). */
export function requestText(method: string, path: string, headers: Headers): string {
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  return `${method} ${path} HTTP/1.1\r\n${pairs.map(([n, v]) => `${n}: ${v}\r\n`).join("")}connection: close\r\n\r\n`;
}

/**
 * `method` (GET unless given) `path` on api.example.com in `world` (manifests served by a server of
 * its own) with the client's header `lines` exactly as sent: to the Envoy ext_authz port as Envoy's
 * HTTP check sends the request, or to the forward-auth port as nginx or Caddy describe it.
 */
export async function overWire(
  world: string,
  port: "envoy" | "forward",
  path: string,
  lines: readonly (readonly [string, string])[],
  method = "GET",
): Promise<Outcome> {
  const app = await startTestApp({ "world.yaml": world });
  try {
    const described: [string, string][] =
      port === "envoy"
        ? [["host", "api.example.com"]]
        : [
            ["host", "portcullis.internal"],
            ["x-forwarded-method", method],
            ["x-forwarded-proto", "https"],
            ["x-forwarded-host", "api.example.com"],
            ["x-forwarded-uri", path],
          ];
    const sent = requestText(port === "envoy" ? method : "GET", port === "envoy" ? path : "/auth", [...described, ...lines]);
    // Not half-closed: Node's server ends a connection its client half-closed, and so drops an answer that waits (extAuth).
    return await exchange(Number(new URL(port === "envoy" ? app.authz : app.forwardAuth).port), sent, false);
  } finally {
    await app.close();
  }
}

/**
 * GET `path` on api.example.com in `world` as Envoy's gRPC CheckRequest carries the headers: the
 * `header_map` (encode_raw_headers: one entry per line) or the `headers` map (the lines joined with ",").
 */
export async function overGrpc(
  world: string,
  path: string,
  headers: { header_map: { headers: { key: string; value: string }[] } } | { headers: Record<string, string> },
): Promise<Outcome> {
  const d = decider(world);
  const request = toAuthzRequest({ attributes: { request: { http: { method: "GET", host: "api.example.com", path, ...headers } } } });
  return fromDecision(await d(request), managedHeadersOf(d.result.snapshot.policies));
}

/** Headers that belong to the transport or to the denial itself, not to the upstream request. */
const NOT_UPSTREAM = new Set([
  "date",
  "connection",
  "keep-alive",
  "content-length",
  "content-type",
  "transfer-encoding",
  "x-envoy-auth-headers-to-remove",
]);

/**
 * Sends `text` to `port` (then half-closes the connection unless `halfClose` is false), reads the
 * response until the server closes, and reads it as an Outcome.
 */
export function exchange(port: number, text: string | Buffer, halfClose = true): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => (halfClose ? socket.end(text) : socket.write(text)));
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", (e: NodeJS.ErrnoException) => (e.code === "ECONNRESET" || e.code === "EPIPE" ? undefined : reject(e)));
    socket.setTimeout(10_000, () => socket.destroy(new Error("no answer within 10 s")));
    socket.on("close", () => resolve(parseResponse(Buffer.concat(chunks).toString("latin1"))));
  });
}

export function parseResponse(text: string): Outcome {
  if (text === "")
    return { status: 0, code: "connection_closed", upstream: {}, remove: [], reason: "the server closed the connection without an answer" };
  const end = text.indexOf("\r\n\r\n");
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const status = Number(statusLine!.split(" ")[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    // The response was read one byte per character; header values are UTF-8.
    headers[line.slice(0, colon).trim().toLowerCase()] = Buffer.from(line.slice(colon + 1).trim(), "latin1").toString("utf8");
  }
  const body = headers["transfer-encoding"] === "chunked" ? dechunk(text.slice(end + 4)) : text.slice(end + 4);
  const upstream = Object.fromEntries(
    Object.entries(headers).filter(([n]) => !NOT_UPSTREAM.has(n) && (status === 200 || n !== "www-authenticate")),
  );
  const remove = headers["x-envoy-auth-headers-to-remove"]?.split(",").filter((h) => h !== "") ?? [];
  if (status === 200) return { status, code: "allowed", upstream, remove, reason: "" };
  let parsed: { code?: string; message?: string } = {};
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    parsed = { code: "(no JSON body)", message: body.slice(0, 200) };
  }
  return { status, code: parsed.code ?? "(no code)", upstream, remove, reason: parsed.message ?? "" };
}

function dechunk(text: string): string {
  let out = "";
  for (let at = 0; ; ) {
    const eol = text.indexOf("\r\n", at);
    const size = parseInt(text.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}
