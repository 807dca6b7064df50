/**
 * The oidc phase against a real OpenID provider (oidc-provider over real sockets): the redirect to
 * log in, the callback's code exchange and checks, the session, refresh, logout, and the refusals
 * (wrong state, replayed callback, tampered or foreign cookies, an unreachable provider).
 */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Decision } from "../../../controller/authz/decision.ts";
import type { PhaseResult } from "../../../controller/features/feature.ts";
import { normalizeRequest } from "../../../controller/authz/request.ts";
import { type CompiledOidc, compileOidc } from "../../../controller/features/oidc/compile.ts";
import { checkOidc } from "../../../controller/features/oidc/flow.ts";
import { createOidcProviders, type OidcProviders } from "../../../controller/features/oidc/provider.ts";
import { seal, sessionKey } from "../../../controller/features/oidc/session.ts";
import { OIDCSchema, type OIDCSpec } from "../../../controller/features/oidc/spec.ts";
import { fetch as undiciFetch } from "undici";
import { stringify } from "yaml";
import { compiledOf } from "../../../controller/features/feature.ts";
import { oidc as oidcFeature } from "../../../controller/features/oidc/index.ts";
import { connectionDispatcher } from "../../../controller/keys/fetch-jwks.ts";
import { gatewayWithRoute, secret, securityPolicy } from "../../support/manifests.ts";
import { clientSecretRefs, loginAt, startTestProvider, type TestProvider } from "../../support/oidc-provider.ts";
import { createTestCa, type TestCa } from "../../support/test-ca.ts";
import { compileText } from "../../support/world.ts";

const HOST = "app.example.test";
const WHERE = { route: "apps/web rule 0", policy: "apps/web-login" };
let op: TestProvider;

beforeAll(async () => {
  op = await startTestProvider({
    redirectUris: [`https://${HOST}/oauth2/callback`],
    postLogoutRedirectUris: [`https://${HOST}/`],
  });
});
afterAll(() => op.close());

