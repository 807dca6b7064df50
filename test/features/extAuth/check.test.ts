/**
 * The extAuth phase against real services over loopback sockets: what the service is asked (as
 * Envoy's ext_authz filter asks it) and how its answer, or its failure, becomes the outcome.
 */
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CheckContext } from "../../../controller/authz/context.ts";
import { normalizeRequest, type AuthzRequest } from "../../../controller/authz/request.ts";
import type { PhaseResult } from "../../../controller/features/feature.ts";
import { checkExtAuth, HOOK_UP, LOOP_HEADER } from "../../../controller/features/extAuth/check.ts";
import { createExtAuthTransport, MAX_ANSWER_BYTES } from "../../../controller/features/extAuth/client.ts";
import type { CompiledExtAuth } from "../../../controller/features/extAuth/types.ts";
import { startTestApp, within, type TestApp } from "../../support/app.ts";
import { send } from "../../support/http.ts";
import { grpcService, httpService, rawService, refusingPort, type TestService } from "../../support/ext-auth-services.ts";
import { aliceKeyPolicy, extAuthBackendWorld, gatewayWithRoute, policiesOnRules, securityPolicy } from "../../support/manifests.ts";
import { createTestCa } from "../../support/test-ca.ts";
import { decider, HOOK_UP_WORLD } from "../../support/world.ts";

const transport = createExtAuthTransport();
afterAll(() => transport.close());
const services: TestService[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});
async function started<T extends TestService>(service: Promise<T>): Promise<T> {
  const s = await service;
  services.push(s);
  return s;
}

const WHERE = { route: "apps/api rule reports", policy: "apps/ext" };
const CTX = { extAuth: transport } as CheckContext;

function configFor(port: number, overrides: Partial<CompiledExtAuth> = {}): CompiledExtAuth {
  return {
    protocol: "http",
    service: {
      key: `test ${port} ${overrides.protocol ?? "http"}`,
      endpoints: [{ host: "127.0.0.1", port, weight: 1 }],
      names: [`Backend apps/auth`],
      tls: undefined,
    },
    pathPrefix: "",
    pathOverride: undefined,
    headersToExtAuth: undefined,
    headersToBackend: [],
    maxRequestBytes: undefined,
    timeoutMs: 2000,
    failOpen: false,
    statusOnError: 403,
    contextExtensions: {},
    includeRouteMetadata: false,
    recomputeRoute: false,
    ...overrides,
  };
}

function request(overrides: Partial<AuthzRequest> = {}): AuthzRequest {
  return {
    method: "GET",
    scheme: "https",
    host: "api.example.com",
    path: "/reports/7?full=1",
    headers: { authorization: "Bearer t0k3n", "x-tenant": "acme", "x-other": "not sent", cookie: "s=1" },
    gateway: undefined,
    ...overrides,
  };
}

function ask(config: CompiledExtAuth, req: AuthzRequest = request(), ctx: CheckContext = CTX): Promise<PhaseResult> {
  return checkExtAuth(config, normalizeRequest(req), WHERE, ctx);
}

function denied(outcome: PhaseResult) {
  if (outcome.ok) throw new Error(`expected a denial, got a pass as ${outcome.value.principal}`);
  return outcome.error;
}
function passedWith(outcome: PhaseResult) {
  if (!outcome.ok) throw new Error(`expected a pass, got ${outcome.error.status} ${outcome.error.code}: ${outcome.error.message}`);
  return outcome.value;
}

