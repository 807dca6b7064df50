/**
 * CORS on /cors: apiKeyAuth plus cors for https://app.example.com and https://*.app.example.com,
 * credentials allowed. A preflight is answered (204) without asking for the key and without
 * reaching the upstream; Access-Control-Allow-Origin is only ever the request's own origin, and
 * only for an origin the policy lists (Envoy's cors filter, as Envoy Gateway programs it).
 */
import type { Decision } from "../../../controller/authz/decision.ts";
import type { Ctx } from "../context.ts";
import { fromDecision, managedHeadersOf, type Case, type Expected, type Outcome } from "../outcome.ts";

const ANSWERED: Expected = { status: 204, code: "cors_preflight" };
const NOT_LISTED: Expected = { status: 204, code: "cors_origin", reason: "origin is not allowed" };

/** Runs the request and also requires the client's Access-Control-Allow-Origin to be exactly `allowOrigin`. */
async function withAllowOrigin(ctx: Ctx, request: Parameters<Ctx["decider"]>[0], allowOrigin: string | undefined): Promise<Outcome> {
  const d: Decision = await ctx.decider(request);
  const observed = d.responseHeaders["access-control-allow-origin"];
  if (observed !== allowOrigin)
    throw new Error(`access-control-allow-origin is ${JSON.stringify(observed)}, expected ${JSON.stringify(allowOrigin)}`);
  return fromDecision(d, managedHeadersOf(ctx.decider.result.snapshot.policies));
}

function c(id: string, title: string, expect: Expected, run: (ctx: Ctx) => Promise<Outcome>, fixed?: string): Case {
  return { id: `cors.${id}`, title, expect, run, ...(fixed === undefined ? {} : { fixed }) };
}
const preflight = (origin: string, extra: Record<string, string> = {}) => ({
  method: "OPTIONS",
  path: "/cors",
  headers: { origin, "access-control-request-method": "DELETE", ...extra },
});

