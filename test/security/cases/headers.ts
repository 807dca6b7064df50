/**
 * Headers: a client supplying any header Portcullis sets; oversize and very many headers; invalid
 * bytes. Headers Portcullis sets: x-client-id (apiKeyAuth forwardClientIDHeader), x-user-id,
 * x-user-email, x-tier, x-other-sub (jwt claimToHeaders), cookie (sanitize), and
 * x-envoy-auth-headers-to-remove (to Envoy). On every allow, each of those Portcullis does not set is
 * listed for removal, whatever the route (the world is one Gateway, so every route shares them).
 * A policy that writes header names capitalised (`X-Role`, `X-Client-Id`) decides as one in lower case.
 */
import { exchange, overGrpc, overWire, requestText, type Ctx } from "../context.ts";
import { capitalised, gatewayWithRoute, headersNamedIn, securityPolicy } from "../../support/manifests.ts";
import { startTestApp } from "../../support/app.ts";
import { MAX_HEADER_LINES } from "../../../controller/snapshot/route-index.ts";
import { decider } from "../../support/world.ts";
import { fromDecision, managedHeadersOf, type Case, type Expected, type Outcome } from "../outcome.ts";
import { ISSUER, jwksOf, makeKeys, token } from "../world.ts";

const ALICE: Expected = { status: 200, code: "allowed", upstream: { "x-client-id": "alice" } };
const BAD = (reason: string): Expected => ({ status: 400, code: "request_invalid", reason });
const UNDERSCORE = (name: string): Expected => BAD(`the header ${name} is refused`);

function c(id: string, title: string, expect: Expected, run: (ctx: Ctx) => Promise<Outcome>, fixed?: string): Case {
  return { id: `header.${id}`, title, expect, run, ...(fixed === undefined ? {} : { fixed }) };
}

/** GET /x on api.example.com over gRPC, as Envoy sends it (the Host as `:authority` only), under a route policy with `authorization`. */
const hostRuleOverGrpc = (authorization: object): Promise<Outcome> =>
  overGrpc(`${gatewayWithRoute("api.example.com", { x: "/x" })}---\n${securityPolicy("p", { authorization }, "x")}`, "/x", {
    header_map: { headers: [{ key: ":authority", value: "api.example.com" }] },
  });
/** A valid token whose sub is `sub`, on /jwt: x-user-id cannot carry it, so it is removed like every managed header. */
/** A valid token on /jwt whose claims are `claims` (x-user-id carries sub, x-user-email email). */
const claimed = (id: string, title: string, expect: Expected, claims: Record<string, unknown>, fixed?: string) =>
  c(
    id,
    title,
    expect,
    (ctx) =>
      ctx.check({ path: "/jwt", headers: { authorization: `Bearer ${token(claims, {}, undefined, ctx.keys)}`, "x-user-email": "root@x" } }),
    fixed,
  );
/** A token whose sub cannot be set as x-user-id without being read differently. */
const UNFORWARDABLE: Expected = {
  status: 403,
  code: "identity_unforwardable",
  reason: "x-user-id has a control character or leading or trailing whitespace",
};
/** A gateway whose only rule denies `x-role: admin` (default Allow), on route /x of api.example.com. */
const NO_ADMIN_WORLD = `${gatewayWithRoute("api.example.com", { x: "/x" })}---\n${securityPolicy("p", { authorization: { defaultAction: "Allow", rules: [{ name: "no-admin", action: "Deny", principal: { headers: [{ name: "x-role", values: ["admin"] }] } }] } }, "x")}`;

/** GET /x on api.example.com as Envoy's gRPC CheckRequest carrying `headers` (the header map or the joined values), decided in NO_ADMIN_WORLD. */
const noAdminOverGrpc = (headers: Parameters<typeof overGrpc>[2]): Promise<Outcome> => overGrpc(NO_ADMIN_WORLD, "/x", headers);

/** A gateway whose only rule denies `x-role: admin` together with `x-team: red` (default Allow), on route /x of api.example.com. */
const NO_RED_ADMIN_WORLD = `${gatewayWithRoute("api.example.com", { x: "/x" })}---\n${securityPolicy(
  "p",
  {
    authorization: {
      defaultAction: "Allow",
      rules: [
        {
          name: "no-red-admin",
          action: "Deny",
          principal: {
            headers: [
              { name: "x-role", values: ["admin"] },
              { name: "x-team", values: ["red"] },
            ],
          },
        },
      ],
    },
  },
  "x",
)}`;

/** The refusal of a header whose lines are readings with more than MAX_HEADER_LINES of them. */
const TOO_MANY_ELEMENTS: Expected = {
  status: 431,
  code: "request_invalid",
  reason: `more than ${MAX_HEADER_LINES} lines or comma-separated elements`,
};
/** An x-role value of one more element than MAX_HEADER_LINES. */
const OVER_BOUND_ROLES = Array.from({ length: MAX_HEADER_LINES + 1 }, (_, i) => `r${i}`).join(",");