describe("an HTTP service is asked as Envoy's ext_authz filter asks it", () => {
  it("the original method, the path behind `path`, Host, Authorization and only the allowed headers", async () => {
    const s = await started(httpService(() => ({ status: 200 })));
    passedWith(await ask(configFor(s.port, { pathPrefix: "/authz", headersToExtAuth: ["x-tenant"] })));
    const [a] = s.asked;
    expect(a).toMatchObject({ method: "GET", path: "/authz/reports/7?full=1" });
    expect(a!.headers).toMatchObject({ host: "api.example.com", authorization: "Bearer t0k3n", "x-tenant": "acme" });
    expect(a!.headers["x-other"]).toBeUndefined();
    expect(a!.headers.cookie).toBeUndefined();
  });

  it("without headersToExtAuth, only Authorization and the request line (Envoy Gateway's HTTP default), and the loop header", async () => {
    const s = await started(httpService(() => ({ status: 200 })));
    passedWith(await ask(configFor(s.port)));
    expect(Object.keys(s.asked[0]!.headers).sort()).toEqual(["authorization", "connection", "host", LOOP_HEADER]);
  });

  it("pathOverride replaces the path and query", async () => {
    const s = await started(httpService(() => ({ status: 200 })));
    passedWith(await ask(configFor(s.port, { pathOverride: "/check" })));
    expect(s.asked[0]!.path).toBe("/check");
  });

  it("keeps connections alive across checks", async () => {
    const s = await started(httpService(() => ({ status: 200 })));
    const config = configFor(s.port);
    for (let i = 0; i < 6; i++) passedWith(await ask(config, request({ path: `/r/${i}` })));
    // undici may open a second connection while the first is finishing its answer; never one per check.
    expect(new Set(s.asked.map((a) => a.remotePort)).size).toBeLessThanOrEqual(2);
  });

  it("sends the body up to bodyToExtAuth.maxRequestBytes, refuses a larger one with 413 before asking", async () => {
    const s = await started(httpService(() => ({ status: 200 })));
    const config = configFor(s.port, { maxRequestBytes: 8 });
    const body = (text: string) => request({ method: "POST", body: Buffer.from(text), headers: { "content-length": String(text.length) } });
    passedWith(await ask(config, body("12345")));
    expect(s.asked[0]!.body.toString()).toBe("12345");
    expect(s.asked[0]!.headers["content-length"]).toBe("5");
    expect(denied(await ask(config, body("123456789")))).toMatchObject({ status: 413, code: "extauth_body_too_large" });
    expect(s.asked).toHaveLength(1);
  });

  it("a body the proxy did not forward is never decided without it", async () => {
    const s = await started(httpService(() => ({ status: 200 })));
    const config = configFor(s.port, { maxRequestBytes: 1024 });
    const unsent = request({ method: "POST", headers: { "content-length": "10" } });
    expect(denied(await ask(config, unsent))).toMatchObject({ status: 403, code: "extauth_body_unavailable" });
    const partial = request({ method: "POST", headers: { "content-length": "10" }, body: Buffer.from("12345") });
    expect(denied(await ask(config, partial))).toMatchObject({ status: 403, code: "extauth_body_unavailable" });
    expect(s.asked).toHaveLength(0);
  });
});

describe("an HTTP service's answer", () => {
  it("200: only headersToBackend go upstream; x-envoy-auth-headers-to-remove is removed", async () => {
    const s = await started(
      httpService(() => ({
        status: 200,
        headers: [
          ["x-current-user", "alice"],
          ["x-user-id", "forged"],
          ["x-envoy-auth-headers-to-remove", "authorization, x-tenant"],
        ],
      })),
    );
    const value = passedWith(await ask(configFor(s.port, { headersToBackend: ["x-current-user"] })));
    expect(value.headers).toEqual({ "x-current-user": "alice" });
    expect(value.strip).toEqual(["authorization", "x-tenant"]);
  });

  it("a denial goes to the client as the service wrote it: status, headers and body", async () => {
    const s = await started(
      httpService(() => ({
        status: 401,
        headers: [
          ["www-authenticate", 'Bearer realm="auth"'],
          ["content-type", "text/plain"],
          ["x-reason", "expired"],
        ],
        body: "token expired",
      })),
    );
    const d = denied(await ask(configFor(s.port)));
    expect(d).toMatchObject({ status: 401, code: "extauth_denied", ...WHERE });
    expect(d.responseHeaders).toMatchObject({
      "www-authenticate": 'Bearer realm="auth"',
      "content-type": "text/plain",
      "x-reason": "expired",
    });
    expect(d.body).toBe("token expired");
  });

  it("only 200 allows: a 204 is a denial with status 204, as Envoy reads it", async () => {
    const s = await started(httpService(() => ({ status: 204 })));
    expect(denied(await ask(configFor(s.port)))).toMatchObject({ status: 204, code: "extauth_denied" });
  });

  it("a redirect goes to the client with its Location", async () => {
    const s = await started(httpService(() => ({ status: 302, headers: [["location", "https://login.example.com/"]] })));
    const d = denied(await ask(configFor(s.port)));
    expect(d.status).toBe(302);
    expect(d.responseHeaders.location).toBe("https://login.example.com/");
  });
});

