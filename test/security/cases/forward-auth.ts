/**
 * The forward-auth port (nginx auth_request, Caddy forward_auth, Traefik ForwardAuth). Those
 * proxies hand the upstream the URI exactly as the client wrote it and let ANY 2xx through, so the
 * port decides only on a URI already in normal form and never answers a denial with a 2xx. They
 * ignore x-envoy-auth-headers-to-remove, so an allow that cuts key cookies says what becomes of the
 * Cookie header in `x-portcullis-cookie`, and a request carrying its own copy of a header a policy
 * sets is refused unless the proxy lists it in X-Portcullis-Replaces (it replaces it).
 * test/e2e/proxies.test.ts sends the same situations through real nginx and Caddy.
 */
import type { Ctx } from "../context.ts";
import type { Case, Expected, Outcome } from "../outcome.ts";
import { HOST } from "../world.ts";

/** An origin the /cors route's policy lists. */
const CORS_ORIGIN = "https://app.example.com";
const NOT_NORMAL: Expected = { status: 400, code: "request_invalid", reason: "not in normal form" };
const FRAGMENT: Expected = { status: 400, code: "request_invalid", reason: "fragment" };

function c(id: string, title: string, expect: Expected, run: (ctx: Ctx) => Promise<Outcome>, fixed?: string): Case {
  return { id: `forward.${id}`, title, expect, run, ...(fixed === undefined ? {} : { fixed }) };
}
/** The original request as a forward-auth proxy describes it. */
const original = (uri: string, method = "GET", headers: Record<string, string> = {}) => ({
  "x-forwarded-method": method,
  "x-forwarded-proto": "https",
  "x-forwarded-host": HOST,
  "x-forwarded-uri": uri,
  ...headers,
});
const uri = (id: string, title: string, expect: Expected, u: string, fixed?: string) =>
  c(id, title, expect, (ctx) => ctx.forward(original(u)), fixed);

/**
 * A preflight on /cors from `origin`. The marked 403's Access-Control-* headers are for the client
 * (the proxy turns them into a 204), never for the upstream: the outcome counts them as forwarded
 * unless the marker is there and Access-Control-Allow-Origin is `allowOrigin` (absent: undefined).
 */
async function preflight(ctx: Ctx, origin: string, allowOrigin: string | undefined): Promise<Outcome> {
  const o = await ctx.forward(original("/cors", "OPTIONS", { origin, "access-control-request-method": "POST" }));
  const { "x-portcullis-preflight": marker, "access-control-allow-origin": allowed } = o.upstream;
  return marker === "answered" && allowed === allowOrigin ? { ...o, upstream: {} } : o;
}

const DOTS_FIXED =
  "the forward-auth port decided on the normalised path (the open /public) while nginx and Caddy hand the upstream the raw URI, which runs /keys' handler; a URI not in normal form is now refused";

/** GET /sanitized (the key from X-API-Key or the `apikey` cookie, `sanitize: true`) with these headers. */
const sanitized = (id: string, title: string, expect: Expected, headers: Record<string, string>, fixed?: string) =>
  c(id, title, expect, (ctx) => ctx.forward(original("/sanitized", "GET", headers)), fixed);

/** alice by her X-API-Key, the Cookie header to be replaced by `theme=dark` alone (the key cookie cut). */
const ALICE_THEME_ONLY: Expected = {
  status: 200,
  code: "allowed",
  upstream: { "x-client-id": "alice", cookie: "theme=dark", "x-portcullis-cookie": "replace" },
  remove: ["x-api-key"],
};

