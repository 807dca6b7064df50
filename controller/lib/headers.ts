/**
 * Validation of header names a policy asks Portcullis to set upstream. Every header a policy may
 * set is also removed from clients' requests on the routes around it (managed-headers.ts), so a
 * policy may name neither a header whose meaning belongs to the client's credentials, the
 * connection or the proxies, nor one Portcullis or Envoy use to talk to each other.
 */
import { ok, problem, type Result } from "./result.ts";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Why a header may not be set by a policy, by lower-case name. */
const RESERVED: Readonly<Record<string, string>> = {
  ...Object.fromEntries(["authorization", "proxy-authorization", "cookie"].map((h) => [h, "a credential header"])),
  ...Object.fromEntries(
    [
      "connection",
      "keep-alive",
      "proxy-connection",
      "te",
      "trailer",
      "transfer-encoding",
      "upgrade",
      "host",
      "content-length",
      "expect",
    ].map((h) => [h, "a connection or message-framing header"]),
  ),
  ...Object.fromEntries(
    ["forwarded", "via", "x-real-ip", "x-request-id", "x-original-uri"].map((h) => [h, "a header proxies set about the request"]),
  ),
  // Rack, ASP.NET and others run a POST as the method these name, Symfony and IIS the URL: the
  // request would run as one Portcullis never decided (authz/method-readings.ts, folded-headers.ts).
  ...Object.fromEntries(
    ["x-http-method-override", "x-http-method", "x-method-override", "x-original-url", "x-rewrite-url"].map((h) => [
      h,
      "a header that makes servers run the request as another method or URL",
    ]),
  ),
};
/** Families, by prefix: the proxies' forwarding headers, Envoy's internal ones, Portcullis' own. */
const RESERVED_PREFIXES: readonly (readonly [string, string])[] = [
  ["x-forwarded-", "a header proxies set about the request"],
  ["x-envoy-", "an Envoy-internal header"],
  ["x-portcullis-", "a header the proxy sets for Portcullis"],
];

/** Lower-cased header name, or an error naming the field and why the name is refused. */
export function upstreamHeaderName(name: string, field: string): Result<string> {
  if (!TOKEN.test(name)) return problem(`${field}: "${name}" is not a valid HTTP header name`);
  const lower = name.toLowerCase();
  const why = Object.hasOwn(RESERVED, lower) ? RESERVED[lower] : RESERVED_PREFIXES.find(([prefix]) => lower.startsWith(prefix))?.[1];
  if (why !== undefined)
    return problem(`${field}: Portcullis may not set the ${lower} header (${why}; an allow would remove the client's own)`);
  return ok(lower);
}
