/**
 * Compiles `oidc` as Envoy Gateway v1.9.0 does (internal/gatewayapi/securitypolicy.go buildOIDC and
 * validateSecurityPolicy, internal/xds/translator/oidc.go): the client, the endpoints, the callback
 * and logout paths, what is forwarded, the cookie, and the header matchers of `denyRedirect` and
 * `passThroughAuthHeader`. Pure: an issuer without explicit endpoints is discovered at run time
 * (provider.ts), never here.
 */
import { createHash } from "node:crypto";
import { upstreamHeaderName } from "../../lib/headers.ts";
import type { Result } from "../../lib/result.ts";
import { keyOf, parseGatewayDuration } from "../../api/meta.ts";
import { backendsConnection, clusterConnection } from "../../compile/backends.ts";
import type { References } from "../../compile/references.ts";
import type { CompileContext } from "../feature.ts";
import { compileRe2, type Re2 } from "../../lib/regex.ts";
import type { JwksConnection } from "../../keys/types.ts";
import type { JWTSpec } from "../jwt/index.ts";
import { sessionKey, type CookieAttributes } from "./session.ts";
import type { OIDCSpec } from "./spec.ts";

/** Envoy Gateway's Secret keys for the client id and secret. */
export const CLIENT_ID_KEY = "client-id";
export const CLIENT_SECRET_KEY = "client-secret";
/** Envoy Gateway's defaults. */
export const DEFAULT_REDIRECT_URL = "%REQ(x-forwarded-proto)%://%REQ(:authority)%/oauth2/callback";
export const DEFAULT_LOGOUT_PATH = "/logout";
export const DEFAULT_CSRF_TOKEN_TTL_MS = 10 * 60_000;
export const DEFAULT_REFRESH_TOKEN_TTL_MS = 604_800_000;

/** A request header test, as Envoy's HeaderMatcher: present, or its value matched. */
export interface HeaderMatcher {
  /** Lower-case. */
  readonly name: string;
  readonly type: "Present" | "Exact" | "Prefix" | "Suffix" | "RegularExpression";
  readonly value: string;
  /** The RegularExpression value compiled, matched against the whole header value. */
  readonly regex: Re2 | undefined;
}

export interface CompiledOidc {
  readonly provider: {
    /** Discovery (`<issuer>/.well-known/openid-configuration`) fills in the endpoints not given here. */
    readonly issuer: string;
    readonly authorizationEndpoint: string | undefined;
    readonly tokenEndpoint: string | undefined;
    readonly endSessionEndpoint: string | undefined;
    /** How every provider call reaches it (backendRefs/backendSettings), as a remote JWKS fetch does. */
    readonly connection: JwksConnection;
  };
  readonly clientId: string;
  /** From the clientSecret Secret; sent to the token endpoint only (client_secret_basic). Never logged or summarised. */
  readonly clientSecret: string;
  /** The cookies' AES-256 key (session.ts). */
  readonly sessionKey: Buffer;
  /** `openid` always among them. */
  readonly scopes: readonly string[];
  readonly resources: readonly string[];
  /** The redirect_uri, with `%REQ(x-forwarded-proto)%` and `%REQ(:authority)%` filled in per request. */
  readonly redirectURL: string;
  /** The path of redirectURL: a request to it is the provider's callback. */
  readonly redirectPath: string;
  readonly logoutPath: string;
  /** Send the access token upstream as `Authorization: Bearer`. */
  readonly forwardAccessToken: boolean;
  /** Lower-case header the ID token goes upstream in (`Bearer `-prefixed in Authorization). */
  readonly forwardIDTokenHeader: string | undefined;
  /** Milliseconds; used when the token response has no expires_in (none: such a response fails the login). */
  readonly defaultTokenTTLMs: number | undefined;
  readonly refreshToken: boolean;
  readonly defaultRefreshTokenTTLMs: number;
  /** How long a login may take, from the redirect to the callback. */
  readonly csrfTokenTTLMs: number;
  /** The one cookie of the login state and the session (split into `<name>.1`… when long). */
  readonly cookieName: string;
  readonly cookie: Omit<CookieAttributes, "secure">;
  /** A request matching any of these skips the login and is left to jwt (passThroughAuthHeader). */
  readonly passThrough: readonly HeaderMatcher[];
  /** A request without a session matching any of these gets 401 instead of the redirect. */
  readonly denyRedirect: readonly HeaderMatcher[];
}

/**
 * `ownerOf`: the policy each part comes from, whose namespace its references are looked up in (the
 * provider's backendRefs, the clientIDRef and clientSecret Secrets). The session key and cookie
 * name are bound to the policy the clientSecret comes from: the policy that sets oidc, as Envoy
 * Gateway names the oauth2 filter and suffixes its cookies after it (in a merge, the route policy
 * when it sets oidc, else the parent, whose routes then share the login). `jwt`: the policy's jwt,
 * for passThroughAuthHeader.
 */
