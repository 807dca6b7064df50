/**
 * The two decision ports.
 * - Envoy HTTP ext_authz: Envoy re-sends the client's method, path (with query), Host and the
 *   headers its `allowed_headers` lets through; `x-portcullis-gateway` (set by Envoy's
 *   `headers_to_add`) scopes route matching to one Gateway.
 * - Forward-auth (nginx auth_request, Caddy forward_auth, Traefik ForwardAuth): the original
 *   request arrives as X-Forwarded-Method/-Proto/-Host/-Uri (nginx: X-Original-Method/-URI).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { headerValue, type AuthzRequest } from "../authz/request.ts";
import type { Authorizer, Protocol } from "../runtime/authorizer.ts";
import { envoyResponse, invalidRequest, type WireResponse } from "./envoy-response.ts";
import { drainBody, type Handler } from "./http.ts";

export const GATEWAY_HEADER = "x-portcullis-gateway";

export function envoyHandler(authorizer: Authorizer): Handler {
  return (req, res) => answer(req, res, "envoy-http", authorizer, readEnvoyRequest);
}

export function forwardAuthHandler(authorizer: Authorizer): Handler {
  return (req, res) => answer(req, res, "forward-auth", authorizer, readForwardedRequest);
}

type Read = (req: IncomingMessage) => AuthzRequest | { error: string };

function readEnvoyRequest(req: IncomingMessage): AuthzRequest | { error: string } {
  const lines = new HeaderLines(req);
  const host = lines.single("host");
  if (typeof host === "object") return host;
  return {
    method: req.method ?? "GET",
    scheme: firstValue(headerValue(req.headers, "x-forwarded-proto")) ?? "http",
    host: host ?? "",
    path: req.url ?? "/",
    headers: lines.all(),
    gateway: gatewayOf(req),
  };
}

function readForwardedRequest(req: IncomingMessage): AuthzRequest | { error: string } {
  const lines = new HeaderLines(req);
  const method = agreeing(lines, "x-forwarded-method", "x-original-method");
  const uri = agreeing(lines, "x-forwarded-uri", "x-original-uri");
  const host = lines.single("x-forwarded-host") ?? lines.single("host");
  if (typeof method === "object") return method;
  if (typeof uri === "object") return uri;
  if (typeof host === "object") return host;
  if (method === undefined || uri === undefined) {
    return { error: "the original request is missing: send X-Forwarded-Method and X-Forwarded-Uri (or X-Original-Method and X-Original-URI)" };
  }
  if (!uri.startsWith("/")) return { error: "X-Forwarded-Uri must be an origin-form path starting with /" };
  // Method and host are tokens without commas: a list means a proxy appended to a client's value.
  if (method.includes(",") || host?.includes(",")) return { error: "X-Forwarded-Method and X-Forwarded-Host must hold one value, not a list" };
  return {
    method,
    scheme: firstValue(headerValue(req.headers, "x-forwarded-proto")) ?? "http",
    host: host ?? "",
    path: uri,
    headers: lines.all(),
    gateway: gatewayOf(req),
  };
}

/** Synchronous when the decision is (the usual case): no promise, no microtask hop per request. */
function answer(req: IncomingMessage, res: ServerResponse, protocol: Protocol, authorizer: Authorizer, read: Read): void | Promise<void> {
  // A request without a declared body has nothing to drain (ext_authz checks normally have none).
  if (req.headers["content-length"] !== undefined ? req.headers["content-length"] !== "0" : req.headers["transfer-encoding"] !== undefined) {
    return drainBody(req).then(() => decideAndWrite(req, res, protocol, authorizer, read));
  }
  return decideAndWrite(req, res, protocol, authorizer, read);
}

function decideAndWrite(req: IncomingMessage, res: ServerResponse, protocol: Protocol, authorizer: Authorizer, read: Read): void | Promise<void> {
  const request = read(req);
  if ("error" in request) return write(res, invalidRequest(request.error));
  const decision = authorizer.decide(request, protocol, () => firstValue(headerValue(req.headers, "x-request-id")) ?? randomUUID());
  if (decision instanceof Promise) return decision.then((d) => write(res, envoyResponse(d)));
  write(res, envoyResponse(decision));
}

function write(res: ServerResponse, wire: WireResponse): void {
  // A length, not chunked encoding: one write, and the proxy knows at once the answer is complete.
  res.writeHead(wire.status, wire.rawHeaders as string[]);
  res.end(wire.body);
}

/** The value of whichever of two equivalent headers is present; an error when both are and differ. */
function agreeing(lines: HeaderLines, a: string, b: string): string | undefined | { error: string } {
  const va = lines.single(a);
  const vb = lines.single(b);
  if (typeof va === "object") return va;
  if (typeof vb === "object") return vb;
  if (va !== undefined && vb !== undefined && va !== vb) return { error: `${a} and ${b} disagree` };
  return va ?? vb;
}

/** The request's header lines, seen through Node's merged req.headers: one object per request, methods shared. */
class HeaderLines {
  readonly #req: IncomingMessage;
  /** Whether some name was sent more than once (Node merged or dropped its lines); usually not. */
  readonly #repeated: boolean;

  constructor(req: IncomingMessage) {
    this.#req = req;
    let names = 0;
    for (const _ in req.headers) names++;
    this.#repeated = req.rawHeaders.length !== 2 * names;
  }

  /** A header that describes the request itself: sent more than once, it is ambiguous (RFC 9112 §3.2 for Host). */
  single(name: string): string | undefined | { error: string } {
    if (!this.#repeated) return this.#req.headers[name] as string | undefined;
    const lines = this.#req.headersDistinct[name];
    if (lines === undefined) return undefined;
    if (lines.length > 1) return { error: `the ${name} header was sent ${lines.length} times` };
    return lines[0];
  }

  /**
   * The headers with every line kept. Node keeps only the first of a repeated Authorization (and a
   * few others): a second token would then reach the upstream unchecked. As a list, it is read as
   * one malformed credential and refused.
   */
  all(): AuthzRequest["headers"] {
    if (!this.#repeated) return this.#req.headers;
    const headers: Record<string, string | string[] | undefined> = { ...this.#req.headers };
    for (const [name, lines] of Object.entries(this.#req.headersDistinct)) {
      if (lines !== undefined && lines.length > 1 && name !== "cookie") headers[name] = lines;
    }
    return headers;
  }
}

function gatewayOf(req: IncomingMessage): string | undefined {
  const v = headerValue(req.headers, GATEWAY_HEADER);
  return v === undefined || v === "" ? undefined : v.trim();
}

/** Proxies append to X-Forwarded-* lists; the first entry is the client-facing hop. */
function firstValue(v: string | undefined): string | undefined {
  const first = v?.split(",")[0]?.trim();
  return first === "" ? undefined : first;
}