/** More comma-separated elements than MAX_HEADER_LINES, in a header whose lines are no reading (header.many-list-elements-unread-*). */
const UNREAD_JSON_ELEMENTS = 71;
const UNREAD_JSON = `{${Array.from({ length: UNREAD_JSON_ELEMENTS }, (_, i) => `"k${i}":${i}`).join(",")}}`;

/** A Deny rule on x-role: admin denied the request. */
const DENIED_ADMIN: Expected = { status: 403, code: "authz_denied" };

const MIDDLE_LINE =
  "only the first and the last line of a header were readings, so with lines `user,admin` and `user` (Envoy's `user,admin,user`) the `admin` between them decided nothing, while an upstream splitting the list acts on it; every line and list element is now a reading";

/** A case: `roles` sent over the wire to `port` (noAdminOverWire), which the Deny rule on x-role: admin must deny. */
const deniedOverWire = (id: string, title: string, port: "envoy" | "forward", roles: readonly string[], fixed: string) =>
  c(id, title, DENIED_ADMIN, () => noAdminOverWire(port, roles), fixed);

/**
 * GET /x in NO_ADMIN_WORLD over the wire with an x-role line for each of `roles` (then the lines `more`): to the Envoy HTTP
 * port as Envoy's check sends it, or to the forward-auth port as nginx or Caddy describe it.
 */
const noAdminOverWire = (port: "envoy" | "forward", roles: readonly string[], more: readonly [string, string][] = []): Promise<Outcome> =>
  overWire(NO_ADMIN_WORLD, port, "/x", [...roles.map((v): [string, string] => ["x-role", v]), ...more]);

/**
 * One request to headersNamedIn's world with every header name capitalised as a policy may write
 * it (`X-Role`, `X-Client-Id`), served: on the Envoy ext_authz port, or on the forward-auth port as
 * nginx describes `path` there. Envoy matches header names case-insensitively: each must decide as
 * the same policies written in lower case.
 */
async function inCapitalisedWorld(port: "envoy" | "forward", path: string, headers: Record<string, string>): Promise<Outcome> {
  const world = headersNamedIn(capitalised, jwksOf(makeKeys().es));
  const managed = managedHeadersOf(decider(world).result.snapshot.policies);
  const app = await startTestApp({ "world.yaml": world });
  try {
    const sent =
      port === "envoy"
        ? requestText("GET", path, { host: "api.example.com", ...headers })
        : requestText("GET", "/auth", {
            host: "portcullis.internal",
            "x-forwarded-method": "GET",
            "x-forwarded-proto": "https",
            "x-forwarded-host": "api.example.com",
            "x-forwarded-uri": path,
            ...headers,
          });
    return { ...(await exchange(Number(new URL(port === "envoy" ? app.authz : app.forwardAuth).port), sent)), managed };
  } finally {
    await app.close();
  }
}

const junk = (n: number) => Array.from({ length: n }, (_, i) => [`x-junk-${i}`, "1"] as const);