describe("an HTTP service's header values are read as UTF-8 text, as every other value Portcullis sets", () => {
  const utf8Bytes = (text: string) => Buffer.from(text, "utf8").toString("latin1");

  it("an allow's headersToBackend and a denial's headers keep the service's non-ASCII text", async () => {
    const s = await started(
      httpService((asked) =>
        asked.path === "/deny"
          ? { status: 401, headers: [["www-authenticate", utf8Bytes('Bearer realm="caf\u00e9"')]] }
          : { status: 200, headers: [["x-current-user", utf8Bytes("Jos\u00e9 \u20ac")]] },
      ),
    );
    const config = configFor(s.port, { headersToBackend: ["x-current-user"] });
    expect(passedWith(await ask(config)).headers).toEqual({ "x-current-user": "Jos\u00e9 \u20ac" });
    expect(denied(await ask(config, request({ path: "/deny" }))).responseHeaders["www-authenticate"]).toBe('Bearer realm="caf\u00e9"');
  });
});

describe("a failing service is never an allow unless failOpen", () => {
  const failures: [string, () => Promise<{ port: number; timeoutMs?: number }>][] = [
    ["answers 503", async () => started(httpService(() => ({ status: 503, body: "down" })))],
    ["answers 500 with headers to set", async () => started(httpService(() => ({ status: 500, headers: [["x-current-user", "alice"]] })))],
    ["never answers (timeout)", async () => ({ ...(await started(httpService(() => "hang"))), timeoutMs: 150 })],
    ["refuses the connection", async () => ({ port: await refusingPort() })],
    ["resets the connection", async () => started(rawService((socket) => socket.resetAndDestroy()))],
    ["closes the connection without answering", async () => started(rawService((socket) => socket.once("data", () => socket.end())))],
    ["answers garbage", async () => started(rawService((socket) => socket.once("data", () => socket.end("HELLO WORLD\r\n\r\n"))))],
    [
      "answers a body larger than the bound",
      async () => started(httpService(() => ({ status: 403, body: Buffer.alloc(MAX_ANSWER_BYTES + 1, 97) }))),
    ],
  ];

  it.each(failures)("a service that %s: statusOnError (403 by default)", async (_what, start) => {
    const { port, timeoutMs } = await start();
    const started = Date.now();
    const d = denied(await ask(configFor(port, { timeoutMs: timeoutMs ?? 2000, headersToBackend: ["x-current-user"] })));
    expect(d).toMatchObject({ status: 403, code: "extauth_error" });
    expect(d.body).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("statusOnError sets the status", async () => {
    const s = await started(httpService(() => ({ status: 503 })));
    expect(denied(await ask(configFor(s.port, { statusOnError: 503 })))).toMatchObject({ status: 503, code: "extauth_error" });
  });

  it.each(failures)("a service that %s, with failOpen: passed, and nothing set upstream", async (_what, start) => {
    const { port, timeoutMs } = await start();
    const value = passedWith(
      await ask(configFor(port, { timeoutMs: timeoutMs ?? 2000, failOpen: true, headersToBackend: ["x-current-user"] })),
    );
    expect(value.headers).toEqual({});
    expect(value.strip).toEqual([]);
  });

  it("the reason names the failure, never what the service answered", async () => {
    const s = await started(httpService(() => ({ status: 503, headers: [["x-secret", "s3cr3t"]], body: "s3cr3t" })));
    const d = denied(await ask(configFor(s.port)));
    expect(d.message).toContain("answered 503");
    expect(JSON.stringify(d)).not.toContain("s3cr3t");
  });
});

describe("the check carries the bytes the proxy would send, whichever port the request came through", () => {
  // gRPC hands Portcullis text; the HTTP ports hand it bytes one per character (byteStrings).
  const utf8Bytes = (text: string) => Buffer.from(text, "utf8").toString("latin1");

  /** A service that records the bytes of the check it gets and answers 401 (Node's HTTP server refuses a target past ASCII). */
  async function recording(): Promise<TestService & { received: () => string }> {
    const chunks: Buffer[] = [];
    const s = await started(
      rawService((socket) =>
        socket.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          if (Buffer.concat(chunks).includes("\r\n\r\n")) socket.end("HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n");
        }),
      ),
    );
    return Object.assign(s, { received: () => Buffer.concat(chunks).toString("latin1") });
  }

  it("a text request's non-Latin-1 path, Host and header reach an HTTP service as their UTF-8 bytes, and its denial stands with failOpen", async () => {
    const s = await recording();
    const req = request({
      host: "caf\u00e9.example.com",
      path: "/r\u00e9sum\u00e9/\u20ac?q=\u20ac",
      headers: { authorization: "Bearer \u20ac" },
    });
    expect(denied(await ask(configFor(s.port, { failOpen: true }), req))).toMatchObject({ status: 401, code: "extauth_denied" });
    const sent = s.received();
    expect(sent.startsWith(`GET ${utf8Bytes("/r\u00e9sum\u00e9/\u20ac?q=\u20ac")} HTTP/1.1\r\n`)).toBe(true);
    expect(sent).toContain(`\r\nhost: ${utf8Bytes("caf\u00e9.example.com")}\r\n`);
    expect(sent).toContain(`\r\nauthorization: ${utf8Bytes("Bearer \u20ac")}\r\n`);
  });

  it("a byte-string request's bytes reach an HTTP service unchanged", async () => {
    const s = await recording();
    const req = request({ byteStrings: true, path: utf8Bytes("/\u20ac"), headers: { authorization: utf8Bytes("Bearer \u20ac\u00e9") } });
    expect(denied(await ask(configFor(s.port), req))).toMatchObject({ status: 401, code: "extauth_denied" });
    expect(s.received().startsWith(`GET ${utf8Bytes("/\u20ac")} HTTP/1.1\r\n`)).toBe(true);
    expect(s.received()).toContain(`\r\nauthorization: ${utf8Bytes("Bearer \u20ac\u00e9")}\r\n`);
  });

  it("a byte-string request reaches a gRPC service as text, as Envoy's CheckRequest carries it", async () => {
    const s = await started(grpcService(() => ({ status: { code: 0 }, ok_response: {} })));
    const req = request({
      byteStrings: true,
      host: utf8Bytes("caf\u00e9.example.com"),
      path: utf8Bytes("/\u20ac"),
      headers: { "x-tenant": utf8Bytes("\u00e9t\u00e9") },
    });
    passedWith(await ask(configFor(s.port, { protocol: "grpc" }), req));
    const http = (s.requests[0]!.attributes as Record<string, any>).request.http;
    expect(http).toMatchObject({ path: "/\u20ac", host: "caf\u00e9.example.com" });
    expect(http.headers).toMatchObject({ ":path": "/\u20ac", ":authority": "caf\u00e9.example.com", "x-tenant": "\u00e9t\u00e9" });
  });

  it.each<[string, Partial<AuthzRequest>]>([
    ["a header value with CR LF", { headers: { authorization: "Bearer a\r\nx-injected: 1" } }],
    ["a header value with NUL", { headers: { authorization: "Bearer a\u0000b" } }],
    ["a path with a space", { path: "/reports HTTP/1.1\r\nx: y" }],
  ])("%s, which no HTTP message can carry, is refused (400) without asking, even with failOpen", async (_what, overrides) => {
    const s = await started(httpService(() => ({ status: 200 })));
    const d = denied(await ask(configFor(s.port, { failOpen: true }), request(overrides)));
    expect(d).toMatchObject({ status: 400, code: "request_invalid" });
    expect(s.asked).toHaveLength(0);
  });
});

