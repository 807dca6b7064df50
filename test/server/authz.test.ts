/** The decision ports' framing of an answer on the wire (controller/server/authz.ts write), over real sockets. */
import { connect } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Authorizer } from "../../controller/authz/authorizer.ts";
import { deny, type Decision } from "../../controller/authz/decision.ts";
import type { AuthzRequest } from "../../controller/authz/request.ts";
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

/**
 * What a check's header lines become for check() (AuthzRequest host and headers), against the lines
 * Node's parser read (rawHeaders): every line of a repeated name kept in order (Cookie's joined with
 * "; "), a name sent once as its value, names lower-cased and never folded ("_", "." stay). Whatever
 * shortcut reads the headers must give this, on both ports; a request Node refuses is never decided.
 */
describe("a check's header lines, as check() receives them", () => {
  const seen: AuthzRequest[] = [];
  const recording: Authorizer = { ...authorizer, decide: (request) => (seen.push(request), authorizer.decide(request, "envoy-http")) };
  const servers = {
    envoy: createHttpServer(envoyHandler(recording), pino({ level: "silent" })),
    forwardAuth: createHttpServer(forwardAuthHandler(recording), pino({ level: "silent" })),
  };
  const at = { envoy: 0, forwardAuth: 0 };
  const raw: string[][] = [];
  /** A bare server: the lines Node's parser reads, to compare with. */
  const bare = createHttpServer(
    (req, res) => {
      raw.push(req.rawHeaders);
      res.end();
    },
    pino({ level: "silent" }),
  );
  let barePort = 0;
  beforeAll(async () => {
    at.envoy = await listen(servers.envoy, 0, "127.0.0.1");
    at.forwardAuth = await listen(servers.forwardAuth, 0, "127.0.0.1");
    barePort = await listen(bare, 0, "127.0.0.1");
  });
  afterAll(() =>
    Promise.all([closeGracefully(servers.envoy, 1000), closeGracefully(servers.forwardAuth, 1000), closeGracefully(bare, 1000)]),
  );

  /** The status line of the answer to `head` (the request line and header lines, CRLF-terminated, without the blank line). */
  function send(port: number, head: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => socket.end(`${head}\r\n`));
      let text = "";
      socket.setEncoding("latin1");
      socket.on("data", (chunk: string) => (text += chunk));
      socket.on("end", () => resolve(text.slice(0, text.indexOf("\r\n"))));
      socket.on("error", reject);
      socket.setTimeout(5000, () => socket.destroy(new Error("no answer within 5 s")));
    });
  }

  /** Headers as check() must receive them from the lines Node read. */
  function expected(lines: readonly string[]): Record<string, string | string[]> {
    const byName = new Map<string, string[]>();
    for (let i = 0; i < lines.length; i += 2) {
      const name = lines[i]!.toLowerCase();
      byName.set(name, [...(byName.get(name) ?? []), lines[i + 1]!]);
    }
    return Object.fromEntries(
      [...byName].map(([name, values]) => [name, values.length === 1 ? values[0]! : name === "cookie" ? values.join("; ") : values]),
    );
  }

  const FORWARDED = "X-Forwarded-Method: GET\r\nX-Forwarded-Uri: /deny\r\nX-Forwarded-Host: api.example.com\r\n";
  const cases: readonly (readonly [string, string])[] = [
    ["one line each", "X-Role: user\r\n"],
    ["a name repeated", "X-Role: user\r\nX-Role: admin\r\n"],
    ["a name repeated in other cases", "x-role: user\r\nX-ROLE: admin\r\nX-Role: staff\r\n"],
    ["Authorization twice (Node keeps the first in req.headers)", "Authorization: Bearer one\r\nAuthorization: Bearer two\r\n"],
    ["Cookie twice", "Cookie: a=1\r\nCookie: b=2\r\n"],
    ["'_' and '.' in names", "X_User_Id: bob\r\nX.User.Id: eve\r\nx-user-id: alice\r\n"],
    ["empty values", "X-Empty:\r\nX-Empty:   \r\nX-Other: \r\n"],
    ["whitespace around values", "X-Pad: \t padded \t\r\n"],
    ["Latin-1 bytes in a value", "X-Name: caf\u00e9 \u00ff\r\n"],
    ["names JavaScript objects have", "constructor: a\r\ntoString: b\r\nhasOwnProperty: c\r\n"],
    ["500 names", Array.from({ length: 500 }, (_, i) => `X-H${i}: ${i}\r\n`).join("")],
    ["one name on 500 lines", Array.from({ length: 500 }, (_, i) => `X-Role: r${i}\r\n`).join("")],
  ];

  it.each(cases)("%s: the same lines on the Envoy and forward-auth ports", async (_, lines) => {
    for (const [port, head] of [
      [at.envoy, `GET /deny HTTP/1.1\r\nHost: api.example.com\r\n${lines}`],
      [at.forwardAuth, `GET /auth HTTP/1.1\r\nHost: portcullis\r\n${FORWARDED}${lines}`],
    ] as const) {
      seen.length = 0;
      raw.length = 0;
      expect(await send(port, head)).toBe("HTTP/1.1 401 Unauthorized");
      expect(await send(barePort, head)).toBe("HTTP/1.1 200 OK");
      expect(seen).toHaveLength(1);
      expect({ ...seen[0]!.headers }).toEqual(expected(raw[0]!));
      expect(seen[0]!.host).toBe("api.example.com");
      // The port says every header came on one line only when no name was sent twice (route-index.ts
      // then reads no header line by line): a repeated name said otherwise would let a line pick another rule unseen.
      const names = raw[0]!.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      expect(seen[0]!.headersOnOneLine).toBe(new Set(names).size === names.length);
    }
  });

  it("the forward-auth port hands on no body, and no length tells whether the client sent one (nginx removes Content-Length from its check)", async () => {
    seen.length = 0;
    const head =
      "GET /auth HTTP/1.1\r\nHost: portcullis\r\nX-Forwarded-Method: POST\r\nX-Forwarded-Uri: /deny\r\nX-Forwarded-Host: api.example.com\r\n";
    await send(at.forwardAuth, head);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.body).toBeNull();
  });

  it("reads a value holding ',' as the lines it may stand for, alike on the Envoy and the forward-auth port", async () => {
    // Envoy's HTTP check sends a header the client repeated as one value, its lines joined with ",";
    // a forward-auth proxy passes a line as it came, which an upstream may split as a list.
    const lines = "X-Role: user,admin\r\nX-Tier: gold, silver\r\nCookie: a=1,b=2\r\nX-One: plain\r\n";
    for (const head of [`GET /deny HTTP/1.1\r\nHost: api.example.com\r\n`, `GET /auth HTTP/1.1\r\nHost: portcullis\r\n${FORWARDED}`]) {
      seen.length = 0;
      await send(head.startsWith("GET /deny") ? at.envoy : at.forwardAuth, `${head}${lines}`);
      expect(seen[0]!.headers).toMatchObject({
        "x-role": ["user", "admin"],
        "x-tier": ["gold", " silver"],
        cookie: "a=1,b=2",
        "x-one": "plain",
      });
      expect(seen[0]!.headersOnOneLine).toBe(false);
    }
  });

  it("reads each line of a repeated header on the forward-auth port as its pieces, every one of them (a wrong allow: one line x-role: user,admin was one value there)", async () => {
    seen.length = 0;
    await send(at.forwardAuth, `GET /auth HTTP/1.1\r\nHost: portcullis\r\n${FORWARDED}X-Role: user,admin\r\nX-Role: user\r\n`);
    expect(seen[0]!.headers["x-role"]).toEqual(["user", "admin", "user"]);
  });

  it.each([
    ["Host twice", "GET /deny HTTP/1.1\r\nHost: api.example.com\r\nHost: admin.example.com\r\n", "400 Bad Request"],
    ["Host twice in other cases", "GET /deny HTTP/1.1\r\nHost: api.example.com\r\nhost: admin.example.com\r\n", "400 Bad Request"],
    ["obs-fold", "GET /deny HTTP/1.1\r\nHost: api.example.com\r\nX-Role: user\r\n admin\r\n", "400 Bad Request"],
    ["a space in a name", "GET /deny HTTP/1.1\r\nHost: api.example.com\r\nX Role: admin\r\n", "400 Bad Request"],
    ["a space before the colon", "GET /deny HTTP/1.1\r\nHost: api.example.com\r\nX-Role : admin\r\n", "400 Bad Request"],
    ["a control character in a name", "GET /deny HTTP/1.1\r\nHost: api.example.com\r\nX-\u0001Role: admin\r\n", "400 Bad Request"],
    ["NUL in a value", "GET /deny HTTP/1.1\r\nHost: api.example.com\r\nX-Role: ad\u0000min\r\n", "400 Bad Request"],
    ["a bare LF line ending", "GET /deny HTTP/1.1\r\nHost: api.example.com\nX-Role: admin\r\n", "400 Bad Request"],
  ])("%s (Envoy port): refused, never decided", async (_, head, status) => {
    seen.length = 0;
    expect(await send(at.envoy, head)).toBe(`HTTP/1.1 ${status}`);
    expect(seen).toHaveLength(0);
  });

  it("X-Forwarded-Host twice (forward-auth port): refused, never decided", async () => {
    seen.length = 0;
    const head = `GET /auth HTTP/1.1\r\nHost: portcullis\r\n${FORWARDED}X-Forwarded-Host: admin.example.com\r\n`;
    expect(await send(at.forwardAuth, head)).toBe("HTTP/1.1 400 Bad Request");
    expect(seen).toHaveLength(0);
  });
});