function compiled(extra: Partial<OIDCSpec> = {}, policyName = "web-login"): CompiledOidc {
  const spec = OIDCSchema.parse({
    provider: { issuer: op.issuer },
    clientID: op.clientId,
    clientSecret: { name: "oidc-client" },
    forwardAccessToken: true,
    ...extra,
  });
  const result = compileOidc(spec, () => ({ namespace: "apps", name: policyName }), undefined, clientSecretRefs(op.clientSecret));
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

interface Browser {
  cookies: Map<string, string>;
  ask(path: string, headers?: Record<string, string>): Promise<PhaseResult>;
}

/** A cookie-keeping client of one compiled policy, asking the oidc phase as check() would. */
function browser(oidc: CompiledOidc, providers: OidcProviders, now: () => number = Date.now, host = HOST): Browser {
  const cookies = new Map<string, string>();
  return {
    cookies,
    async ask(path, headers = {}) {
      const cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
      const req = normalizeRequest({
        method: "GET",
        scheme: "https",
        host,
        path,
        headers: { ...(cookie === "" ? {} : { cookie }), ...headers },
        gateway: undefined,
      });
      const outcome = await checkOidc(oidc, req, WHERE, { oidc: providers, now });
      if (!outcome.ok) {
        for (const line of outcome.error.cookies ?? []) {
          const [pair] = line.split(";");
          const [name, value] = [pair!.slice(0, pair!.indexOf("=")), pair!.slice(pair!.indexOf("=") + 1)];
          if (line.includes("Max-Age=0")) cookies.delete(name);
          else cookies.set(name, value);
        }
      }
      return outcome;
    },
  };
}

const denial = (outcome: PhaseResult): Decision => {
  if (outcome.ok) throw new Error("expected a denial, the request passed");
  return outcome.error;
};
const providers = () => createOidcProviders({ logger: pino({ level: "silent" }), timeoutMs: 3000 });

/** Logs in as `user` from /reports?year=2026; the browser then holds the session cookie. */
async function loggedIn(oidc: CompiledOidc, p: OidcProviders, user = "alice"): Promise<{ b: Browser; done: Decision; callback: URL }> {
  const b = browser(oidc, p);
  const login = denial(await b.ask("/reports?year=2026"));
  const callback = await loginAt(login.responseHeaders.location!, user);
  const done = denial(await b.ask(`${callback.pathname}${callback.search}`));
  return { b, done, callback };
}

const passed = (outcome: PhaseResult) => {
  if (!outcome.ok) throw new Error(`expected a pass, got ${outcome.error.status} ${outcome.error.code}: ${outcome.error.message}`);
  return outcome.value;
};

describe("oidc: logging in", () => {
  it("sends a browser without a session to the provider with state, nonce and a PKCE S256 challenge", async () => {
    const oidc = compiled({ scopes: ["email"], resources: ["https://api.example.test"] });
    const d = denial(await browser(oidc, providers()).ask("/reports"));
    expect(d.status).toBe(302);
    expect(d.code).toBe("oidc_login");
    const url = new URL(d.responseHeaders.location!);
    expect(`${url.origin}${url.pathname}`).toBe(`${op.issuer}/auth`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: op.clientId,
      response_type: "code",
      redirect_uri: `https://${HOST}/oauth2/callback`,
      scope: "email openid",
      code_challenge_method: "S256",
      resource: "https://api.example.test",
    });
    expect(url.searchParams.get("state")).toMatch(/^[\w-]{20,}$/);
    expect(url.searchParams.get("nonce")).toMatch(/^[\w-]{20,}$/);
    expect(d.cookies).toHaveLength(1);
    expect(d.cookies![0]).toMatch(/^OauthSession-[0-9a-f]{8}=v1\.[\w-]+; Path=\/; Max-Age=600; HttpOnly; Secure; SameSite=Lax$/);
  });

  it("completes the callback, returns to the URL the login started at, and forwards the provider's access token", async () => {
    const { b, done } = await loggedIn(compiled(), providers());
    expect(done).toMatchObject({ status: 302, code: "oidc_callback", responseHeaders: { location: `https://${HOST}/reports?year=2026` } });
    const session = passed(await b.ask("/reports", { cookie: `theme=dark; ${[...b.cookies].map(([k, v]) => `${k}=${v}`).join("; ")}` }));
    expect(session.principal).toBe("oidc sub=alice");
    const token = session.headers.authorization!.replace(/^Bearer /, "");
    expect(await op.accessTokenOf(token)).toBe("alice");
    // The session cookie stays with Portcullis; the app's own cookies go on.
    expect(session.headers.cookie).toBe("theme=dark");
  });

  it("forwards the ID token in the configured header", async () => {
    const { b } = await loggedIn(compiled({ forwardAccessToken: false, forwardIDToken: { header: "X-Id-Token" } }), providers(), "bob");
    const session = passed(await b.ask("/"));
    expect(session.headers.authorization).toBeUndefined();
    expect(JSON.parse(Buffer.from(session.headers["x-id-token"]!.split(".")[1]!, "base64url").toString())).toMatchObject({
      sub: "bob",
      iss: op.issuer,
      aud: op.clientId,
    });
    expect(session.strip).toEqual(["cookie"]);
  });

  it("answers 401 instead of redirecting a request that denyRedirect matches (XHR and API clients)", async () => {
    const oidc = compiled({ denyRedirect: { headers: [{ name: "X-Requested-With", type: "Exact", value: "XMLHttpRequest" }] } });
    const d = denial(await browser(oidc, providers()).ask("/api/items", { "x-requested-with": "XMLHttpRequest" }));
    expect(d).toMatchObject({ status: 401, code: "oidc_unauthenticated" });
    expect(d.responseHeaders.location).toBeUndefined();
    expect(denial(await browser(oidc, providers()).ask("/api/items")).status).toBe(302);
  });

  it("lets a request with a jwt provider's header through to jwt (passThroughAuthHeader)", async () => {
    const spec = OIDCSchema.parse({
      provider: { issuer: op.issuer },
      clientID: op.clientId,
      clientSecret: { name: "oidc-client" },
      passThroughAuthHeader: true,
    });
    const jwt = { providers: [{ name: "idp", remoteJWKS: { uri: `${op.issuer}/jwks` } }] };
    const result = compileOidc(spec, () => ({ namespace: "apps", name: "web-login" }), jwt, clientSecretRefs(op.clientSecret));
    if (!result.ok) throw new Error(result.error);
    const b = browser(result.value, providers());
    expect(passed(await b.ask("/api", { authorization: "Bearer eyJ.x.y" })).principal).toBeUndefined();
    expect(denial(await b.ask("/api", { authorization: "Basic YTpi" })).status).toBe(302);
  });
});

