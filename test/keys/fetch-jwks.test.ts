import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchJwks } from "../../controller/keys/fetch-jwks.ts";
import type { JwksRetry } from "../../controller/keys/types.ts";
import { createTestCa, type TestCa } from "../support/test-ca.ts";
import { jwks, makeKey, startJwksServer, type JwksServer, type TestKey } from "./helpers.ts";

const limits = { timeoutMs: 1000, maxBodyBytes: 64 * 1024 };
let server: JwksServer;
let key: TestKey;

beforeAll(async () => {
  key = await makeKey("k1");
  server = await startJwksServer({ kind: "jwks", doc: jwks(key) });
});
afterAll(() => server.close());

async function reasonFor(path: string, options = limits): Promise<string> {
  const result = await fetchJwks(server.url(path), options);
  expect(result.ok).toBe(false);
  return result.ok ? "" : result.reason;
}

describe("fetchJwks", () => {
  it("fetches and parses a JWKS into verification keys", async () => {
    const result = await fetchJwks(server.url(), limits);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.keys.map((k) => k.kid)).toEqual(["k1"]);
    expect(result.keys[0]?.key.type).toBe("public");
  });

  it("reports a non-200 status", async () => {
    server.set({ kind: "status", status: 503 }, "/down");
    expect(await reasonFor("/down")).toBe("HTTP 503 Service Unavailable");
  });

  it("reports invalid JSON without quoting the body", async () => {
    server.set({ kind: "raw", body: "<html>secret-looking stuff</html>" }, "/garbage");
    const reason = await reasonFor("/garbage");
    expect(reason).toBe("JWKS is not valid JSON");
  });

  it("reports JSON without keys and a set without usable keys", async () => {
    server.set({ kind: "raw", body: '{"issuer":"x"}' }, "/nokeys");
    expect(await reasonFor("/nokeys")).toMatch(/"keys" array/);
    server.set({ kind: "jwks", doc: { keys: [] } }, "/empty");
    expect(await reasonFor("/empty")).toMatch(/no usable signing key/);
    server.set({ kind: "jwks", doc: { keys: [{ ...key.jwk, use: "enc" }] } }, "/enc");
    expect(await reasonFor("/enc")).toMatch(/no usable signing key.*use is "enc"/);
  });

  it("refuses a body over the limit announced by Content-Length without reading it", async () => {
    server.set({ kind: "huge", bytes: 10 * 1024 * 1024, declareLength: true }, "/huge-declared");
    expect(await reasonFor("/huge-declared")).toBe("body exceeds 65536 bytes");
  });

  it("stops reading a chunked body as soon as it exceeds the limit", async () => {
    const before = server.hugeBytesWritten();
    server.set({ kind: "huge", bytes: 200 * 1024 * 1024, declareLength: false }, "/huge-chunked");
    const started = performance.now();
    expect(await reasonFor("/huge-chunked")).toBe("body exceeds 65536 bytes");
    expect(performance.now() - started).toBeLessThan(limits.timeoutMs);
    // The server could not push anywhere near 200 MiB: the client cancelled the stream.
    await new Promise((r) => setTimeout(r, 100));
    expect(server.hugeBytesWritten() - before).toBeLessThan(50 * 1024 * 1024);
  });

  it("times out a server that never answers, within the bound", async () => {
    server.set({ kind: "hang", ms: 30_000 }, "/hang");
    const started = performance.now();
    expect(await reasonFor("/hang", { ...limits, timeoutMs: 300 })).toBe("timed out after 300 ms");
    expect(performance.now() - started).toBeLessThan(300 + 1500);
  });

  it("times out a body that trickles forever (the deadline covers the body)", async () => {
    server.set({ kind: "trickle", everyMs: 50 }, "/trickle");
    const started = performance.now();
    expect(await reasonFor("/trickle", { ...limits, timeoutMs: 300 })).toBe("timed out after 300 ms");
    expect(performance.now() - started).toBeLessThan(300 + 1500);
  });

  it("refuses to follow a redirect", async () => {
    server.set({ kind: "redirect", location: server.url("/") }, "/moved");
    const before = server.hits("/");
    expect(await reasonFor("/moved")).toMatch(/redirect/);
    expect(server.hits("/")).toBe(before);
  });

  it("reports a refused connection", async () => {
    const closed = await startJwksServer({ kind: "status", status: 500 });
    const url = closed.url();
    await closed.close();
    const result = await fetchJwks(url, limits);
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/ECONNREFUSED/) });
  });

  it("accepts only http and https URIs, without I/O", async () => {
    for (const uri of ["file:///etc/passwd", "ftp://127.0.0.1/jwks", "data:application/json,{}"]) {
      expect(await fetchJwks(uri, limits)).toEqual({ ok: false, reason: expect.stringMatching(/unsupported URI scheme/) });
    }
    expect(await fetchJwks("not a uri", limits)).toEqual({ ok: false, reason: "invalid URI" });
    expect(await fetchJwks("http://u:p@127.0.0.1/", limits)).toEqual({ ok: false, reason: "URI must not contain credentials" });
  });

  it("returns at once when already aborted", async () => {
    const result = await fetchJwks(server.url(), { ...limits, signal: AbortSignal.abort() });
    expect(result).toEqual({ ok: false, reason: "aborted" });
  });
});

