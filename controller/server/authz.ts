/**
 * The two decision ports.
 * - Envoy HTTP ext_authz: Envoy re-sends the client's method, path (with query), Host and the
 *   headers its `allowed_headers` lets through; `x-portcullis-gateway` (set by Envoy's
 *   `headers_to_add`) scopes route matching to one Gateway.
 * - Forward-auth (nginx auth_request, Caddy forward_auth, Traefik ForwardAuth): the original
 *   request arrives as X-Forwarded-Method/-Proto/-Host/-Uri (nginx: X-Original-Method/-URI).
 *   These proxies hand the upstream the URI exactly as the client wrote it, so a URI that is not
 *   already in normal form is refused (400): deciding on its normal form would decide another path
 *   than the one the upstream runs. Any 2xx allows there, so a CORS preflight answer is not one
 *   (see forwardAuthResponse). X-Portcullis-Replaces names the headers the proxy replaces with
 *   the answer's; a client's copy of another header a policy sets is refused (authz/proxy-copies.ts).
 */
import type { IncomingMessage } from "node:http";
import { PARTIAL_BODY_HEADER } from "../api/ext-authz.ts";
import type { Decision } from "../authz/decision.ts";
import { escapeRawLikeEnvoy, isPlainPath, normalizePath, pathBytesOf } from "../authz/path.ts";
import { PROXY_REPLACES_HEADER, replacedHeaders } from "../authz/proxy-copies.ts";
import { firstListValue, headerValue, linesUpstreamMayRead } from "../authz/header-values.ts";
import type { AuthzRequest } from "../authz/request.ts";
import type { Authorizer, Protocol } from "../authz/authorizer.ts";
import { fail, type Failure } from "../lib/result.ts";
import { envoyResponse, forwardAuthResponse, invalidRequest, type WireResponse } from "./envoy-response.ts";
import type { HeadResponse } from "./head-response.ts";
import { readBody, type Handler } from "./http.ts";

export const GATEWAY_HEADER = "x-portcullis-gateway";

export function envoyHandler(authorizer: Authorizer): Handler {
  return (req, res) => answer(req, res, authorizer, ENVOY_PORT);
}

export function forwardAuthHandler(authorizer: Authorizer): Handler {
  return (req, res) => answer(req, res, authorizer, FORWARD_AUTH_PORT);
}

/**
 * The request to decide, or why the proxy's check request does not describe one (a 400): the
 * request itself, not wrapped in an Ok (one object fewer on every check).
 */
type Read = (req: IncomingMessage, body: Buffer | undefined) => AuthzRequest | Failure<string>;
type Render = (decision: Decision) => WireResponse;
type Write = (res: HeadResponse, wire: WireResponse) => void;

/** How one decision port reads a check, renders a decision and writes the answer. */
interface Port {
  readonly protocol: Protocol;
  readonly read: Read;
  readonly render: Render;
  readonly write: Write;
}

function readEnvoyRequest(req: IncomingMessage, body: Buffer | undefined): AuthzRequest | Failure<string> {
  const repeated = repeatsAName(req);
  const host = single(req, repeated, "host");
  if (typeof host === "object") return host;
  const headers = linesUpstreamMayRead(everyLine(req, repeated));
  return {
    body: envoyBody(req, body),
    method: req.method ?? "GET",
    scheme: firstListValue(headerValue(req.headers, "x-forwarded-proto")) ?? "http",
    host: host ?? "",
    path: req.url ?? "/",
    headers,
    gateway: gatewayOf(req),
    byteStrings: true,
    headersOnOneLine: !repeated && headers === req.headers,
  };
}

/**
 * The client's body when Envoy forwarded it whole (`with_request_body` adds
 * `x-envoy-auth-partial-body`, "false" when nothing was cut), else null: this check's own
 * Content-Length says nothing of the client's request.
 */
function envoyBody(req: IncomingMessage, body: Buffer | undefined): Buffer | null {
  return headerValue(req.headers, PARTIAL_BODY_HEADER) === "false" ? (body ?? Buffer.alloc(0)) : null;
}