export function compileOidc(
  spec: OIDCSpec,
  ownerOf: CompileContext["ownerOf"],
  jwt: JWTSpec | undefined,
  refs: References,
): Result<CompiledOidc, string> {
  // Field-relative: the caller prefixes the feature ("OIDC: clientSecret: …").
  const fail = (error: string): Result<CompiledOidc, string> => ({ ok: false, error });
  for (const [field, url] of [
    ["provider.issuer", spec.provider.issuer],
    ["provider.authorizationEndpoint", spec.provider.authorizationEndpoint],
    ["provider.tokenEndpoint", spec.provider.tokenEndpoint],
    ["provider.endSessionEndpoint", spec.provider.endSessionEndpoint],
  ] as const) {
    if (url !== undefined && !isHttpUrl(url)) return fail(`${field}: "${url}" is not an http or https URL`);
  }
  const settings =
    spec.provider.backendSettings === undefined ? undefined : clusterConnection(spec.provider.backendSettings, "provider.backendSettings");
  if (settings !== undefined && !settings.ok) return fail(settings.error.join("; "));
  const backendRefs = spec.provider.backendRefs ?? [];
  const backends =
    backendRefs.length === 0
      ? undefined
      : backendsConnection(backendRefs, "provider", ownerOf("oidc.provider.backendRefs").namespace, refs);
  if (backends !== undefined && !backends.ok) return fail(backends.error.join("; "));

  let clientId = spec.clientID;
  if (spec.clientIDRef !== undefined) {
    const secret = refs.secret(ownerOf("oidc.clientIDRef").namespace, spec.clientIDRef);
    if (!secret.ok) return fail(`clientIDRef: ${secret.error}`);
    clientId = secret.value.data[CLIENT_ID_KEY];
    if (clientId === undefined || clientId === "")
      return fail(`clientIDRef: Secret ${secret.value.metadata.namespace}/${secret.value.metadata.name} has no ${CLIENT_ID_KEY} key`);
  }
  const secretOwner = ownerOf("oidc.clientSecret");
  const policyId = keyOf(secretOwner);
  const secret = refs.secret(secretOwner.namespace, spec.clientSecret);
  if (!secret.ok) return fail(`clientSecret: ${secret.error}`);
  const clientSecret = secret.value.data[CLIENT_SECRET_KEY];
  if (clientSecret === undefined || clientSecret === "")
    return fail(`clientSecret: Secret ${secret.value.metadata.namespace}/${secret.value.metadata.name} has no ${CLIENT_SECRET_KEY} key`);

  const redirectURL = spec.redirectURL ?? DEFAULT_REDIRECT_URL;
  const redirectPath = redirectPathOf(redirectURL);
  if (redirectPath === undefined) return fail(`redirectURL: "${redirectURL}" is not a URL with a path other than "/"`);
  const logoutPath = spec.logoutPath ?? DEFAULT_LOGOUT_PATH;
  if (!logoutPath.startsWith("/")) return fail(`logoutPath: "${logoutPath}" does not start with "/"`);

  let forwardIDTokenHeader: string | undefined;
  if (spec.forwardIDToken !== undefined) {
    const lower = spec.forwardIDToken.header.toLowerCase();
    // Authorization is the one credential header oidc may set (as forwardAccessToken does).
    if (lower !== "authorization") {
      const h = upstreamHeaderName(spec.forwardIDToken.header, "forwardIDToken.header");
      if (!h.ok) return { ok: false, error: h.error.join("; ") };
    }
    forwardIDTokenHeader = lower;
  }

  const unsetCookie = tokenCookieReadByJwt(spec.cookieNames, jwt);
  if (unsetCookie !== undefined) return fail(unsetCookie);

  let passThrough: HeaderMatcher[] = [];
  if (spec.passThroughAuthHeader === true) {
    const matchers = passThroughMatchers(jwt, forwardIDTokenHeader);
    if (!matchers.ok) return fail(matchers.error);
    passThrough = matchers.value;
  }
  const denyRedirect: HeaderMatcher[] = [];
  for (const [i, h] of (spec.denyRedirect?.headers ?? []).entries()) {
    const regex = h.type === "RegularExpression" ? compileRe2(h.value) : undefined;
    if (regex !== undefined && !regex.ok) return fail(`denyRedirect.headers[${i}].value: ${regex.error}`);
    denyRedirect.push({ name: h.name.toLowerCase(), type: h.type, value: h.value, regex: regex?.value });
  }

  const scopes = spec.scopes ?? [];
  return {
    ok: true,
    value: {
      provider: {
        issuer: spec.provider.issuer,
        authorizationEndpoint: spec.provider.authorizationEndpoint,
        tokenEndpoint: spec.provider.tokenEndpoint,
        endSessionEndpoint: spec.provider.endSessionEndpoint,
        connection: { ...settings?.value, ...backends?.value },
      },
      clientId: clientId!,
      clientSecret,
      sessionKey: sessionKey(clientSecret, policyId),
      scopes: scopes.includes("openid") ? scopes : [...scopes, "openid"],
      resources: spec.resources ?? [],
      redirectURL,
      redirectPath,
      logoutPath,
      forwardAccessToken: spec.forwardAccessToken ?? false,
      forwardIDTokenHeader,
      defaultTokenTTLMs: spec.defaultTokenTTL === undefined ? undefined : parseGatewayDuration(spec.defaultTokenTTL),
      refreshToken: spec.refreshToken ?? true,
      defaultRefreshTokenTTLMs:
        spec.defaultRefreshTokenTTL === undefined ? DEFAULT_REFRESH_TOKEN_TTL_MS : parseGatewayDuration(spec.defaultRefreshTokenTTL),
      csrfTokenTTLMs: spec.csrfTokenTTL === undefined ? DEFAULT_CSRF_TOKEN_TTL_MS : parseGatewayDuration(spec.csrfTokenTTL),
      // Envoy Gateway suffixes its cookie names with a digest of the policy, so two policies never share one.
      cookieName: `OauthSession-${createHash("sha256").update(policyId).digest("hex").slice(0, 8)}`,
      cookie: {
        domain: spec.cookieDomain,
        // Lax unless configured, where Envoy Gateway leaves SameSite to the browser: another site's requests carry no session.
        sameSite: spec.cookieConfig?.sameSite ?? "Lax",
      },
      passThrough,
      denyRedirect,
    },
  };
}

