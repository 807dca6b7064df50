/**
 * Rendered header lines reach the wire as the bytes `writeHead(status, lines)` writes (issue 17: the
 * lines of a remembered allow are rendered and checked once, not on every answer).
 */
import { createServer, IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, Socket } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HeadResponse, renderHead } from "../../controller/server/head-response.ts";
import { closeGracefully, createHttpServer, listen } from "../../controller/server/http.ts";

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly cookies: readonly string[];
  /** Written after the head (end(body)); "" ends the answer without a body. */
  readonly body: string;
  /** content-length passed to writeHead as a line, as the forward-auth port does. */
  readonly withLength: boolean;
}

const ANSWERS: Record<string, Answer> = {
  "an API-key allow": {
    status: 200,
    headers: { "x-user-id": "client-4-19", "x-envoy-auth-headers-to-remove": "x-api-key,x-user-email,x-user-group" },
    cookies: [],
    body: "",
    withLength: false,
  },
  "a JWT allow with a claim that is not ASCII": {
    status: 200,
    headers: { "x-user-id": "é", "x-user-group": "research", "x-user-email": "user-0@bench.example.com" },
    cookies: [],
    body: "",
    withLength: false,
  },
  "a forward-auth allow with its length": {
    status: 200,
    headers: { "x-user-id": "alice", "x-portcullis-cookie": "remove" },
    cookies: [],
    body: "",
    withLength: true,
  },
  "a denial with a body and cookies": {
    status: 302,
    headers: { location: "https://idp.example.com/auth?client_id=web", "content-type": "application/json" },
    cookies: ["OauthSession-1=v1.abc; Path=/; HttpOnly", "OauthSession-1.1=; Path=/; Max-Age=0"],
    body: '{"code":"oidc_login"}',
    withLength: true,
  },
  // Lines Node acts on (it omits its own Date, frames by a length, closes the connection) go through writeHead.
  "an answer setting headers Node reads (Date, Connection, Content-Length)": {
    status: 403,
    headers: { "x-reason": "quota", Date: "Thu, 01 Jan 2026 00:00:00 GMT", connection: "close", "Content-Length": "2" },
    cookies: [],
    body: "{}",
    withLength: false,
  },
  "no header at all": { status: 200, headers: {}, cookies: [], body: "", withLength: false },
};

const answerOf = (req: IncomingMessage): Answer => ANSWERS[decodeURIComponent(req.url!.slice(1))]!;
const framing = (a: Answer) => (a.withLength ? ["content-length", String(Buffer.byteLength(a.body))] : []);

/** Node's own writeHead, given every line as name, value, … (values as UTF-8 bytes). */
function writeLines(req: IncomingMessage, res: ServerResponse): void {
  const a = answerOf(req);
  const lines = Object.entries(a.headers).flatMap(([name, value]) => [name, Buffer.from(value, "utf8").toString("latin1")]);
  res.writeHead(a.status, [...lines, ...a.cookies.flatMap((c) => ["set-cookie", c]), ...framing(a)]);
  res.end(a.body);
}

/** The decision ports' way: lines rendered beforehand, only Node's own lines and the length left to writeHead. */
function writeRendered(req: IncomingMessage, res: HeadResponse): void {
  const a = answerOf(req);
  const head = renderHead(a.headers, a.cookies);
  res.writeHeadWith(a.status, head.lines, [...head.nodeLines, ...framing(a)]);
  res.end(a.body);
}

const servers: Record<"node" | "rendered", Server> = {
  node: createServer({ keepAliveTimeout: 75_000 }, writeLines),
  rendered: createHttpServer(writeRendered, pino({ level: "silent" })),
};
const ports = { node: 0, rendered: 0 };
beforeAll(async () => {
  ports.node = await listen(servers.node, 0, "127.0.0.1");
  ports.rendered = await listen(servers.rendered, 0, "127.0.0.1");
});
afterAll(() => Promise.all([closeGracefully(servers.node, 1000), closeGracefully(servers.rendered, 1000)]));

/** Every byte the server writes for one request, until it or the timeout closes the connection; its Date value blanked. */
function bytesOf(server: keyof typeof ports, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(ports[server], "127.0.0.1", () =>
      socket.write(`GET /${encodeURIComponent(name)} HTTP/1.1\r\nHost: a.example\r\n\r\n`),
    );
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (text += chunk));
    const done = () => resolve(text.replace(/\r\nDate: [^\r]+\r\n/, "\r\nDate: -\r\n"));
    socket.on("close", done);
    // The whole answer arrives in one write: what came within 300 ms is all there is.
    socket.setTimeout(300, () => socket.destroy());
    socket.on("error", reject);
  });
}

describe("HeadResponse.writeHeadWith", () => {
  it.each(Object.keys(ANSWERS))("%s: the bytes writeHead writes with the same lines", async (name) => {
    const [node, rendered] = await Promise.all([bytesOf("node", name), bytesOf("rendered", name)]);
    expect(node.startsWith(`HTTP/1.1 ${ANSWERS[name]!.status} `)).toBe(true);
    expect(rendered).toBe(node);
  });

  it("refuses to answer when Node stores a head without the rendered lines (a Node that no longer calls _storeHeader)", () => {
    const res = new HeadResponse(new IncomingMessage(new Socket()));
    // Node's own _storeHeader on the instance: writeHead no longer passes through HeadResponse's.
    const own = Object.getPrototypeOf(HeadResponse.prototype) as { _storeHeader: unknown };
    Object.assign(res, { _storeHeader: own._storeHeader });
    expect(() => res.writeHeadWith(200, "x-user-id: alice\r\n", [])).toThrow(/did not store the answer's header lines/);
  });
});

describe("renderHead", () => {
  it("refuses what writeHead refuses, with Node's own errors", () => {
    expect(() => renderHead({ "x-user-id": "alice\r\nx-admin: true" }, [])).toThrow(expect.objectContaining({ code: "ERR_INVALID_CHAR" }));
    expect(() => renderHead({ "x user": "alice" }, [])).toThrow(expect.objectContaining({ code: "ERR_INVALID_HTTP_TOKEN" }));
    expect(() => renderHead({}, ["a=b\nc"])).toThrow(expect.objectContaining({ code: "ERR_INVALID_CHAR" }));
  });

  it("writes values as UTF-8 bytes, one character per byte, and leaves Node's own lines to writeHead in order", () => {
    expect(renderHead({ "x-user-id": "é", date: "d", "x-a": "1", "Transfer-Encoding": "chunked" }, ["s=1"])).toEqual({
      lines: "x-user-id: \u00c3\u00a9\r\nx-a: 1\r\nset-cookie: s=1\r\n",
      nodeLines: ["date", "d", "Transfer-Encoding", "chunked"],
    });
  });
});