function readForwardedRequest(req: IncomingMessage): AuthzRequest | Failure<string> {
  const repeated = repeatsAName(req);
  const method = agreeing(req, repeated, "x-forwarded-method", "x-original-method");
  const uri = agreeing(req, repeated, "x-forwarded-uri", "x-original-uri");
  const host = single(req, repeated, "x-forwarded-host") ?? single(req, repeated, "host");
  if (typeof method === "object") return method;
  if (typeof uri === "object") return uri;
  if (typeof host === "object") return host;
  if (method === undefined || uri === undefined) {
    return fail("the original request is missing: send X-Forwarded-Method and X-Forwarded-Uri (or X-Original-Method and X-Original-URI)");
  }
  if (!uri.startsWith("/")) return fail("X-Forwarded-Uri must be an origin-form path starting with /");
  const abnormal = abnormalUri(uri);
  if (abnormal !== undefined) return fail(abnormal);
  // Method and host are tokens without commas: a list means a proxy appended to a client's value.
  if (method.includes(",") || host?.includes(",")) return fail("X-Forwarded-Method and X-Forwarded-Host must hold one value, not a list");
  // The proxy passes each line on as the client wrote it; the upstream may split a line at "," as a list.
  const headers = linesUpstreamMayRead(everyLine(req, repeated));
  return {
    // Never forwarded, and nothing tells whether there is one: nginx removes Content-Length from
    // its check (the shipped file), and no proxy sends Transfer-Encoding there.
    body: null,
    method,
    scheme: firstListValue(headerValue(req.headers, "x-forwarded-proto")) ?? "http",
    host: host ?? "",
    path: uri,
    headers,
    gateway: gatewayOf(req),
    byteStrings: true,
    headersOnOneLine: !repeated && headers === req.headers,
    proxyReplaces: replacedHeaders(headerValue(req.headers, PROXY_REPLACES_HEADER)),
  };
}

/** Synchronous when the decision is (the usual case): no promise, no microtask hop per request. */
function answer(req: IncomingMessage, res: HeadResponse, authorizer: Authorizer, port: Port): void | Promise<void> {
  // A request without a declared body has nothing to read (ext_authz checks normally have none).
  if (
    req.headers["content-length"] !== undefined ? req.headers["content-length"] !== "0" : req.headers["transfer-encoding"] !== undefined
  ) {
    return decideOnceRead(req, res, authorizer, port);
  }
  return decideAndWrite(req, res, authorizer, port, undefined);
}

/** decideAndWrite once the body is read (a function of its own: answer() allocates no closure context). */
function decideOnceRead(req: IncomingMessage, res: HeadResponse, authorizer: Authorizer, port: Port): Promise<void> {
  return readBody(req).then((body) => decideAndWrite(req, res, authorizer, port, body));
}

function decideAndWrite(
  req: IncomingMessage,
  res: HeadResponse,
  authorizer: Authorizer,
  port: Port,
  body: Buffer | undefined,
): void | Promise<void> {
  const request = port.read(req, body);
  if (isFailure(request)) return port.write(res, invalidRequest(request.error));
  // The audit line's id is the request's X-Request-Id (the authorizer reads it only when it logs).
  const decision = authorizer.decide(request, port.protocol);
  if (decision instanceof Promise) return writeWhenDecided(res, decision, authorizer, port);
  port.write(res, authorizer.rendered(decision, port.render));
}

/** The answer once a decision that had to wait is made (a function of its own: decideAndWrite allocates no closure context). */
function writeWhenDecided(res: HeadResponse, decision: Promise<Decision>, authorizer: Authorizer, port: Port): Promise<void> {
  return decision.then((d) => port.write(res, authorizer.rendered(d, port.render)));
}

/**
 * Why a forwarded request-target is not the path the upstream will run, or undefined when it is:
 * a fragment (never part of a request-target, RFC 9112 §3.2; "#/../" would hide dot segments), or
 * a path that Envoy-style normalisation (RFC 3986 §6.2.2: dot segments, repeated slashes, escaped
 * unreserved characters such as %2e) would change. `uri` holds bytes as Latin-1 (a header value).
 * Raw characters Envoy escapes (`é`, `"`) do not count: every reading decides on both their escape
 * and their decoded form (authz/path.ts pathReadings).
 */
export function abnormalUri(uri: string): string | undefined {
  if (uri.includes("#")) return "the forwarded URI holds a fragment (#), which is never part of a request";
  const path = pathBytesOf(uri, true);
  // The usual path: nothing to normalise or escape (isPlainPath), checked without building either form.
  if (isPlainPath(path)) return undefined;
  if (normalizePath(path) !== escapeRawLikeEnvoy(path)) {
    return "the forwarded URI is not in normal form (dot segments, repeated slashes or escaped unreserved characters): the upstream would receive another path than the one decided";
  }
  return undefined;
}

