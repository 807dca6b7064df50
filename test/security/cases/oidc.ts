/**
 * oidc on /web (a real oidc-provider; redirectURL /web/oauth2/callback, logoutPath /web/logout,
 * forwardAccessToken, denyRedirect for XMLHttpRequest) and on /webdown (an issuer nothing answers
 * at). The session lives in a cookie sealed with a key derived from the client secret: a case that
 * needs a cookie as Portcullis would make it seals one with that key, as a second replica would.
 */
import type { Decision } from "../../../controller/authz/decision.ts";
import { compiledOf } from "../../../controller/features/feature.ts";
import { oidc } from "../../../controller/features/oidc/index.ts";
import { randomBytes } from "node:crypto";
import { type CookieState, MAX_CHUNKS, seal, sessionKey, setCookies, unseal } from "../../../controller/features/oidc/session.ts";
import { loginAt } from "../../support/oidc-provider.ts";
import type { Ctx } from "../context.ts";
import { type Case, type Expected, fromDecision, managedHeadersOf, type Outcome } from "../outcome.ts";
import { HOST, token, WEB_POLICY } from "../world.ts";

const LOGIN: Expected = { status: 302, code: "oidc_login" };
const REFUSED = (reason: string): Expected => ({ status: 401, code: "oidc_callback_refused", reason });

function c(id: string, title: string, expect: Expected, run: (ctx: Ctx) => Promise<Outcome>, fixed?: string): Case {
  return { id: `oidc.${id}`, title, expect, run, ...(fixed === undefined ? {} : { fixed }) };
}

const PASS_THROUGH_FIXED =
  "passThroughAuthHeader skipped the login on the header alone and the policy's failOpen jwt then let the refused token through with no identity (Envoy Gateway does the same), so any `Authorization: Bearer x` opened a route browsers reach only logged in; a request oidc leaves to jwt now needs a token that verifies, whatever optional or failOpen say";

/** The `web` policy's session cookie name and key, as every replica derives them. */
function cookieOf(ctx: Ctx): { name: string; key: Buffer } {
  const name = compiledOf(ctx.decider.result.snapshot.policies[WEB_POLICY]!.features, oidc)!.cookieName;
  return { name, key: sessionKey(ctx.op.clientSecret, WEB_POLICY) };
}

const SESSION_HOST_FIXED =
  "a session opened at any Host its policy serves: a cookie copied from one host (or kept from before a cookieDomain change) was let through at another, where Envoy's oauth2 filter (Envoy Gateway v1.9.0) HMACs the Host as written, port included, or the cookie_domain, into its cookies and sends such a request to log in; a session now records that scope and opens only there";

const SAME_SITE_FIXED =
  "the session cookie had no SameSite attribute unless cookieConfig set one, as Envoy Gateway v1.9.0 does (since v1.5.0, #6347), leaving it to the browser: Firefox and Safari send such a cookie on every cross-site request and Chrome on a cross-site POST within 2 minutes of setting it, so another site's form was served logged in (reproduced in Chromium through Caddy); the cookie is now Lax unless cookieConfig.sameSite says otherwise, stricter than Envoy Gateway on purpose";

const outcome = (ctx: Ctx, d: Decision) => fromDecision(d, managedHeadersOf(ctx.decider.result.snapshot.policies));

/**
 * A forward-auth check of mallory's valid session on /web/reports carrying the client's own
 * `Authorization: Bearer <forged>`, from a proxy whose X-Portcullis-Replaces is `replaces`.
 */
function forwardWithOwnAuthorization(ctx: Ctx, replaces: string): Promise<Outcome> {
  const { name, key } = cookieOf(ctx);
  return ctx.forward({
    "x-forwarded-method": "GET",
    "x-forwarded-proto": "http",
    "x-forwarded-host": HOST,
    "x-forwarded-uri": "/web/reports",
    "x-portcullis-replaces": replaces,
    cookie: session(key, name, "mallory", 60_000),
    authorization: "Bearer forged-token-of-admin",
  });
}

/** check() on `path` with `cookie` (name=value pairs) and headers. */
async function ask(ctx: Ctx, path: string, cookie?: string, headers: Record<string, string> = {}): Promise<Decision> {
  return ctx.decider({ path, headers: { ...(cookie === undefined ? {} : { cookie }), ...headers } });
}