function isHttpUrl(text: string): boolean {
  return URL.canParse(text) && /^https?:$/.test(new URL(text).protocol);
}

/** The path of a redirect URL as Envoy Gateway's extractRedirectPath reads it; undefined when it has none (or only "/"). */
export function redirectPathOf(url: string): string | undefined {
  const schemeEnd = url.indexOf("://");
  if (schemeEnd <= 0) return undefined;
  if (!["http", "https", "%REQ(x-forwarded-proto)%"].includes(url.slice(0, schemeEnd))) return undefined;
  const slash = url.indexOf("/", schemeEnd + 3);
  if (slash <= schemeEnd + 3) return undefined;
  const path = url.slice(slash);
  // The query, if any, is not part of the path Envoy matches the callback on.
  const bare = path.split("?")[0]!;
  return bare === "/" ? undefined : bare;
}

/**
 * Why a jwt provider reading a cookie `cookieNames` names cannot work here, or undefined. Envoy's
 * oauth2 filter keeps the access and ID tokens in those cookies, so a jwt provider reading one
 * verifies the session's token (Envoy Gateway's Azure Entra example); Portcullis keeps the tokens
 * in its one sealed session cookie and sets no such cookie, so every logged-in request would lack
 * the token. Forwarding it in Authorization, which jwt reads after oidc, does the same.
 */
function tokenCookieReadByJwt(cookieNames: OIDCSpec["cookieNames"], jwt: JWTSpec | undefined): string | undefined {
  const forwarding = { accessToken: "forwardAccessToken: true", idToken: "forwardIDToken: {header: Authorization}" } as const;
  for (const field of ["accessToken", "idToken"] as const) {
    const cookie = cookieNames?.[field];
    const reader = cookie === undefined ? undefined : jwt?.providers.find((p) => p.extractFrom?.cookies?.includes(cookie) === true);
    if (reader !== undefined)
      return (
        `cookieNames.${field}: jwt provider ${reader.name} reads the cookie ${cookie}, which Envoy's oauth2 filter sets and Portcullis does not ` +
        `(it keeps the tokens in one sealed session cookie), so no logged-in request would carry it: set ${forwarding[field]} ` +
        `and let the provider read Authorization instead`
      );
  }
  return undefined;
}

/**
 * The headers that carry a jwt provider's token (Envoy Gateway's pass-through matcher): without
 * `extractFrom`, `Authorization` starting with "Bearer "; else each extractFrom header, with its
 * valuePrefix when set. Envoy Gateway's rules: jwt must be configured and read a header, and the
 * forwarded ID token must not land in one of those headers.
 */
function passThroughMatchers(jwt: JWTSpec | undefined, forwardIDTokenHeader: string | undefined): Result<HeaderMatcher[], string> {
  if (jwt === undefined) return { ok: false, error: "passThroughAuthHeader: must be used in conjunction with jwt" };
  const matchers: HeaderMatcher[] = [];
  for (const provider of jwt.providers) {
    const headers =
      provider.extractFrom === undefined ? [{ name: "Authorization", valuePrefix: "Bearer " }] : (provider.extractFrom.headers ?? []);
    for (const h of headers) {
      if (forwardIDTokenHeader === h.name.toLowerCase())
        return {
          ok: false,
          error: `forwardIDToken.header: ${h.name} is a header jwt provider ${provider.name} reads, which passThroughAuthHeader lets through`,
        };
      matchers.push({
        name: h.name.toLowerCase(),
        type: h.valuePrefix === undefined ? "Present" : "Prefix",
        value: h.valuePrefix ?? "",
        regex: undefined,
      });
    }
  }
  if (matchers.length === 0)
    return { ok: false, error: "passThroughAuthHeader: must be used in conjunction with a jwt provider that reads from a header" };
  return { ok: true, value: matchers };
}