describe("fetchJwks over HTTPS with a private CA (BackendTLSPolicy / Backend tls)", () => {
  let ca: TestCa;
  let issuer: JwksServer;
  beforeAll(async () => {
    ca = createTestCa();
    // The issuer's certificate names its in-cluster name only, as a cluster-internal issuer's would.
    issuer = await startJwksServer({ kind: "jwks", doc: jwks(key) }, ca.issue("issuer.idp.svc.cluster.local"));
  });
  afterAll(() => issuer.close());
  const port = () => Number(new URL(issuer.origin).port);
  const inCluster = () => `https://issuer.idp.svc.cluster.local:${port()}/jwks.json`;
  const endpoints = () => [{ host: "127.0.0.1", port: port() }];

  it("fetches the keys when the CA is trusted and the server's name is the URI's host", async () => {
    const result = await fetchJwks(inCluster(), { ...limits, connection: { endpoints: endpoints(), tls: { caPem: ca.certPem } } });
    expect(result.ok && result.keys.map((k) => k.kid)).toEqual(["k1"]);
  });

  it("verifies the certificate for the TLS hostname (SNI) when it is not the URI's host", async () => {
    const connection = { tls: { caPem: ca.certPem, serverName: "issuer.idp.svc.cluster.local" } };
    const result = await fetchJwks(issuer.url("/jwks.json"), { ...limits, connection });
    expect(result.ok).toBe(true);
  });

  it("refuses the server without the private CA (system trust store): fail closed with the certificate error", async () => {
    const result = await fetchJwks(inCluster(), { ...limits, connection: { endpoints: endpoints() } });
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|unable to verify/i) });
  });

  it("refuses a server whose certificate another CA signed", async () => {
    const other = createTestCa("Another CA");
    const result = await fetchJwks(inCluster(), { ...limits, connection: { endpoints: endpoints(), tls: { caPem: other.certPem } } });
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i) });
  });

  it("accepts a certificate carrying one of the subjectAltNames asked for instead of the SNI name, and refuses one carrying none", async () => {
    const tls = (hostname: string) => ({
      caPem: ca.certPem,
      serverName: "jwks.example",
      subjectAltNames: [{ uri: "spiffe://x" }, { hostname }],
    });
    const carrying = await fetchJwks(inCluster(), {
      ...limits,
      connection: { endpoints: endpoints(), tls: tls("issuer.idp.svc.cluster.local") },
    });
    expect(carrying.ok).toBe(true);
    const lacking = await fetchJwks(inCluster(), { ...limits, connection: { endpoints: endpoints(), tls: tls("jwks.example") } });
    expect(lacking).toEqual({ ok: false, reason: expect.stringMatching(/ERR_TLS_CERT_ALTNAME_INVALID/) });
  });

  it("refuses a certificate that does not name the host asked for", async () => {
    const connection = { endpoints: endpoints(), tls: { caPem: ca.certPem, serverName: "other.idp.svc.cluster.local" } };
    const result = await fetchJwks(inCluster(), { ...limits, connection });
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/ERR_TLS_CERT_ALTNAME_INVALID/) });
  });
});