describe("a gRPC service", () => {
  const OK = { status: { code: 0 }, ok_response: {} };

  it("gets the peer Envoy stated as Envoy would send it: a pipe as a pipe, not as an IP address", async () => {
    const s = await started(grpcService(() => OK));
    passedWith(await ask(configFor(s.port, { protocol: "grpc" }), request({ clientAddress: "pipe:/run/envoy.sock" })));
    const source = (s.requests[0]!.attributes as Record<string, any>).source.address;
    expect(source.pipe).toMatchObject({ path: "/run/envoy.sock" });
    expect(source.socket_address).toBeUndefined();
  });

  it("gets Envoy's CheckRequest: request attributes, allowed headers, context extensions and the route", async () => {
    const s = await started(grpcService(() => OK));
    const config = configFor(s.port, {
      protocol: "grpc",
      headersToExtAuth: ["x-tenant"],
      contextExtensions: { tenant: "acme" },
      includeRouteMetadata: true,
    });
    passedWith(await ask(config, request({ port: 8443, clientAddress: "203.0.113.7" })));
    const attributes = s.requests[0]!.attributes as Record<string, any>;
    expect(attributes.request.http).toMatchObject({ method: "GET", path: "/reports/7?full=1", host: "api.example.com", scheme: "https" });
    expect(attributes.request.http.headers).toEqual({
      ":authority": "api.example.com",
      ":method": "GET",
      ":path": "/reports/7?full=1",
      ":scheme": "https",
      "x-tenant": "acme",
      [LOOP_HEADER]: "1",
    });
    expect(attributes.context_extensions).toEqual({ tenant: "acme" });
    expect(attributes.source.address.socket_address.address).toBe("203.0.113.7");
    expect(attributes.destination.address.socket_address.port_value).toBe(8443);
    const resource =
      attributes.route_metadata_context.filter_metadata["envoy-gateway"].fields.resources.listValue.values[0].structValue.fields;
    expect(resource).toMatchObject({
      kind: { stringValue: "HTTPRoute" },
      namespace: { stringValue: "apps" },
      name: { stringValue: "api" },
      sectionName: { stringValue: "reports" },
    });
  });

  it("without headersToExtAuth, every header goes in the CheckRequest", async () => {
    const s = await started(grpcService(() => OK));
    passedWith(await ask(configFor(s.port, { protocol: "grpc" })));
    const headers = (s.requests[0]!.attributes as Record<string, any>).request.http.headers;
    expect(headers).toMatchObject({ authorization: "Bearer t0k3n", "x-other": "not sent", cookie: "s=1" });
  });

  it("OK: its headers are set (or appended, or added if absent) and headers_to_remove removed", async () => {
    const s = await started(
      grpcService(() => ({
        status: { code: 0 },
        ok_response: {
          headers: [
            { header: { key: "x-current-user", value: "alice" } },
            { header: { key: "x-tenant", value: "beta" }, append: { value: true } },
            { header: { key: "x-other", value: "ignored" }, append_action: 1 },
            { header: { key: "host", value: "evil.example.com" } },
          ],
          headers_to_remove: ["authorization", ":path"],
          response_headers_to_add: [{ header: { key: "x-checked", value: "yes" } }],
        },
      })),
    );
    const value = passedWith(await ask(configFor(s.port, { protocol: "grpc" })));
    expect(value.headers).toEqual({ "x-current-user": "alice", "x-tenant": "acme,beta" });
    expect(value.strip).toEqual(["authorization"]);
  });

  it("a denial is passed on: its status, headers and body (403 when it names no status)", async () => {
    const s = await started(
      grpcService((r) =>
        (r.attributes as Record<string, any>).request.http.path === "/plain"
          ? { status: { code: 7 } }
          : {
              status: { code: 16 },
              denied_response: { status: { code: 401 }, headers: [{ header: { key: "www-authenticate", value: "Bearer" } }], body: "no" },
            },
      ),
    );
    const d = denied(await ask(configFor(s.port, { protocol: "grpc" })));
    expect(d).toMatchObject({ status: 401, code: "extauth_denied", responseHeaders: { "www-authenticate": "Bearer" } });
    expect(d.body).toBe("no");
    expect(denied(await ask(configFor(s.port, { protocol: "grpc" }), request({ path: "/plain" })))).toMatchObject({ status: 403 });
  });

  it("an OK's framing and connection headers go neither upstream nor to the client", async () => {
    const set = (key: string, value: string) => ({ header: { key, value } });
    const framing = [set("Transfer-Encoding", "chunked"), set("content-length", "5"), set("connection", "close"), set("x-tenant", "acme")];
    const s = await started(
      grpcService(() => ({ status: { code: 0 }, ok_response: { headers: framing, response_headers_to_add: framing } })),
    );
    const pass = passedWith(await ask(configFor(s.port, { protocol: "grpc" })));
    expect(pass.headers).toEqual({ "x-tenant": "acme" });
    expect(pass.responseHeaders).toEqual({ "x-tenant": "acme" });
  });

  it("an OK that would change the query is an error: Portcullis cannot carry it out", async () => {
    const s = await started(grpcService(() => ({ status: { code: 0 }, ok_response: { query_parameters_to_remove: ["debug"] } })));
    expect(denied(await ask(configFor(s.port, { protocol: "grpc" })))).toMatchObject({ status: 403, code: "extauth_error" });
  });

  it.each<[string, () => Promise<{ port: number; timeoutMs?: number }>]>([
    ["never answers (deadline)", async () => ({ port: (await started(grpcService(() => "hang"))).port, timeoutMs: 150 })],
    ["refuses the connection", async () => ({ port: await refusingPort() })],
    [
      "answers garbage",
      async () => ({ port: (await started(rawService((socket) => socket.once("data", () => socket.end("garbage\r\n"))))).port }),
    ],
  ])("a gRPC service that %s: statusOnError, or a pass with failOpen", async (_what, start) => {
    const { port, timeoutMs } = await start();
    const config = configFor(port, { protocol: "grpc", timeoutMs: timeoutMs ?? 1000 });
    expect(denied(await ask(config))).toMatchObject({ status: 403, code: "extauth_error" });
    expect(passedWith(await ask({ ...config, failOpen: true })).headers).toEqual({});
  });
});