/**
 * A length, not chunked encoding: one write, and the proxy knows at once the answer is complete.
 * nginx's auth_request and Caddy's forward_auth read no body: an answer without a length would cost
 * them the connection.
 */
function writeWithLength(res: HeadResponse, wire: WireResponse): void {
  res.writeHeadWith(wire.status, wire.lines, wire.framedNodeLines);
  res.end(wire.body);
}

/**
 * As writeWithLength, except that an answer without a body to an HTTP/1.1 check is framed by Node,
 * as the bare node:http server's is (`Transfer-Encoding: chunked` and the empty last chunk, in the
 * same single write): writeHead validates and copies one header line fewer on every allow. Envoy's
 * ext_authz client reads the whole answer, chunked or not, and keeps the connection. HTTP/1.0 has
 * no chunked encoding (Node would close the connection to end the answer): there it has its length.
 */
function writeToEnvoy(res: HeadResponse, wire: WireResponse): void {
  const req = res.req;
  if (wire.body !== "" || req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1) return writeWithLength(res, wire);
  res.writeHeadWith(wire.status, wire.lines, wire.nodeLines);
  res.end();
}

const ENVOY_PORT: Port = { protocol: "envoy-http", read: readEnvoyRequest, render: envoyResponse, write: writeToEnvoy };
const FORWARD_AUTH_PORT: Port = {
  protocol: "forward-auth",
  read: readForwardedRequest,
  render: forwardAuthResponse,
  write: writeWithLength,
};

/** The value of whichever of two equivalent headers is present; a failure when both are and differ. */
function agreeing(req: IncomingMessage, repeated: boolean, a: string, b: string): string | undefined | Failure<string> {
  const va = single(req, repeated, a);
  const vb = single(req, repeated, b);
  if (typeof va === "object") return va;
  if (typeof vb === "object") return vb;
  if (va !== undefined && vb !== undefined && va !== vb) return fail(`${a} and ${b} disagree`);
  return va ?? vb;
}

/*
 * The request's header lines, seen through Node's merged req.headers, which Node's server builds
 * before any handler runs (it reads Host and Expect of every HTTP/1.1 request). Functions of the
 * request and whether a name repeats: no object of their own per request.
 */

/** Whether some name was sent more than once (Node merged or dropped its lines); usually not. */
function repeatsAName(req: IncomingMessage): boolean {
  let names = 0;
  for (const _ in req.headers) names++;
  return req.rawHeaders.length !== 2 * names;
}

/**
 * A header that describes the request itself: sent more than once, it is ambiguous (RFC 9112 §3.2
 * for Host), a failure. The value itself otherwise, unwrapped: it is read for every request.
 */
function single(req: IncomingMessage, repeated: boolean, name: string): string | undefined | Failure<string> {
  if (!repeated) return req.headers[name] as string | undefined;
  const lines = req.headersDistinct[name];
  if (lines === undefined) return undefined;
  if (lines.length > 1) return fail(`the ${name} header was sent ${lines.length} times`);
  return lines[0];
}

/**
 * The headers with every line kept. Node keeps only the first of a repeated Authorization (and a
 * few others): a second token would then reach the upstream unchecked. As a list, it is read as
 * one malformed credential and refused.
 */
function everyLine(req: IncomingMessage, repeated: boolean): AuthzRequest["headers"] {
  if (!repeated) return req.headers;
  const headers: Record<string, string | string[] | undefined> = { ...req.headers };
  for (const [name, lines] of Object.entries(req.headersDistinct)) {
    if (lines !== undefined && lines.length > 1 && name !== "cookie") headers[name] = lines;
  }
  return headers;
}

/** Whether a port's reading is a failure (an AuthzRequest has no `ok`). */
function isFailure(read: AuthzRequest | Failure<string>): read is Failure<string> {
  return (read as Partial<Failure<string>>).ok === false;
}

function gatewayOf(req: IncomingMessage): string | undefined {
  const v = headerValue(req.headers, GATEWAY_HEADER);
  return v === undefined || v === "" ? undefined : v.trim();
}