describe("fetchJwks retries (backendSettings.retry, Envoy retry_on)", () => {
  const retry = (on: string[], numRetries = 2): JwksRetry => ({ numRetries, baseIntervalMs: 20, maxIntervalMs: 50, on });
  const failing = (path: string, ...first: Parameters<JwksServer["set"]>[0][]) =>
    server.set({ kind: "sequence", steps: [...first, { kind: "jwks", doc: jwks(key) }] }, path);

  it("retries a 503 on 5xx and gets the keys on the third attempt", async () => {
    failing("/r503", { kind: "status", status: 503 }, { kind: "status", status: 503 });
    const result = await fetchJwks(server.url("/r503"), { ...limits, connection: { retry: retry(["5xx"]) } });
    expect(result.ok).toBe(true);
    expect(server.hits("/r503")).toBe(3);
  });

  it("gives up after numRetries, naming how many attempts were made", async () => {
    server.set({ kind: "status", status: 502 }, "/always502");
    const result = await fetchJwks(server.url("/always502"), { ...limits, connection: { retry: retry(["gateway-error"], 3) } });
    expect(result).toEqual({ ok: false, reason: "HTTP 502 Bad Gateway (4 attempts)" });
    expect(server.hits("/always502")).toBe(4);
  });

  it("does not retry a status its triggers do not name", async () => {
    failing("/r500", { kind: "status", status: 500 });
    const result = await fetchJwks(server.url("/r500"), { ...limits, connection: { retry: retry(["gateway-error", "connect-failure"]) } });
    expect(result).toEqual({ ok: false, reason: "HTTP 500 Internal Server Error" });
    expect(server.hits("/r500")).toBe(1);
  });

  it("retries a connection closed without an answer on reset", async () => {
    failing("/reset", { kind: "reset" });
    const result = await fetchJwks(server.url("/reset"), { ...limits, connection: { retry: retry(["reset"]) } });
    expect(result.ok).toBe(true);
    expect(server.hits("/reset")).toBe(2);
  });

  it("retries a refused connection on connect-failure, on the next endpoint", async () => {
    const closed = await startJwksServer({ kind: "status", status: 500 });
    const closedPort = Number(new URL(closed.origin).port);
    await closed.close();
    const endpoints = [
      { host: "127.0.0.1", port: closedPort },
      { host: "127.0.0.1", port: Number(new URL(server.origin).port) },
    ];
    const before = server.hits();
    const result = await fetchJwks(`http://jwks.example.internal:${closedPort}/`, {
      ...limits,
      connection: { endpoints, retry: retry(["connect-failure"]) },
    });
    expect(result.ok).toBe(true);
    expect(server.hits()).toBe(before + 1);
  });

  it("never retries without a retry policy (Envoy's default)", async () => {
    failing("/once", { kind: "status", status: 503 });
    expect(await fetchJwks(server.url("/once"), limits)).toEqual({ ok: false, reason: "HTTP 503 Service Unavailable" });
    expect(server.hits("/once")).toBe(1);
  });

  it("bounds every attempt and backoff by one deadline (requestTimeout)", async () => {
    server.set({ kind: "status", status: 503 }, "/slow-retries");
    const started = performance.now();
    const connection = { requestTimeoutMs: 250, retry: { numRetries: 100, baseIntervalMs: 100, maxIntervalMs: 100, on: ["5xx"] } };
    const result = await fetchJwks(server.url("/slow-retries"), { ...limits, connection });
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/^timed out after 250 ms \(\d+ attempts\)$/) });
    expect(performance.now() - started).toBeLessThan(250 + 1000);
  });
});
