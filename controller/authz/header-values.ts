/** A request header's value as Envoy's matchers and a proxy's lists read it. */
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