/** A session of `subject` sealed with `key` (the right one, or another), its tokens expiring in `ttlMs`. */
function session(key: Buffer, name: string, subject: string, ttlMs: number, refreshToken?: string): string {
  const state: CookieState = {
    kind: "session",
    subject,
    scope: HOST,
    accessToken: `access-token-of-${subject}`,
    idToken: undefined,
    refreshToken,
    expiresAt: Date.now() + ttlMs,
    refreshExpiresAt: refreshToken === undefined ? undefined : Date.now() + 3_600_000,
  };
  return `${name}=${seal(key, name, state)}`;
}

/**
 * The name=value pairs of a session of `subject` as Portcullis splits it over MAX_CHUNKS cookies (an
 * ID token of random text, which does not deflate, fills them; the access token is `access-token-of-<subject>`).
 */
function chunkedSession(key: Buffer, name: string, subject: string): string[] {
  const state: CookieState = {
    kind: "session",
    subject,
    scope: HOST,
    accessToken: `access-token-of-${subject}`,
    idToken: randomBytes(9000).toString("base64url"),
    refreshToken: undefined,
    expiresAt: Date.now() + 60_000,
    refreshExpiresAt: undefined,
  };
  const lines = setCookies(name, seal(key, name, state), 60, { domain: undefined, sameSite: undefined, secure: true });
  if (lines === undefined || lines.length !== MAX_CHUNKS) throw new Error(`expected ${MAX_CHUNKS} chunks, got ${lines?.length}`);
  return lines.map((l) => l.split(";")[0]!);
}

/** A login started on /web: the login cookie (name=value) and the provider's authorization URL. */
async function startLogin(ctx: Ctx, path = "/web/page"): Promise<{ cookie: string; authorize: string; state: string }> {
  const d = await ask(ctx, path);
  if (d.code !== "oidc_login") throw new Error(`expected a login redirect, got ${d.code}`);
  const authorize = d.responseHeaders.location!;
  return { cookie: d.cookies![0]!.split(";")[0]!, authorize, state: new URL(authorize).searchParams.get("state")! };
}

/** Fails unless `d` redirects to `location` (exactly, or starting with it when `prefix`). */
function expectLocation(d: Decision, location: string, prefix = false): void {
  const got = d.responseHeaders.location ?? "";
  if (prefix ? !got.startsWith(location) : got !== location) throw new Error(`Location is ${JSON.stringify(got)}, expected ${location}`);
}