export const headerCases: readonly Case[] = [
  c(
    "rule-reads-claim-header",
    "on /admins (jwt sets x-user-id from sub; a rule allows x-user-id admin): u-1's valid token with the client's own `x-user-id: admin`",
    { status: 403, code: "authz_denied", reason: "no authorization rule allows the request" },
    (ctx) =>
      ctx.check({ path: "/admins", headers: { authorization: `Bearer ${token({}, {}, undefined, ctx.keys)}`, "x-user-id": "admin" } }),
    "header rules read the client's headers, so its copy of an identity header jwt sets (x-user-id) matched; every phase now sees the request as the phases before it left it, as Envoy's rbac reads what jwt_authn wrote",
  ),
  c(
    "rule-repeated-header",
    "wire, on /tiers (a Deny rule on `x-plan: gold,silver`, default Allow): `x-plan: gold` and `x-plan: silver` on two lines (Envoy's header matcher reads `gold,silver`)",
    { status: 403, code: "authz_denied" },
    (ctx) =>
      ctx.envoy("/tiers", [
        ["x-plan", "gold"],
        ["x-plan", "silver"],
      ]),
    'a repeated header was read as its lines joined with ", " (Node\'s join), so the Deny rule missed a request Envoy denies; every header a decision reads is now joined with ",", as Envoy\'s header map joins it',
  ),
  c("spoof-client-id", "valid key plus a client-sent `x-client-id: admin`", ALICE, (ctx) =>
    ctx.check({ path: "/keys", headers: { "x-api-key": "alice-key", "x-client-id": "admin" } }),
  ),
  c(
    "spoof-jwt-claims",
    "valid token plus client-sent x-user-id, x-user-email, x-tier, x-other-sub",
    { status: 200, code: "allowed", upstream: { "x-user-id": "u-1" } },
    (ctx) =>
      ctx.check({
        path: "/jwt",
        headers: {
          authorization: `Bearer ${token({}, {}, undefined, ctx.keys)}`,
          "x-user-id": "admin",
          "x-user-email": "root@example.com",
          "x-tier": "platinum",
          "x-other-sub": "admin",
        },
      }),
  ),
  c("spoof-optional", "optional JWT, no token, client-sent `x-user-id: admin`", { status: 200, code: "allowed" }, (ctx) =>
    ctx.check({ path: "/optional", headers: { "x-user-id": "admin" } }),
  ),
  c("spoof-on-deny", "wrong key plus `x-client-id: admin`", { status: 401, code: "apikey_invalid" }, (ctx) =>
    ctx.check({ path: "/keys", headers: { "x-api-key": "wrong", "x-client-id": "admin" } }),
  ),
  c(
    "spoof-remove-list",
    "wire: client-sent `x-envoy-auth-headers-to-remove: x-client-id` (ignored; the answer is Portcullis' own)",
    ALICE,
    (ctx) => ctx.envoy("/keys", { "x-api-key": "alice-key", "x-envoy-auth-headers-to-remove": "x-client-id" }),
  ),
  c(
    "spoof-cookie",
    "sanitize: `Cookie: apikey=alice-key; theme=dark` (the key cookie is cut from what goes upstream)",
    { status: 200, code: "allowed", upstream: { "x-client-id": "alice", cookie: "theme=dark" }, remove: ["x-api-key"] },
    (ctx) => ctx.check({ path: "/sanitized", headers: { cookie: "apikey=alice-key; theme=dark" } }),
  ),
  c(
    "sanitize-header",
    "sanitize: the key header is listed for removal",
    { status: 200, code: "allowed", upstream: { "x-client-id": "alice" }, remove: ["x-api-key"] },
    (ctx) => ctx.check({ path: "/sanitized", headers: { "x-api-key": "alice-key" } }),
  ),
  c(
    "sanitize-every-source",
    "sanitize: alice's key in X-API-Key and bob's in the `apikey` cookie (every configured source is stripped)",
    { status: 200, code: "allowed", upstream: { "x-client-id": "alice", cookie: "theme=dark" }, remove: ["x-api-key"] },
    (ctx) => ctx.check({ path: "/sanitized", headers: { "x-api-key": "alice-key", cookie: "apikey=bob-key; theme=dark" } }),
    "only the source the key was read from was stripped, so a second key in the cookie went upstream; every configured source is now removed, as Envoy's hide_credentials",
  ),
  c(
    "sanitize-cookie-after-comma",
    "sanitize: alice's key in X-API-Key and `Cookie: theme=dark,apikey=bob-key; lang=en` (a parser splitting at `,` too reads an `apikey` cookie)",
    { status: 200, code: "allowed", upstream: { "x-client-id": "alice", cookie: "lang=en" }, remove: ["x-api-key"] },
    (ctx) => ctx.check({ path: "/sanitized", headers: { "x-api-key": "alice-key", cookie: "theme=dark,apikey=bob-key; lang=en" } }),
    "sanitize removed the key cookies by the names Envoy and RFC 6265 read, pairs split at `;`, so `theme=dark,apikey=bob-key` went upstream whole, where Rack before 2.2 and RFC 2965 parsers read bob's key from it; a pair any of whose `,` pieces names a key cookie is now removed too",
  ),
  c(
    "sanitize-cookie-read",
    "sanitize: the key read from the cookie; a client-sent X-API-Key (empty) is stripped too",
    { status: 200, code: "allowed", upstream: { "x-client-id": "alice" }, remove: ["x-api-key", "cookie"] },
    (ctx) => ctx.check({ path: "/sanitized", headers: { "x-api-key": "", cookie: "apikey=alice-key" } }),
    "see header.sanitize-every-source",
  ),
  claimed(
    "claim-array",
    "valid token whose `email` is an array of scalars, plus a client-sent x-user-email (issue 11 situation 11)",
    { status: 200, code: "allowed", upstream: { "x-user-id": "u-1", "x-user-email": "a@x,b@x" } },
    { email: ["a@x", "b@x"] },
    "an array claim was not forwarded at all (Envoy sends it as base64 JSON); an array of scalars now goes upstream comma-separated",
  ),
  claimed(
    "claim-array-comma",
    "valid token whose `email` array has an element holding a comma (a list reader would split it): base64 JSON, as Envoy",
    { status: 200, code: "allowed", upstream: { "x-user-id": "u-1", "x-user-email": Buffer.from('["a,b@x","c@x"]').toString("base64") } },
    { email: ["a,b@x", "c@x"] },
  ),
  claimed(
    "claim-object",
    "valid token whose `email` is an object: base64 JSON, as Envoy",
    { status: 200, code: "allowed", upstream: { "x-user-id": "u-1", "x-user-email": Buffer.from('{"work":"a@x"}').toString("base64") } },
    { email: { work: "a@x" } },
  ),
  claimed(
    "claim-crlf",
    "valid token whose sub holds CR LF and a header line",
    UNFORWARDABLE,
    { sub: "u-1\r\nx-admin: true" },
    "such a claim was silently not forwarded; it is now refused with a reason: a value is forwarded as it is or not at all",
  ),
  claimed(
    "claim-control",
    "valid token whose sub holds a control character",
    UNFORWARDABLE,
    { sub: "u-1\u0001" },
    "a claim with a control or non-Latin-1 character reached Node's writeHead, which threw: the authz port answered 403 internal_error to a valid token; such a claim is now refused with its reason",
  ),
  claimed(
    "claim-padded",
    'valid token whose sub is `" admin "` (parsers would read `admin`; issue 12 item 6)',
    UNFORWARDABLE,
    { sub: " admin " },
    "the padded value was forwarded, and HTTP parsers strip the spaces: the upstream read another identity than the token's",
  ),
  claimed("claim-tab-inside", "valid token whose sub holds a tab inside", UNFORWARDABLE, { sub: "ad\tmin" }),
  claimed(
    "claim-empty",
    "valid token whose sub is empty (nothing to set, as Envoy; the client's copy is removed)",
    { status: 200, code: "allowed" },
    { sub: "" },
  ),
  c(
    "claim-non-ascii-wire",
    "wire: valid token whose sub is `José-😀` (forwarded as UTF-8 bytes, as Envoy; issue 11 situation 11)",
    { status: 200, code: "allowed", upstream: { "x-user-id": "José-😀" } },
    (ctx) => ctx.envoy("/jwt", { authorization: `Bearer ${token({ sub: "José-😀" }, {}, undefined, ctx.keys)}` }),
    "a non-ASCII claim was silently not forwarded; it now goes upstream as its UTF-8 bytes, as Envoy writes it",
  ),
  c(
    "header-named-constructor",
    "wire: a policy reads the header `constructor`; the request has none",
    { status: 401, code: "apikey_missing" },
    (ctx) => ctx.envoy("/proto", {}),
    "header lookups reached Object.prototype (req.headers.constructor is a function): check() threw and the answer was 403 internal_error; only own properties are read now",
  ),
  c(
    "oversize",
    "wire: one 70 KiB header (the limit is 64 KiB)",
    { status: 431, code: "request_invalid", reason: "too large or too many" },
    (ctx) => ctx.envoy("/keys", { "x-api-key": "alice-key", "x-pad": "p".repeat(70 * 1024) }),
    "every request Node could not parse was answered 400 with an empty body; an oversize one is now 431 and a timed-out one 408, each with a JSON reason",
  ),
  c(
    "too-many",
    "wire: 1200 headers",
    { status: 431, code: "request_invalid", reason: "too large or too many" },
    (ctx) => ctx.envoy("/keys", [["x-api-key", "alice-key"], ...junk(1200)]),
    "see header.oversize",
  ),
  c(
    "many-then-token",
    "wire: 900 headers, then a forged token on the optional route (the token is seen, not dropped)",
    { status: 401, code: "jwt_invalid" },
    (ctx) => ctx.envoy("/optional", [...junk(900), ["authorization", `Bearer ${token({}, {}, ctx.keys.stranger)}`]]),
  ),
  c("nul-byte", "wire: NUL inside a header value", BAD("not valid HTTP/1.1"), (ctx) =>
    ctx.envoy("/keys", { "x-api-key": "alice\u0000key" }),
  ),
  c("cr-injection", "wire: a bare CR inside a header value, smuggling `x-client-id`", BAD("not valid HTTP/1.1"), (ctx) =>
    ctx.envoy("/keys", { "x-api-key": "alice-key\rx-client-id: admin" }),
  ),
  c("space-in-name", "wire: a header name with a space", BAD("not valid HTTP/1.1"), (ctx) =>
    ctx.envoy("/keys", { "x api key": "alice-key" }),
  ),
  c("obs-text", "wire: X-API-Key with bytes 0xFF 0xFE", { status: 401, code: "apikey_invalid" }, (ctx) =>
    ctx.raw(
      Buffer.concat([
        Buffer.from("GET /keys HTTP/1.1\r\nhost: api.example.com\r\nx-api-key: alice-key"),
        Buffer.from([0xff, 0xfe]),
        Buffer.from("\r\nconnection: close\r\n\r\n"),
      ]),
    ),
  ),
  c("control-in-path", "wire: a control byte in the request target", BAD("not valid HTTP/1.1"), (ctx) =>
    ctx.raw("GET /keys\u0001 HTTP/1.1\r\nhost: api.example.com\r\nconnection: close\r\n\r\n"),
  ),
  c(
    "huge-body",
    "wire: a 2 MiB body (bodies are drained up to 1 MiB; then the connection is cut, no answer)",
    { status: 0, code: "connection_closed" },
    (ctx) =>
      ctx.raw(
        `POST /public HTTP/1.1\r\nhost: api.example.com\r\ncontent-length: ${2 * 1024 * 1024}\r\nconnection: close\r\n\r\n${"b".repeat(2 * 1024 * 1024)}`,
      ),
  ),
  c(
    "underscore-open",
    "`X_User_Id: admin` on the open route (CGI, WSGI and Rack read it as HTTP_X_USER_ID)",
    UNDERSCORE("x_user_id"),
    (ctx) => ctx.check({ path: "/public", headers: { x_user_id: "admin" } }),
    "see forward.underscore-identity",
  ),
  c("underscore-with-key", "valid key plus `x_client_id: admin`", UNDERSCORE("x_client_id"), (ctx) =>
    ctx.check({ path: "/keys", headers: { "x-api-key": "alice-key", x_client_id: "admin" } }),
  ),
  c(
    "underscore-api-key",
    "`x_api_key: alice-key` on the API-key route (the key header spelt with `_`: the upstream reads it as its X-API-Key, Portcullis would find no key)",
    UNDERSCORE("x_api_key"),
    (ctx) => ctx.check({ path: "/keys", headers: { x_api_key: "alice-key" } }),
    "see jwt.bare-header-underscore-optional",
  ),
  c(
    "underscore-method-override",
    "POST /public with `x_http_method_override: GET` (Rack::MethodOverride reads HTTP_X_HTTP_METHOD_OVERRIDE and runs a GET; Caddy passes the name on)",
    UNDERSCORE("x_http_method_override"),
    (ctx) => ctx.check({ method: "POST", path: "/public", headers: { x_http_method_override: "GET" } }),
    'the method override headers were decided only as spelt with "-", so `X_HTTP_Method_Override: GET` left a POST decided as a POST (an open rule) while Rack, and PHP frameworks, read it as the override and ran the protected GET handler; such a spelling is now refused (400)',
  ),
  c(
    "dot-original-url",
    "`x.original.url: /keys` on the open route (older Symfony and Zend run the URL X-Original-URL names; PHP registers HTTP_X.ORIGINAL.URL as HTTP_X_ORIGINAL_URL; the shipped proxy files remove only the `-` spelling)",
    UNDERSCORE("x.original.url"),
    (ctx) => ctx.check({ path: "/public", headers: { "x.original.url": "/keys" } }),
    'the shipped proxy files remove X-Original-URL and X-Rewrite-URL, not their spellings with "_" or ".", which Caddy passes on and PHP reads as them; such a spelling is now refused (400)',
  ),
  c(
    "underscore-forwarded-host",
    "`x_forwarded_host: api.example.com` on the open route (Rack reads HTTP_X_FORWARDED_HOST as the app's host; the shipped proxy files set only the `-` spelling)",
    UNDERSCORE("x_forwarded_host"),
    (ctx) => ctx.check({ path: "/public", headers: { x_forwarded_host: "api.example.com" } }),
    "see header.dot-original-url",
  ),
  c("underscore-mixed", "wire: `X-User_Id: admin` (one of the spellings between)", UNDERSCORE("x-user_id"), (ctx) =>
    ctx.envoy("/public", { "X-User_Id": "admin" }),
  ),
  c(
    "dot-open",
    "`X.User.Id: admin` on the open route (PHP reads HTTP_X.USER.ID as HTTP_X_USER_ID; Caddy's php_fastcgi passes the name on)",
    UNDERSCORE("x.user.id"),
    (ctx) => ctx.check({ path: "/public", headers: { "x.user.id": "admin" } }),
    'only "_" was read as "-", so a name with "." reached the upstream, where PHP registers HTTP_X.USER.ID as HTTP_X_USER_ID, the identity Portcullis removed; "." folds too now',
  ),
  c(
    "dot-mixed",
    "wire: `X-User.Id: admin`",
    UNDERSCORE("x-user.id"),
    (ctx) => ctx.envoy("/public", { "X-User.Id": "admin" }),
    "see header.dot-open",
  ),
  ...(
    [
      ["x_role", "principal.headers"],
      ["x.role", "principal.headers"],
    ] as const
  ).map(([name, where]) =>
    c(
      `${name === "x_role" ? "underscore" : "dot"}-deny-rule-header`,
      `a Deny rule on ${where} \`x-role: admin\` (default Allow); \`${name}: admin\` (a CGI, WSGI, Rack or PHP upstream reads it as its X-Role; Caddy passes the name on)`,
      UNDERSCORE(name),
      async () => {
        const d = decider(NO_ADMIN_WORLD);
        return fromDecision(await d({ path: "/x", headers: { [name]: "admin" } }), managedHeadersOf(d.result.snapshot.policies));
      },
      "see route.header-underscore-name",
    ),
  ),
  c(
    "underscore-cel-any-header",
    "a Deny rule's `cel` reading headers by keys that cannot be known (`cel.bind(h, request.headers, h['x-role'] == 'admin')`, default Allow); `x_role: admin`: any name holding `_` or `.` may be one it reads",
    UNDERSCORE("x_role"),
    async () => {
      const d = decider(
        `${gatewayWithRoute("api.example.com", { x: "/x" })}---\n${securityPolicy("p", { authorization: { defaultAction: "Allow", rules: [{ name: "no-admin", action: "Deny", cel: "cel.bind(h, request.headers, h['x-role'] == 'admin')" }] } }, "x")}`,
      );
      return fromDecision(await d({ path: "/x", headers: { x_role: "admin" } }), managedHeadersOf(d.result.snapshot.policies));
    },
    "see route.header-underscore-name",
  ),
  c(
    "underscore-unmanaged",
    "`x_trace_id: 1`, a name that folds to no managed header, is left alone",
    { status: 200, code: "allowed" },
    (ctx) => ctx.check({ path: "/public", headers: { x_trace_id: "1" } }),
  ),
  ...(
    [
      ["admin", "admin"],
      ["user", "admin"],
    ] as const
  ).map(([first, last]) =>
    c(
      `deny-rule-repeated-${first}-${last}`,
      `a Deny rule on header \`x-role: admin\` (default Allow); x-role sent on two lines, \`${first}\` and \`${last}\``,
      {
        status: 403,
        code: "authz_denied",
        reason: "denied by authorization rule no-admin (reading any line (or list element) of each header)",
      },
      async () => {
        const d = decider(NO_ADMIN_WORLD);
        return fromDecision(await d({ path: "/x", headers: { "x-role": [first, last] } }), managedHeadersOf(d.result.snapshot.policies));
      },
      "a header sent on two lines was read only as Envoy joins them (`admin,admin`), which no Deny value equals, while an upstream reads one line; each line is now a reading too when rules read headers",
    ),
  ),
  c(
    "deny-rule-repeated-grpc-header-map",
    "gRPC with Envoy's `encode_raw_headers`: a Deny rule on header `x-role: admin` (default Allow); `header_map` holds x-role twice, `user` then `admin`",
    {
      status: 403,
      code: "authz_denied",
      reason: "denied by authorization rule no-admin (reading any line (or list element) of each header)",
    },
    async () => {
      const lines = ["user", "admin"].map((value) => ({ key: "x-role", value }));
      return noAdminOverGrpc({ header_map: { headers: lines } });
    },
    "each entry of `header_map` (one per line as Envoy received them) was joined into one value, so the readings of a repeated header were lost on the gRPC port: a Deny rule on one line was escaped by sending another. The entries now stay lines",
  ),
  c(
    "deny-rule-repeated-envoy-http-joined",
    "wire, Envoy's HTTP check: a Deny rule on header `x-role: admin` (default Allow); the client sent x-role as `user` then `admin`, which Envoy's HTTP ext_authz sends as one line `x-role: user,admin` (the lines of its CheckRequest `headers` map joined with \",\") while the upstream gets both lines",
    { status: 403, code: "authz_denied" },
    () => noAdminOverWire("envoy", ["user,admin"]),
    'the Envoy HTTP port read a value as one line, but Envoy\'s HTTP check joins a header the client sent on several lines into one value with ",": the first and the last line, which an upstream reads, were never readings there, and a Deny rule on one line was escaped by sending another. A value holding "," is now read as the lines Envoy may have joined',
  ),
  deniedOverWire(
    "deny-rule-list-forward-auth",
    "wire, forward-auth: a Deny rule on header `x-role: admin` (default Allow); one line `x-role: user,admin`, which nginx and Caddy pass upstream as it is",
    "forward",
    ["user,admin"],
    'the forward-auth port read a line as one value, while one line `user,admin` of a list-valued field is the two lines `user` and `admin` (RFC 9110 §5.3), which an upstream may split: the request the Envoy port denies was allowed there. Every port now reads a value holding "," as its pieces (linesUpstreamMayRead)',
  ),
  deniedOverWire(
    "deny-rule-list-spaces-forward-auth",
    "wire, forward-auth: a Deny rule on header `x-role: admin` (default Allow); one line `x-role: user, admin`",
    "forward",
    ["user, admin"],
    "see header.deny-rule-list-forward-auth",
  ),
  deniedOverWire(
    "deny-rule-list-spaces-envoy-http",
    "wire, Envoy's HTTP check: a Deny rule on header `x-role: admin` (default Allow); one line `x-role: user, admin` (a list's elements are read without the spaces around them, RFC 9110 §5.6.1)",
    "envoy",
    ["user, admin"],
    'a piece of a value holding "," was read with the space after the comma (` admin`), which no rule value equals, while an upstream splitting the list acts on `admin`: a line or list element is now read without the spaces and tabs around it',
  ),
  deniedOverWire(
    "deny-rule-middle-line-envoy-http",
    "wire, Envoy's HTTP check: a Deny rule on header `x-role: admin` (default Allow); the client sent x-role as `user,admin` then `user`, which Envoy sends as `x-role: user,admin,user`",
    "envoy",
    ["user,admin,user"],
    MIDDLE_LINE,
  ),
  deniedOverWire(
    "deny-rule-middle-line-forward-auth",
    "wire, forward-auth: a Deny rule on header `x-role: admin` (default Allow); x-role sent as `user,admin` then `user`",
    "forward",
    ["user,admin", "user"],
    "see header.deny-rule-list-forward-auth and header.deny-rule-middle-line-envoy-http",
  ),
  c(
    "deny-rule-middle-line-grpc-headers",
    "gRPC without `encode_raw_headers`: a Deny rule on header `x-role: admin` (default Allow); the `headers` map holds `x-role: user,admin,user`",
    { ...DENIED_ADMIN, reason: "denied by authorization rule no-admin (reading any line (or list element) of each header)" },
    () => noAdminOverGrpc({ headers: { "x-role": "user,admin,user" } }),
    MIDDLE_LINE,
  ),
  c(
    "deny-rule-list-grpc-header-map",
    "gRPC with `encode_raw_headers`: a Deny rule on header `x-role: admin` (default Allow); `header_map` holds x-role twice, `user,admin` then `user`",
    { ...DENIED_ADMIN, reason: "denied by authorization rule no-admin (reading any line (or list element) of each header)" },
    () => noAdminOverGrpc({ header_map: { headers: ["user,admin", "user"].map((value) => ({ key: "x-role", value })) } }),
    'a line of `header_map` holding "," was read as one value (the first line `user,admin`, the last `user`), while an upstream splitting the list acts on `admin`: each line is now read as its pieces there too',
  ),
  c(
    "too-many-list-elements",
    `wire, Envoy's HTTP check: \`x-role\`, which the Deny rule reads, holding ${MAX_HEADER_LINES + 1} comma-separated elements (each line or element is a reading of the whole request)`,
    TOO_MANY_ELEMENTS,
    () => noAdminOverWire("envoy", [OVER_BOUND_ROLES]),
    "only the first and the last line were readings, so a long list cost nothing and decided nothing in between; every line or element is now a reading, and a header of more than the bound of them is refused rather than decided thousands of times",
  ),
  c(
    "too-many-list-elements-forward-auth",
    `wire, forward-auth: \`x-role\`, which the Deny rule reads, holding ${MAX_HEADER_LINES + 1} comma-separated elements`,
    TOO_MANY_ELEMENTS,
    () => noAdminOverWire("forward", [OVER_BOUND_ROLES]),
  ),
  c(
    "too-many-list-elements-grpc",
    `gRPC without \`encode_raw_headers\`: \`x-role\`, which the Deny rule reads, holding ${MAX_HEADER_LINES + 1} comma-separated elements`,
    TOO_MANY_ELEMENTS,
    () => noAdminOverGrpc({ headers: { "x-role": OVER_BOUND_ROLES } }),
  ),
  ...(["envoy", "forward", "grpc"] as const).map((port) =>
    c(
      `many-list-elements-unread-${port === "envoy" ? "envoy-http" : port === "forward" ? "forward-auth" : "grpc"}`,
      `${port === "envoy" ? "wire, Envoy's HTTP check" : port === "forward" ? "wire, forward-auth" : "gRPC"}: a Deny rule on header \`x-role: admin\` (default Allow); \`x-role: user\` and \`x-client-metadata\` holding a JSON object of ${UNREAD_JSON_ELEMENTS} comma-separated members, a header no route match or rule reads`,
      { status: 200, code: "allowed" },
      () => {
        const metadata: [string, string] = ["x-client-metadata", UNREAD_JSON];
        if (port !== "grpc") return noAdminOverWire(port, ["user"], [metadata]);
        return noAdminOverGrpc({ headers: { "x-role": "user", [metadata[0]]: metadata[1] } });
      },
      "every header's lines and list elements were counted, so a header nothing reads (a JSON value, a long If-None-Match, W3C baggage) was refused 431; only the headers route matches and authorization rules read are counted now, as only theirs are readings (see header.too-many-list-elements)",
    ),
  ),
  c(
    "deny-rule-two-headers-other-elements",
    "gRPC without `encode_raw_headers`: a Deny rule on headers `x-role: admin` and `x-team: red` together (default Allow); the `headers` map holds `x-role: admin,user` and `x-team: blue,red`, so an upstream that takes the first x-role element and the last x-team element (or checks whether a list holds a value) reads admin of team red",
    { status: 403, code: "authz_denied" },
    () => overGrpc(NO_RED_ADMIN_WORLD, "/x", { headers: { "x-role": "admin,user", "x-team": "blue,red" } }),
    "a line reading took the same line index in every header (x-role's first with x-team's first, then both last), never x-role's first element with x-team's last, so a Deny rule on two headers was escaped by putting its values at different positions; a rule's header now matches, in a line reading, when any of its lines does for a Deny rule and only when every one does for an Allow rule",
  ),
  c(
    "deny-rule-repeated-grpc-headers-joined",
    "gRPC without `encode_raw_headers`: a Deny rule on header `x-role: admin` (default Allow); the client sent x-role as `user` then `admin`, which the CheckRequest's `headers` map holds as `user,admin`",
    {
      status: 403,
      code: "authz_denied",
      reason: "denied by authorization rule no-admin (reading any line (or list element) of each header)",
    },
    async () => {
      return noAdminOverGrpc({ headers: { "x-role": "user,admin" } });
    },
    'the gRPC port read each value of the `headers` map as one line, but Envoy joins a header the client sent on several lines into one value there: a Deny rule on one line was escaped by sending another. A value holding "," is now read as the lines Envoy may have joined (header_map, with `encode_raw_headers`, keeps the lines themselves)',
  ),
  c(
    "deny-rule-on-host-grpc",
    "gRPC: a Deny header rule on `host: api.example.com` (default Allow); the check names the host, with no host line (Envoy sends :authority)",
    { status: 403, code: "authz_denied", reason: "denied by authorization rule no-api-host" },
    () =>
      hostRuleOverGrpc({
        defaultAction: "Allow",
        rules: [{ name: "no-api-host", action: "Deny", principal: { headers: [{ name: "host", values: ["api.example.com"] }] } }],
      }),
    "a rule on `host` read a host line, which Envoy's gRPC check does not have (Envoy's header map reads `host` as :authority), so the Deny rule never applied there; `host` now reads the Host as sent on every port",
  ),
  c(
    "allow-cel-on-host-grpc",
    "gRPC: an Allow principal.cel `request.headers['host'] == 'api.example.com'` (default Deny), no host line (Envoy sends :authority)",
    { status: 200, code: "allowed" },
    () =>
      hostRuleOverGrpc({
        defaultAction: "Deny",
        rules: [{ name: "api-host", action: "Allow", principal: { cel: "request.headers['host'] == 'api.example.com'" } }],
      }),
  ),
  ...(
    [
      ["rule", { headers: [{ name: "x-user-id", values: ["admin"] }] }],
      ["cel", { cel: "request.headers['x-user-id'] == 'admin'" }],
    ] as const
  ).map(([kind, principal]) =>
    c(
      `spoof-optional-identity-${kind}`,
      `optional JWT that sets x-user-id from sub, an Allow ${kind === "rule" ? "header rule" : "principal.cel"} on \`x-user-id: admin\` (default Deny); no token, the client's own \`x-user-id: admin\``,
      { status: 403, code: "authz_denied", reason: "without the client's own x-user-id" },
      async (ctx) => {
        const jwt = {
          optional: true,
          providers: [
            {
              name: "idp",
              issuer: ISSUER,
              localJWKS: { inline: jwksOf(ctx.keys.es) },
              claimToHeaders: [{ claim: "sub", header: "x-user-id" }],
            },
          ],
        };
        const authorization = { defaultAction: "Deny", rules: [{ name: "admins", action: "Allow", principal }] };
        const d = decider(`${gatewayWithRoute("api.example.com", { x: "/x" })}---\n${securityPolicy("p", { jwt, authorization }, "x")}`);
        return fromDecision(await d({ path: "/x", headers: { "x-user-id": "admin" } }), managedHeadersOf(d.result.snapshot.policies));
      },
      "header rules and CEL read the client's own copy of a header the policy sets but no phase set (an optional JWT without a token), which the upstream never receives: a client named itself admin. A rule is now also decided without such copies, and the request allowed only if both readings allow",
    ),
  ),
  c(
    "capitalised-route-match",
    "wire, Envoy: HTTPRoute rule admin matches header `X-Role: admin` as written (apiKeyAuth there; the next rule, /api, has no policy); `x-role: admin` without a key",
    { status: 401, code: "apikey_missing" },
    () => inCapitalisedWorld("envoy", "/api", { "x-role": "admin" }),
  ),
  c(
    "capitalised-deny-rule",
    "forward-auth: a Deny rule on principal header `X-Role: admin` as written (default Allow); alice's key and `x-role: admin`",
    { status: 403, code: "authz_denied" },
    () => inCapitalisedWorld("forward", "/keys", { "x-api-key": "alice-key", "x-role": "admin" }),
  ),
  c(
    "capitalised-folded",
    "forward-auth: forwardClientIDHeader written `X-Client-Id`; alice's key and `x_client_id: admin`",
    UNDERSCORE("x_client_id"),
    () => inCapitalisedWorld("forward", "/keys", { "x-api-key": "alice-key", x_client_id: "admin" }),
  ),
  c(
    "capitalised-spoofed-copy",
    "wire, Envoy: forwardClientIDHeader written `X-Client-Id` and the key Secret's annotation `portcullis.io/header.X-Tier: gold`; alice's key with the client's own `x-client-id: admin` and `x-tier: platinum`",
    { status: 200, code: "allowed", upstream: { "x-client-id": "alice", "x-tier": "gold" } },
    () => inCapitalisedWorld("envoy", "/keys", { "x-api-key": "alice-key", "x-client-id": "admin", "x-tier": "platinum" }),
  ),
];