describe("a second Portcullis as the service (its HTTP ext_authz and gRPC ports)", () => {
  let inner: TestApp;
  beforeAll(async () => {
    // The service's own policy: alice's API key in X-API-Key, her client id upstream as x-client-id.
    inner = await startTestApp({
      "world.yaml": `${gatewayWithRoute("api.example.com")}---\n${aliceKeyPolicy("keys", undefined, "forwardClientIDHeader: x-client-id")}`,
    });
  });
  afterAll(() => inner.close());

  const http = () =>
    configFor(inner.ports.authz, {
      headersToExtAuth: ["x-api-key"],
      headersToBackend: ["x-client-id"],
      service: serviceAt(inner.ports.authz, "http"),
    });
  const grpc = () => configFor(inner.ports.grpc, { protocol: "grpc", service: serviceAt(inner.ports.grpc, "grpc") });
  const withKey = (key: string) => request({ scheme: "http", path: "/reports", headers: { "x-api-key": key, "x-client-id": "mallory" } });

  it("HTTP: a valid key passes with the client id the service vouches for", async () => {
    const value = passedWith(await ask(http(), withKey("alice-key")));
    expect(value.headers).toEqual({ "x-client-id": "alice" });
  });

  it("HTTP: a wrong key is the service's own 401, body included, passed on as it wrote it", async () => {
    const d = denied(await ask(http(), withKey("wrong")));
    expect(d).toMatchObject({ status: 401, code: "extauth_denied" });
    expect(JSON.parse(d.body!)).toMatchObject({ code: "apikey_invalid" });
  });

  it("HTTP: without headersToExtAuth the key never reaches the service, which refuses", async () => {
    const d = denied(await ask({ ...http(), headersToExtAuth: undefined }, withKey("alice-key")));
    expect(JSON.parse(d.body!)).toMatchObject({ code: "apikey_missing" });
  });

  it("gRPC: a valid key passes with the service's headers; a wrong one is its 401", async () => {
    expect(passedWith(await ask(grpc(), withKey("alice-key"))).headers).toEqual({ "x-client-id": "alice" });
    const d = denied(await ask(grpc(), withKey("wrong")));
    expect(d).toMatchObject({ status: 401, code: "extauth_denied" });
    expect(JSON.parse(d.body!)).toMatchObject({ code: "apikey_invalid" });
  });
});