describe("oidc: refusals", () => {
  it("refuses a callback whose state is not the login's (CSRF)", async () => {
    const b = browser(compiled(), providers());
    const login = denial(await b.ask("/"));
    const callback = await loginAt(login.responseHeaders.location!, "alice");
    callback.searchParams.set("state", "forged-state-of-an-attacker");
    const d = denial(await b.ask(`${callback.pathname}${callback.search}`));
    expect(d).toMatchObject({ status: 401, code: "oidc_callback_refused" });
    expect(d.cookies ?? []).toEqual([]);
  });

  it("refuses a callback without the login cookie, and a replayed one", async () => {
    const oidc = compiled();
    const p = providers();
    const b = browser(oidc, p);
    const login = denial(await b.ask("/"));
    const loginCookies = new Map(b.cookies);
    const callback = await loginAt(login.responseHeaders.location!, "alice");
    const path = `${callback.pathname}${callback.search}`;
    expect(denial(await browser(oidc, p).ask(path)).code).toBe("oidc_callback_refused");
    expect(denial(await b.ask(path)).code).toBe("oidc_callback");
    // The same callback again, with the login cookie as it was: the code was used.
    const replay = browser(oidc, p);
    for (const [k, v] of loginCookies) replay.cookies.set(k, v);
    expect(denial(await replay.ask(path))).toMatchObject({ status: 401, code: "oidc_callback_refused" });
  });

  it("sends a tampered session cookie to log in again, never through", async () => {
    const { b } = await loggedIn(compiled(), providers());
    const [name, value] = [...b.cookies][0]!;
    b.cookies.set(name, `${value.slice(0, 20)}${value[20] === "A" ? "B" : "A"}${value.slice(21)}`);
    expect(denial(await b.ask("/")).code).toBe("oidc_login");
  });

  it("does not accept another policy's session cookie (foreign cookie)", async () => {
    const { b } = await loggedIn(compiled({}, "other-app"), providers());
    const [, value] = [...b.cookies][0]!;
    const mine = compiled();
    const foreign = browser(mine, providers());
    foreign.cookies.set(mine.cookieName, value);
    expect(denial(await foreign.ask("/")).code).toBe("oidc_login");
  });

  it("refuses a session cookie forged with a guessed key", async () => {
    const oidc = compiled();
    const forged = seal(sessionKey("guessed-secret", "apps/web-login"), oidc.cookieName, {
      kind: "session",
      subject: "admin",
      scope: HOST,
      accessToken: "x",
      idToken: undefined,
      refreshToken: undefined,
      expiresAt: Date.now() + 60_000,
      refreshExpiresAt: undefined,
    });
    const b = browser(oidc, providers());
    b.cookies.set(oidc.cookieName, forged);
    expect(denial(await b.ask("/")).code).toBe("oidc_login");
  });

  it("fails closed (403 oidc_unavailable) while the provider cannot be discovered", async () => {
    op.suspend();
    try {
      const d = denial(await browser(compiled(), providers()).ask("/"));
      expect(d).toMatchObject({ status: 403, code: "oidc_unavailable" });
    } finally {
      op.resume();
    }
  });
});

