/**
 * Wire contracts over real sockets (DESIGN §5): what Envoy's HTTP ext_authz filter and
 * forward-auth proxies receive from the authz and forward-auth ports, byte for byte where it
 * matters: status, body, WWW-Authenticate, upstream headers, x-envoy-auth-headers-to-remove.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startJwksServer, type JwksServer } from "../keys/helpers.ts";
import { signingKey, type SigningKey } from "../support/tokens.ts";
import { EXAMPLES, exampleRouteWithPolicy, exampleToken, startTestApp, type TestApp } from "../support/app.ts";
import { SignJWT } from "jose";
import { send } from "../support/http.ts";

const HOST = "api.maas.example.com";
let app: TestApp;
let idp: JwksServer;
let remoteKey: SigningKey;

const jwks = (...keys: SigningKey[]) => ({ keys: keys.map((k) => k.publicJwk) });
const remoteToken = (key: SigningKey, sub: string) =>
  new SignJWT({ sub })
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setIssuer("https://remote-idp.test")
    .setExpirationTime("5m")
    .sign(key.privateKey);

const REMOTE_POLICY = (uri: string) =>
  exampleRouteWithPolicy(
    "remote",
    "remote.example.com",
    "remote-jwks",
    `jwt: {providers: [{name: remote, issuer: https://remote-idp.test, remoteJWKS: {uri: "${uri}", cacheDuration: 300s}, claimToHeaders: [{claim: sub, header: x-user-id}]}]}`,
  );

beforeAll(async () => {
  remoteKey = await signingKey("remote-1", "RS256");
  idp = await startJwksServer({ kind: "jwks", doc: jwks(remoteKey) });
  app = await startTestApp({ "50-remote.yaml": REMOTE_POLICY(idp.url("/keys")) }, EXAMPLES);
});
afterAll(async () => {
  await app?.close();
  await idp?.close();
});

const envoy = (path: string, headers: Record<string, string> = {}) => send(`${app.authz}${path}`, { headers: { host: HOST, ...headers } });

describe("Envoy HTTP ext_authz port", () => {
  it("200 with identity headers and the headers to remove; empty body", async () => {
    const r = await envoy("/v1/models", { "x-api-key": "example-alice-key-change-me", "x-user-id": "mallory" });
    expect(r.status).toBe(200);
    expect(r.header("x-user-id")).toBe("alice");
    // The sanitized key, and every identity header some policy sets that this one does not.
    expect(r.header("x-envoy-auth-headers-to-remove")).toBe("x-api-key,x-user-email,x-user-group");
    expect(r.body).toBe("");
  });
  it("401 with a JSON reason and no WWW-Authenticate for a missing API key", async () => {
    const r = await envoy("/v1/models");
    expect(r.status).toBe(401);
    expect(r.header("content-type")).toBe("application/json");
    expect(r.header("www-authenticate")).toBeNull();
    expect(r.json()).toEqual({ code: "apikey_missing", message: "Client authentication failed: no API key in the request" });
  });
  it("401 with a Bearer challenge for a missing token; the query is not in the realm", async () => {
    const r = await envoy("/v1/chat/completions?stream=true");
    expect(r.status).toBe(401);
    expect(r.header("www-authenticate")).toBe(`Bearer realm="http://${HOST}/v1/chat/completions"`);
  });
  it("honours x-forwarded-proto in the realm", async () => {
    const r = await envoy("/v1/chat", { "x-forwarded-proto": "https" });
    expect(r.header("www-authenticate")).toBe(`Bearer realm="https://${HOST}/v1/chat"`);
  });
  it("401 invalid_token for a bad token, 403 for another audience", async () => {
    const bad = await envoy("/v1/chat", { authorization: "Bearer not.a.token" });
    expect(bad.status).toBe(401);
    expect(bad.header("www-authenticate")).toContain('error="invalid_token"');
    const aud = await envoy("/v1/chat", { authorization: `Bearer ${exampleToken("alice", "someone-else")}` });
    expect([aud.status, aud.json().code]).toEqual([403, "jwt_audience"]);
  });
  it("200 for a valid token, claims to headers, the token itself is forwarded", async () => {
    const r = await envoy("/v1/chat", { authorization: `Bearer ${exampleToken("bob")}` });
    expect(r.status).toBe(200);
    expect(r.header("x-user-id")).toBe("bob");
    expect(r.header("x-user-email")).toBe("bob@example.com");
    expect(r.header("x-envoy-auth-headers-to-remove")).toBeNull();
  });
  it("403 for a request that matches no route", async () => {
    const r = await envoy("/admin");
    expect([r.status, r.json().code]).toEqual([403, "route_not_found"]);
  });
  it("answers POST with a body like any other method", async () => {
    const r = await send(`${app.authz}/v1/models`, {
      method: "POST",
      headers: { host: HOST, "x-api-key": "example-alice-key-change-me" },
      body: "x".repeat(10_000),
    });
    expect(r.status).toBe(200);
  });
  it("scopes to the Gateway named by x-portcullis-gateway", async () => {
    expect((await envoy("/healthz", { "x-portcullis-gateway": "maas-system/maas-gateway" })).status).toBe(200);
    expect((await envoy("/healthz", { "x-portcullis-gateway": "maas-system/other" })).status).toBe(403);
  });
});

describe("forward-auth port", () => {
  const fwd = (headers: Record<string, string>) => send(`${app.forwardAuth}/auth`, { headers });
  it("decides the request described by X-Forwarded-* exactly like the Envoy port", async () => {
    const base = { "x-forwarded-method": "GET", "x-forwarded-proto": "https", "x-forwarded-host": HOST, "x-forwarded-uri": "/v1/models" };
    expect((await fwd(base)).status).toBe(401);
    const ok = await fwd({ ...base, "x-api-key": "example-ci-runner-key-change-me" });
    expect([ok.status, ok.header("x-user-id")]).toEqual([200, "ci-runner"]);
  });
  it("reads nginx's X-Original-URI and X-Original-Method", async () => {
    const r = await fwd({ "x-original-method": "GET", "x-original-uri": "/v1/chat", host: HOST });
    expect([r.status, r.header("www-authenticate")]).toEqual([401, `Bearer realm="http://${HOST}/v1/chat"`]);
  });
  it("400 with a reason when the original request is missing or contradictory", async () => {
    const missing = await fwd({ "x-forwarded-host": HOST });
    expect([missing.status, missing.json().code]).toEqual([400, "request_invalid"]);
    const disagree = await fwd({
      "x-forwarded-method": "GET",
      "x-forwarded-uri": "/healthz",
      "x-original-uri": "/v1/models",
      "x-forwarded-host": HOST,
    });
    expect(disagree.status).toBe(400);
  });
  it("400 for a URI not in normal form: the proxy hands the upstream the URI as written, so no normalised reading is decided", async () => {
    for (const uri of [
      "/v1/admin/tenants/../../../healthz",
      "/v1/admin/tenants/%2e%2e/%2e%2e/%2e%2e/healthz",
      "/v1/admin/tenants#/../../../healthz",
      "//healthz",
    ]) {
      const r = await fwd({ "x-forwarded-method": "GET", "x-forwarded-uri": uri, "x-forwarded-host": HOST });
      expect([uri, r.status, r.json().code]).toEqual([uri, 400, "request_invalid"]);
    }
    const same = await fwd({ "x-forwarded-method": "GET", "x-forwarded-uri": "/healthz?next=/../v1/admin", "x-forwarded-host": HOST });
    expect(same.status).toBe(200);
  });
});

/**
 * Traefik's ForwardAuth with `trustForwardHeader: false` (deploy/proxies/traefik), from its
 * documented behaviour and source (pkg/middlewares/auth/forward.go writeHeader): it sends the
 * headers authRequestHeaders lists, then SETS X-Forwarded-For (the peer alone), -Method, -Proto,
 * -Host (the request's Host) and -Uri (Go's RequestURI(): the path and query only, even for an
 * absolute-form request line, with a raw `#` escaped as %23), over any client copy; Host is the
 * auth address's. No X-Portcullis-Replaces and no X-Portcullis-Gateway.
 */
