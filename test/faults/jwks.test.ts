/**
 * JWKS endpoint faults against the real `portcullis serve` process: down from the start, failing
 * after a good fetch (503), garbage, a huge body, a hang, then recovery with a rotated key. In
 * every phase: answers come in bounded time, the last good keys keep valid tokens working, a
 * forged token is never allowed, and metrics and logs say what happened (without a token in them).
 */
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startJwksServer, type JwksServer } from "../keys/helpers.ts";
import { mint, signingKey, type SigningKey } from "../support/tokens.ts";
import { ask, get, serve, until, type Served } from "./process.ts";
import { GATEWAY } from "../support/manifests.ts";

const ISSUER = "https://idp.test";
const TIMEOUT_MS = 500;
let jwks: JwksServer;
let app: Served;
let key: SigningKey;
let forger: SigningKey;
const minted: string[] = [];

const route = (name: string, uri: string) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: apps}
spec: {parentRefs: [{name: gw}], hostnames: [${name}.test]}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: ${name}, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: ${name}}]
  jwt: {providers: [{name: idp, issuer: ${ISSUER}, remoteJWKS: {uri: "${uri}", cacheDuration: 1s}, claimToHeaders: [{claim: sub, header: x-user-id}]}]}
`;

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function token(k: SigningKey, sub: string): Promise<string> {
  const t = await mint(k, { iss: ISSUER, sub });
  minted.push(t);
  return t;
}
const call = async (host: string, k: SigningKey, sub: string) =>
  ask(app.authz, "/", { host, authorization: `Bearer ${await token(k, sub)}` });
/** Waits for a new warn line from the key store whose reason contains `reason`. */
const warned = (reason: string, after: number) =>
  until(6000, `a JWKS warning with "${reason}"`, () =>
    app
      .logs()
      .slice(after)
      .some((l) => l.level === 40 && String(l.reason).includes(reason)),
  );

beforeAll(async () => {
  key = await signingKey("k1", "RS256");
  forger = await signingKey("k1", "RS256");
  jwks = await startJwksServer({ kind: "jwks", doc: { keys: [key.publicJwk] } });
  app = await serve(
    { "world.yaml": GATEWAY + route("good", jwks.url("/good")) + route("down", `http://127.0.0.1:${await closedPort()}/jwks`) },
    ["--jwks-fetch-timeout-ms", String(TIMEOUT_MS)],
  );
  // serve() returns once the ports listen; until the first snapshot is published every check is not_ready.
  await until(10_000, "ready", async () => (await get(app.admin, "/readyz")) === "ready\n");
});
afterAll(async () => {
  await app?.close();
  await jwks?.close();
});

describe("JWKS endpoint faults", () => {
  it("down from the start: a quick 401, an error metric and a warning naming the cause", async () => {
    const r = await call("down.test", key, "alice");
    expect([r.status, r.code]).toEqual([401, "jwt_invalid"]);
    expect(r.ms).toBeLessThan(2000);
    expect(await app.metric("portcullis_jwks_fetches_total", { outcome: "error" })).toBeGreaterThanOrEqual(1);
    // The log line comes through the process' stdout, which may arrive after the answer.
    const failed = (l: { msg: string }) => l.msg === "JWKS fetch failed; no keys for this URI";
    await until(6000, "the warning logged", () => app.logs().some(failed));
    expect(String(app.logs().find(failed)!.reason)).toContain("ECONNREFUSED");
  });

  it("failing after a good fetch (503): the last good keys stay in force, a forged token is refused", async () => {
    expect((await call("good.test", key, "alice")).headers["x-user-id"]).toBe("alice");
    const errors = await app.metric("portcullis_jwks_fetches_total", { outcome: "error" });
    const after = app.logs().length;
    jwks.set({ kind: "status", status: 503 }, "/good");
    await warned("HTTP 503", after);
    expect(await app.metric("portcullis_jwks_fetches_total", { outcome: "error" })).toBeGreaterThan(errors);
    expect(
      app
        .logs()
        .slice(after)
        .some((l) => l.msg === "JWKS fetch failed; keeping the last good keys"),
    ).toBe(true);
    expect((await call("good.test", key, "bob")).status).toBe(200);
    expect((await call("good.test", forger, "mallory")).status).toBe(401);
  });

  it("garbage: refused with a reason that quotes nothing; keys kept", async () => {
    const after = app.logs().length;
    jwks.set({ kind: "raw", body: "{not json at all" }, "/good");
    await warned("JWKS is not valid JSON", after);
    expect((await call("good.test", key, "carol")).status).toBe(200);
    expect((await call("good.test", forger, "mallory")).status).toBe(401);
  });

  it("a huge body: reading stops at the 1 MiB cap; keys kept", async () => {
    const after = app.logs().length;
    jwks.set({ kind: "huge", bytes: 64 * 1024 * 1024, declareLength: false }, "/good");
    await warned("body exceeds 1048576 bytes", after);
    expect(jwks.hugeBytesWritten()).toBeLessThan(16 * 1024 * 1024);
    expect((await call("good.test", key, "dave")).status).toBe(200);
  });

  it("a hang: the fetch is cut at its timeout; known keys answer at once, an unknown kid waits at most the timeout", async () => {
    const after = app.logs().length;
    jwks.set({ kind: "hang", ms: 30_000 }, "/good");
    await warned(`timed out after ${TIMEOUT_MS} ms`, after);
    const known = await call("good.test", key, "erin");
    expect(known.status).toBe(200);
    expect(known.ms).toBeLessThan(TIMEOUT_MS);
    const stranger = await call("good.test", await signingKey("new-kid", "RS256"), "frank");
    expect([stranger.status, stranger.code]).toEqual([401, "jwt_invalid"]);
    expect(stranger.ms).toBeLessThan(TIMEOUT_MS + 1500);
  });

  it("recovers: a rotated key is picked up on the next refresh", async () => {
    const rotated = await signingKey("k2", "RS256");
    const successes = await app.metric("portcullis_jwks_fetches_total", { outcome: "success" });
    jwks.set({ kind: "jwks", doc: { keys: [key.publicJwk, rotated.publicJwk] } }, "/good");
    await until(6000, "the rotated key verifies", async () => (await call("good.test", rotated, "grace")).status === 200);
    expect(await app.metric("portcullis_jwks_fetches_total", { outcome: "success" })).toBeGreaterThan(successes);
  });

  it("logged no token, and wrote an audit line for the denials", () => {
    const out = app.output();
    for (const t of minted) expect(out.includes(t.split(".")[2]!)).toBe(false);
    expect(app.logs().filter((l) => l.audit === "deny").length).toBeGreaterThan(0);
  });
});