export const corsCases: readonly Case[] = [
  c(
    "preflight-listed",
    "preflight from a listed origin, no API key: answered with the origin echoed; no key asked for, nothing forwarded",
    ANSWERED,
    (ctx) => withAllowOrigin(ctx, preflight("https://app.example.com"), "https://app.example.com"),
  ),
  c(
    "preflight-unlisted",
    "preflight from `https://evil.example.com`: answered without Access-Control-Allow-Origin (the browser refuses)",
    NOT_LISTED,
    (ctx) => withAllowOrigin(ctx, preflight("https://evil.example.com"), undefined),
    "a preflight from an unlisted origin was a 403; Envoy's cors filter answers it without Access-Control-Allow-Origin, and so does Portcullis now",
  ),
  c("preflight-suffix", "preflight from `https://evilapp.example.com` (the listed wildcard needs a dot before app)", NOT_LISTED, (ctx) =>
    withAllowOrigin(ctx, preflight("https://evilapp.example.com"), undefined),
  ),
  c(
    "preflight-case",
    "preflight from `https://APP.example.com` (origins compare case-sensitively, as Envoy's matcher)",
    NOT_LISTED,
    (ctx) => withAllowOrigin(ctx, preflight("https://APP.example.com"), undefined),
  ),
  c("preflight-null", "preflight from `null` (sandboxed frames, file: pages)", NOT_LISTED, (ctx) =>
    withAllowOrigin(ctx, preflight("null"), undefined),
  ),
  c(
    "preflight-two-origins",
    "preflight with two Origin values `https://app.example.com, https://evil.example.com` (read as one value, listed by no entry)",
    NOT_LISTED,
    (ctx) => withAllowOrigin(ctx, preflight("https://app.example.com, https://evil.example.com"), undefined),
  ),
  c("preflight-with-key", "preflight with a wrong API key: still only a preflight answer, never an allow", ANSWERED, (ctx) =>
    withAllowOrigin(ctx, preflight("https://app.example.com", { "x-api-key": "wrong" }), "https://app.example.com"),
  ),
  c(
    "actual-no-key",
    "GET from a listed origin without a key: the credential is still required",
    { status: 401, code: "apikey_missing" },
    (ctx) => withAllowOrigin(ctx, { path: "/cors", headers: { origin: "https://app.example.com" } }, undefined),
  ),
  c(
    "actual-listed",
    "GET from a listed origin with alice's key: allowed, the origin echoed (never `*`) with credentials",
    { status: 200, code: "allowed", upstream: { "x-client-id": "alice" } },
    (ctx) =>
      withAllowOrigin(
        ctx,
        { path: "/cors", headers: { origin: "https://a.app.example.com", "x-api-key": "alice-key" } },
        "https://a.app.example.com",
      ),
  ),
  c(
    "actual-unlisted",
    "GET from an unlisted origin with alice's key: allowed for the proxy, but no CORS headers (the browser hides the answer)",
    { status: 200, code: "allowed", upstream: { "x-client-id": "alice" } },
    (ctx) => withAllowOrigin(ctx, { path: "/cors", headers: { origin: "https://evil.example.com", "x-api-key": "alice-key" } }, undefined),
  ),
  c(
    "preflight-empty-request-method",
    "OPTIONS from a listed origin with an empty Access-Control-Request-Method: no preflight to Envoy's filter, so the key is asked for",
    { status: 401, code: "apikey_missing" },
    (ctx) => withAllowOrigin(ctx, preflight("https://app.example.com", { "access-control-request-method": "" }), undefined),
  ),
  c(
    "preflight-without-origin",
    "OPTIONS with Access-Control-Request-Method but no Origin: no CORS request at all, the key is asked for",
    { status: 401, code: "apikey_missing" },
    (ctx) => withAllowOrigin(ctx, { method: "OPTIONS", path: "/cors", headers: { "access-control-request-method": "DELETE" } }, undefined),
  ),
  c(
    "preflight-lower-case-method",
    "`options` (lower case) from a listed origin: Envoy's filter answers only `OPTIONS`, so the key is asked for",
    { status: 401, code: "apikey_missing" },
    (ctx) => withAllowOrigin(ctx, { ...preflight("https://app.example.com"), method: "options" }, undefined),
  ),
  c(
    "preflight-trailing-dot",
    "preflight from `https://app.example.com.` (the listed origin with a trailing dot: another string to Envoy's exact matcher)",
    NOT_LISTED,
    (ctx) => withAllowOrigin(ctx, preflight("https://app.example.com."), undefined),
  ),
  c(
    "preflight-default-port",
    "preflight from `https://app.example.com:443` (the listed origin with its default port written: another string)",
    NOT_LISTED,
    (ctx) => withAllowOrigin(ctx, preflight("https://app.example.com:443"), undefined),
  ),
  c(
    "preflight-wildcard-two-origins",
    "preflight with two Origin lines `https://evil.example.com` and `https://a.app.example.com`: Envoy joins them with `,` and the wildcard's `.*` takes the whole value, echoed as one origin no browser accepts; still only a preflight answer",
    ANSWERED,
    (ctx) =>
      withAllowOrigin(
        ctx,
        preflight("https://evil.example.com,https://a.app.example.com"),
        "https://evil.example.com,https://a.app.example.com",
      ),
  ),
  c(
    "route-filter-over-policy",
    "GET on /filtered-cors from `https://app.example.com`, which the policy's cors lists but the rule's HTTPRoute CORS filter does not, with alice's key: allowed, without Access-Control-Allow-Origin (the filter's cors replaces the policy's, as in Envoy Gateway)",
    { status: 200, code: "allowed", upstream: { "x-client-id": "alice" } },
    (ctx) =>
      withAllowOrigin(ctx, { path: "/filtered-cors", headers: { origin: "https://app.example.com", "x-api-key": "alice-key" } }, undefined),
    "the policy's cors applied beside a route's CORS filter, so a site Envoy Gateway's filter does not list could read the answers",
  ),
  c(
    "route-filter-preflight",
    "preflight on /filtered-cors from `https://partner.example.com`, listed by the rule's HTTPRoute CORS filter: answered with that origin, no key asked for",
    ANSWERED,
    (ctx) => withAllowOrigin(ctx, { ...preflight("https://partner.example.com"), path: "/filtered-cors" }, "https://partner.example.com"),
    "an HTTPRoute CORS filter was not applied: behind nginx or Caddy its preflights were asked for the key",
  ),
];