export const forwardAuthCases: readonly Case[] = [
  uri("dot-segments", "X-Forwarded-Uri `/keys/../public` (the upstream receives it as written)", NOT_NORMAL, "/keys/../public", DOTS_FIXED),
  uri("dot-segments-deep", "X-Forwarded-Uri `/keys/a/b/../../../public`", NOT_NORMAL, "/keys/a/b/../../../public", DOTS_FIXED),
  uri("encoded-dots", "X-Forwarded-Uri `/keys/%2e%2e/public`", NOT_NORMAL, "/keys/%2e%2e/public", DOTS_FIXED),
  uri("encoded-dots-upper", "X-Forwarded-Uri `/keys/%2E%2E/public`", NOT_NORMAL, "/keys/%2E%2E/public", DOTS_FIXED),
  uri("single-dot", "X-Forwarded-Uri `/public/./x`", NOT_NORMAL, "/public/./x"),
  uri("double-slash", "X-Forwarded-Uri `//keys` (merged by Envoy, not by every upstream)", NOT_NORMAL, "//keys"),
  uri("fragment", "X-Forwarded-Uri `/keys#/../public` (a raw request line with a fragment)", FRAGMENT, "/keys#/../public", DOTS_FIXED),
  uri("fragment-in-query", "X-Forwarded-Uri `/public?x=1#/../keys`", FRAGMENT, "/public?x=1#/../keys"),
  uri(
    "dots-in-query",
    "X-Forwarded-Uri `/public?next=/../keys` (dots in the query are data)",
    { status: 200, code: "allowed" },
    "/public?next=/../keys",
  ),
  uri(
    "lower-case-escape",
    "X-Forwarded-Uri `/public/caf%c3%a9` (the case of an escape changes no reading)",
    { status: 200, code: "allowed" },
    "/public/caf%c3%a9",
  ),
  uri("normal", "X-Forwarded-Uri `/keys` without a key", { status: 401, code: "apikey_missing" }, "/keys"),
  c(
    "preflight",
    "a CORS preflight from a listed origin: a 403 marked `x-portcullis-preflight: answered` with the Access-Control-* headers, never a 2xx (any 2xx sends the request upstream)",
    { status: 403, code: "cors_preflight" },
    (ctx) => preflight(ctx, CORS_ORIGIN, CORS_ORIGIN),
    "the preflight's 204 is an allow for nginx, Caddy and Traefik, which sent the unauthenticated OPTIONS upstream",
  ),
  c(
    "preflight-other-origin",
    "a CORS preflight from an origin not listed (Envoy answers 204 without Access-Control-Allow-Origin): the same marked 403, without it",
    { status: 403, code: "cors_origin" },
    (ctx) => preflight(ctx, "https://evil.example", undefined),
    "see forward.preflight",
  ),
  c(
    "cors-actual",
    "an actual request from a listed origin with its key: the client's response headers (Access-Control-*, Vary) come as `x-portcullis-response-<name>`, the client's own copies of those names ignored",
    {
      status: 200,
      code: "allowed",
      upstream: {
        "x-client-id": "alice",
        "x-portcullis-response-access-control-allow-origin": CORS_ORIGIN,
        "x-portcullis-response-access-control-allow-credentials": "true",
        "x-portcullis-response-vary": "Origin",
      },
    },
    (ctx) =>
      ctx.forward(
        original("/cors", "GET", {
          origin: CORS_ORIGIN,
          "x-api-key": "alice-key",
          "x-portcullis-response-access-control-allow-origin": "https://evil.example",
        }),
      ),
    "the forward-auth answer carried them under their own names, which nginx and Caddy cannot tell from a header a policy sets upstream, and the shipped configurations dropped them: browsers could not read an allowed cross-origin answer; both now copy these names onto the client's response",
  ),
  c(
    "underscore-identity",
    "`X_Client_Id: admin` on the open route (a CGI upstream reads it as HTTP_X_CLIENT_ID)",
    { status: 400, code: "request_invalid", reason: "X_Client_Id".toLowerCase() },
    (ctx) => ctx.forward([...Object.entries(original("/public")), ["X_Client_Id", "admin"]]),
    "Caddy and Envoy forward header names with underscores, which CGI, WSGI and Rack upstreams fold into the managed header Portcullis removed; such a spelling of a managed header is now refused on every port",
  ),
  sanitized(
    "sanitize-cookie-replace",
    "sanitize: `Cookie: apikey=alice-key; theme=dark`: the proxy is told to replace the Cookie header with the cookies left",
    {
      status: 200,
      code: "allowed",
      upstream: { "x-client-id": "alice", cookie: "theme=dark", "x-portcullis-cookie": "replace" },
      remove: ["x-api-key"],
    },
    { cookie: "apikey=alice-key; theme=dark" },
    "the forward-auth port answered a sanitized key cookie only in Envoy's terms (a `cookie` header, or `cookie` in x-envoy-auth-headers-to-remove), which the shipped nginx and Caddy configurations ignored, so the key cookie reached the upstream; the port now states `x-portcullis-cookie: replace` or `remove`, and both configurations apply it",
  ),
  sanitized(
    "sanitize-cookie-remove",
    "sanitize: `Cookie: apikey=alice-key` alone: the proxy is told to remove the Cookie header",
    {
      status: 200,
      code: "allowed",
      upstream: { "x-client-id": "alice", "x-portcullis-cookie": "remove" },
      remove: ["x-api-key", "cookie"],
    },
    { cookie: "apikey=alice-key" },
    "see forward.sanitize-cookie-replace",
  ),
  sanitized(
    "sanitize-cookie-second-key",
    "sanitize: alice's key in X-API-Key, bob's in the `apikey` cookie: the cookie is cut too",
    ALICE_THEME_ONLY,
    { "x-api-key": "alice-key", cookie: "theme=dark; apikey=bob-key" },
    "see forward.sanitize-cookie-replace",
  ),
  sanitized(
    "sanitize-cookie-other-case",
    "sanitize: alice's key in X-API-Key, bob's in an `ApiKey` cookie (an `apikey` cookie to ASP.NET Core, which reads names in any case): the cookie is cut too",
    ALICE_THEME_ONLY,
    { "x-api-key": "alice-key", cookie: "theme=dark; ApiKey=bob-key" },
    "sanitize removed only the cookies named exactly as configured, so a key cookie whose name differs in letter case reached the upstream, which may read it as the key; every cookie whose name matches in any case is now cut",
  ),
  sanitized(
    "sanitize-cookie-untouched",
    "sanitize: alice's key in X-API-Key and `Cookie: theme=dark`: no x-portcullis-cookie, the client's cookies go on as sent",
    { status: 200, code: "allowed", upstream: { "x-client-id": "alice" }, remove: ["x-api-key"] },
    { "x-api-key": "alice-key", cookie: "theme=dark" },
  ),
  c(
    "unreplaced-identity-copy",
    "`x-user-id: admin` on the open route, from a proxy whose X-Portcullis-Replaces does not name it: the proxy would pass the client's copy to the upstream",
    { status: 400, code: "request_invalid", reason: "carries its own x-user-id" },
    (ctx) => ctx.forward(original("/public", "GET", { "x-user-id": "admin", "x-portcullis-replaces": "x-user-email" })),
    "nginx, Caddy and Traefik ignore x-envoy-auth-headers-to-remove: a header a policy sets that the proxy's configuration did not name reached the upstream as the client's copy; the proxy now lists the headers it replaces, and a request carrying a copy of any other is refused",
  ),
  c(
    "unreplaced-identity-copy-no-list",
    "`x-client-id: alice` with bob's key on /keys (which sets x-client-id), from a proxy that lists nothing",
    { status: 400, code: "request_invalid", reason: "carries its own x-client-id" },
    (ctx) => ctx.forward(original("/keys", "GET", { "x-client-id": "alice", "x-api-key": "bob-key" })),
    "see forward.unreplaced-identity-copy",
  ),
  c(
    "replaced-identity-copy",
    "`x-user-id: admin` on the open route, from a proxy whose `X-Portcullis-Replaces: X-User-Id, x-user-email` names it: allowed, its copy removed",
    { status: 200, code: "allowed" },
    (ctx) => ctx.forward(original("/public", "GET", { "x-user-id": "admin", "x-portcullis-replaces": "X-User-Id, x-user-email" })),
  ),
  c(
    "cookie-open-route",
    "`Cookie: apikey=alice-key` and a client-sent `x-portcullis-cookie: remove` on the open route: no x-portcullis-cookie in the answer",
    { status: 200, code: "allowed" },
    (ctx) => ctx.forward(original("/public", "GET", { cookie: "apikey=alice-key", "x-portcullis-cookie": "remove" })),
  ),
];
