/**
 * CORS, as Envoy's cors filter answers for a route Envoy Gateway v1.9.0 programmed
 * (forwardNotMatchingPreflights false). A preflight (OPTIONS with a non-empty Origin and
 * Access-Control-Request-Method) is answered by Portcullis itself, without credentials or upstream:
 * an ext_authz answer other than 200 reaches the client, so Portcullis answers 204 where Envoy's
 * filter answers 200. An actual request from an allowed origin gets the response headers (Envoy:
 * allowed_client_headers_on_success; gRPC: response_headers_to_add).
 */
import { deny } from "../../authz/decision.ts";
import type { CheckContext } from "../../authz/context.ts";
import type { NormalizedRequest } from "../../authz/request.ts";
import { fail, ok } from "../../lib/result.ts";
import { NOTHING, type PhaseResult, type Where } from "../feature.ts";
import type { CompiledCors } from "./compile.ts";

/**
 * The cors phase, before any credential is asked for: a preflight is answered here (204, with the
 * Access-Control-* headers; without Access-Control-Allow-Origin when the origin is not allowed), on
 * the reading of the request as the proxy routed it only (NormalizedRequest.asRouted); an actual
 * request from an allowed origin passes with the headers its response gets on allow.
 */
export function checkCors(
  config: CompiledCors,
  request: NormalizedRequest,
  where: Where,
  _passed: unknown,
  ctx: CheckContext,
): PhaseResult {
  ctx.trace?.note({
    origin: request.header("origin") ?? "(none)",
    preflight: isPreflight(request),
    originAllowed: nonEmpty(request.header("origin")) && originAllowed(config, request.header("origin")!),
  });
  // Envoy's cors filter answers a preflight on the route Envoy took; an upstream's reading of the
  // path or method (withReading) is decided as the request it is, on that route's other features.
  if (isPreflight(request) && request.asRouted) {
    const answer = preflightAnswer(config, request);
    if (!answer.originAllowed)
      return fail(
        deny(
          204,
          "cors_origin",
          "CORS preflight answered without Access-Control-Allow-Origin: the origin is not allowed",
          where,
          answer.headers,
        ),
      );
    return fail(deny(204, "cors_preflight", "CORS preflight answered", where, answer.headers));
  }
  const responseHeaders = corsResponseHeaders(config, request);
  return responseHeaders === undefined ? NOTHING : ok({ principal: undefined, headers: {}, strip: [], attributes: {}, responseHeaders });
}

export function isPreflight(request: NormalizedRequest): boolean {
  return request.method === "OPTIONS" && nonEmpty(request.header("origin")) && nonEmpty(request.header("access-control-request-method"));
}

const nonEmpty = (value: string | undefined): value is string => value !== undefined && value !== "";

function originAllowed(config: CompiledCors, origin: string): boolean {
  return config.origins.includes(origin) || config.originPatterns.some((p) => p.regex.testExact(origin));
}

/**
 * The answer to a preflight: every configured header, with `*` methods or headers echoing what the
 * preflight asks for, and `access-control-allow-origin` (the request's own origin) only when the
 * origin is allowed. `Vary: Origin` because the answer depends on it (Envoy does not send it).
 */
export function preflightAnswer(
  config: CompiledCors,
  request: NormalizedRequest,
): { readonly originAllowed: boolean; readonly headers: Record<string, string> } {
  const origin = request.header("origin") ?? "";
  const allowed = originAllowed(config, origin);
  const headers: Record<string, string> = {};
  if (allowed) headers["access-control-allow-origin"] = origin;
  if (config.allowCredentials) headers["access-control-allow-credentials"] = "true";
  const methods = config.allowMethods === "*" ? request.header("access-control-request-method") : config.allowMethods;
  if (nonEmpty(methods)) headers["access-control-allow-methods"] = methods;
  const allowHeaders = config.allowHeaders === "*" ? request.header("access-control-request-headers") : config.allowHeaders;
  if (nonEmpty(allowHeaders)) headers["access-control-allow-headers"] = allowHeaders;
  if (config.maxAgeSeconds !== undefined) headers["access-control-max-age"] = config.maxAgeSeconds;
  // Envoy Gateway's e2e test (test/e2e/tests/cors.go) expects them on the preflight answer too.
  if (config.exposeHeaders !== undefined) headers["access-control-expose-headers"] = config.exposeHeaders;
  headers.vary = "Origin";
  return { originAllowed: allowed, headers };
}

/** Headers for the response to an actual request; undefined when it carries no allowed Origin. */
export function corsResponseHeaders(config: CompiledCors, request: NormalizedRequest): Record<string, string> | undefined {
  const origin = request.header("origin");
  if (!nonEmpty(origin) || !originAllowed(config, origin)) return undefined;
  const headers: Record<string, string> = { "access-control-allow-origin": origin };
  if (config.allowCredentials) headers["access-control-allow-credentials"] = "true";
  if (config.exposeHeaders !== undefined) headers["access-control-expose-headers"] = config.exposeHeaders;
  headers.vary = "Origin";
  return headers;
}
