/**
 * CSRF, as Envoy's csrf filter decides for a route Envoy Gateway v1.9.0 programmed
 * (source/extensions/filters/http/csrf/csrf_filter.cc): a mutating request (POST, PUT, DELETE,
 * PATCH) passes only when its source origin, the host and port of `Origin` (or, without one, of
 * `Referer`), is the destination's (the host and port of `Host`) or an additional origin. A request
 * without a source origin, or from another, is refused with 403, before any credential is read.
 */
import { isIPv6 } from "node:net";
import type { CheckContext } from "../../authz/context.ts";
import { deny } from "../../authz/decision.ts";
import type { NormalizedRequest } from "../../authz/request.ts";
import { fail } from "../../lib/result.ts";
import { NOTHING, type PhaseResult, type Where } from "../feature.ts";
import type { CompiledCsrf } from "./compile.ts";

/** The methods Envoy's filter checks, compared as written (its other readings, such as `post`, are decided upper-cased too). */
const MUTATING = new Set(["POST", "PUT", "DELETE", "PATCH"]);

export function checkCsrf(
  config: CompiledCsrf,
  request: NormalizedRequest,
  where: Where,
  _passed: unknown,
  ctx: CheckContext,
): PhaseResult {
  if (!MUTATING.has(request.method)) return NOTHING;
  const source = sourceOrigin(request);
  const valid = source !== "" && (source === targetOrigin(request) || allowedOrigin(config, source));
  if (valid) return NOTHING;
  // Shadow mode: Envoy lets this share of failing requests through, each drawn at random.
  if (config.enforcedFraction < 1 && (ctx.random ?? Math.random)() >= config.enforcedFraction) return NOTHING;
  const why =
    source === "" ? "the request has no Origin or Referer" : "its Origin (or Referer) is neither the destination nor an allowed origin";
  return fail(deny(403, "csrf_origin", `cross-site ${request.method} refused: ${why}`, where));
}

function allowedOrigin(config: CompiledCsrf, source: string): boolean {
  return config.origins.includes(source) || config.originPatterns.some((p) => p.regex.testExact(source));
}

/** Host and port of `Origin`, else of `Referer` (empty when neither has a value), as the filter reads them. */
function sourceOrigin(request: NormalizedRequest): string {
  const origin = hostAndPort(request.header("origin") ?? "");
  return origin !== "" ? origin : hostAndPort(request.header("referer") ?? "");
}

/** Host and port of the destination: the request's Host as the proxy received it, read as the filter reads `<scheme>://<host>`. */
function targetOrigin(request: NormalizedRequest): string {
  const host = request.source.host;
  return host === "" ? "" : hostAndPort(`${request.source.scheme}://${host}`);
}

/**
 * An absolute URL's authority without user info ("app.example.com:8443"), as Envoy's URL parser
 * (http_parser) gives it, or the value itself when it is not one: then only an equal value (or an
 * additional origin matching it) makes it valid, as in Envoy. Only URLs well inside what http_parser
 * accepts are parsed (letters for the scheme, a host of letters, digits, dots and hyphens or an IPv6
 * literal, a port up to 65535, no user info); any other value is kept whole, which can only make the
 * check fail where Envoy's might pass, never the reverse.
 */
export function hostAndPort(value: string): string {
  const m = URL_AUTHORITY.exec(value);
  if (m === null) return value;
  const [, authority, host, port] = m;
  if (port !== undefined && Number(port) > 65535) return value;
  if (host!.startsWith("[") && !isIPv6(host!.slice(1, -1))) return value;
  return authority!;
}

const URL_AUTHORITY = /^[A-Za-z]+:\/\/(([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?)(?:[/?#][^\x00-\x20\x7f]*)?$/;