function serviceAt(port: number, protocol: string): CompiledExtAuth["service"] {
  return {
    key: `portcullis ${protocol} ${port}`,
    endpoints: [{ host: "127.0.0.1", port, weight: 1 }],
    names: [`Backend apps/portcullis`],
    tls: undefined,
  };
}

describe("a check that comes from a Portcullis extAuth call never asks a service in turn", () => {
  it("every check sent carries the loop header, over HTTP and gRPC", async () => {
    const h = await started(httpService(() => ({ status: 200 })));
    passedWith(await ask(configFor(h.port)));
    expect(h.asked[0]!.headers[LOOP_HEADER]).toBe("1");
    const g = await started(grpcService(() => ({ status: { code: 0 }, ok_response: {} })));
    passedWith(await ask(configFor(g.port, { protocol: "grpc" })));
    const sent = g.requests[0] as { attributes: { request: { http: { headers: Record<string, string> } } } };
    expect(sent.attributes.request.http.headers[LOOP_HEADER]).toBe("1");
  });

  it("a check carrying it is denied with statusOnError, without asking, even with failOpen (a client may send it)", async () => {
    const s = await started(httpService(() => ({ status: 200 })));
    const looped = request({ headers: { [LOOP_HEADER]: "1" } });
    for (const config of [configFor(s.port), configFor(s.port, { failOpen: true, statusOnError: 503 })]) {
      const d = denied(await ask(config, looped));
      expect(d).toMatchObject({ status: config.statusOnError, code: "extauth_error" });
      expect(d.message).toContain("loop");
    }
    expect(s.asked).toHaveLength(0);
  });

  it("a Portcullis whose policy's extAuth names its own port answers in one round trip, denied", async () => {
    // As when Envoy Gateway's extAuth points at Portcullis and Portcullis reads that policy too.
    const app = await startTestApp({ "world.yaml": gatewayWithRoute("api.example.com") });
    try {
      app.write(
        "self.yaml",
        `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: portcullis, namespace: apps}
spec: {endpoints: [{ip: {address: 127.0.0.1, port: ${app.ports.authz}}}]}
---
${securityPolicy(
  "self",
  `
  extAuth: {http: {backendRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: portcullis}]}, timeout: 5s}
`,
)}`,
      );
      const url = `http://127.0.0.1:${app.ports.authz}/reports`;
      await within(10_000, async () => (await send(url, { headers: { host: "api.example.com" } })).status !== 200);
      const started = Date.now();
      const answer = await send(url, { headers: { host: "api.example.com" } });
      expect(answer.status).toBe(403);
      // Without the guard each nested call would ask again until the first one's 5 s timeout.
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await app.close();
    }
  });
});

