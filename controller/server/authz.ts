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
import { envoyResponse } from "./envoy-response.ts";
import { drainBody, type Handler } from "./http.ts";

export const GATEWAY_HEADER = "x-portcullis-gateway";

export function envoyHandler(authorizer: Authorizer): Handler {
  return (req, res) =>
    answer(req, res, "envoy-http", authorizer, () => ({
      method: req.method ?? "GET",
      scheme: firstValue(headerValue(req.headers, "x-forwarded-proto")) ?? "http",
      host: req.headers.host ?? "",
      path: req.url ?? "/",
      headers: req.headers,
      gateway: gatewayOf(req),
    }));
}

export function forwardAuthHandler(authorizer: Authorizer): Handler {
  return (req, res) =>
    answer(req, res, "forward-auth", authorizer, () => {
      const method = agreeing(req, "x-forwarded-method", "x-original-method");
      const uri = agreeing(req, "x-forwarded-uri", "x-original-uri");
      if (typeof method !== "string" || typeof uri !== "string") {
        const problem = [method, uri].find((v) => typeof v === "object") as { error: string } | undefined;
        return problem ?? { error: "the original request is missing: send X-Forwarded-Method and X-Forwarded-Uri (or X-Original-Method and X-Original-URI)" };
      }
      if (!uri.startsWith("/")) return { error: "X-Forwarded-Uri must be an origin-form path starting with /" };
      return {
        method,
        scheme: firstValue(headerValue(req.headers, "x-forwarded-proto")) ?? "http",
        host: firstValue(headerValue(req.headers, "x-forwarded-host")) ?? req.headers.host ?? "",
        path: uri,
        headers: req.headers,
        gateway: gatewayOf(req),
      };
    });
}

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  protocol: Protocol,
  authorizer: Authorizer,
  read: () => AuthzRequest | { error: string },
): Promise<void> {
  await drainBody(req);
  const requestId = firstValue(headerValue(req.headers, "x-request-id")) ?? randomUUID();
  const request = read();
  if ("error" in request) {
    res.writeHead(400, { "content-type": "application/json" });
    res.end(JSON.stringify({ code: "request_invalid", message: request.error }));
    return;
  }
  const wire = envoyResponse(await authorizer.decide(request, protocol, requestId));
  res.writeHead(wire.status, wire.headers);
  res.end(wire.body);
}

/** The value of whichever of two equivalent headers is present; an error when both are and differ. */
function agreeing(req: IncomingMessage, a: string, b: string): string | undefined | { error: string } {
  const va = headerValue(req.headers, a);
  const vb = headerValue(req.headers, b);
  if (va !== undefined && vb !== undefined && va !== vb) return { error: `${a} and ${b} disagree` };
  return va ?? vb;
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