describe("forward-auth port: Traefik's check request", () => {
  const traefik = (uri: string, headers: Record<string, string> = {}) =>
    send(`${app.forwardAuth}/`, {
      headers: {
        host: "portcullis.portcullis.svc.cluster.local:9003",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-method": "GET",
        "x-forwarded-proto": "https",
        "x-forwarded-host": HOST,
        "x-forwarded-uri": uri,
        ...headers,
      },
    });
  it("decides the request Traefik describes, not the auth address in Host", async () => {
    expect((await traefik("/v1/models")).status).toBe(401);
    const ok = await traefik("/v1/models", { "x-api-key": "example-ci-runner-key-change-me" });
    expect([ok.status, ok.header("x-user-id")]).toEqual([200, "ci-runner"]);
    expect((await traefik("/healthz")).status).toBe(200);
  });
  it("a raw `#` Go escaped to %23 is part of the path: no route takes /healthz%23…, and dot segments after it are refused", async () => {
    expect((await traefik("/healthz%23x")).status).toBe(403);
    const dots = await traefik("/v1/models%23/../../healthz");
    expect([dots.status, dots.json().code]).toEqual([400, "request_invalid"]);
  });
  it("an X-Forwarded-Uri that is not origin-form (a proxy passing an absolute-form target on) is refused", async () => {
    const r = await traefik(`https://${HOST}/healthz`);
    expect([r.status, r.json().code]).toEqual([400, "request_invalid"]);
  });
  it("a client's X-Original-URI that authRequestHeaders lets through beside Traefik's X-Forwarded-Uri: refused when they differ", async () => {
    const r = await traefik("/v1/models", { "x-original-uri": "/healthz" });
    expect([r.status, r.json().code]).toEqual([400, "request_invalid"]);
  });
  it("a client's identity header that authRequestHeaders lets through: refused (Traefik sends no X-Portcullis-Replaces)", async () => {
    const r = await traefik("/v1/models", { "x-api-key": "example-ci-runner-key-change-me", "x-user-id": "admin" });
    expect([r.status, r.json().code]).toEqual([400, "request_invalid"]);
  });
});

