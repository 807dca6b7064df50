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

/**
 * `headers` from Envoy's check with a value holding "," read as the lines Envoy may have joined: its
 * CheckRequest `headers` map (which its HTTP check copies line by line) holds a header the client
 * sent on several lines as one value, the lines joined with ",", while the upstream gets the lines
 * and may act on the first or the last. The pieces, joined with "," again, are the value as sent
 * (headerValue: Envoy's reading unchanged); each is a line to read too (DESIGN §0). `headers` itself
 * (no copy) when no value holds ","; Cookie, Host and pseudo-headers stay whole (read by their own rules).
 */
export function linesEnvoyMayHaveJoined(headers: AuthzRequest["headers"]): AuthzRequest["headers"] {
  let split: Record<string, string | string[] | undefined> | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (typeof value !== "string" || !value.includes(",") || name === "cookie" || name === "host" || name.startsWith(":")) continue;
    split ??= { ...headers };
    split[name] = value.split(",");
  }
  return split ?? headers;
}
