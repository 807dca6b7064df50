/** What check() answers; every wire protocol renders this one value. */

/** Stable reason codes: they appear in audit logs, metrics and denial bodies. */
export type DecisionCode =
  | "allowed"
  | "route_not_found"
  | "route_mismatch"
  | "route_unsupported"
  | "gateway_not_found"
  | "policy_invalid"
  | "policy_missing"
  | "apikey_missing"
  | "apikey_invalid"
  | "jwt_missing"
  | "jwt_invalid"
  | "jwt_expired"
  | "jwt_not_yet_valid"
  | "jwt_bad_signature"
  | "jwt_unknown_issuer"
  | "jwt_no_key"
  | "jwt_audience"
  | "basic_missing"
  | "basic_invalid"
  | "basic_rate_limited"
  | "basic_busy"
  | "authz_denied"
  | "client_address_unknown"
  | "extauth_denied"
  | "extauth_error"
  | "extauth_body_too_large"
  | "extauth_body_unavailable"
  | "identity_unforwardable"
  | "cors_preflight"
  | "cors_origin"
  | "csrf_origin"
  | "oidc_login"
  | "oidc_callback"
  | "oidc_callback_refused"
  | "oidc_refresh"
  | "oidc_logout"
  | "oidc_unauthenticated"
  | "oidc_unavailable"
  | "not_ready"
  | "request_invalid"
  | "internal_error";

export interface Decision {
  readonly allowed: boolean;
  /** 200 allows; anything else is the status the client receives. */
  readonly status: number;
  readonly code: DecisionCode;
  /** Human-readable reason; never contains a credential. */
  readonly message: string;
  /**
   * Why a denial was decided on several readings of the request (the path's readings, the Gateways
   * or ports it may have arrived on). It names routes and Gateways, so it goes to the audit log and
   * `check --explain` only, never to the client (`reasonOf`).
   */
  readonly detail?: string | undefined;
  /** "namespace/name rule N" of the matched HTTPRoute rule ("GRPCRoute namespace/name rule N" for a GRPCRoute rule). */
  readonly route: string | undefined;
  /** "namespace/name" of the SecurityPolicy applied. */
  readonly policy: string | undefined;
  /** Who was identified ("apiKey alice", "jwt platform-idp sub=…"); for audit, never a credential. */
  readonly principal: string | undefined;
  /** On allow: headers to set on the upstream request (replacing any the client sent). */
  readonly upstreamHeaders: Readonly<Record<string, string>>;
  /** On allow: headers to remove from the upstream request. */
  readonly removeHeaders: readonly string[];
  /** Headers for the client's response: the denial's (WWW-Authenticate, Location), or CORS headers on allow. */
  readonly responseHeaders: Readonly<Record<string, string>>;
  /**
   * A denial's body, passed to the client as it is (an external authorization service's own
   * answer), with its content-type among `responseHeaders`; undefined: Portcullis' generic JSON body.
   */
  readonly body?: string | undefined;
  /** Set-Cookie lines for the client's response, one cookie each (oidc's login and session cookies). */
  readonly cookies?: readonly string[] | undefined;
}

export function deny(
  status: number,
  code: DecisionCode,
  message: string,
  where: { route?: string | undefined; policy?: string | undefined },
  responseHeaders: Readonly<Record<string, string>> = {},
): Decision {
  return {
    allowed: false,
    status,
    code,
    message,
    route: where.route,
    policy: where.policy,
    principal: undefined,
    upstreamHeaders: {},
    removeHeaders: [],
    responseHeaders,
  };
}

/** The operator's reason for a decision: its message and, when there is one, its detail. */
export function reasonOf(decision: Decision): string {
  return decision.detail === undefined ? decision.message : `${decision.message} (${decision.detail})`;
}
