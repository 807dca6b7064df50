/**
 * A Decision on the wire of Envoy's HTTP ext_authz service (and of forward-auth proxies, which
 * read it the same way): 200 allows and its headers go upstream; anything else is the denial the
 * client sees, body and headers included.
 */
import { Buffer } from "node:buffer"; // not the global Buffer: a getter, about 17 ns a use (Node 24)
import { STATUS_CODES } from "node:http";
import type { Decision, DecisionCode } from "../authz/decision.ts";
import { renderHead } from "./head-response.ts";

/** Envoy strips the headers this response header lists from the upstream request. */
export const HEADERS_TO_REMOVE = "x-envoy-auth-headers-to-remove";

export interface WireResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The header lines, rendered once (head-response.ts): `headers` (values as UTF-8 bytes), then a set-cookie line per cookie. */
  readonly lines: string;
  /** The lines writeHead still reads (those Node acts on, RenderedHead.nodeLines), then content-length, as name, value, …. */
  readonly framedNodeLines: readonly string[];
  /**
   * `framedNodeLines` without content-length, for an answer without a body on HTTP/1.1, which Node
   * then frames itself as an empty chunked body (server/authz.ts writeToEnvoy).
   */
  readonly nodeLines: readonly string[];
}

/** The answer on Envoy's HTTP ext_authz port (an allow's rendering is reused per snapshot: Authorizer.rendered). */
export function envoyResponse(decision: Decision): WireResponse {
  return render(decision);
}

/** Marks a forward-auth answer to a CORS preflight, so the proxy can turn it into the client's 204. */
export const PREFLIGHT_HEADER = "x-portcullis-preflight";

/**
 * On a forward-auth allow, what the proxy does with the request's Cookie header (`sanitize` took
 * key cookies out of it): `replace` it with this answer's `cookie` header (the cookies left), or
 * `remove` it (none left; Envoy reads that from x-envoy-auth-headers-to-remove, which these proxies
 * ignore). Absent: the client's Cookie goes upstream as sent. The values are fixed words, so a
 * proxy that cannot tell an absent header from a present one (Caddy 2.6.2 copies an absent header
 * as placeholder text) still matches them exactly.
 */
export const COOKIE_OUTCOME_HEADER = "x-portcullis-cookie";

/**
 * On a forward-auth allow, the headers the client's response gets (an allowed actual CORS request's
 * Access-Control-Allow-Origin, -Allow-Credentials, -Expose-Headers and Vary, as Envoy's cors filter
 * adds them) are named with this prefix: `x-portcullis-response-access-control-allow-origin`. nginx
 * and Caddy copy an auth answer's headers onto the upstream request by name, so under their own names
 * they could not be told from an upstream header a policy sets (`claimToHeaders` may name
 * `vary`); no policy may set an `x-portcullis-*` header (lib/headers.ts).
 */
export const CLIENT_RESPONSE_PREFIX = "x-portcullis-response-";

function cookieOutcome(decision: Decision): "replace" | "remove" | undefined {
  if (Object.hasOwn(decision.upstreamHeaders, "cookie")) return "replace";
  return decision.removeHeaders.includes("cookie") ? "remove" : undefined;
}

/**
 * A Decision on the forward-auth port. nginx auth_request, Caddy forward_auth and Traefik
 * ForwardAuth send the request upstream on ANY 2xx, so a denial with a 2xx status (the 204 that
 * answers a CORS preflight, whether or not its origin is listed) becomes a 403 carrying the
 * Access-Control-* headers, `x-portcullis-preflight: answered` and the JSON reason
 * (`cors_preflight`, `cors_origin`). The shipped nginx and Caddy configurations answer the client
 * 204 with those headers; a proxy not configured for it answers 403, so the preflight fails closed
 * and the upstream never sees it. An allow that changes the Cookie header says how in
 * `x-portcullis-cookie` (see COOKIE_OUTCOME_HEADER); the headers an allow adds to the client's
 * response are named `x-portcullis-response-<name>` (see CLIENT_RESPONSE_PREFIX).
 */
export function forwardAuthResponse(decision: Decision): WireResponse {
  if (decision.allowed) {
    const cookie = cookieOutcome(decision);
    if (cookie === undefined && isEmpty(decision.responseHeaders)) return envoyResponse(decision);
    const responseHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(decision.responseHeaders)) responseHeaders[CLIENT_RESPONSE_PREFIX + name] = value;
    if (cookie !== undefined) responseHeaders[COOKIE_OUTCOME_HEADER] = cookie;
    return render({ ...decision, responseHeaders });
  }
  if (decision.status >= 300) return envoyResponse(decision);
  // Only Portcullis' CORS answers are preflights; an external service's 2xx denial is a plain refusal here.
  if (decision.code !== "cors_preflight" && decision.code !== "cors_origin") return render({ ...decision, status: 403 });
  return render({ ...decision, status: 403, responseHeaders: { ...decision.responseHeaders, [PREFLIGHT_HEADER]: "answered" } });
}

