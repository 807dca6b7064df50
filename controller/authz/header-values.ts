/** A request header's value as Envoy's matchers and a proxy's lists read it. */
import { MAX_HEADER_LINES } from "../snapshot/route-index.ts";
import { deny, type Decision } from "./decision.ts";
import { PROXY_REPLACES_HEADER } from "./proxy-copies.ts";
import type { AuthzRequest } from "./request.ts";

/**
 * A header's value as Envoy's header map holds it, which is what its route, RBAC and CEL header
 * matchers compare: the lines of a repeated header joined with "," (HttpRequestHeaderMatchInput;
 * not Node's ", "), Cookie's with "; ". Only own properties count ("constructor" is a header name too).
 */
export function headerValue(headers: AuthzRequest["headers"], name: string): string | undefined {
  const v = Object.hasOwn(headers, name) ? headers[name] : undefined;
  return Array.isArray(v) ? v.join(name === "cookie" ? "; " : ",") : typeof v === "string" ? v : undefined;
}

/** The first entry of a header that holds a list (proxies append to X-Forwarded-* and X-Request-Id), trimmed; undefined when empty or absent. */
export function firstListValue(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  // The text before the first ",": no array of every entry on each request (X-Forwarded-Proto is read on every one).
  const comma = v.indexOf(",");
  const first = (comma === -1 ? v : v.slice(0, comma)).trim();
  return first === "" ? undefined : first;
}

/**
 * `headers` with every value read as the lines an upstream may act on, on every port alike: a line
 * holding "," is also the pieces between its commas. Envoy's HTTP check (and its gRPC check without
 * encode_raw_headers) hands over a header the client sent on several lines as one value, the lines
 * joined with ",", while the upstream gets the lines; and for a list-valued field one line `a,b` is
 * the two lines `a` and `b` (RFC 9110 §5.3), which an upstream behind nginx or Caddy (which pass the
 * line as it is) may split. Each piece is a line to read (DESIGN §0; its reading trims its OWS,
 * snapshot/route-readings.ts lineAt); joined with "," again, the pieces are the lines joined as Envoy
 * joins them (headerValue: Envoy's reading unchanged). `headers` itself (no copy) when no value
 * holds ","; Cookie, Host and pseudo-headers stay whole (read by their own rules), and so does
 * X-Portcullis-Replaces, the proxy's list for Portcullis, which no upstream receives.
 */
export function linesUpstreamMayRead(headers: AuthzRequest["headers"]): AuthzRequest["headers"] {
  let split: Record<string, string | string[] | undefined> | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || !holdsComma(value) || readWhole(name)) continue;
    split ??= { ...headers };
    split[name] = typeof value === "string" ? value.split(",") : value.flatMap((line) => line.split(","));
  }
  return split ?? headers;
}

/** Whether a header (lower-case name) is read whole on every port, never split at "," (see linesUpstreamMayRead). */
export const readWhole = (name: string): boolean =>
  name === "cookie" || name === "host" || name.startsWith(":") || name === PROXY_REPLACES_HEADER;

/** Whether a value (or one of its lines) holds ",". */
function holdsComma(value: string | readonly string[]): boolean {
  if (typeof value === "string") return value.includes(",");
  for (let i = 0; i < value.length; i++) if (value[i]!.includes(",")) return true;
  return false;
}

/**
 * The refusal (431 `request_invalid`) of a request in which a header whose lines and list elements
 * are readings (read by a route match or an authorization rule) has more than MAX_HEADER_LINES of
 * them. The message names no header: which ones are read is configuration.
 */
export function tooManyHeaderLines(where: { route?: string | undefined; policy?: string | undefined }): Decision {
  return deny(431, "request_invalid", `a header has more than ${MAX_HEADER_LINES} lines or comma-separated elements`, where);
}