export const oidcCases: readonly Case[] = [
  c("no-session", "a browser without a session: 302 to the provider, never to the upstream", LOGIN, async (ctx) => {
    const d = await ask(ctx, "/web/page");
    expectLocation(d, `${ctx.op.issuer}/auth?`, true);
    return outcome(ctx, d);
  }),
  c(
    "deny-redirect",
    "an XHR (`X-Requested-With: XMLHttpRequest`, denyRedirect) without a session: 401, no redirect",
    { status: 401, code: "oidc_unauthenticated" },
    async (ctx) => outcome(ctx, await ask(ctx, "/web/api", undefined, { "x-requested-with": "XMLHttpRequest" })),
  ),
  c(
    "bearer-not-passed-through",
    "`Authorization: Bearer …` without passThroughAuthHeader: no session, so the login (the token is not trusted)",
    LOGIN,
    async (ctx) => outcome(ctx, await ask(ctx, "/web/page", undefined, { authorization: "Bearer eyJhbGciOiJub25lIn0.e30." })),
  ),
  c(
    "valid-session",
    "a session sealed with the policy's key: allowed, its access token goes upstream as `Authorization: Bearer`, the session cookie does not",
    { status: 200, code: "allowed", upstream: { authorization: "Bearer access-token-of-alice", cookie: "theme=dark" } },
    async (ctx) => {
      const { name, key } = cookieOf(ctx);
      return outcome(ctx, await ask(ctx, "/web/page", `theme=dark; ${session(key, name, "alice", 60_000)}`));
    },
  ),
  c("tampered-session", "the session cookie with one character changed: sent to log in", LOGIN, async (ctx) => {
    const { name, key } = cookieOf(ctx);
    const cookie = session(key, name, "alice", 60_000);
    const at = name.length + 20;
    return outcome(ctx, await ask(ctx, "/web/page", `${cookie.slice(0, at)}${cookie[at] === "A" ? "B" : "A"}${cookie.slice(at + 1)}`));
  }),
  c("foreign-session", "a session sealed for another policy (another key): sent to log in", LOGIN, async (ctx) => {
    const { name } = cookieOf(ctx);
    return outcome(ctx, await ask(ctx, "/web/page", session(sessionKey(ctx.op.clientSecret, "apps/other"), name, "alice", 60_000)));
  }),
  c("forged-session", "a session sealed with a guessed key, as `admin`: sent to log in", LOGIN, async (ctx) => {
    const { name } = cookieOf(ctx);
    return outcome(ctx, await ask(ctx, "/web/page", session(sessionKey("secret", WEB_POLICY), name, "admin", 60_000)));
  }),
  c(
    "two-sessions",
    "two valid session cookies of different users (e.g. one planted for a parent domain): neither is chosen, sent to log in",
    LOGIN,
    async (ctx) => {
      const { name, key } = cookieOf(ctx);
      return outcome(ctx, await ask(ctx, "/web/page", `${session(key, name, "alice", 60_000)}; ${session(key, name, "mallory", 60_000)}`));
    },
  ),
  c(
    "session-other-host",
    "alice's session, issued at api.example.com and let through there, sent with `Host: api.example.com:8443` (the same route: Envoy drops the port to match routes, not from its cookies' HMAC): sent to log in",
    LOGIN,
    async (ctx) => {
      const { name, key } = cookieOf(ctx);
      const cookie = session(key, name, "alice", 60_000);
      const there = await ask(ctx, "/web/page", cookie);
      if (there.code !== "allowed") throw new Error(`the session's own host answered ${there.code}: ${there.message}`);
      return outcome(ctx, await ctx.decider({ host: `${HOST}:8443`, path: "/web/page", headers: { cookie } }));
    },
    SESSION_HOST_FIXED,
  ),
  {
    ...c(
      "four-chunks",
      `a session split over ${MAX_CHUNKS} cookies, the most one may span, sent in reverse order: allowed, no chunk goes upstream`,
      { status: 200, code: "allowed", upstream: { authorization: "Bearer access-token-of-alice" }, remove: ["cookie"] },
      async (ctx) => {
        const { name, key } = cookieOf(ctx);
        return outcome(ctx, await ask(ctx, "/web/page", chunkedSession(key, name, "alice").reverse().join("; ")));
      },
    ),
  },
  ...(
    [
      [
        "planted-chunk",
        "alice's chunk 2 replaced by mallory's chunk 2 (planted for a parent domain)",
        (a: string[], m: string[]) => [a[0], a[1], m[2], a[3]],
      ],
      ["chunk-twice", "alice's session with mallory's chunk 3 sent beside alice's", (a: string[], m: string[]) => [...a, m[3]]],
      [
        "chunks-swapped",
        "alice's chunks 1 and 2 swapped",
        (a: string[]) => [a[0], a[2]!.replace(".2=", ".1="), a[1]!.replace(".1=", ".2="), a[3]],
      ],
      ["chunk-missing", "alice's session without its last chunk", (a: string[]) => a.slice(0, -1)],
      [
        "fifth-chunk",
        `a first cookie announcing ${MAX_CHUNKS + 1} chunks, a fifth one sent`,
        (a: string[], m: string[]) => [
          a[0]!.replace(`=${MAX_CHUNKS}~`, `=${MAX_CHUNKS + 1}~`),
          ...a.slice(1),
          `${m[3]!.split("=")[0]!.replace(/\.3$/, ".4")}=${m[3]!.split("=")[1]}`,
        ],
      ],
    ] as const
  ).map(([id, title, mix]) =>
    c(id, `a ${MAX_CHUNKS}-cookie session: ${title}: sent to log in`, LOGIN, async (ctx) => {
      const { name, key } = cookieOf(ctx);
      const [alice, mallory] = [chunkedSession(key, name, "alice"), chunkedSession(key, name, "mallory")];
      return outcome(ctx, await ask(ctx, "/web/page", mix(alice, mallory).join("; ")));
    }),
  ),
  c("expired-session", "a session whose tokens expired, without a refresh token: sent to log in", LOGIN, async (ctx) => {
    const { name, key } = cookieOf(ctx);
    return outcome(ctx, await ask(ctx, "/web/page", session(key, name, "alice", -1000)));
  }),
  c(
    "forged-refresh-token",
    "an expired session with a refresh token the provider never issued: the refresh fails, sent to log in",
    LOGIN,
    async (ctx) => {
      const { name, key } = cookieOf(ctx);
      return outcome(ctx, await ask(ctx, "/web/page", session(key, name, "alice", -1000, "made-up-refresh-token")));
    },
  ),
  c(
    "login-cookie-as-session",
    "a login (state) cookie presented as a session on a page: not a session, sent to log in",
    LOGIN,
    async (ctx) => outcome(ctx, await ask(ctx, "/web/page", (await startLogin(ctx)).cookie)),
  ),
  c(
    "callback-without-login",
    "the callback with a code and state but no login cookie (login CSRF: a victim's browser sent an attacker's code)",
    REFUSED("without a login"),
    async (ctx) => outcome(ctx, await ask(ctx, "/web/oauth2/callback?code=attacker-code&state=attacker-state")),
  ),
  c("callback-wrong-state", "the callback with the login cookie but another state", REFUSED("state does not match"), async (ctx) => {
    const login = await startLogin(ctx);
    return outcome(ctx, await ask(ctx, `/web/oauth2/callback?code=x&state=${login.state}x`, login.cookie));
  }),
  c("callback-two-states", "the callback with the right state and a second one", REFUSED("state does not match"), async (ctx) => {
    const login = await startLogin(ctx);
    return outcome(ctx, await ask(ctx, `/web/oauth2/callback?code=x&state=${login.state}&state=other`, login.cookie));
  }),
  c("callback-provider-error", "the callback with the right state and `error=access_denied`", REFUSED("refused the login"), async (ctx) => {
    const login = await startLogin(ctx);
    return outcome(ctx, await ask(ctx, `/web/oauth2/callback?error=access_denied&state=${login.state}`, login.cookie));
  }),
  c(
    "callback-forged-code",
    "the callback with the right state and a code the provider never issued",
    REFUSED("code exchange failed"),
    async (ctx) => {
      const login = await startLogin(ctx);
      return outcome(ctx, await ask(ctx, `/web/oauth2/callback?code=forged&state=${login.state}`, login.cookie));
    },
  ),
  c("callback-expired-login", "the callback after the login expired (csrfTokenTTL), state right", REFUSED("login expired"), async (ctx) => {
    const { name, key } = cookieOf(ctx);
    const login = await startLogin(ctx);
    const state = unseal(key, name, login.cookie.slice(name.length + 1))!;
    const expired = `${name}=${seal(key, name, { ...state, expiresAt: Date.now() - 1 } as CookieState)}`;
    return outcome(ctx, await ask(ctx, `/web/oauth2/callback?code=x&state=${login.state}`, expired));
  }),
  c(
    "callback-replayed",
    "a completed callback sent again with its login cookie (the code is used): refused",
    REFUSED("code exchange failed"),
    async (ctx) => {
      const login = await startLogin(ctx);
      const back = await loginAt(login.authorize, "alice");
      const path = `${back.pathname}${back.search}`;
      const first = await ask(ctx, path, login.cookie);
      if (first.code !== "oidc_callback") throw new Error(`the first callback answered ${first.code}: ${first.message}`);
      return outcome(ctx, await ask(ctx, path, login.cookie));
    },
  ),
  c(
    "callback-other-iss",
    "a real callback whose `iss` names another issuer (RFC 9207; the provider advertises authorization_response_iss_parameter_supported): refused",
    REFUSED("code exchange failed"),
    async (ctx) => {
      const login = await startLogin(ctx);
      const back = await loginAt(login.authorize, "alice");
      back.searchParams.set("iss", "https://evil.example");
      return outcome(ctx, await ask(ctx, `${back.pathname}${back.search}`, login.cookie));
    },
  ),
  c(
    "callback-without-iss",
    "a real callback with its `iss` removed, from a provider that advertises authorization_response_iss_parameter_supported (a mix-up attack's answer): refused",
    REFUSED("code exchange failed"),
    async (ctx) => {
      const login = await startLogin(ctx);
      const back = await loginAt(login.authorize, "alice");
      back.searchParams.delete("iss");
      return outcome(ctx, await ask(ctx, `${back.pathname}${back.search}`, login.cookie));
    },
  ),
  c(
    "callback-code-and-error",
    "a real callback with `error=access_denied` added beside its code",
    REFUSED("refused the login"),
    async (ctx) => {
      const login = await startLogin(ctx);
      const back = await loginAt(login.authorize, "alice");
      back.searchParams.set("error", "access_denied");
      return outcome(ctx, await ask(ctx, `${back.pathname}${back.search}`, login.cookie));
    },
  ),
  c(
    "callback-other-login-code",
    "alice's real code under mallory's own login cookie and state (code injection): the PKCE verifier is mallory's, refused",
    REFUSED("code exchange failed"),
    async (ctx) => {
      const victim = await loginAt((await startLogin(ctx)).authorize, "alice");
      const attacker = await startLogin(ctx);
      const back = await loginAt(attacker.authorize, "mallory");
      back.searchParams.set("code", victim.searchParams.get("code")!);
      return outcome(ctx, await ask(ctx, `${back.pathname}${back.search}`, attacker.cookie));
    },
  ),
  c(
    "session-cookie-same-site",
    "a completed login on a policy without cookieConfig: the session cookie is set `SameSite=Lax`, so another site's form POST, image or fetch carries no session",
    { status: 302, code: "oidc_callback" },
    async (ctx) => {
      const { name } = cookieOf(ctx);
      const login = await startLogin(ctx);
      const back = await loginAt(login.authorize, "alice");
      const d = await ask(ctx, `${back.pathname}${back.search}`, login.cookie);
      const line = d.cookies?.find((l) => l.startsWith(`${name}=v1.`)) ?? "";
      if (!line.endsWith("; SameSite=Lax")) throw new Error(`the session cookie is not SameSite=Lax: ${line.replace(/=v1\.[\w-]+/, "=…")}`);
      return outcome(ctx, d);
    },
    SAME_SITE_FIXED,
  ),
  c(
    "callback-open-redirect",
    "a login cookie whose return URL is another site (sealed with the right key): the callback logs in but returns to this host's /",
    { status: 302, code: "oidc_callback" },
    async (ctx) => {
      const { name, key } = cookieOf(ctx);
      const login = await startLogin(ctx);
      const state = unseal(key, name, login.cookie.slice(name.length + 1))!;
      const evil = `${name}=${seal(key, name, { ...state, returnTo: "https://evil.example/steal" } as CookieState)}`;
      const back = await loginAt(login.authorize, "alice");
      const d = await ask(ctx, `${back.pathname}${back.search}`, evil);
      expectLocation(d, `http://${HOST}/`);
      return outcome(ctx, d);
    },
  ),
  c(
    "refresh-open-redirect",
    "a refresh on a request target without its leading `/` (`web/page`, which the host would absorb): 307 to this host's /, never another host",
    { status: 307, code: "oidc_refresh" },
    async (ctx) => {
      const { name, key } = cookieOf(ctx);
      const login = await startLogin(ctx);
      const back = await loginAt(login.authorize, "alice");
      const done = await ask(ctx, `${back.pathname}${back.search}`, login.cookie);
      const sealed = done.cookies?.[0]?.split(";")[0]?.slice(name.length + 1) ?? "";
      const live = unseal(key, name, sealed);
      if (live?.kind !== "session") throw new Error(`the callback made no session: ${done.code} ${done.message}`);
      const expired = `${name}=${seal(key, name, { ...live, expiresAt: Date.now() - 1 })}`;
      const d = await ask(ctx, "web/page", expired);
      expectLocation(d, `http://${HOST}/`);
      return outcome(ctx, d);
    },
  ),
  c(
    "logout",
    "the logout path with a session: 302 to the provider's end_session_endpoint, the cookie cleared",
    { status: 302, code: "oidc_logout" },
    async (ctx) => {
      const { name, key } = cookieOf(ctx);
      const d = await ask(ctx, "/web/logout", session(key, name, "alice", 60_000));
      expectLocation(d, `${ctx.op.issuer}/session/end?`, true);
      if (!d.cookies?.[0]?.startsWith(`${name}=; Path=/; Max-Age=0;`)) throw new Error(`the cookie is not cleared: ${d.cookies}`);
      return outcome(ctx, d);
    },
  ),
  c(
    "provider-unreachable",
    "a policy whose provider cannot be discovered, each of its retries failing too: 403, never through",
    { status: 403, code: "oidc_unavailable" },
    async (ctx) => outcome(ctx, await ask(ctx, "/webdown/page")),
  ),
  c(
    "session-on-unreachable-provider",
    "the `web` session cookie on the `web-down` route (another policy): not its session",
    { status: 403, code: "oidc_unavailable" },
    async (ctx) => {
      const { name, key } = cookieOf(ctx);
      return outcome(ctx, await ask(ctx, "/webdown/page", session(key, name, "alice", 60_000)));
    },
  ),
  c(
    "pass-through-fail-open-forged",
    "/webapi (oidc with passThroughAuthHeader, jwt with failOpen): a forged token claiming `sub: admin` and a spoofed `x-user-id: admin`",
    { status: 401, code: "jwt_bad_signature" },
    (ctx) =>
      ctx.check({
        path: "/webapi/reports",
        headers: { authorization: `Bearer ${token({ sub: "admin" }, {}, ctx.keys.stranger)}`, "x-user-id": "admin" },
      }),
    PASS_THROUGH_FIXED,
  ),
  c(
    "pass-through-fail-open-junk",
    "/webapi: `Authorization: Bearer x` (no token at all, but the header passThroughAuthHeader looks for)",
    { status: 401, code: "jwt_invalid" },
    (ctx) => ctx.check({ path: "/webapi/reports", headers: { authorization: "Bearer x" } }),
    PASS_THROUGH_FIXED,
  ),
  c(
    "pass-through-fail-open-valid",
    "/webapi: a valid token of the jwt provider skips the login and gives its identity",
    { status: 200, code: "allowed", upstream: { "x-user-id": "u-1" } },
    (ctx) => ctx.check({ path: "/webapi/reports", headers: { authorization: `Bearer ${token({}, {}, undefined, ctx.keys)}` } }),
  ),
  c("pass-through-fail-open-no-header", "/webapi without a session or a bearer header: the login", LOGIN, (ctx) =>
    ctx.check({ path: "/webapi/reports" }),
  ),
  c(
    "forward-auth-client-authorization",
    "forward-auth (a proxy whose X-Portcullis-Replaces does not name Authorization, as Traefik sends none): a valid session and the client's own `Authorization: Bearer <forged>`",
    { status: 400, code: "request_invalid", reason: "carries its own authorization" },
    (ctx) => forwardWithOwnAuthorization(ctx, "x-user-id, x-user-group, x-user-email"),
    "an allow that sets Authorization (oidc's forwardAccessToken) was exempt from the forward-auth safety net, as nginx and Caddy take Authorization from the answer; Traefik, whose authResponseHeaders the shipped middleware lists without Authorization, passed the client's own bearer token to the upstream in place of the session's. A client's Authorization beside one the allow sets is now refused unless the proxy lists authorization in X-Portcullis-Replaces (the shipped nginx and Caddy files do)",
  ),
  c(
    "forward-auth-client-authorization-replaced",
    "forward-auth (X-Portcullis-Replaces names Authorization, as the shipped nginx and Caddy files): a valid session and the client's own `Authorization: Bearer <forged>`: the session's token replaces it",
    {
      status: 200,
      code: "allowed",
      upstream: { authorization: "Bearer access-token-of-mallory", "x-portcullis-cookie": "remove" },
      remove: ["cookie"],
    },
    (ctx) => forwardWithOwnAuthorization(ctx, "x-user-id, x-user-group, x-user-email, authorization"),
  ),
];
