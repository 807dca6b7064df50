/**
 * OIDC login end to end (issue 15): a real Chromium logs in at a real OpenID provider (oidc-provider,
 * in this process) through real Caddy and nginx, each running its deploy/proxies file in front of its
 * own Portcullis replica (both serving the same manifests) and an echo upstream. Then the upstream
 * sees the provider's access token, the other replica accepts the session, an expired session is
 * refreshed, logout ends the session, and forged, altered or replayed cookies and callbacks, and an
 * API client under denyRedirect, never reach the upstream.
 */
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seal, sessionKey } from "../../controller/features/oidc/session.ts";
import { send } from "../support/http.ts";
import { startTestProvider, type TestProvider } from "../support/oidc-provider.ts";
import {
  examplesWithSituations,
  freePort,
  PROXIES,
  type Portcullis,
  type Proxy,
  requireProgram,
  startCaddy,
  startNginx,
  startPortcullis,
  startUpstream,
  type Upstream,
} from "./support.ts";

const CHROMIUM = process.env.PORTCULLIS_CHROMIUM ?? "/usr/bin/chromium";
const APP = "app.example.test";
const POLICY = "maas-system/web-login";
/** Seconds an access token lives at the provider: short, so that refresh is exercised. */
const TOKEN_TTL = 6;

let op: TestProvider;
let upstream: Upstream;
let replicas: Portcullis[] = [];
let caddy: Proxy;
let nginx: Proxy;
let browser: Browser;
let page: Page;
let caddyPort: number;
let nginxPort: number;

function manifests(issuer: string, clientId: string, clientSecret: string): string {
  return `apiVersion: v1
kind: Secret
metadata: {name: web-login-client, namespace: maas-system}
data: {client-secret: ${Buffer.from(clientSecret).toString("base64")}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: maas-system}
spec:
  parentRefs: [{name: maas-gateway}]
  hostnames: [${APP}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /}}]
      backendRefs: [{name: web, port: 8080}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: web-login, namespace: maas-system}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: web}]
  oidc:
    provider: {issuer: "${issuer}"}
    clientID: ${clientId}
    clientSecret: {name: web-login-client}
    scopes: [email]
    forwardAccessToken: true
    denyRedirect:
      headers: [{name: X-Requested-With, value: XMLHttpRequest}]
`;
}

beforeAll(async () => {
  requireProgram("caddy");
  requireProgram("nginx");
  [caddyPort, nginxPort] = [await freePort(), await freePort()];
  const origins = [caddyPort, nginxPort].map((p) => `http://${APP}:${p}`);
  op = await startTestProvider({
    redirectUris: origins.map((o) => `${o}/oauth2/callback`),
    postLogoutRedirectUris: origins.map((o) => `${o}/`),
    accessTokenTTL: TOKEN_TTL,
  });
  const folder = examplesWithSituations();
  writeFileSync(join(folder, "60-web-login.yaml"), manifests(op.issuer, op.clientId, op.clientSecret));
  upstream = await startUpstream();
  replicas = await Promise.all([startPortcullis(folder), startPortcullis(folder)]);
  caddy = await startCaddy(join(PROXIES, "caddy/Caddyfile"), {
    forwardAuth: replicas[0]!.forwardAuth,
    upstream: upstream.port,
    port: caddyPort,
  });
  nginx = await startNginx({ forwardAuth: replicas[1]!.forwardAuth, upstream: upstream.port, port: nginxPort });
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", `--host-resolver-rules=MAP ${APP} 127.0.0.1`],
  });
  page = await browser.newPage();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([caddy?.stop(), nginx?.stop(), ...replicas.map((r) => r.stop())]);
  await upstream?.close();
  await op?.close();
});

/**
 * The upstream's last request for `url` (path and query) during `action`; undefined when none
 * reached it. (The browser's own requests, such as a favicon, may reach it meanwhile.)
 */
async function upstreamCall(url: string, action: () => Promise<unknown>): Promise<(typeof upstream.seen)[number] | undefined> {
  const before = upstream.seen.length;
  await action();
  return upstream.seen.slice(before).findLast((s) => s.url === url);
}

const sessionCookie = async () => (await browser.cookies()).find((c) => c.name.startsWith("OauthSession-"));

async function bearerOf(seen: (typeof upstream.seen)[number] | undefined): Promise<string> {
  expect(seen, "the upstream was reached").toBeDefined();
  const token = String(seen!.headers.authorization ?? "").replace(/^Bearer /, "");
  expect(await op.accessTokenOf(token), "the upstream's token is alice's access token at the provider").toBe("alice");
  return token;
}