describe("the check carries the body as Envoy's does", () => {
  it("with a body: x-envoy-auth-partial-body: false (HTTP and gRPC); a client's own copy is never passed on", async () => {
    const h = await started(httpService(() => ({ status: 200 })));
    const g = await started(grpcService(() => ({ status: { code: 0 }, ok_response: {} })));
    const post = request({
      method: "POST",
      body: Buffer.from("12345"),
      headers: { "content-length": "5", "x-envoy-auth-partial-body": "true", "x-tenant": "acme" },
    });
    const headersToExtAuth = ["x-envoy-auth-partial-body", "x-tenant"];
    passedWith(await ask(configFor(h.port, { maxRequestBytes: 64, headersToExtAuth }), post));
    passedWith(await ask(configFor(g.port, { protocol: "grpc", maxRequestBytes: 64 }), post));
    expect(h.asked[0]!.headers).toMatchObject({ "x-envoy-auth-partial-body": "false", "content-length": "5", "x-tenant": "acme" });
    const sent = g.requests[0] as { attributes: { request: { http: { headers: Record<string, string> } } } };
    expect(sent.attributes.request.http.headers).toMatchObject({ "x-envoy-auth-partial-body": "false", "x-tenant": "acme" });
  });

  it("without a body (or without bodyToExtAuth): no x-envoy-auth-partial-body, not even the client's", async () => {
    const h = await started(httpService(() => ({ status: 200 })));
    const g = await started(grpcService(() => ({ status: { code: 0 }, ok_response: {} })));
    const get = request({ headers: { "x-envoy-auth-partial-body": "false" } });
    passedWith(await ask(configFor(h.port, { maxRequestBytes: 64, headersToExtAuth: ["x-envoy-auth-partial-body"] }), get));
    passedWith(await ask(configFor(g.port, { protocol: "grpc" }), get));
    expect(h.asked[0]!.headers["x-envoy-auth-partial-body"]).toBeUndefined();
    const sent = g.requests[0] as { attributes: { request: { http: { headers: Record<string, string> } } } };
    expect(sent.attributes.request.http.headers["x-envoy-auth-partial-body"]).toBeUndefined();
  });
});