describe("oidc: the session over time", () => {
  it("a session's requests share one pass until its tokens expire (one memoized allow, the cookie opened once)", async () => {
    const oidc = compiled();
    const p = providers();
    const { b } = await loggedIn(oidc, p);
    const first = passed(await b.ask("/a"));
    expect(passed(await b.ask("/b"))).toBe(first);
    const later = browser(oidc, p, () => Date.now() + 3_600_000);
    for (const [k, v] of b.cookies) later.cookies.set(k, v);
    expect(denial(await later.ask("/a")).code).toBe("oidc_refresh");
  });

  it("builds the pass of a request with other cookies for that request alone (never remembered, so junk cookies cannot fill memory)", async () => {
    const oidc = compiled();
    const { b } = await loggedIn(oidc, providers());
    const session = [...b.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const first = passed(await b.ask("/", { cookie: `junk=1; ${session}` }));
    const second = passed(await b.ask("/", { cookie: `junk=1; ${session}` }));
    expect(second).not.toBe(first);
    expect([first.perRequest, second.headers.cookie]).toEqual([true, "junk=1"]);
    expect(passed(await b.ask("/")).perRequest).toBeUndefined();
  });

  it("is accepted by a second replica (same Secret, separate process state)", async () => {
    const { b } = await loggedIn(compiled(), providers());
    const replica = browser(compiled(), providers());
    for (const [k, v] of b.cookies) replica.cookies.set(k, v);
    expect(passed(await replica.ask("/")).principal).toBe("oidc sub=alice");
  });

  it("refreshes expired tokens: 307 to the same URL with a new cookie, then the new access token goes upstream", async () => {
    const oidc = compiled();
    const p = providers();
    const { b } = await loggedIn(oidc, p);
    const before = passed(await b.ask("/")).headers.authorization;
    const later = browser(oidc, p, () => Date.now() + 3_600_000);
    for (const [k, v] of b.cookies) later.cookies.set(k, v);
    const d = denial(await later.ask("/reports?x=1"));
    expect(d).toMatchObject({ status: 307, code: "oidc_refresh", responseHeaders: { location: `https://${HOST}/reports?x=1` } });
    const fresh = browser(oidc, p);
    for (const [k, v] of later.cookies) fresh.cookies.set(k, v);
    const after = passed(await fresh.ask("/reports?x=1")).headers.authorization!;
    expect(after).not.toBe(before);
    expect(await op.accessTokenOf(after.replace(/^Bearer /, ""))).toBe("alice");
  });

  it("keeps the refresh's 307 on the request's own origin whatever the request target (no open redirect)", async () => {
    const oidc = compiled();
    const p = providers();
    const { b } = await loggedIn(oidc, p);
    for (const target of ["@evil.example/x", ":443@evil.example/x", ".evil.example/x"]) {
      // A browser of its own per target: each refresh renews the cookie it is asked with.
      const later = browser(oidc, p, () => Date.now() + 3_600_000);
      for (const [k, v] of b.cookies) later.cookies.set(k, v);
      const location = new URL(denial(await later.ask(target)).responseHeaders.location!);
      expect(location.host).toBe(HOST);
    }
  });

  it("returns to the request's own origin after a login started at an odd request target (no open redirect)", async () => {
    const b = browser(compiled(), providers());
    const login = denial(await b.ask("@evil.example/x"));
    const callback = await loginAt(login.responseHeaders.location!, "alice");
    const done = denial(await b.ask(`${callback.pathname}${callback.search}`));
    expect(done).toMatchObject({ status: 302, code: "oidc_callback", responseHeaders: { location: `https://${HOST}/` } });
  });

  it("logs in again when the session expired and refreshToken is false", async () => {
    const oidc = compiled({ refreshToken: false });
    const p = providers();
    const { b } = await loggedIn(oidc, p);
    const later = browser(oidc, p, () => Date.now() + 3_600_000);
    for (const [k, v] of b.cookies) later.cookies.set(k, v);
    expect(denial(await later.ask("/")).code).toBe("oidc_login");
  });

  it("logs out: clears the cookie and sends the browser to the provider's end_session_endpoint", async () => {
    const oidc = compiled({ logoutPath: "/signout" });
    const { b } = await loggedIn(oidc, providers());
    const d = denial(await b.ask("/signout"));
    expect(d).toMatchObject({ status: 302, code: "oidc_logout" });
    const url = new URL(d.responseHeaders.location!);
    expect(`${url.origin}${url.pathname}`).toBe(`${op.issuer}/session/end`);
    expect(url.searchParams.get("post_logout_redirect_uri")).toBe(`https://${HOST}/`);
    expect(url.searchParams.get("id_token_hint")).toMatch(/^eyJ/);
    expect(d.cookies![0]).toMatch(/^OauthSession-[0-9a-f]{8}=; Path=\/; Max-Age=0;/);
    expect(b.cookies.size).toBe(0);
    expect(denial(await b.ask("/")).code).toBe("oidc_login");
  });
});

describe("oidc: a provider reached through backendRefs and a BackendTLSPolicy with a private CA", () => {
  const ISSUER_HOST = "issuer.idp.svc.cluster.local";
  let ca: TestCa;
  let tlsOp: TestProvider;
  beforeAll(async () => {
    ca = createTestCa();
    tlsOp = await startTestProvider({
      redirectUris: [`https://${HOST}/oauth2/callback`],
      tls: { hostname: ISSUER_HOST, ...ca.issue(ISSUER_HOST) },
    });
  });
  afterAll(() => tlsOp.close());

  /** The policy as manifests: a Backend at the provider's port, a BackendTLSPolicy trusting `trusted`. */
  const compiledThrough = (trusted: string): CompiledOidc => {
    const result = compileText(`${gatewayWithRoute(HOST)}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: idp, namespace: apps}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: ${tlsOp.port}}}]
---
${stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "idp-ca", namespace: "apps" }, data: { "ca.crt": trusted } })}---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: idp, namespace: apps}
spec:
  targetRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: idp}]
  validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: idp-ca}], hostname: ${ISSUER_HOST}}
---
${secret("oidc-client", { "client-secret": tlsOp.clientSecret })}---
${securityPolicy("web-login", {
  oidc: {
    provider: {
      issuer: tlsOp.issuer,
      backendRefs: [{ group: "gateway.envoyproxy.io", kind: "Backend", name: "idp" }],
      backendSettings: { timeout: { tcp: { connectTimeout: "2s" } } },
    },
    clientID: tlsOp.clientId,
    clientSecret: { name: "oidc-client" },
  },
})}`);
    expect(result.statuses[0]!.ancestors[0]!.conditions[0]).toMatchObject({ status: "True", reason: "Accepted" });
    return compiledOf(result.snapshot.policies["apps/web-login"]!.features, oidcFeature)!;
  };
  /** The browser's own HTTPS client: it resolves the issuer's name to the provider and trusts the CA. */
  const browserFetch = ((url: string, init: RequestInit) =>
    undiciFetch(url, {
      ...(init as object),
      dispatcher: connectionDispatcher({ endpoints: [{ host: "127.0.0.1", port: tlsOp.port }], tls: { caPem: ca.certPem } }),
    })) as unknown as typeof fetch;

  it("discovers, exchanges the code and verifies the ID token over the Backend, trusting the policy's CA", async () => {
    const oidc = compiledThrough(ca.certPem);
    expect(oidc.provider.connection).toMatchObject({
      endpoints: [{ host: "127.0.0.1", port: tlsOp.port }],
      tls: { caPem: ca.certPem, serverName: ISSUER_HOST },
      connectTimeoutMs: 2000,
    });
    const b = browser(oidc, providers());
    const login = denial(await b.ask("/reports"));
    expect(login.code).toBe("oidc_login");
    expect(login.responseHeaders.location!.startsWith(`https://${ISSUER_HOST}/auth?`)).toBe(true);
    const callback = await loginAt(login.responseHeaders.location!, "alice", browserFetch);
    expect(denial(await b.ask(`${callback.pathname}${callback.search}`))).toMatchObject({ status: 302, code: "oidc_callback" });
    passed(await b.ask("/reports"));
  });

  it("fails closed (403 oidc_unavailable, an error log line) when the BackendTLSPolicy trusts another CA", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "error" }, { write: (line: string) => void lines.push(line) });
    const d = denial(
      await browser(compiledThrough(createTestCa("Another CA").certPem), createOidcProviders({ logger, timeoutMs: 3000 })).ask("/reports"),
    );
    expect(d).toMatchObject({ status: 403, code: "oidc_unavailable" });
    const logged = JSON.parse(lines.join(""));
    expect(logged.msg).toMatch(/^OIDC discovery failed/);
    expect(logged.err).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  });
});
describe("oidc: attacked (round 26)", () => {
  it("opens a session only at the Host it was issued at, as Envoy's oauth2 filter HMACs the Host into its cookies", async () => {
    const oidc = compiled();
    const p = providers();
    const { b } = await loggedIn(oidc, p);
    // Passed (and remembered) at its own host first, so a remembered pass cannot answer the others.
    passed(await b.ask("/reports"));
    for (const host of ["other.example.test", `${HOST}:443`]) {
      const elsewhere = browser(oidc, p, Date.now, host);
      for (const [k, v] of b.cookies) elsewhere.cookies.set(k, v);
      expect(denial(await elsewhere.ask("/reports")).code).toBe("oidc_login");
    }
  });

  it("sets the session cookie SameSite=Lax unless cookieConfig says otherwise: never left to the browser, which may send it cross-site", async () => {
    for (const [sameSite, attribute] of [
      [undefined, "; SameSite=Lax"],
      ["Strict", "; SameSite=Strict"],
      ["None", "; SameSite=None"],
    ] as const) {
      const { done } = await loggedIn(compiled(sameSite === undefined ? {} : { cookieConfig: { sameSite } }), providers());
      expect(done.cookies).toHaveLength(1);
      expect(done.cookies![0]).toMatch(
        new RegExp(`^OauthSession-[0-9a-f]{8}=v1\\.[\\w-]+; Path=/; Max-Age=\\d+; HttpOnly; Secure${attribute}$`),
      );
    }
  });

  it("opens a session at every host of its cookieDomain, as Envoy's HMAC then covers the cookie_domain", async () => {
    const oidc = compiled({ cookieDomain: "example.test" });
    const p = providers();
    const { b } = await loggedIn(oidc, p);
    const sibling = browser(oidc, p, Date.now, "other.example.test");
    for (const [k, v] of b.cookies) sibling.cookies.set(k, v);
    expect(passed(await sibling.ask("/reports")).principal).toBe("oidc sub=alice");
  });

  it("refuses a callback whose iss is not the provider's, or lacks the iss the provider advertises (RFC 9207)", async () => {
    for (const change of [(u: URL) => u.searchParams.set("iss", "https://evil.example"), (u: URL) => u.searchParams.delete("iss")]) {
      const b = browser(compiled(), providers());
      const login = denial(await b.ask("/"));
      const callback = await loginAt(login.responseHeaders.location!, "alice");
      expect(callback.searchParams.get("iss")).toBe(op.issuer);
      change(callback);
      const d = denial(await b.ask(`${callback.pathname}${callback.search}`));
      expect(d).toMatchObject({ status: 401, code: "oidc_callback_refused" });
      expect(d.cookies ?? []).toEqual([]);
    }
  });

  it("refuses a callback carrying both a code and an error", async () => {
    const b = browser(compiled(), providers());
    const login = denial(await b.ask("/"));
    const callback = await loginAt(login.responseHeaders.location!, "alice");
    callback.searchParams.set("error", "access_denied");
    const d = denial(await b.ask(`${callback.pathname}${callback.search}`));
    expect(d).toMatchObject({ status: 401, code: "oidc_callback_refused" });
    expect(d.message).toContain("refused the login");
  });

  it("refuses another login's code under this login's state: the PKCE verifier binds the code to its login", async () => {
    const oidc = compiled();
    const p = providers();
    const victim = browser(oidc, p);
    const victimCallback = await loginAt(denial(await victim.ask("/")).responseHeaders.location!, "alice");
    const attacker = browser(oidc, p);
    const attackerCallback = await loginAt(denial(await attacker.ask("/")).responseHeaders.location!, "mallory");
    attackerCallback.searchParams.set("code", victimCallback.searchParams.get("code")!);
    const d = denial(await attacker.ask(`${attackerCallback.pathname}${attackerCallback.search}`));
    expect(d).toMatchObject({ status: 401, code: "oidc_callback_refused" });
    expect(d.message).toContain("code exchange failed");
  });

  it("refuses a login begun under another policy on this policy's callback", async () => {
    const other = compiled({}, "other-app");
    const p = providers();
    const b = browser(other, p);
    const callback = await loginAt(denial(await b.ask("/")).responseHeaders.location!, "alice");
    const mine = browser(compiled(), p);
    const [, value] = [...b.cookies][0]!;
    mine.cookies.set(compiled().cookieName, value);
    expect(denial(await mine.ask(`${callback.pathname}${callback.search}`))).toMatchObject({ status: 401, code: "oidc_callback_refused" });
  });
});
