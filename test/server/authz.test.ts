/** The decision ports' framing of an answer on the wire (controller/server/authz.ts write), over real sockets. */
import { connect } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Authorizer } from "../../controller/authz/authorizer.ts";
import { deny, type Decision } from "../../controller/authz/decision.ts";
import { escapeRawLikeEnvoy, isPlainPath, normalizePath } from "../../controller/authz/path.ts";
import { abnormalUri, envoyHandler, forwardAuthHandler } from "../../controller/server/authz.ts";
import { closeGracefully, createHttpServer, listen } from "../../controller/server/http.ts";

const ALLOW: Decision = {
  allowed: true,
  status: 200,
  code: "allowed",
  message: "authenticated as apiKey alice",
  route: "default/api rule 0",
  policy: "default/keys",
  principal: "apiKey alice",
  upstreamHeaders: { "x-user-id": "alice" },
  removeHeaders: ["x-api-key"],
  responseHeaders: {},
};

/** Answers every check with the decision its path names (/allow, anything else a denial). */
const authorizer: Authorizer = {
  decide: (request) => (request.path === "/allow" ? ALLOW : deny(401, "apikey_missing", "Client authentication failed: no API key", {})),
  explain: () => {
    throw new Error("not used");
  },
  rendered: (decision, render) => render(decision),
};

const envoy = createHttpServer(envoyHandler(authorizer), pino({ level: "silent" }));
const forwardAuth = createHttpServer(forwardAuthHandler(authorizer), pino({ level: "silent" }));
const ports = { envoy: 0, forwardAuth: 0 };
beforeAll(async () => {
  ports.envoy = await listen(envoy, 0, "127.0.0.1");
  ports.forwardAuth = await listen(forwardAuth, 0, "127.0.0.1");
});
afterAll(() => Promise.all([closeGracefully(envoy, 1000), closeGracefully(forwardAuth, 1000)]));

/** The raw answer to a check of `path` in the HTTP `version` given, the connection closed by the client once it is read. */
function exchange(port: keyof typeof ports, path: string, version: "1.0" | "1.1"): Promise<string> {
  const request =
    port === "envoy"
      ? `GET ${path} HTTP/${version}\r\nHost: api.example.com\r\n\r\n`
      : `GET /auth HTTP/${version}\r\nHost: portcullis\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Uri: ${path}\r\nX-Forwarded-Host: api.example.com\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const socket = connect(ports[port], "127.0.0.1", () => socket.write(request));
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
      // An answer is complete at its empty last chunk or once its declared length arrived.
      const end = text.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length: (\d+)\r\n/i.exec(text)?.[1];
      if (end !== -1 && (text.endsWith("\r\n0\r\n\r\n") || (length !== undefined && text.length - end - 4 >= Number(length)))) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on("error", reject);
    socket.setTimeout(5000, () => socket.destroy(new Error("no complete answer within 5 s")));
  });
}

const headerNames = (answer: string) =>
  answer
    .slice(0, answer.indexOf("\r\n\r\n"))
    .split("\r\n")
    .slice(1)
    .map((line) => line.slice(0, line.indexOf(":")).toLowerCase());

describe("an answer's framing", () => {
  it("Envoy port, an allow to an HTTP/1.1 check: Node frames the empty body as chunked, as the bare server's, and the connection stays open", async () => {
    const answer = await exchange("envoy", "/allow", "1.1");
    expect(answer.startsWith("HTTP/1.1 200 OK\r\n")).toBe(true);
    expect(headerNames(answer)).toEqual([
      "x-user-id",
      "x-envoy-auth-headers-to-remove",
      "date",
      "connection",
      "keep-alive",
      "transfer-encoding",
    ]);
    expect(answer).toContain("\r\nConnection: keep-alive\r\n");
    expect(answer.endsWith("\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")).toBe(true);
  });

  it("Envoy port, an allow to an HTTP/1.0 check (which has no chunked encoding) carries content-length: 0", async () => {
    const answer = await exchange("envoy", "/allow", "1.0");
    expect(headerNames(answer)).toEqual(["x-user-id", "x-envoy-auth-headers-to-remove", "content-length", "date", "connection"]);
    expect(answer).toContain("\r\ncontent-length: 0\r\n");
    expect(answer.endsWith("\r\n\r\n")).toBe(true);
  });

  // nginx's auth_request and Caddy's forward_auth read no body: without a length they would not reuse the connection.
  it("forward-auth port, an allow to an HTTP/1.1 check carries content-length: 0", async () => {
    const answer = await exchange("forwardAuth", "/allow", "1.1");
    expect(headerNames(answer)).toEqual([
      "x-user-id",
      "x-envoy-auth-headers-to-remove",
      "content-length",
      "date",
      "connection",
      "keep-alive",
    ]);
    expect(answer).toContain("\r\ncontent-length: 0\r\n");
  });

  it.each(["envoy", "forwardAuth"] as const)("%s port, a denial carries its body's length on HTTP/1.1", async (port) => {
    const answer = await exchange(port, "/deny", "1.1");
    const body = answer.slice(answer.indexOf("\r\n\r\n") + 4);
    expect(answer.startsWith("HTTP/1.1 401 Unauthorized\r\n")).toBe(true);
    expect(headerNames(answer)).toContain("content-length");
    expect(headerNames(answer)).not.toContain("transfer-encoding");
    expect(answer).toContain(`\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`);
    expect(JSON.parse(body)).toEqual({ code: "apikey_missing", message: "Client authentication failed: no API key" });
  });
});

describe("abnormalUri: a forwarded URI the upstream would run as another path", () => {
  it.each(["/v1/models", "/", "/a.b/c-d_e~f/", "/.well-known/x", "/v1/models?x=/../y", "/caf%C3%A9"])("%s is in normal form", (uri) =>
    expect(abnormalUri(uri)).toBeUndefined(),
  );
  it.each(["/a/../b", "/a/./b", "/a//b", "/%61", "/a#/../b", "/a/%2e%2e/b", "/.."])("%s is refused", (uri) =>
    expect(abnormalUri(uri)).toBeDefined(),
  );
  // The usual path skips building its normal and escaped forms: that must decide as building them does.
  it("every path isPlainPath takes is one normalisation and Envoy's escaping leave as it is", () => {
    const alphabet = ["a", "Z", "0", "-", "_", "~", ".", "/", "%", "2", "e", "f", "é", '"', " "];
    let seed = 17;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % alphabet.length;
    let plain = 0;
    for (let n = 0; n < 20_000; n++) {
      const path = `/${Array.from({ length: 1 + (n % 12) }, () => alphabet[next()]).join("")}`;
      if (!isPlainPath(path)) continue;
      plain++;
      expect([path, normalizePath(path)]).toEqual([path, escapeRawLikeEnvoy(path)]);
      expect(abnormalUri(path)).toBeUndefined();
    }
    expect(plain).toBeGreaterThan(1000);
  });
});