describe("remote JWKS through the authz port", () => {
  const remote = (token: string) => send(`${app.authz}/x`, { headers: { host: "remote.example.com", authorization: `Bearer ${token}` } });
  it("keys are fetched when the snapshot is published, not per request", async () => {
    const before = idp.hits("/keys");
    expect(before).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 3; i++) expect((await remote(await remoteToken(remoteKey, `u${i}`))).status).toBe(200);
    expect(idp.hits("/keys")).toBe(before);
  });
  it("picks up a rotated key (new kid) without a restart", async () => {
    const rotated = await signingKey("remote-2", "RS256");
    idp.set({ kind: "jwks", doc: jwks(rotated) }, "/keys");
    const r = await remote(await remoteToken(rotated, "after-rotation"));
    expect([r.status, r.header("x-user-id")]).toEqual([200, "after-rotation"]);
  });
  it("keeps serving with the last good keys while the JWKS endpoint is down", async () => {
    idp.set({ kind: "status", status: 503 }, "/keys");
    const key2 = await signingKey("remote-2", "RS256");
    expect((await remote(await remoteToken(key2, "x"))).status).toBe(401); // a different key with the same kid never verifies
    idp.set({ kind: "jwks", doc: jwks(remoteKey) }, "/keys");
  });
});

describe("admin port", () => {
  it("healthz, readyz and metrics", async () => {
    expect((await fetch(`${app.admin}/healthz`)).status).toBe(200);
    expect((await fetch(`${app.admin}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${app.admin}/metrics`)).text();
    for (const series of [
      "portcullis_decisions_total",
      "portcullis_check_duration_seconds_bucket",
      "portcullis_snapshot_generation",
      "portcullis_jwks_fetches_total",
    ]) {
      expect(metrics).toContain(series);
    }
  });
  it("the snapshot view names clients and kids but never a key", async () => {
    const view = await (await fetch(`${app.admin}/snapshot`)).text();
    expect(view).toContain("ci-runner");
    expect(view).toContain(idp.url("/keys"));
    expect(view).toMatch(/"kids": \[\s*"remote-\d"/);
    expect(view).not.toContain("example-alice-key-change-me");
  });
});