describe("a denial's Set-Cookie lines stay one cookie each (never comma-joined, RFC 6265 §3)", () => {
  const COOKIES = ["a=1; Path=/; Expires=Wed, 09 Jun 2027 10:18:14 GMT", "b=2; Path=/; HttpOnly"];

  it("from an HTTP service", async () => {
    const s = await started(httpService(() => ({ status: 401, headers: COOKIES.map((c): [string, string] => ["set-cookie", c]) })));
    const d = denied(await ask(configFor(s.port)));
    expect(d.cookies).toEqual(COOKIES);
    expect(d.responseHeaders["set-cookie"]).toBeUndefined();
  });

  it("from a gRPC service, one HeaderValueOption each, whatever their append action", async () => {
    const s = await started(
      grpcService(() => ({
        status: { code: 7 },
        denied_response: {
          status: { code: 401 },
          headers: [
            { header: { key: "Set-Cookie", value: COOKIES[0] }, append_action: 0 },
            { header: { key: "set-cookie", value: COOKIES[1] } },
          ],
        },
      })),
    );
    expect(denied(await ask(configFor(s.port, { protocol: "grpc" }))).cookies).toEqual(COOKIES);
  });

  it("through Portcullis' ports: Envoy HTTP ext_authz and forward-auth send two Set-Cookie lines, gRPC two HeaderValueOptions", async () => {
    const s = await started(httpService(() => ({ status: 401, headers: COOKIES.map((c): [string, string] => ["set-cookie", c]) })));
    const app = await startTestApp({
      "world.yaml": extAuthBackendWorld(s.port, "{http: {backendRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: authz}]}}"),
    });
    try {
      const envoy = await send(`http://127.0.0.1:${app.ports.authz}/reports`, { headers: { host: "api.example.com" } });
      expect([envoy.status, envoy.headers["set-cookie"]]).toEqual([401, COOKIES]);
      const forwarded = await send(`http://127.0.0.1:${app.ports.forwardAuth}/`, {
        headers: { "x-forwarded-method": "GET", "x-forwarded-uri": "/reports", "x-forwarded-host": "api.example.com" },
      });
      expect([forwarded.status, forwarded.headers["set-cookie"]]).toEqual([401, COOKIES]);
      const answer = await transport.grpc(
        serviceAt(app.ports.grpc, "grpc"),
        { attributes: { request: { http: { method: "GET", host: "api.example.com", path: "/reports", headers: {} } } } },
        2000,
      );
      if (!answer.ok) throw new Error(answer.error);
      const options = (answer.answer as { denied_response: { headers: { header: { key: string; value: string } }[] } }).denied_response
        .headers;
      expect(options.filter((o) => o.header.key === "set-cookie").map((o) => o.header.value)).toEqual(COOKIES);
    } finally {
      await app.close();
    }
  });
});

describe("TLS towards the service", () => {
  it("the server is named (SNI) and verified as the BackendTLSPolicy's hostname, not as the client's Host", async () => {
    const ca = createTestCa();
    const certificate = ca.issue("authz.internal");
    const server = createHttpsServer({ key: certificate.keyPem, cert: certificate.certPem }, (req, res) =>
      res.writeHead(200, { "x-sni": (req.socket as TLSSocket).servername || "" }).end(),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const tls = { caPem: ca.certPem, serverName: "authz.internal" };
      const config = configFor(port, {
        service: { key: `tls ${port}`, endpoints: [{ host: "127.0.0.1", port, weight: 1 }], names: ["Backend apps/authz"], tls },
        headersToBackend: ["x-sni"],
      });
      expect(passedWith(await ask(config)).headers).toEqual({ "x-sni": "authz.internal" });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("the hook-up: an extAuth naming this Portcullis' own Service (--self-service)", () => {
  const world = policiesOnRules(
    "api.example.com",
    { p: { path: "/", features: { extAuth: HOOK_UP_WORLD.extAuth } } },
    HOOK_UP_WORLD.service,
  );
  const self = HOOK_UP_WORLD.options;

  it("is not called (the check is already that call): the phase passes, and the trace names it", async () => {
    const decide = decider(world, { extAuth: transport }, self);
    const explained = await decide.explain({ path: "/reports", headers: { [LOOP_HEADER]: "1" } });
    expect(explained.decision).toMatchObject({ status: 200, code: "allowed" });
    expect(explained.trace.steps.find((s) => s.phase === "extAuth")).toMatchObject({
      service: `${HOOK_UP}: Service apps/portcullis:9001`,
      result: "pass",
    });
  });

  it("without --self-service the same policy is a call to Portcullis, refused as a loop when it comes from one", async () => {
    const decide = decider(world, { extAuth: transport });
    expect(await decide({ path: "/reports", headers: { [LOOP_HEADER]: "1" } })).toMatchObject({ status: 403, code: "extauth_error" });
  });
});
