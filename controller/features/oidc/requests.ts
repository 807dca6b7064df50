/**
 * What the oidc phase reads off a request: its header matchers (`passThroughAuthHeader`,
 * `denyRedirect`, as Envoy's HeaderMatcher), and the URLs a redirect is built from, each kept to
 * the origin the browser addressed (or the hosts the session cookie is shared with): the flow never
 * sends a browser to a site a request names (no open redirect).
 */
import type { NormalizedRequest } from "../../authz/request.ts";
import type { HeaderMatcher } from "./compile.ts";

/** Whether the request's header satisfies `m` (a repeated header is its lines joined with ",", as Envoy reads it). */
export function headerMatches(m: HeaderMatcher, req: NormalizedRequest): boolean {
  const value = req.header(m.name);
  if (value === undefined) return false;
  switch (m.type) {
    case "Present":
      return true;
    case "Exact":
      return value === m.value;
    case "Prefix":
      return value.startsWith(m.value);
    case "Suffix":
      return value.endsWith(m.value);
    case "RegularExpression":
      return m.regex!.testExact(value);
  }
}

/** scheme://host as the client addressed `req`. */
export function originOf(req: NormalizedRequest): string {
  return `${req.source.scheme}://${req.source.host}`;
}

/**
 * Whether the callback of `req` may send the browser to `url`: a page of its origin, or of a host
 * the session cookie is shared with (`cookieDomain`), over http(s). The URL was recorded, sealed,
 * when the login started; this bounds the redirect even so.
 */
export function mayReturnTo(url: string, req: NormalizedRequest, cookieDomain: string | undefined): boolean {
  if (!URL.canParse(url)) return false;
  const target = new URL(url);
  if (target.protocol !== "http:" && target.protocol !== "https:") return false;
  if (target.origin === new URL(originOf(req)).origin) return true;
  return cookieDomain !== undefined && (target.hostname === cookieDomain || target.hostname.endsWith(`.${cookieDomain}`));
}

/**
 * `req`'s URL as the browser addressed it, or its origin's "/" when the request target, appended
 * to the origin, would name another host (`@evil`, `.evil`, `:1@evil`).
 */
export function currentUrl(req: NormalizedRequest): string {
  const origin = originOf(req);
  const url = `${origin}${req.target}`;
  return req.target.startsWith("/") && URL.canParse(url) && new URL(url).origin === new URL(origin).origin ? url : `${origin}/`;
}

/** `redirectURL` with Envoy's `%REQ(x-forwarded-proto)%` and `%REQ(:authority)%` filled in from `req`. */
export function redirectUri(redirectURL: string, req: NormalizedRequest): string {
  return redirectURL.replaceAll("%REQ(x-forwarded-proto)%", req.source.scheme).replaceAll("%REQ(:authority)%", req.source.host);
}
