/**
 * The `oidc` phase: the OpenID Connect authorization code flow (OpenID Connect Core 1.0 §3.1, with
 * PKCE S256, RFC 7636) as Envoy's oauth2 filter runs it for Envoy Gateway, answered through ext_authz:
 * - a request with `passThroughAuthHeader` and a jwt provider's header skips the login (jwt decides);
 * - the logout path clears the session cookie and redirects (302) to the provider's
 *   end_session_endpoint (with id_token_hint and post_logout_redirect_uri `<scheme>://<host>/`), or to `/`;
 * - the callback path (redirectURL's) completes the login: the login cookie's state must equal the
 *   `state` parameter, the code is exchanged with the PKCE verifier, the ID token is validated
 *   (signature against the provider's JWKS, iss, aud, exp, nonce); then 302 back to the URL the
 *   login started at (same origin only) with the session cookie set. Anything else: 401;
 * - a valid session issued at the request's Host (as written), or under cookieDomain, passes,
 *   forwarding the access token (`Authorization: Bearer`) and the ID token as configured, the
 *   session cookie removed from what goes upstream;
 * - an expired session with a refresh token is refreshed at the token endpoint and the client is
 *   sent (307, method and body kept) to the same URL with the new cookie;
 * - otherwise: 401 when a `denyRedirect` header matches (XHR and API clients), else 302 to the
 *   authorization endpoint with a new login cookie (state, nonce, PKCE verifier, the URL).
 */
import { createHash } from "node:crypto";
import * as client from "openid-client";
import { cookieHeaderWithout } from "../../authz/credentials.ts";
import { deny, type DecisionCode } from "../../authz/decision.ts";
import { BoundedMap } from "../../lib/bounded-map.ts";
import type { Ok } from "../../lib/result.ts";
import type { Pass, PhaseResult } from "../feature.ts";
import type { NormalizedRequest } from "../../authz/request.ts";
import type { CompiledOidc } from "./compile.ts";
import { currentUrl, headerMatches, mayReturnTo, originOf, redirectUri } from "./requests.ts";
import type { OidcProviders } from "./provider.ts";
import {
  chunksPresent,
  clearCookies,
  type CookieAttributes,
  type LoginState,
  seal,
  sealedValues,
  type Session,
  setCookies,
  unseal,
} from "./session.ts";

export interface OidcContext {
  /** Provider configurations; undefined where no provider may be reached (every oidc request is then refused). */
  readonly oidc?: OidcProviders | undefined;
  /** Epoch milliseconds. */
  readonly now: () => number;
}

type Where = { readonly route: string; readonly policy: string };

/** A request that the oidc phase lets through untouched: jwt decides it, as a required jwt (passThroughAuthHeader). */
const PASS_THROUGH: PhaseResult = { ok: true, value: { principal: undefined, headers: {}, strip: [], attributes: {}, leftToJwt: true } };

export function checkOidc(oidc: CompiledOidc, req: NormalizedRequest, where: Where, ctx: OidcContext): PhaseResult | Promise<PhaseResult> {
  if (oidc.passThrough.some((m) => headerMatches(m, req))) return PASS_THROUGH;
  const isFlowPath = req.path === oidc.logoutPath || req.path === oidc.redirectPath;
  const cookie = req.header("cookie");
  if (!isFlowPath && cookie !== undefined) {
    const known = recentPasses.get(oidc)?.get(cookie);
    if (known !== undefined && known.until > ctx.now() && known.scope === sessionScope(oidc, req)) return known.pass;
  }
  const flow = new Flow(oidc, req, where, ctx);
  if (req.path === oidc.logoutPath) return flow.logout();
  if (req.path === oidc.redirectPath) return flow.callback();
  return flow.session();
}

/** How many recent sessions' passes each policy keeps. */
const RECENT_PASSES = 10_000;
/**
 * The pass of each recent session by the request's Cookie header when it carries nothing but the
 * session (the pass depends on nothing else), until its tokens expire: a session's requests skip
 * opening the cookie, and share one pass, so check()'s memoized allow serves them all instead of
 * one allow per request.
 */