/** A request through a proxy without a browser (no redirects followed); `cookie` as the browser would send it. */
const raw = (proxy: Proxy, path: string, headers: Record<string, string> = {}) => {
  const port = proxy === caddy ? caddyPort : nginxPort;
  return send(`${proxy.url}${path}`, { headers: { host: `${APP}:${port}`, ...headers } });
};

describe("OIDC login in Chromium through Caddy and nginx", () => {
  let firstToken: string;

  it("logs in through Caddy: provider login and consent, back to the page asked for, the upstream gets the access token", async () => {
    const seen = await upstreamCall("/dashboard?tab=usage", async () => {
      await page.goto(`http://${APP}:${caddyPort}/dashboard?tab=usage`, { waitUntil: "load" });
      expect(new URL(page.url()).origin, "the browser is at the provider").toBe(op.issuer);
      await page.type('input[name="login"]', "alice");
      await page.type('input[name="password"]', "any password");
      await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click('button[type="submit"]')]);
      // The consent page.
      await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click('button[type="submit"]')]);
    });
    expect(page.url()).toBe(`http://${APP}:${caddyPort}/dashboard?tab=usage`);
    expect(seen!.url).toBe("/dashboard?tab=usage");
    firstToken = await bearerOf(seen);
    // The session cookie is Portcullis': HttpOnly, and never passed to the app.
    const cookie = await sessionCookie();
    expect(cookie?.httpOnly).toBe(true);
    expect(String(seen!.headers.cookie ?? "")).not.toContain("OauthSession-");
  });

  it("the other replica, behind nginx, accepts the same session at the Host it was issued at, without a login", async () => {
    const cookie = (await sessionCookie())!;
    // nginx hands Portcullis the Host as written: Caddy's, where the session was issued.
    const seen = await upstreamCall("/reports", async () => {
      const r = await raw(nginx, "/reports", { host: `${APP}:${caddyPort}`, cookie: `${cookie.name}=${cookie.value}` });
      expect(r.status).toBe(200);
    });
    expect(await bearerOf(seen)).toBe(firstToken);
  });

  it("a cross-site form POST right after the login carries no session (SameSite=Lax set, not left to the browser): it never reaches the upstream", async () => {
    // Another site (127.0.0.1 is not app.example.test's site) whose page posts a form to the app at once.
    const other = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(
        `<form method="post" action="http://${APP}:${caddyPort}/transfer"><input name="to" value="mallory"></form><script>document.forms[0].submit()</script>`,
      );
    });
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    try {
      const before = upstream.seen.length;
      await page.goto(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`, { waitUntil: "load" });
      // Without a session the POST is sent to log in, and the provider (which remembers alice) brings the browser back to /transfer as a GET.
      for (let waited = 0; waited < 10_000 && !upstream.seen.slice(before).some((s) => s.url === "/transfer"); waited += 100)
        await sleep(100);
      const arrived = upstream.seen.slice(before).filter((s) => s.url === "/transfer");
      expect(arrived.map((s) => s.method)).toEqual(["GET"]);
    } finally {
      other.closeAllConnections();
      other.close();
    }
  });

  it("a browser taking the session to another port of its host logs in again: a session is bound to the Host, port included, as Envoy's HMAC", async () => {
    const seen = await upstreamCall("/reports", () => page.goto(`http://${APP}:${nginxPort}/reports`, { waitUntil: "load" }));
    expect(page.url()).toBe(`http://${APP}:${nginxPort}/reports`);
    const token = await bearerOf(seen);
    expect(token, "a new login (the provider remembers alice), not the session issued behind Caddy").not.toBe(firstToken);
  });

  it("an API client without a session gets 401 (denyRedirect), through both proxies", async () => {
    for (const proxy of [caddy, nginx]) {
      const seen = await upstreamCall("/api/items", async () => {
        const r = await raw(proxy, "/api/items", { "x-requested-with": "XMLHttpRequest" });
        expect(r.status).toBe(401);
        expect(r.header("location")).toBeNull();
      });
      expect(seen).toBeUndefined();
    }
  });

  it("a browser without a session is sent to the provider by both proxies, with the login cookie", async () => {
    for (const proxy of [caddy, nginx]) {
      const r = await raw(proxy, "/dashboard");
      expect(r.status).toBe(302);
      expect(r.header("location")!.startsWith(`${op.issuer}/auth?`)).toBe(true);
      expect(r.header("set-cookie")).toMatch(/^OauthSession-[0-9a-f]{8}=v1\./);
    }
  });

  it("an altered, a foreign and a forged session cookie never reach the upstream: the browser is sent to log in", async () => {
    const real = (await sessionCookie())!;
    const altered = `${real.value.slice(0, 30)}${real.value[30] === "A" ? "B" : "A"}${real.value.slice(31)}`;
    // Sealed for the Host each proxy is asked at, so that only the key can refuse them.
    const forged = (host: string) =>
      seal(sessionKey("a-guessed-client-secret", POLICY), real.name, {
        kind: "session",
        subject: "admin",
        scope: host,
        accessToken: "forged",
        idToken: undefined,
        refreshToken: undefined,
        expiresAt: Date.now() + 3_600_000,
        refreshExpiresAt: undefined,
      });
    // A session of another policy (another client secret): sealed with another key.
    const foreign = (host: string) =>
      seal(sessionKey(op.clientSecret, "maas-system/another-login"), real.name, {
        kind: "session",
        subject: "alice",
        scope: host,
        accessToken: firstToken,
        idToken: undefined,
        refreshToken: undefined,
        expiresAt: Date.now() + 3_600_000,
        refreshExpiresAt: undefined,
      });
    for (const proxy of [caddy, nginx]) {
      const host = `${APP}:${proxy === caddy ? caddyPort : nginxPort}`;
      for (const value of [altered, forged(host), foreign(host)]) {
        const seen = await upstreamCall("/dashboard", async () => {
          const r = await raw(proxy, "/dashboard", { cookie: `${real.name}=${value}` });
          expect(r.status).toBe(302);
          expect(r.header("location")!.startsWith(`${op.issuer}/auth?`)).toBe(true);
        });
        expect(seen).toBeUndefined();
      }
    }
  });

  it("a callback with a wrong state, and one without the login cookie, are refused", async () => {
    for (const proxy of [caddy, nginx]) {
      const start = await raw(proxy, "/dashboard");
      const loginCookie = start.header("set-cookie")!.split(";")[0]!;
      const state = new URL(start.header("location")!).searchParams.get("state")!;
      expect((await raw(proxy, `/oauth2/callback?code=anything&state=${state}x`, { cookie: loginCookie })).status).toBe(401);
      expect((await raw(proxy, `/oauth2/callback?code=anything&state=${state}`)).status).toBe(401);
    }
  });

  it("refreshes the tokens once they expired (307 with a new cookie), and the upstream gets a new valid token", async () => {
    await sleep((TOKEN_TTL + 1) * 1000);
    const seen = await upstreamCall("/after-expiry", () => page.goto(`http://${APP}:${nginxPort}/after-expiry`, { waitUntil: "load" }));
    expect(page.url()).toBe(`http://${APP}:${nginxPort}/after-expiry`);
    const token = await bearerOf(seen);
    expect(token).not.toBe(firstToken);
  });

  it("logout clears the session and ends it at the provider; the app then asks to log in again", async () => {
    const before = (await sessionCookie())!;
    for (const proxy of [caddy, nginx]) {
      const r = await raw(proxy, "/logout", { cookie: `${before.name}=${before.value}` });
      expect(r.status).toBe(302);
      expect(r.header("location")!.startsWith(`${op.issuer}/session/end?`)).toBe(true);
      expect(r.header("set-cookie")).toBe(`${before.name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`);
    }
    await page.goto(`http://${APP}:${caddyPort}/logout`, { waitUntil: "load" });
    // Gone (the browser may since hold a new login cookie, e.g. from a favicon request answered with a login redirect).
    expect((await sessionCookie())?.value).not.toBe(before.value);
    // The provider's end-session page asks to confirm, then returns to the app, which sends the browser to log in.
    expect(new URL(page.url()).origin).toBe(op.issuer);
    await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click('button[name="logout"][value="yes"]')]).catch(
      () => undefined,
    );
    const seen = await upstreamCall("/dashboard", () => page.goto(`http://${APP}:${caddyPort}/dashboard`, { waitUntil: "load" }));
    expect(seen).toBeUndefined();
    expect(new URL(page.url()).origin).toBe(op.issuer);
    expect(await page.$('input[name="login"]'), "the provider asks for a login again").not.toBeNull();
    // The session's refresh token was revoked at logout: the old cookie cannot be renewed once its tokens expire.
    await sleep((TOKEN_TTL + 1) * 1000);
    for (const proxy of [caddy, nginx]) {
      const r = await raw(proxy, "/dashboard", { cookie: `${before.name}=${before.value}` });
      expect(r.status).toBe(302);
      expect(r.header("location")!.startsWith(`${op.issuer}/auth?`)).toBe(true);
    }
  });
});
