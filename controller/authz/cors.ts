/**
 * CORS. A preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered by
 * Portcullis itself: a non-200 ext_authz answer reaches the client, so a 204 with the CORS headers
 * ends it without credentials or upstream. An allowed request from an allowed origin gets the
 * response headers (Envoy: allowed_client_headers_on_success; gRPC: response_headers_to_add).
 */
import type { CompiledCors } from "../snapshot/types.ts";
import type { NormalizedRequest } from "./request.ts";

export function isPreflight(request: NormalizedRequest): boolean {
  return request.method === "OPTIONS" && request.header("origin") !== undefined && request.header("access-control-request-method") !== undefined;
}

function originAllowed(config: CompiledCors, origin: string): boolean {
  if (config.anyOrigin) return true;
  const o = origin.toLowerCase();
  return config.origins.includes(o) || config.originPatterns.some((p) => p.test(o));
}

/** Headers for the client's response; undefined when the request carries no allowed Origin. */
export function corsResponseHeaders(config: CompiledCors, request: NormalizedRequest, preflight: boolean): Record<string, string> | undefined {
  const origin = request.header("origin");
  if (origin === undefined || !originAllowed(config, origin)) return undefined;
  const headers: Record<string, string> = {
    "access-control-allow-origin": config.anyOrigin && !config.allowCredentials ? "*" : origin,
    vary: "Origin",
  };
  if (config.allowCredentials) headers["access-control-allow-credentials"] = "true";
  if (preflight) {
    if (config.allowMethods !== undefined) headers["access-control-allow-methods"] = config.allowMethods;
    if (config.allowHeaders !== undefined) headers["access-control-allow-headers"] = config.allowHeaders;
    if (config.maxAgeSeconds !== undefined) headers["access-control-max-age"] = config.maxAgeSeconds;
  } else if (config.exposeHeaders !== undefined) {
    headers["access-control-expose-headers"] = config.exposeHeaders;
  }
  return headers;
}