const recentPasses = new WeakMap<
  CompiledOidc,
  BoundedMap<string, { readonly pass: Ok<Pass>; readonly until: number; readonly scope: string }>
>();

/** Where `req`'s session must have been issued to open (Session.scope): the policy's cookieDomain, else the Host as addressed. */
function sessionScope(oidc: CompiledOidc, req: NormalizedRequest): string {
  return oidc.cookie.domain ?? req.source.host;
}

class Flow {
  readonly oidc: CompiledOidc;
  readonly req: NormalizedRequest;
  readonly where: Where;
  readonly ctx: OidcContext;
  readonly #present: ReadonlySet<string>;
  readonly #attributes: CookieAttributes;
  readonly #states: readonly (LoginState | Session)[];
  readonly #scope: string;

  constructor(oidc: CompiledOidc, req: NormalizedRequest, where: Where, ctx: OidcContext) {
    this.oidc = oidc;
    this.req = req;
    this.where = where;
    this.ctx = ctx;
    const cookies = (name: string) => req.cookies(name);
    this.#present = chunksPresent(oidc.cookieName, cookies);
    this.#attributes = { ...oidc.cookie, secure: req.source.scheme === "https" };
    this.#scope = sessionScope(oidc, req);
    // Every copy that opens (a browser may hold one with and one without a Domain); foreign, altered or
    // malformed ones do not, nor a session issued at another host (copied, or kept from before a cookieDomain change).
    this.#states = sealedValues(oidc.cookieName, cookies).flatMap((v) => {
      const state = unseal(oidc.sessionKey, oidc.cookieName, v);
      return state === undefined || (state.kind === "session" && state.scope !== this.#scope) ? [] : [state];
    });
  }

  /** The one state of this kind the request carries; two different ones are no state at all (neither can be preferred). */
  #only<K extends "login" | "session">(kind: K): Extract<LoginState | Session, { kind: K }> | undefined {
    const found = this.#states.filter((s) => s.kind === kind);
    return found.length === 1 ? (found[0] as Extract<LoginState | Session, { kind: K }>) : undefined;
  }

  #answer(status: number, code: DecisionCode, message: string, location: string | undefined, cookies: readonly string[]): PhaseResult {
    const headers: Record<string, string> = location === undefined ? {} : { location };
    return { ok: false, error: { ...deny(status, code, message, this.where, headers), cookies } };
  }

  #refuse(status: 401 | 403, code: DecisionCode, message: string): PhaseResult {
    return { ok: false, error: deny(status, code, message, this.where) };
  }

  #configuration(): Promise<client.Configuration> {
    if (this.ctx.oidc === undefined) return Promise.reject(new Error("this process reaches no OpenID provider"));
    return this.ctx.oidc.configuration(this.oidc);
  }

  /** Provider unreachable or misconfigured: refused, never let through. */
  #unavailable = (err: unknown): PhaseResult =>
    this.#refuse(403, "oidc_unavailable", `the OpenID provider cannot be used: ${err instanceof Error ? err.message : String(err)}`);

  logout(): Promise<PhaseResult> | PhaseResult {
    const session = this.#only("session");
    const cleared = clearCookies(this.oidc.cookieName, this.#attributes, this.#present);
    const home = `${originOf(this.req)}/`;
    if (this.ctx.oidc === undefined) return this.#answer(302, "oidc_logout", "logged out", home, cleared);
    return this.#configuration().then(
      (config) => {
        if (session?.refreshToken !== undefined && config.serverMetadata().revocation_endpoint !== undefined) {
          // The refresh token is revoked so that a copy of the cookie cannot be renewed; the logout does not wait for it.
          client.tokenRevocation(config, session.refreshToken, { token_type_hint: "refresh_token" }).catch(() => undefined);
        }
        if (config.serverMetadata().end_session_endpoint === undefined)
          return this.#answer(302, "oidc_logout", "logged out", home, cleared);
        const params: Record<string, string> = { client_id: this.oidc.clientId, post_logout_redirect_uri: home };
        if (session?.idToken !== undefined) params.id_token_hint = session.idToken;
        const url = client.buildEndSessionUrl(config, params).href;
        return this.#answer(302, "oidc_logout", "logged out; sent to the provider's end_session_endpoint", url, cleared);
      },
      // The cookie is cleared whatever the provider's state.
      () => this.#answer(302, "oidc_logout", "logged out (the provider's end_session_endpoint is unknown)", home, cleared),
    );
  }

  callback(): PhaseResult | Promise<PhaseResult> {
    const login = this.#only("login");
    if (login === undefined) return this.#refuse(401, "oidc_callback_refused", "callback without a login of this policy in progress");
    if (login.expiresAt <= this.ctx.now())
      return this.#refuse(401, "oidc_callback_refused", "callback after the login expired (csrfTokenTTL)");
    const states = this.req.query.getAll("state");
    if (states.length !== 1 || states[0] !== login.state)
      return this.#refuse(401, "oidc_callback_refused", "callback whose state does not match the login's (CSRF)");
    const error = this.req.query.get("error");
    if (error !== null) return this.#refuse(401, "oidc_callback_refused", `the provider refused the login: ${error.slice(0, 64)}`);
    const current = new URL(redirectUri(this.oidc.redirectURL, this.req));
    for (const [k, v] of this.req.query) current.searchParams.append(k, v);
    return this.#configuration().then(
      (config) =>
        client
          .authorizationCodeGrant(config, current, {
            pkceCodeVerifier: login.verifier,
            expectedState: login.state,
            expectedNonce: login.nonce,
            idTokenExpected: true,
          })
          .then(
            (tokens) => {
              const session = this.#sessionOf(tokens, undefined);
              if (typeof session === "string") return this.#refuse(401, "oidc_callback_refused", session);
              const back = mayReturnTo(login.returnTo, this.req, this.oidc.cookie.domain) ? login.returnTo : `${originOf(this.req)}/`;
              return this.#withSession(302, "oidc_callback", "logged in", back, session);
            },
            (err: unknown) => this.#refuse(401, "oidc_callback_refused", `the code exchange failed: ${describe(err)}`),
          ),
      this.#unavailable,
    );
  }

  session(): PhaseResult | Promise<PhaseResult> {
    const session = this.#only("session");
    const now = this.ctx.now();
    if (session !== undefined && session.expiresAt > now) return this.#allow(session);
    if (
      session?.refreshToken !== undefined &&
      this.oidc.refreshToken &&
      (session.refreshExpiresAt === undefined || session.refreshExpiresAt > now)
    ) {
      const refreshToken = session.refreshToken;
      return this.#configuration().then(
        (config) =>
          client.refreshTokenGrant(config, refreshToken).then(
            (tokens) => {
              const renewed = this.#sessionOf(tokens, session);
              if (typeof renewed === "string") return this.#login();
              // 307: the browser repeats the request, method and body included, with the new cookie.
              return this.#withSession(307, "oidc_refresh", "tokens refreshed", currentUrl(this.req), renewed);
            },
            // A refresh the provider refuses (revoked, expired) starts a new login.
            () => this.#login(),
          ),
        this.#unavailable,
      );
    }
    return this.#login();
  }

  #allow(session: Session): Ok<Pass> {
    const headers: Record<string, string> = {};
    if (this.oidc.forwardAccessToken) headers.authorization = `Bearer ${session.accessToken}`;
    const idHeader = this.oidc.forwardIDTokenHeader;
    if (idHeader !== undefined && session.idToken !== undefined)
      headers[idHeader] = idHeader === "authorization" ? `Bearer ${session.idToken}` : session.idToken;
    // The session cookie is Portcullis' own: it never reaches the upstream.
    const strip: string[] = [];
    const rest = cookieHeaderWithout(this.req.header("cookie"), this.#present);
    if (rest === undefined) strip.push("cookie");
    else headers.cookie = rest;
    const principal = `oidc sub=${session.subject}`;
    // The request's other cookies make this pass its own: remembered, a client could fill memory with junk cookies.
    if (rest !== undefined) return { ok: true, value: { principal, headers, strip, attributes: {}, perRequest: true } };
    const pass: Ok<Pass> = { ok: true, value: { principal, headers, strip, attributes: {} } };
    const cookie = this.req.header("cookie")!;
    let recent = recentPasses.get(this.oidc);
    if (recent === undefined) recentPasses.set(this.oidc, (recent = new BoundedMap(RECENT_PASSES)));
    recent.set(cookie, { pass, until: session.expiresAt, scope: this.#scope });
    return pass;
  }

  #login(): PhaseResult | Promise<PhaseResult> {
    if (this.oidc.denyRedirect.some((m) => headerMatches(m, this.req)))
      return this.#refuse(401, "oidc_unauthenticated", "no session, and the request asks not to be redirected (denyRedirect)");
    return this.#configuration().then((config) => {
      const login: LoginState = {
        kind: "login",
        state: client.randomState(),
        nonce: client.randomNonce(),
        verifier: client.randomPKCECodeVerifier(),
        returnTo: currentUrl(this.req),
        expiresAt: this.ctx.now() + this.oidc.csrfTokenTTLMs,
      };
      const params = new URLSearchParams({
        response_type: "code",
        redirect_uri: redirectUri(this.oidc.redirectURL, this.req),
        scope: this.oidc.scopes.join(" "),
        state: login.state,
        nonce: login.nonce,
        code_challenge: createHash("sha256").update(login.verifier).digest("base64url"),
        code_challenge_method: "S256",
      });
      for (const r of this.oidc.resources) params.append("resource", r);
      const url = client.buildAuthorizationUrl(config, params).href;
      // The provider's redirect back is a cross-site navigation: a Strict cookie would not come with it.
      const attributes: CookieAttributes = { ...this.#attributes, sameSite: this.#attributes.sameSite === "None" ? "None" : "Lax" };
      const cookies = setCookies(
        this.oidc.cookieName,
        seal(this.oidc.sessionKey, this.oidc.cookieName, login),
        this.oidc.csrfTokenTTLMs / 1000,
        attributes,
        this.#present,
      );
      return this.#answer(302, "oidc_login", "no session: sent to the OpenID provider to log in", url, cookies ?? []);
    }, this.#unavailable);
  }

  /** The session a token response makes (a refresh keeps what it does not renew), or why there is none. */
  #sessionOf(tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers, previous: Session | undefined): Session | string {
    const now = this.ctx.now();
    const expiresIn = tokens.expiresIn();
    const lifetime = expiresIn !== undefined ? expiresIn * 1000 : this.oidc.defaultTokenTTLMs;
    if (lifetime === undefined) return "the token response has no expires_in, and the policy sets no defaultTokenTTL";
    const subject = tokens.claims()?.sub ?? previous?.subject;
    if (subject === undefined) return "the token response has no ID token";
    const refreshToken = this.oidc.refreshToken ? (tokens.refresh_token ?? previous?.refreshToken) : undefined;
    return {
      kind: "session",
      subject,
      scope: this.#scope,
      accessToken: tokens.access_token,
      idToken: tokens.id_token ?? previous?.idToken,
      refreshToken,
      expiresAt: now + lifetime,
      // A new refresh token lives defaultRefreshTokenTTL; a kept one keeps its end.
      refreshExpiresAt:
        refreshToken === undefined
          ? undefined
          : tokens.refresh_token !== undefined
            ? now + this.oidc.defaultRefreshTokenTTLMs
            : previous?.refreshExpiresAt,
    };
  }

  #withSession(status: 302 | 307, code: DecisionCode, message: string, location: string, session: Session): PhaseResult {
    const until = session.refreshExpiresAt ?? session.expiresAt;
    const cookies = setCookies(
      this.oidc.cookieName,
      seal(this.oidc.sessionKey, this.oidc.cookieName, session),
      (until - this.ctx.now()) / 1000,
      this.#attributes,
      this.#present,
    );
    if (cookies === undefined)
      return this.#refuse(401, "oidc_callback_refused", "the provider's tokens do not fit into the session cookies (about 15 KB)");
    return this.#answer(status, code, message, location, cookies);
  }
}

/** An openid-client error as a log line: its code and message (they name checks, never tokens). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? `${code}: ${err.message}` : err.message;
}