/** A request Portcullis cannot read as a check (400, with the reason). */
export function invalidRequest(message: string): WireResponse {
  return wireResponse(400, { "content-type": "application/json" }, JSON.stringify({ code: "request_invalid", message }));
}

function render(decision: Decision): WireResponse {
  if (decision.allowed) return wireResponse(200, allowHeaders(decision), "");
  // A CORS preflight answered by Portcullis: no body, only the Access-Control-* headers.
  if (decision.status === 204) return wireResponse(204, { ...decision.responseHeaders }, "");
  const denial = denialContent(decision);
  // A 200 is an allow to every proxy on these ports: a denial naming it (a gRPC service's
  // denied_response may, and Envoy then answers the client 200 itself) goes out as 403.
  return wireResponse(decision.status === 200 ? 403 : decision.status, denial.headers, denial.body, decision.cookies);
}

/**
 * An allow's headers: the response headers, those set upstream, then the names Envoy removes. Envoy
 * sorts them by its own configuration: allowed_upstream_headers go upstream,
 * allowed_client_headers_on_success (the CORS headers) to the client. The decision's own upstream
 * headers when they are all there is (the usual allow: no copy).
 */
function allowHeaders(decision: Decision): Readonly<Record<string, string>> {
  if (decision.removeHeaders.length === 0 && isEmpty(decision.responseHeaders)) return decision.upstreamHeaders;
  const headers: Record<string, string> = { ...decision.responseHeaders, ...decision.upstreamHeaders };
  if (decision.removeHeaders.length > 0) headers[HEADERS_TO_REMOVE] = decision.removeHeaders.join(",");
  return headers;
}

/** Whether an object has no enumerable property (a loop: Object.keys would build a list). */
function isEmpty(headers: Readonly<Record<string, string>>): boolean {
  for (const _ in headers) return false;
  return true;
}

/** A denial's response headers and body: the decision's own body as it is, else the generic JSON one. */
export function denialContent(decision: Decision): { readonly headers: Record<string, string>; readonly body: string } {
  if (decision.body !== undefined) return { headers: { ...decision.responseHeaders }, body: decision.body };
  return { headers: { ...decision.responseHeaders, "content-type": "application/json" }, body: denialBody(decision) };
}

/**
 * Codes whose decision message is written for the client, as Envoy's own filters word their local
 * replies ("Jwt is missing", "User authentication failed: …"), or says what is wrong with the
 * request's own form (`request_invalid`): it speaks of what the client sent or lacked, never of how
 * Portcullis is configured.
 */
const CLIENT_MESSAGE_CODES: ReadonlySet<DecisionCode> = new Set<DecisionCode>([
  "apikey_missing",
  "apikey_invalid",
  "jwt_missing",
  "jwt_invalid",
  "jwt_expired",
  "jwt_not_yet_valid",
  "jwt_bad_signature",
  "jwt_unknown_issuer",
  "jwt_no_key",
  "jwt_audience",
  "basic_missing",
  "basic_invalid",
  "request_invalid",
]);

/**
 * The code a denied client sees: a refused token is `jwt_invalid` whatever the fine reason (expired,
 * bad signature, unknown issuer, no key), which goes to the audit log and metrics; the message
 * stays Envoy jwt_authn's own words ("Jwt is expired"), as Envoy answers.
 */
const CLIENT_CODES: Readonly<Partial<Record<DecisionCode, DecisionCode>>> = {
  jwt_expired: "jwt_invalid",
  jwt_not_yet_valid: "jwt_invalid",
  jwt_bad_signature: "jwt_invalid",
  jwt_unknown_issuer: "jwt_invalid",
  jwt_no_key: "jwt_invalid",
  // Which listener's client address detection Portcullis lacks is configuration: the client hears of an authorization denial.
  client_address_unknown: "authz_denied",
};

/**
 * The body a denied client receives: `{"code": <reason code>, "message": …}`. The message is the
 * decision's own only for the codes above; any other code (an invalid policy's validation error,
 * the authorization rule that refused, a failure) gets the status's standard phrase, and its
 * message stays in the audit log and `check --explain`.
 */
function denialBody(decision: Decision): string {
  const message = CLIENT_MESSAGE_CODES.has(decision.code) ? decision.message : (STATUS_CODES[decision.status] ?? "Denied");
  return JSON.stringify({ code: CLIENT_CODES[decision.code] ?? decision.code, message });
}

function wireResponse(
  status: number,
  headers: Readonly<Record<string, string>>,
  body: string,
  cookies: readonly string[] = NO_COOKIES,
): WireResponse {
  const { lines, nodeLines } = renderHead(headers, cookies);
  // A list of its exact length, filled in place (one grown by push reserves 17 slots).
  const framedNodeLines = new Array<string>(nodeLines.length + 2);
  for (let i = 0; i < nodeLines.length; i++) framedNodeLines[i] = nodeLines[i]!;
  framedNodeLines[nodeLines.length] = "content-length";
  framedNodeLines[nodeLines.length + 1] = String(Buffer.byteLength(body));
  return { status, headers, body, lines, framedNodeLines, nodeLines };
}

const NO_COOKIES: readonly string[] = Object.freeze([]);
