import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchJwks } from "../../controller/keys/fetch-jwks.ts";
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
