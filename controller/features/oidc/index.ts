/**
 * oidc: a browser's login at an OpenID provider and its session, as Envoy's oauth2 filter runs it
 * for Envoy Gateway (flow.ts). Its phase runs between basicAuth and jwt, Envoy Gateway's filter
 * order (oauth2 9, jwt 10). Besides its upstreamHeaders a pass sets `authorization` (the access
 * token, with forwardAccessToken) and `cookie` (the request's cookies without the session's):
 * `authorization` is not a managed header, since clients of other routes send their own.
 */
import { redactUri } from "../../keys/uri.ts";
import { problem } from "../../lib/result.ts";
import { describeConnection } from "../../snapshot/summary.ts";
import { extAuth, isHookUp } from "../extAuth/index.ts";
import { defineFeature } from "../feature.ts";
import type { JWTSpec } from "../jwt/index.ts";
import { type CompiledOidc, compileOidc } from "./compile.ts";
import { checkOidc } from "./flow.ts";
import { OIDCSchema, type OIDCSpec } from "./spec.ts";

/**
 * oidc in a policy whose extAuth is the hook-up: the proxy's own oauth2 filter (Envoy Gateway's,
 * after extAuth) runs its login beside Portcullis', each taking the provider's callback for its own:
 * every browser would be sent to the provider again and again.
 */
const OIDC_BEHIND_HOOK_UP =
  "cannot be enforced through the extAuth hook-up to this Portcullis: Envoy Gateway's own oauth2 filter, which runs after extAuth, would log the browser in a second time with its own cookies, each login taking the other's callback; give the routes that need oidc a policy of their own without this extAuth, which Envoy Gateway enforces alone";

export const oidc = defineFeature<OIDCSpec, CompiledOidc>({
  field: "oidc",
  label: "OIDC",
  order: 9,
  schema: OIDCSchema,
  compile: (spec, context) => {
    if (isHookUp(context.compiled(extAuth))) return problem(OIDC_BEHIND_HOOK_UP);
    const result = compileOidc(spec, context.ownerOf, context.spec.jwt as JWTSpec | undefined, context.refs);
    return result.ok ? result : problem(result.error);
  },
  upstreamHeaders: (config) =>
    config.forwardIDTokenHeader === undefined || config.forwardIDTokenHeader === "authorization" ? [] : [config.forwardIDTokenHeader],
  summary: summarizeOidc,
  check: (config, request, where, _passed, ctx) => checkOidc(config, request, where, ctx),
});

/** What an oidc configuration does, without its client secret or session key. */
function summarizeOidc(o: CompiledOidc): object {
  const { issuer: _issuer, connection, ...explicit } = o.provider;
  const endpoints = Object.entries(explicit).flatMap(([k, v]) => (v === undefined ? [] : [[k, redactUri(v)]]));
  const reached = describeConnection(connection);
  const matcher = (m: CompiledOidc["passThrough"][number]) => `${m.name} ${m.type} ${m.value}`.trim();
  return {
    issuer: redactUri(o.provider.issuer),
    ...(endpoints.length === 0 ? {} : { endpoints: Object.fromEntries(endpoints) }),
    ...(reached.length === 0 ? {} : { provider: reached.join("; ") }),
    clientID: o.clientId,
    scopes: o.scopes,
    ...(o.resources.length === 0 ? {} : { resources: o.resources }),
    redirectURL: o.redirectURL,
    logoutPath: o.logoutPath,
    forward: [
      ...(o.forwardAccessToken ? ["access token in authorization"] : []),
      ...(o.forwardIDTokenHeader === undefined ? [] : [`ID token in ${o.forwardIDTokenHeader}`]),
    ],
    refreshToken: o.refreshToken,
    cookie: `${o.cookieName}${o.cookie.domain === undefined ? "" : ` domain ${o.cookie.domain}`}${o.cookie.sameSite === undefined ? "" : ` SameSite=${o.cookie.sameSite}`}`,
    ...(o.passThrough.length === 0 ? {} : { passThrough: o.passThrough.map(matcher) }),
    ...(o.denyRedirect.length === 0 ? {} : { denyRedirect: o.denyRedirect.map(matcher) }),
  };
}
