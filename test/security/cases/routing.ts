/**
 * Routing: a request must be matched to the rule Envoy would route it to, whatever its spelling.
 * api.example.com: /public open, /keys API keys, /jwt JWT, /m open for GET only, `/re/(a+)+` protected;
 * www.example.com: / open, Exact /admin, RegularExpression /secret/.* and GET /reports protected;
 * *.wild.example.com protected. The `order-*` cases run on the compile golden case route-order:
 * routes that tie on the path, ranked as Envoy Gateway ranks them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RE2JS } from "re2js";
import type { AuthzRequest } from "../../../controller/authz/request.ts";
import { aliceKeyPolicy, gatewayWithRoute, policiesOnRules } from "../../support/manifests.ts";
import { MAX_HEADER_LINES } from "../../../controller/snapshot/route-index.ts";
import { decider } from "../../support/world.ts";
import type { Ctx, Headers } from "../context.ts";
import { fromDecision, managedHeadersOf, type Case, type Expected, type Outcome } from "../outcome.ts";

const OPEN: Expected = { status: 200, code: "allowed" };
const PROTECTED: Expected = { status: 401, code: "apikey_missing" };
const NO_ROUTE: Expected = { status: 403, code: "route_not_found" };
const BAD: (reason: string) => Expected = (reason) => ({ status: 400, code: "request_invalid", reason });

function c(id: string, title: string, expect: Expected, run: (ctx: Ctx) => Promise<Outcome>, fixed?: string): Case {
  return { id: `route.${id}`, title, expect, run, ...(fixed === undefined ? {} : { fixed }) };
}
/** GET `path` on api.example.com through check(). */
const p = (id: string, title: string, expect: Expected, path: string, fixed?: string) =>
  c(id, title, expect, (ctx) => ctx.check({ path }), fixed);
/** GET /keys on `host` through check(). */
const host = (id: string, title: string, expect: Expected, name: string, path = "/keys") =>
  c(id, title, expect, (ctx) => ctx.check({ host: name, path }));
/** The forward-auth port with these headers. */
const fwd = (id: string, title: string, expect: Expected, headers: Headers, fixed?: string) =>
  c(id, title, expect, (ctx) => ctx.forward(headers), fixed);
const FWD = { "x-forwarded-method": "GET", "x-forwarded-host": "api.example.com" };
const MISMATCH = (reason: string): Expected => ({ status: 403, code: "route_mismatch", reason });
const MISMATCH_FIXED =
  "the route Envoy selected was re-derived and never compared: when Envoy's and Portcullis' route tables disagree, the request was decided on Portcullis' rule; a route named in Envoy Gateway's route metadata (gRPC) that Portcullis does not match is now denied";
/** GET `path` through check() with Envoy Gateway's route metadata naming HTTPRoute apps/api, changed by `route`. */
const took = (
  id: string,
  title: string,
  expect: Expected,
  path: string,
  route: { kind?: string; name?: string; sectionName?: string },
  fixed?: string,
) =>
  c(
    id,
    title,
    expect,
    (ctx) =>
      ctx.check({
        path,
        proxyRoute: { kind: route.kind ?? "HTTPRoute", namespace: "apps", name: route.name ?? "api", sectionName: route.sectionName },
      }),
    fixed,
  );

const orderWorld = decider(readFileSync(join(import.meta.dirname, "../../compile/testdata/route-order.in.yaml"), "utf8"));
/** A request on the route-order world. */
const order = (id: string, title: string, expect: Expected, request: Partial<AuthzRequest> & { path: string }, fixed?: string) =>
  c(
    `order-${id}`,
    title,
    expect,
    async () => fromDecision(await orderWorld(request), managedHeadersOf(orderWorld.result.snapshot.policies)),
    fixed,
  );
const RANKING = "routes that tied on the path were ranked oldest first (and `method` above any header), so the older open route decided";

/**
 * Where Portcullis' reading of Host picks another virtual host or rule than Envoy's: kiosk.example.com
 * and *.wild.example.com are open, as is any host's request whose Host header is exactly
 * `door.example.com:8080` (route by-host); every other request takes the catch-all route, which
 * wants an API key.
 */
const hostWorld = decider(`
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec: {gatewayClassName: portcullis, listeners: [{name: http, protocol: HTTP, port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: kiosk, namespace: apps}
spec: {parentRefs: [{name: gw}], hostnames: [kiosk.example.com]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: wild, namespace: apps}
spec: {parentRefs: [{name: gw}], hostnames: ["*.wild.example.com"]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: by-host, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  rules: [{matches: [{path: {type: PathPrefix, value: /}, headers: [{name: Host, value: "door.example.com:8080"}]}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: rest, namespace: apps}
spec: {parentRefs: [{name: gw}]}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: rest, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: rest}]
  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [x-api-key]}]}
---
apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: apps}
data: {alice: YWxpY2Uta2V5}
`);
/** GET / with Host `name` on the host world. */
const hostIn = (id: string, title: string, expect: Expected, name: string, fixed: string) =>
  c(
    `vhost-${id}`,
    title,
    expect,
    async () => fromDecision(await hostWorld({ host: name, path: "/" }), managedHeadersOf(hostWorld.result.snapshot.policies)),
    fixed,
  );
const WIDER_PORT =
  'the port was taken to be any run of digits after the last ":" (none included, no "+"), where Envoy\'s ignore_port_in_host_matching removes what it parses as a 32-bit unsigned number, so the request was decided on another virtual host than Envoy\'s';

/**
 * A Host whose ":" Envoy keeps: vault.example.com wants an API key, every other host takes the open
 * catch-all route. Envoy routes `vault.example.com:x` as no host of vault's; the upstream (nginx's
 * $host, Express' req.hostname) serves it as vault.example.com.
 */
const colonWorld = decider(`
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec: {gatewayClassName: portcullis, listeners: [{name: http, protocol: HTTP, port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: vault, namespace: apps}
spec: {parentRefs: [{name: gw}], hostnames: [vault.example.com]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: rest, namespace: apps}
spec: {parentRefs: [{name: gw}]}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: vault, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: vault}]
  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [x-api-key]}]}
---
apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: apps}
data: {alice: YWxpY2Uta2V5}
`);
const KEPT_COLON =
  'only Envoy\'s reading of the Host was decided (the catch-all route: open), while nginx ($host), Express and most servers take the host as the text before the first ":" and serve the protected host; that reading is now decided too, and both must allow';
/** GET / with Host `name` on the colon world. */
const colonHost = (id: string, title: string, name: string) =>
  c(
    `host-colon-${id}`,
    title,
    PROTECTED,
    async () => fromDecision(await colonWorld({ host: name, path: "/" }), managedHeadersOf(colonWorld.result.snapshot.policies)),
    KEPT_COLON,
  );

/**
 * A world where rule admin of api.example.com, `/api` and `match` (a Gateway API match's fields),
 * wants an API key and rule open takes every other `/api` request.
 */
const adminOrOpen = (match: string) =>
  decider(`
${gatewayWithRoute("api.example.com", { admin: `{path: {type: PathPrefix, value: /api}, ${match}}`, open: "/api" })}---
${aliceKeyPolicy("admin", "admin")}`);
/** Cases `<prefix>-<id>`: GET `path` on api.example.com of `world`, with these headers. */
const onApi =
  (world: ReturnType<typeof decider>, prefix: string) =>
  (id: string, title: string, expect: Expected, path: string, headers: AuthzRequest["headers"] = {}, fixed?: string) =>
    c(
      `${prefix}-${id}`,
      title,
      expect,
      async () => fromDecision(await world({ host: "api.example.com", path, headers }), managedHeadersOf(world.result.snapshot.policies)),
      fixed,
    );

/**
 * Route rules told apart by a query parameter (`role=admin`). Envoy's route match reads the first
 * value of `role` in the query split at "&"; PHP and Express act on the last value, Rack 2 and
 * Python before 3.9.2 split the query at ";" too.
 */
const query = onApi(adminOrOpen("queryParams: [{name: role, value: admin}]"), "query");
const QUERY_READINGS =
  'only Envoy\'s reading of the query (the first value, split at "&", as sent) chose the rule, so the open route decided while the upstream acted on a value the protected rule matches; each reading of the query that picks another rule (the last value, the query split at ";" too, percent-decoded) is now decided, and all must allow';

const ASPNET_CASE =
  "no reading of the query read names in any letter case, as ASP.NET Core's query collection does, so `ROLE=admin` was no role parameter while the open route decided and an ASP.NET Core upstream acted on admin; that reading (the first value of a name in any case, percent-decoded) is now decided too";

const GO_AND_JAVA =
  'no reading of the query skipped the pairs Go\'s net/url (a pair holding ";", since Go 1.17) and Java servlets (Tomcat: an invalid percent-escape) drop, so a value after such a pair, neither the first nor the last, was the one those upstreams acted on while the open route decided; their readings (the first value of the pairs they keep, percent-decoded) are now decided too';

/** Route rules told apart by a query parameter whose name has an upper-case letter (`userId=admin`). */
const camelQuery = onApi(adminOrOpen("queryParams: [{name: userId, value: admin}]"), "query-camel");
const ASPNET_MATCH_NAME =
  "ASP.NET Core's reading looked a match's name up as written among the names sent and their lower-case forms, so a name written with an upper-case letter (`userId`) was found only when sent in that very spelling: `userid=admin` took the open route while ASP.NET Core read userId as admin; that reading now looks every name up in any letter case";

/** Route rules told apart by a query parameter whose name holds a "k" (`kind=admin`): the Kelvin sign "K" (U+212A) folds to it in JavaScript, not in .NET. */
const kindQuery = onApi(adminOrOpen("queryParams: [{name: kind, value: admin}]"), "query-kind");
const ASPNET_FOLD =
  "ASP.NET Core's reading folded names with JavaScript's toLowerCase, not as .NET's OrdinalIgnoreCase does (each character's simple upper-case mapping, `ı` and `ſ` kept): the Kelvin sign `K` (U+212A) was read as `k`, so `%E2%84%AAind=x` hid the `KIND=admin` ASP.NET Core reads and the open route decided (and `ς` was not `σ`); names are now folded as .NET folds them";

/** Rule admin (`PathPrefix /admin` and `Exact /Reports`, an API key) beside rule open (`/`) on api.example.com. */
const caseWorld = decider(`
${gatewayWithRoute("api.example.com", {
  admin:
    "{path: {type: PathPrefix, value: /admin}}, {path: {type: Exact, value: /Reports}}, {path: {type: RegularExpression, value: '/internal/[a-z]+'}}, {path: {type: RegularExpression, value: '/Ops/v[0-9]+/.*'}}, {path: {type: RegularExpression, value: '/(?:Jobs|Tasks)/[a-z]+'}}",
  open: "/",
})}---
${aliceKeyPolicy("admin", "admin")}`);
/**
 * Cases `path-reading-took-<id>`: GET `path` on api.example.com of caseWorld with these headers,
 * Envoy Gateway's route metadata (gRPC) naming rule open of HTTPRoute apps/api, which Envoy took.
 */
const tookOpen = (id: string, title: string, expect: Expected, path: string, headers: AuthzRequest["headers"] = {}, fixed?: string) =>
  c(
    `path-reading-took-${id}`,
    title,
    expect,
    async () =>
      fromDecision(
        await caseWorld({
          host: "api.example.com",
          path,
          headers,
          proxyRoute: { kind: "HTTPRoute", namespace: "apps", name: "api", sectionName: "open" },
        }),
        managedHeadersOf(caseWorld.result.snapshot.policies),
      ),
    fixed,
  );
const TOOK_READING =
  "the route Envoy took (its route metadata) was compared with the rule every reading of the path matched, the upstream's readings too, so a request a reading decides on another rule was refused (403 route_mismatch) even with that rule's credential; the route metadata now settles the request as Envoy routed it only, and every other reading is decided on the rule it matches";
/** Cases `path-case-<id>`: GET `path` on api.example.com of caseWorld, with these headers. */
/** Cases `path-<id>`: GET `path` on api.example.com of caseWorld, with these headers. */
const onCaseWorld = (id: string, title: string, expect: Expected, path: string, headers: AuthzRequest["headers"] = {}, fixed?: string) =>
  c(
    `path-${id}`,
    title,
    expect,
    async () =>
      fromDecision(await caseWorld({ host: "api.example.com", path, headers }), managedHeadersOf(caseWorld.result.snapshot.policies)),
    fixed,
  );
/** Cases `path-case-<id>`: GET `path` on api.example.com of caseWorld, with these headers. */
const pathCase = (id: string, title: string, expect: Expected, path: string, headers: AuthzRequest["headers"] = {}, fixed?: string) =>
  onCaseWorld(`case-${id}`, title, expect, path, headers, fixed);
/** Cases `path-suffix-<id>`: GET `path` on api.example.com of caseWorld, with these headers. */
const pathSuffix = (id: string, title: string, expect: Expected, path: string, headers: AuthzRequest["headers"] = {}, fixed?: string) =>
  onCaseWorld(`suffix-${id}`, title, expect, path, headers, fixed);
const PATH_SUFFIX =
  "a path was read only as Envoy matches it, so `/admin.json` took the open `/` rule (a PathPrefix matches whole segments) while Rails (its `(.:format)` suffix) and Spring's suffix pattern match ran the /admin handler, and `/Reports/` took it while Express and ASP.NET Core, which ignore a trailing slash, ran the `Exact /Reports` handler; a path whose last segment has an extension, or that ends in `/`, is now also decided without them where a route's or an authorization rule's path takes it so";
const PATH_CASE =
  "paths were read case-sensitively only, as Envoy reads them, while Express (its router's default) and ASP.NET Core match routes in any letter case: `/ADMIN/users` took the open `/` rule and the upstream ran its /admin handler; a path that a route's Exact or PathPrefix value matches in another ASCII letter case is now also decided spelt as the route spells it, and all readings must allow";

const PATH_CASE_REGEX =
  "a path was read in another letter case only against Exact and PathPrefix values, so `/INTERNAL/keys` took the open `/` rule while Express and ASP.NET Core ran the handler that rule admin's `RegularExpression /internal/[a-z]+` protects; a path such a pattern matches only in another ASCII letter case is now also decided spelt so that it matches (in lower case, upper case, or with the pattern's literal start spelt as written), and refused (400) where no such spelling matches";

/**
 * One rule, `/`, whose policy's authorization denies paths under `/admin` (Deny, operation path
 * PathPrefix /admin), `/Reports` exactly, and those `/internal/[a-z]+` matches, and allows the rest.
 */
const operationCaseWorld = decider(
  policiesOnRules("api.example.com", {
    all: {
      path: "/",
      features:
        "authorization: {defaultAction: Allow, rules: [{name: admin, action: Deny, operation: {path: {value: /admin}}, cel: 'true'}, {name: reports, action: Deny, operation: {path: {type: Exact, value: /Reports}}, cel: 'true'}, {name: internal, action: Deny, operation: {path: {type: RegularExpression, value: '/internal/[a-z]+'}}, cel: 'true'}]}",
    },
  }),
);
/** Cases `operation-path-case-<id>`: GET `path` on api.example.com of operationCaseWorld. */
const operationPathCase = (id: string, title: string, expect: Expected, path: string, fixed?: string) =>
  c(
    `operation-path-case-${id}`,
    title,
    expect,
    async () =>
      fromDecision(
        await operationCaseWorld({ host: "api.example.com", path }),
        managedHeadersOf(operationCaseWorld.result.snapshot.policies),
      ),
    fixed,
  );
const OPERATION_PATH_CASE =
  "a path was read in another letter case only against route path values, so under one `/` rule `/ADMIN/users` passed the authorization rule denying `PathPrefix /admin` while Express and ASP.NET Core ran the /admin handler; authorization rules' operation paths are now read in another letter case as route paths are";
const DENIED: Expected = { status: 403, code: "authz_denied" };

/** Rule admin of /api takes DELETE (an API key); rule open every other method. */
const deleteWorld = adminOrOpen("method: DELETE");
/** Cases `method-override-<id>`: `method` `path` on api.example.com of deleteWorld, with these headers. */
const overridden = (
  id: string,
  title: string,
  expect: Expected,
  method: string,
  path: string,
  headers: AuthzRequest["headers"],
  fixed?: string,
) =>
  c(
    `method-override-${id}`,
    title,
    expect,
    async () =>
      fromDecision(
        await deleteWorld({ host: "api.example.com", method, path, headers }),
        managedHeadersOf(deleteWorld.result.snapshot.policies),
      ),
    fixed,
  );
const METHOD_OVERRIDE =
  "a POST was decided as POST only, while ASP.NET Core (UseHttpMethodOverride), Express's method-override, Rack, Symfony, Laravel and gorilla run it as the method its X-HTTP-Method-Override header names, and Spring, Symfony and Laravel as its `_method` query parameter's: `POST /api` with `X-HTTP-Method-Override: DELETE` took the open rule and the upstream ran DELETE; a POST is now also decided as each method it asks for, and all must allow";

/**
 * Route rules told apart by a query parameter whose name holds "_" (`tenant_id=admin`): PHP (and
 * Symfony, Laravel) registers a name's '.', ' ' and unmatched '[' as '_', and drops its leading spaces.
 */
const phpQuery = onApi(adminOrOpen("queryParams: [{name: tenant_id, value: admin}]"), "query-php");
const PHP_NAMES =
  "no reading of the query read names as PHP registers them, so `tenant.id=admin` after `tenant_id=user` took the open route while a PHP upstream acted on tenant_id=admin, the protected rule's; PHP's reading is now decided too where it picks another rule";

/**
 * Route rules told apart by a header (`x-role: admin`). Envoy's route match reads a header sent on
 * several lines as the lines joined with ","; an upstream may act on the first line or the last.
 */
const header = onApi(adminOrOpen("headers: [{name: x-role, value: admin}]"), "header");
const HEADER_READINGS =
  'only Envoy\'s reading of a repeated header (its lines joined with ",") chose the rule, so the open route decided while the upstream acted on a line the protected rule matches; the first and the last line are now readings too where they pick another rule, and all must allow';

const FOLDED_READ =
  'a header name spelling one a route match reads with "_" or "." for "-" was read as a header of its own (absent to the match), while Caddy and Envoy (without Envoy Gateway\'s default `withUnderscoresAction: RejectRequest`) pass it on and CGI, WSGI, Rack and PHP upstreams read it as that header: the open route decided a request the upstream ran as the protected one. Such a name is now refused (400), as one spelling a header a policy sets was';

/** Route rules told apart by two headers (`x-role: admin` and `x-team: red`, both matched). */
const twoHeaders = onApi(adminOrOpen("headers: [{name: x-role, value: admin}, {name: x-team, value: red}]"), "two-headers");

/**
 * Another route of the Gateway (apps/aaa, compiled first) with the match `PathPrefix /api` and the
 * method written as the text "undefined", beside rule admin (`/api`, an API key) and rule open (`/`).
 */
const methodTextWorld = decider(`
${gatewayWithRoute("api.example.com", { admin: "/api", open: "/" })}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: aaa, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [other.example.com]
  rules:
    - {matches: [{path: {type: PathPrefix, value: /api}, method: "undefined"}]}
---
${aliceKeyPolicy("admin", "admin")}`);
const matchCache = onApi(methodTextWorld, "match-cache");

/**
 * Gateway apps/gw (api.example.com): PathPrefix `/` wants an API key, Exact `/health` is open. With
 * `ctp`, a ClientTrafficPolicy on the Gateway sets `path` to it: `disableMergeSlashes` makes Envoy
 * route `//health` as written, which only the prefix `/` takes.
 */
function slashWorld(path?: string) {
  const ctp =
    path === undefined
      ? []
      : [
          `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: paths, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  path: ${path}
`,
        ];
  return decider(
    [
      gatewayWithRoute("api.example.com", { app: "/", health: "{path: {type: Exact, value: /health}}" }),
      aliceKeyPolicy("p", "app"),
      ...ctp,
    ].join("---\n"),
  );
}
const keepsSlashes = slashWorld("{disableMergeSlashes: true}");
const mergesSlashes = slashWorld("{escapedSlashesAction: UnescapeAndRedirect}");
/** `path` on a slashWorld. */
const slashes = (id: string, title: string, expect: Expected, world: ReturnType<typeof slashWorld>, path: string, fixed?: string) =>
  c(id, title, expect, async () => fromDecision(await world({ path }), managedHeadersOf(world.result.snapshot.policies)), fixed);
const SLASHES_KEPT =
  "paths were decided with adjacent slashes merged, as Envoy merges them by default, also on a Gateway whose ClientTrafficPolicy sets `path.disableMergeSlashes`, where Envoy routes `//health` as written (only the protected prefix `/` takes it): the open Exact `/health` decided and the protected rule's upstream got the request without a key; on such a Gateway a path whose slashes Envoy would not merge is now refused";
const UNMERGED = BAD("adjacent slashes, which Envoy does not merge on this Gateway");

export const routingCases: readonly Case[] = [
  slashes(
    "slashes-unmerged-open-exact",
    "`//health` on a Gateway whose ClientTrafficPolicy sets `path.disableMergeSlashes: true` (Envoy: the protected prefix `/`; merged: the open Exact `/health`)",
    UNMERGED,
    keepsSlashes,
    "//health",
    SLASHES_KEPT,
  ),
  slashes(
    "slashes-unmerged-after-dot-segment",
    "`/a/..//health` on that Gateway (`//health` once Envoy removes the dot segments)",
    UNMERGED,
    keepsSlashes,
    "/a/..//health",
    SLASHES_KEPT,
  ),
  slashes(
    "slashes-unmerged-encoded",
    "`/%2Fhealth` on that Gateway (`//health` once the escaped slash is read as one)",
    UNMERGED,
    keepsSlashes,
    "/%2Fhealth",
  ),
  slashes("slashes-unmerged-plain", "`/health` on that Gateway", OPEN, keepsSlashes, "/health"),
  slashes(
    "slashes-unmerged-in-query",
    "`/health?next=//x` on that Gateway (slashes in the query only)",
    OPEN,
    keepsSlashes,
    "/health?next=//x",
  ),
  slashes(
    "slashes-merged-by-policy",
    "`//health` on a Gateway whose ClientTrafficPolicy sets `path` without `disableMergeSlashes` (Envoy merges: `/health`)",
    OPEN,
    mergesSlashes,
    "//health",
  ),
  query(
    "repeated-last",
    "`/api?role=user&role=admin`, no key: Envoy takes the open route (first value), PHP and Express read `admin`",
    PROTECTED,
    "/api?role=user&role=admin",
    {},
    QUERY_READINGS,
  ),
  query(
    "semicolon",
    "`/api?role=admin;x=1`, no key: Envoy reads `admin;x=1` (the open route), Rack 2 and Python before 3.9.2 read `admin`",
    PROTECTED,
    "/api?role=admin;x=1",
    {},
    QUERY_READINGS,
  ),
  query(
    "semicolon-last",
    '`/api?role=user;role=admin`, no key: split at ";", the last value is `admin`',
    PROTECTED,
    "/api?role=user;role=admin",
    {},
    QUERY_READINGS,
  ),
  query(
    "repeated-first",
    "`/api?role=admin&role=user`, no key: Envoy's own reading takes the protected rule",
    PROTECTED,
    "/api?role=admin&role=user",
  ),
  query("repeated-with-key", "`/api?role=user&role=admin` with a valid key: every reading allows", OPEN, "/api?role=user&role=admin", {
    "x-api-key": "alice-key",
  }),
  query(
    "other-case-name-first",
    "`/api?ROLE=admin&role=user`, no key: Envoy reads role=user (the open route); ASP.NET Core reads a name in any letter case, its first role is `admin`",
    PROTECTED,
    "/api?ROLE=admin&role=user",
    {},
    ASPNET_CASE,
  ),
  query(
    "other-case-name-alone",
    "`/api?Role=admin`, no key: Envoy finds no role parameter (the open route); ASP.NET Core reads role as `admin`",
    PROTECTED,
    "/api?Role=admin",
    {},
    "see route.query-other-case-name-first",
  ),
  camelQuery(
    "lower-case-name",
    "`/api?userid=admin` on a match of `userId`, no key: Envoy finds no userId (names are case-sensitive: the open route); ASP.NET Core reads userId as `admin`",
    PROTECTED,
    "/api?userid=admin",
    {},
    ASPNET_MATCH_NAME,
  ),
  camelQuery(
    "upper-case-name",
    "`/api?x=1&USERID=admin` on a match of `userId`, no key: ASP.NET Core reads userId as `admin`",
    PROTECTED,
    "/api?x=1&USERID=admin",
    {},
    "see route.query-camel-lower-case-name",
  ),
  camelQuery(
    "other-case-later",
    "`/api?userid=bob&userId=admin` on a match of `userId`, no key: Envoy reads userId=admin (the protected rule)",
    PROTECTED,
    "/api?userid=bob&userId=admin",
  ),
  camelQuery(
    "other-case-first-not-admin",
    "`/api?userid=bob&userId=admin` with a valid key: every reading allows",
    OPEN,
    "/api?userid=bob&userId=admin",
    { "x-api-key": "alice-key" },
  ),
  kindQuery(
    "kelvin-sign-first",
    "`/api?%E2%84%AAind=x&KIND=admin`, no key: .NET's OrdinalIgnoreCase keeps the Kelvin sign apart from `k`, so ASP.NET Core reads kind as `admin`",
    PROTECTED,
    "/api?%E2%84%AAind=x&KIND=admin",
    {},
    ASPNET_FOLD,
  ),
  kindQuery(
    "kelvin-sign-only",
    "`/api?%E2%84%AAind=admin`: no reading finds a `kind` parameter (.NET does not fold the Kelvin sign to `k`), the open route",
    OPEN,
    "/api?%E2%84%AAind=admin",
    {},
    "see route.query-kind-kelvin-sign-first (this was a wrong deny)",
  ),
  query(
    "go-skips-semicolon-pair",
    "`/api?role=x;&role=admin&role=user`, no key: Go's net/url (since 1.17) drops a pair holding `;` and reads `admin` first; Envoy reads `x;`, the last value is `user`",
    PROTECTED,
    "/api?role=x;&role=admin&role=user",
    {},
    GO_AND_JAVA,
  ),
  query(
    "skips-invalid-escape",
    "`/api?role=%zz&role=admin&role=user`, no key: Go and Java servlets (Tomcat) drop a pair whose percent-escape is invalid and read `admin` first",
    PROTECTED,
    "/api?role=%zz&role=admin&role=user",
    {},
    GO_AND_JAVA,
  ),
  query(
    "skipped-pair-then-other",
    "`/api?role=x;&role=%zz&role=user`: what Go or Tomcat keep reads `user` first, no rule's admin",
    OPEN,
    "/api?role=x;&role=%zz&role=user",
  ),
  query(
    "php-max-input-vars",
    "`/api?role=user&role=admin&x1=1&…&x998=1&role=user`, no key: PHP reads only the first 1000 pairs by default (max_input_vars), where the last role is `admin`; Envoy's first and every other reading's last is `user`",
    PROTECTED,
    `/api?role=user&role=admin&${Array.from({ length: 998 }, (_, i) => `x${i + 1}=1`).join("&")}&role=user`,
    {},
    "PHP's reading read the whole query, while PHP stops at max_input_vars pairs (1000 by default), so a value after the 1000th pair hid the `admin` PHP acts on and the open route decided; PHP's reading of the first 1000 pairs is now decided too",
  ),
  query(
    "other-value",
    "`/api?role=user;x=1&role=guest`: no reading matches `admin`, the open route",
    OPEN,
    "/api?role=user;x=1&role=guest",
  ),
  ...(
    [
      ["dot", "tenant.id"],
      ["space", "tenant%20id"],
      ["plus", "tenant+id"],
      ["encoded-dot", "tenant%2eid"],
      ["bracket", "tenant[id"],
      ["leading-space", "+tenant_id"],
      ["nul", "tenant_id%00"],
    ] as const
  ).map(([id, spelling]) =>
    phpQuery(
      id,
      `\`/api?tenant_id=user&${spelling}=admin\`, no key: Envoy reads tenant_id=user (the open route), PHP registers \`${spelling}\` as tenant_id: admin`,
      PROTECTED,
      `/api?tenant_id=user&${spelling}=admin`,
      {},
      PHP_NAMES,
    ),
  ),
  phpQuery(
    "before",
    "`/api?tenant.id=admin&tenant_id=user`: PHP's last tenant_id is user, as Envoy's first",
    OPEN,
    "/api?tenant.id=admin&tenant_id=user",
  ),
  phpQuery(
    "array",
    "`/api?tenant_id=user&tenant_id[x]=admin`: PHP's tenant_id is an array, no rule's admin",
    OPEN,
    "/api?tenant_id=user&tenant_id[x]=admin",
  ),
  phpQuery(
    "with-key",
    "`/api?tenant_id=user&tenant.id=admin` with a valid key: every reading allows",
    OPEN,
    "/api?tenant_id=user&tenant.id=admin",
    {
      "x-api-key": "alice-key",
    },
  ),
  header(
    "underscore-name",
    "`X_Role: admin`, no key: Envoy's route match reads no x-role (the open route); Caddy and Envoy pass the name on, and a CGI, WSGI, Rack or PHP upstream reads it as its X-Role (HTTP_X_ROLE): the protected rule's",
    BAD("the header x_role is refused"),
    "/api",
    { x_role: "admin" },
    FOLDED_READ,
  ),
  header(
    "underscore-name-beside",
    "`x-role: user` and `X_Role: admin`, no key: the upstream reads HTTP_X_ROLE as both lines, `admin` the last",
    BAD("the header x_role is refused"),
    "/api",
    { "x-role": "user", x_role: "admin" },
    FOLDED_READ,
  ),
  header(
    "dot-name",
    "`X.Role: admin`, no key: PHP registers HTTP_X.ROLE as HTTP_X_ROLE",
    BAD("the header x.role is refused"),
    "/api",
    { "x.role": "admin" },
    FOLDED_READ,
  ),
  header(
    "underscore-name-unread",
    "`X_Team: red` and no x-role, no key: no route match or rule reads x-team, the name is left alone (the open route)",
    OPEN,
    "/api",
    { x_team: "red" },
  ),
  header(
    "repeated-last",
    "`x-role: user` then `x-role: admin`, no key: Envoy matches `user,admin` (the open route), an upstream reading the last line acts on `admin`",
    PROTECTED,
    "/api",
    { "x-role": ["user", "admin"] },
    HEADER_READINGS,
  ),
  header(
    "repeated-first",
    "`x-role: admin` then `x-role: user`, no key: Envoy matches `admin,user` (the open route), an upstream reading the first line acts on `admin`",
    PROTECTED,
    "/api",
    { "x-role": ["admin", "user"] },
    HEADER_READINGS,
  ),
  header(
    "repeated-middle",
    "`x-role: user,admin` then `x-role: user`, no key: Envoy matches `user,admin,user` (the open route), an upstream splitting the list acts on `admin`, neither the first nor the last",
    PROTECTED,
    "/api",
    { "x-role": ["user", "admin", "user"] },
    "only the first and the last line of a repeated header were route readings, so a line or list element between them (`admin` in `user,admin,user`) never picked the protected route; every line and list element is now a reading",
  ),
  twoHeaders(
    "other-positions",
    "`x-role: admin,user` and `x-team: blue,red`, no key: Envoy matches neither joined value (the open route); an upstream taking the first x-role element and the last x-team element acts on admin of team red, the protected rule's",
    PROTECTED,
    "/api",
    { "x-role": ["admin", "user"], "x-team": ["blue", "red"] },
    "a line reading took the same line index in every header (admin with blue, user with red), so lines at different positions in two matched headers never picked the protected route; each choice of one line per header is now a reading",
  ),
  twoHeaders(
    "too-many-choices",
    `x-role and x-team, both matched, of 9 list elements each: 81 choices of one element per header, more than ${MAX_HEADER_LINES}`,
    { status: 431, code: "request_invalid", reason: `more than ${MAX_HEADER_LINES} lines or comma-separated elements` },
    "/api",
    { "x-role": Array.from({ length: 9 }, (_, i) => `r${i}`), "x-team": Array.from({ length: 9 }, (_, i) => `t${i}`) },
    "the bound counted each header's lines on its own; each choice of one line per matched header is now a reading, so their product is bounded",
  ),
  header("single", "`x-role: user` sent once: one reading, the open route as before", OPEN, "/api", { "x-role": "user" }),
  header("repeated-with-key", "`x-role: user` then `x-role: admin` with a valid key: every reading allows", OPEN, "/api", {
    "x-role": ["user", "admin"],
    "x-api-key": "alice-key",
  }),
  colonHost("junk", "Host `vault.example.com:x` (not a port: Envoy keeps it and takes the open catch-all route)", "vault.example.com:x"),
  colonHost("two-ports", "Host `vault.example.com:80:80` (Envoy removes the last `:80` only)", "vault.example.com:80:80"),
  colonHost("empty-port", "Host `vault.example.com:` (a colon, no port)", "vault.example.com:"),
  order(
    "header-exact",
    "`x-org-id: acme`, no key: an older open route matches the header by RegularExpression `.*`, a newer protected one Exact `acme`",
    PROTECTED,
    { host: "tie.example.com", path: "/", headers: { "x-org-id": "acme" } },
    `${RANKING}; Envoy Gateway ranks an Exact header match above a RegularExpression one, and so does Portcullis now`,
  ),
  order(
    "query-exact",
    "`/q?debug=on`, no key: an older open route matches `debug` by RegularExpression, a newer protected one Exact `on`",
    PROTECTED,
    { host: "tie.example.com", path: "/q?debug=on" },
    `${RANKING}; see route.order-header-exact`,
  ),
  order(
    "query-encoded",
    "`/q?debug=o%6E`, no key: Envoy compares query values as sent (the open RegularExpression route), the upstream decodes `on` (the protected Exact one)",
    PROTECTED,
    { host: "tie.example.com", path: "/q?debug=o%6E" },
    QUERY_READINGS,
  ),
  order(
    "query-repeated",
    "`/q?debug=off&debug=on`, no key: Envoy reads the first value (the open RegularExpression route), an upstream reading the last takes the protected Exact `on` one",
    PROTECTED,
    { host: "tie.example.com", path: "/q?debug=off&debug=on" },
    QUERY_READINGS,
  ),
  order(
    "method-ties-header",
    "GET with `x-tenant: blue`, no key: an older protected route matches the header, a newer open one `method: GET`",
    PROTECTED,
    { host: "method.example.com", path: "/", headers: { "x-tenant": "blue" } },
    "`method` ranked above every header match, so the open GET route decided; Envoy Gateway makes it one exact `:method` header match, the two tie and the older protected route wins",
  ),
  order(
    "grpc",
    "gRPC `POST /orders.v1.OrderService/GetOrder` without a token: jwt on the GRPCRoute, an open HTTPRoute `PathPrefix /` on the host",
    { status: 401, code: "jwt_missing" },
    { method: "POST", host: "grpc.example.com", path: "/orders.v1.OrderService/GetOrder", headers: { "content-type": "application/grpc" } },
    "GRPCRoutes were not indexed, so the open HTTPRoute decided every gRPC call; they are now indexed as Envoy Gateway translates them (service/method matches are paths)",
  ),
  order(
    "cors-preflight",
    "`OPTIONS /api/x` with Origin `https://evil.example.com` and Access-Control-Request-Method, no key: a protected GET rule with a CORS filter for another origin, an open `PathPrefix /`; the protected rule's filter answers it without Access-Control-Allow-Origin, as Envoy's cors filter does before any credential is asked for",
    { status: 204, code: "cors_origin" },
    {
      method: "OPTIONS",
      host: "cors.example.com",
      path: "/api/x",
      headers: { origin: "https://evil.example.com", "access-control-request-method": "DELETE" },
    },
    "the preflight route Envoy Gateway adds for a rule with a method match and a CORS filter was missing, so the open route decided (200) an OPTIONS request Envoy sends to the protected rule",
  ),
  order(
    "grpc-dot-segment",
    "gRPC `POST /x/../orders.v1.OrderService/GetOrder` without a token",
    { status: 401, code: "jwt_missing" },
    { method: "POST", host: "grpc.example.com", path: "/x/../orders.v1.OrderService/GetOrder" },
  ),
  order("grpc-service-boundary", "`POST /orders.v1.OrderServiceX/GetOrder`: another service, the open HTTPRoute's", OPEN, {
    method: "POST",
    host: "grpc.example.com",
    path: "/orders.v1.OrderServiceX/GetOrder",
  }),
  p("no-route", "a path no rule matches", NO_ROUTE, "/nowhere"),
  host("unknown-host", "a host no route serves", NO_ROUTE, "evil.example.com", "/public"),
  p("double-slash", "`//keys`", PROTECTED, "//keys"),
  p("dot-segment", "`/./keys`", PROTECTED, "/./keys"),
  p("dot-dot", "`/public/../keys`", PROTECTED, "/public/../keys"),
  p("dot-dot-above-root", "`/../../keys`", PROTECTED, "/../../keys"),
  p("encoded-dot-dot", "`/public/%2e%2e/keys`", PROTECTED, "/public/%2e%2e/keys"),
  p("encoded-dot-dot-mixed", "`/public/%2E%2e/keys`", PROTECTED, "/public/%2E%2e/keys"),
  p("encoded-dot", "`/%2e/keys`", PROTECTED, "/%2e/keys"),
  p("encoded-unreserved", "`/%6Beys` (an encoded letter)", PROTECTED, "/%6Beys"),
  p("encoded-slash", "`/public%2F..%2Fkeys` (%2F never splits a segment)", NO_ROUTE, "/public%2F..%2Fkeys"),
  p(
    "encoded-slash-in-open",
    "`/public/..%2Fkeys`: under /public for Envoy's default, `/keys` for Envoy Gateway's UNESCAPE_AND_REDIRECT, nginx and Caddy",
    PROTECTED,
    "/public/..%2Fkeys",
    "Envoy's default reading (%2F kept) decided alone, so an upstream that decodes %2F ran /keys with no key checked; every reading is now decided and all must allow",
  ),
  c(
    "encoded-slash-other-policy",
    "alice's key for /keys on `/keys/..%2Fjwt` (issue 11 situation 8: the decoded reading is the JWT route)",
    { status: 401, code: "jwt_missing" },
    (ctx) => ctx.check({ path: "/keys/..%2Fjwt", headers: { "x-api-key": "alice-key" } }),
    "see route.encoded-slash-in-open",
  ),
  p(
    "encoded-backslash",
    "`/public/..%5Ckeys` (%5C is `\\` for Envoy's UNESCAPE actions and for servers that take it for `/`)",
    PROTECTED,
    "/public/..%5Ckeys",
    "see route.encoded-slash-in-open",
  ),
  p("encoded-slash-lower", "`/public/..%2fkeys` (lower-case escape)", PROTECTED, "/public/..%2fkeys", "see route.encoded-slash-in-open"),
  host(
    "path-parameter-exact",
    "`/admin;jsessionid=1` on www.example.com: Envoy takes the open `/` rule, Tomcat-like upstreams read `/admin`",
    PROTECTED,
    "www.example.com",
    "/admin;jsessionid=1",
  ),
  p("encoded-slash-same-rule", "`/public/a%2Fb` (every reading stays under /public)", OPEN, "/public/a%2Fb"),
  p("double-encoded", "`/public/%252e%252e/keys`: a literal `%2e%2e` segment under /public", OPEN, "/public/%252e%252e/keys"),
  p("case", "`/KEYS` (paths are case-sensitive, as in Envoy)", NO_ROUTE, "/KEYS"),
  p("trailing-slash", "`/keys/`", PROTECTED, "/keys/"),
  p("prefix-boundary", "`/keysx` (a prefix matches whole segments)", NO_ROUTE, "/keysx"),
  p("path-parameter", "`/keys;x=1` (Envoy's reading: no rule; without the parameter: /keys; both deny)", NO_ROUTE, "/keys;x=1"),
  p("dot-dot-in-query", "`/public?/../keys` (the query is not the path)", OPEN, "/public?/../keys"),
  p(
    "fragment",
    "`/public#/../keys` (Envoy refuses a request-target with a fragment)",
    BAD("fragment"),
    "/public#/../keys",
    "a fragment was read as path text, where Envoy refuses the request (400); it is now refused too",
  ),
  p("backslash", "`/public\\..\\keys`", NO_ROUTE, "/public\\..\\keys"),
  p("encoded-nul", "`/keys%00`", BAD("control character"), "/keys%00"),
  c(
    "encoded-nul-exact",
    "`/admin%00.html` on www.example.com: Envoy takes the open `/` rule; a server that cuts the path at the NUL runs `/admin`",
    BAD("control character"),
    (ctx) => ctx.check({ host: "www.example.com", path: "/admin%00.html" }),
    "a path with an encoded NUL was decided as written, on the open `/` rule, while C servers and file APIs cut it at the NUL and run the protected `/admin`; a path with a control character is now refused on every port",
  ),
  c(
    "encoded-newline",
    "`/admin%0A` on www.example.com (a trailing LF some routers trim)",
    BAD("control character"),
    (ctx) => ctx.check({ host: "www.example.com", path: "/admin%0A" }),
    "see route.encoded-nul-exact",
  ),
  c(
    "head-as-get",
    "HEAD /reports on www.example.com, no key: the protected rule matches `method: GET`, the open `/` rule takes HEAD",
    PROTECTED,
    (ctx) => ctx.check({ method: "HEAD", host: "www.example.com", path: "/reports" }),
    "HEAD was decided on the open rule only, as Envoy routes it, while Express, Go's ServeMux, Rails, Flask and Spring run the GET handler of /reports for it; a HEAD is now also decided as GET, and allowed only if both readings allow",
  ),
  c("head-open", "HEAD /public (both readings open)", OPEN, (ctx) => ctx.check({ method: "HEAD", path: "/public" })),
  c(
    "method-lower-case-reading",
    "forward-auth: `X-Forwarded-Method: get` for /reports on www.example.com, no key (Caddy passes a lower-case method on)",
    PROTECTED,
    (ctx) => ctx.forward({ "x-forwarded-method": "get", "x-forwarded-host": "www.example.com", "x-forwarded-uri": "/reports" }),
    "`get` was decided only as written, on the open `/` rule (the protected rule matches `GET`), while Django and Flask upper-case the method and run the GET view; a method is now also decided upper-cased, and allowed only if both readings allow",
  ),
  c(
    "head-with-key",
    "HEAD /reports on www.example.com with alice's key: both readings allow, and the answer is that of the open rule Envoy routes HEAD to",
    OPEN,
    (ctx) => ctx.check({ method: "HEAD", host: "www.example.com", path: "/reports", headers: { "x-api-key": "alice-key" } }),
  ),
  c(
    "readings-not-told",
    "wire: alice's key on `/keys/..%2Fjwt`: the denial does not tell the client the other reading or its route",
    { status: 401, code: "jwt_missing", reason: "Jwt is missing" },
    async (ctx) => {
      const o = await ctx.envoy("/keys/..%2Fjwt", { "x-api-key": "alice-key" });
      if (/reads as|\/jwt|rule/.test(o.reason)) throw new Error(`the denial names the readings: ${o.reason}`);
      return o;
    },
    "the readings and the Gateways, ports and rules they took were appended to the client's denial message; they now go to the audit log and `check --explain` only",
  ),
  p("relative", "`keys` (no leading slash)", PROTECTED, "keys"),
  c("absolute-form", "wire: `GET http://api.example.com/keys` (absolute-form target)", NO_ROUTE, (ctx) =>
    ctx.raw("GET http://api.example.com/keys HTTP/1.1\r\nhost: api.example.com\r\nconnection: close\r\n\r\n"),
  ),
  host("exact", "Exact `/admin` on www.example.com", PROTECTED, "www.example.com", "/admin"),
  host("exact-double-slash", "`//admin` on www.example.com", PROTECTED, "www.example.com", "//admin"),
  c(
    "exact-trailing-slash",
    "`/admin/` on www.example.com: Envoy's Exact `/admin` does not match it (the open `/` rule does), Express and ASP.NET Core run the /admin handler for it",
    PROTECTED,
    (ctx) => ctx.check({ host: "www.example.com", path: "/admin/" }),
    "see route.path-suffix-format",
  ),
  c(
    "regex-over-prefix",
    "`/secret/x` on www.example.com: RegularExpression `/secret/.*` (protected) and PathPrefix `/` (open) both match; Envoy Gateway routes to the regex rule",
    PROTECTED,
    (ctx) => ctx.check({ host: "www.example.com", path: "/secret/x" }),
    "Portcullis ranked RegularExpression after PathPrefix, so the open `/` rule decided (200) a request Envoy Gateway sends to the protected regex rule; the order is now Envoy Gateway's: Exact, RegularExpression, PathPrefix",
  ),
  host("host-case", "Host `API.EXAMPLE.COM`", PROTECTED, "API.EXAMPLE.COM"),
  host("host-port", "Host `api.example.com:8443`", PROTECTED, "api.example.com:8443"),
  host("host-trailing-dot", "Host `api.example.com.`", PROTECTED, "api.example.com."),
  host("host-two-dots", "Host `api.example.com..`", NO_ROUTE, "api.example.com.."),
  host("host-userinfo", "Host `evil@api.example.com`", NO_ROUTE, "evil@api.example.com"),
  host("host-empty", "empty Host", NO_ROUTE, ""),
  ...["constructor", "__proto__", "toString"].map((name) =>
    host(
      `host-object-property-${name.replaceAll("_", "")}`,
      `Host \`${name}\` (a property every JavaScript object inherits)`,
      NO_ROUTE,
      name,
      "/public",
    ),
  ),
  host("host-ipv6", "Host `[::1]:80`", NO_ROUTE, "[::1]:80"),
  host("wildcard", "Host `a.wild.example.com` (*.wild.example.com)", PROTECTED, "a.wild.example.com"),
  host("wildcard-deep", "Host `a.b.wild.example.com`", PROTECTED, "a.b.wild.example.com"),
  host("wildcard-bare", "Host `wild.example.com` (a wildcard needs one more label)", NO_ROUTE, "wild.example.com"),
  c(
    "wildcard-empty-label",
    "Host `.wild.example.com` (nothing where *.wild.example.com has its wildcard)",
    NO_ROUTE,
    (ctx) => ctx.check({ host: ".wild.example.com", path: "/keys" }),
    "the empty first label was taken for the wildcard, so the request was decided on *.wild.example.com's routes, where Envoy's wildcard needs at least one character and routes it elsewhere (another virtual host, or none)",
  ),
  hostIn(
    "kelvin",
    "Host U+212A (Kelvin sign, which JavaScript lower-cases to `k`) + `iosk.example.com`; kiosk.example.com is open",
    PROTECTED,
    "\u212Aiosk.example.com",
    "Host was lower-cased with JavaScript's Unicode toLowerCase, so the Kelvin sign became `k` and the open kiosk.example.com decided, where Envoy lower-cases ASCII only and routes to the catch-all route",
  ),
  hostIn("empty-port", "Host `kiosk.example.com:` (a colon, no port)", PROTECTED, "kiosk.example.com:", WIDER_PORT),
  hostIn("huge-port", "Host `kiosk.example.com:4294967296` (a port past 32 bits)", PROTECTED, "kiosk.example.com:4294967296", WIDER_PORT),
  hostIn("plus-port", "Host `kiosk.example.com:+80` (Envoy parses `+80` as a port)", OPEN, "kiosk.example.com:+80", WIDER_PORT),
  hostIn(
    "trailing-dot",
    "Host `kiosk.example.com.`: Envoy Gateway keeps the dot (catch-all route), a ClientTrafficPolicy's stripTrailingHostDot removes it (open kiosk route)",
    PROTECTED,
    "kiosk.example.com.",
    "the trailing dot was always removed, so the open kiosk.example.com decided, where Envoy Gateway by default keeps the dot and routes to the catch-all route; a Host with a trailing dot is now decided on both readings",
  ),
  hostIn(
    "bracket-label",
    "Host `[x].wild.example.com` (brackets that are no IPv6 address)",
    OPEN,
    "[x].wild.example.com",
    'a Host starting with "[" was cut after the "]" as if it were an IPv6 address, where Envoy reads it whole and routes it to *.wild.example.com',
  ),
  hostIn(
    "nbsp",
    "Host `kiosk.example.com` + U+00A0 (no-break space, which String.trim removes)",
    PROTECTED,
    "kiosk.example.com\u00A0",
    "Host was trimmed with String.trim, which also drops the no-break space and other Unicode spaces, so the open kiosk.example.com decided, where Envoy removes only spaces and tabs around a field value and routes to the catch-all route",
  ),
  hostIn(
    "header-match-host",
    "Host `door.example.com:8080` on a rule matching header `Host` exactly `door.example.com:8080` (open)",
    OPEN,
    "door.example.com:8080",
    "a header match named Host read a `host` header line, which Envoy's gRPC check names `:authority`, so the rule never matched and the catch-all route decided; Envoy's header map reads `host` as `:authority`, and so does Portcullis now",
  ),
  c(
    "two-host-lines",
    "wire: two Host lines (www.example.com, api.example.com)",
    BAD("host header was sent 2 times"),
    (ctx) =>
      ctx.envoy("/admin", [
        ["host", "www.example.com"],
        ["host", "api.example.com"],
      ]),
    "Node kept the first Host and dropped the second; a request with two Host lines is now refused (RFC 9112 §3.2)",
  ),
  c(
    "method-case",
    "forward-auth: `X-Forwarded-Method: get` on /m, open for GET only",
    PROTECTED,
    (ctx) => ctx.forward({ ...FWD, "x-forwarded-method": "get", "x-forwarded-uri": "/m" }),
    "methods were upper-cased, so `get` took the GET-only open rule while an upstream may route it elsewhere; methods now match exactly, as in Envoy",
  ),
  c("method-override", "POST /m with `X-HTTP-Method-Override: GET`", PROTECTED, (ctx) =>
    ctx.check({ method: "POST", path: "/m", headers: { "x-http-method-override": "GET" } }),
  ),
  pathCase(
    "prefix-upper",
    "`/ADMIN/users`, no key: Express and ASP.NET Core run the `PathPrefix /admin` rule's handler",
    PROTECTED,
    "/ADMIN/users",
    {},
    PATH_CASE,
  ),
  pathCase("prefix-mixed", "`/Admin`, no key", PROTECTED, "/Admin", {}, "see route.path-case-prefix-upper"),
  pathCase(
    "exact-lower",
    "`/reports`, no key, where rule admin also matches `Exact /Reports`: Express and ASP.NET Core run it",
    PROTECTED,
    "/reports",
    {},
    "see route.path-case-prefix-upper",
  ),
  pathCase(
    "encoded",
    "`/%41dmin`, no key: Envoy's normalisation decodes `%41` to `A`, then the case reading",
    PROTECTED,
    "/%41dmin",
    {},
    "see route.path-case-prefix-upper",
  ),
  pathCase("with-key", "`/ADMIN/users` with a valid key: every reading allows", OPEN, "/ADMIN/users", { "x-api-key": "alice-key" }),
  pathCase(
    "other-segment",
    "`/ADMINISTRATION`: no route's path in another case (a prefix matches whole segments), the open rule",
    OPEN,
    "/ADMINISTRATION",
  ),
  pathCase("open-upper", "`/Docs`: no protected rule in any case, the open rule", OPEN, "/Docs"),
  pathCase(
    "regex-upper",
    "`/INTERNAL/keys`, no key: Express and ASP.NET Core run the handler of rule admin's `RegularExpression /internal/[a-z]+`",
    PROTECTED,
    "/INTERNAL/keys",
    {},
    PATH_CASE_REGEX,
  ),
  pathCase(
    "regex-lower",
    "`/ops/v2/restart`, no key, where rule admin matches `RegularExpression /Ops/v[0-9]+/.*` (decided spelt as the pattern's literal start `/Ops/v`)",
    PROTECTED,
    "/ops/v2/restart",
    {},
    "see route.path-case-regex-upper",
  ),
  pathCase("regex-with-key", "`/INTERNAL/keys` with a valid key: every reading allows", OPEN, "/INTERNAL/keys", {
    "x-api-key": "alice-key",
  }),
  pathCase(
    "regex-unspelt",
    "`/JOBS/x`, no key, where rule admin matches `RegularExpression /(?:Jobs|Tasks)/[a-z]+`: in no spelling Portcullis tries (lower case, upper case, the literal start's case), so refused",
    BAD("the path's letter case is ambiguous"),
    "/JOBS/x",
    {},
    "see route.path-case-regex-upper",
  ),
  pathSuffix(
    "format",
    "`/admin.json`, no key: Rails runs the `PathPrefix /admin` rule's handler with format json",
    PROTECTED,
    "/admin.json",
    {},
    PATH_SUFFIX,
  ),
  pathSuffix(
    "two-extensions",
    "`/admin.v2.json`, no key: Spring's suffix pattern match takes it for `/admin`",
    PROTECTED,
    "/admin.v2.json",
    {},
    "see route.path-suffix-format",
  ),
  pathSuffix(
    "trailing-slash-exact",
    "`/Reports/`, no key: Express and ASP.NET Core run the `Exact /Reports` handler",
    PROTECTED,
    "/Reports/",
    {},
    "see route.path-suffix-format",
  ),
  pathSuffix(
    "format-exact-other-case",
    "`/reports.xml`, no key: the readings compose: without its format (Rails) and in another case (Express), the `Exact /Reports` rule",
    PROTECTED,
    "/reports.xml",
    {},
    "see route.path-suffix-format",
  ),
  pathSuffix(
    "trailing-slash-regex",
    "`/internal/keys/`, no key: the `RegularExpression /internal/[a-z]+` handler",
    PROTECTED,
    "/internal/keys/",
    {},
    "see route.path-suffix-format",
  ),
  pathSuffix(
    "format-upper",
    "`/ADMIN.json`, no key: without its format and in another case, `/admin`",
    PROTECTED,
    "/ADMIN.json",
    {},
    "see route.path-suffix-format",
  ),
  pathSuffix(
    "format-encoded-dot",
    "`/admin%2Ejson`, no key: Envoy's normalisation decodes `%2E`, then the format is dropped",
    PROTECTED,
    "/admin%2Ejson",
    {},
    "see route.path-suffix-format",
  ),
  pathSuffix("format-with-key", "`/admin.json` with a valid key: every reading allows", OPEN, "/admin.json", { "x-api-key": "alice-key" }),
  pathSuffix(
    "format-other-path",
    "`/administration.json`: no route's path without its extension, the open rule",
    OPEN,
    "/administration.json",
  ),
  pathSuffix("format-in-earlier-segment", "`/admin.d/x`: a dot before the last segment is no format, the open rule", OPEN, "/admin.d/x"),
  tookOpen(
    "case-with-key",
    "`/ADMIN/users` with a valid key, Envoy having taken rule open: the `/admin/users` reading is decided on rule admin, which the key passes",
    OPEN,
    "/ADMIN/users",
    { "x-api-key": "alice-key" },
    TOOK_READING,
  ),
  tookOpen(
    "case-no-key",
    "`/ADMIN/users` without a key, Envoy having taken rule open: rule admin refuses the `/admin/users` reading",
    PROTECTED,
    "/ADMIN/users",
  ),
  tookOpen(
    "suffix-with-key",
    "`/admin.json` with a valid key, Envoy having taken rule open: the `/admin` reading passes rule admin",
    OPEN,
    "/admin.json",
    { "x-api-key": "alice-key" },
    "see route.path-reading-took-case-with-key",
  ),
  tookOpen("suffix-no-key", "`/admin.json` without a key, Envoy having taken rule open", PROTECTED, "/admin.json"),
  tookOpen(
    "envoy-reading-other-rule",
    "`/admin/x` with a valid key, the metadata naming rule open, which Envoy's own reading of the path does not match",
    { status: 403, code: "route_mismatch" },
    "/admin/x",
    { "x-api-key": "alice-key" },
  ),
  operationPathCase(
    "prefix-upper",
    "`/ADMIN/users` under an authorization Deny rule on `PathPrefix /admin`",
    DENIED,
    "/ADMIN/users",
    OPERATION_PATH_CASE,
  ),
  operationPathCase(
    "exact-lower",
    "`/reports` under an authorization Deny rule on `Exact /Reports`",
    DENIED,
    "/reports",
    "see route.operation-path-case-prefix-upper",
  ),
  operationPathCase(
    "regex-upper",
    "`/INTERNAL/keys` under an authorization Deny rule on `RegularExpression /internal/[a-z]+`",
    DENIED,
    "/INTERNAL/keys",
    "see route.operation-path-case-prefix-upper",
  ),
  operationPathCase("other", "`/Docs` under the same rules: no Deny rule's path in any case", OPEN, "/Docs"),
  pathCase("regex-other-segment", "`/INTERNAL/x1`: the pattern matches it in no letter case, the open rule", OPEN, "/INTERNAL/x1"),
  overridden(
    "header",
    "`POST /api` with `X-HTTP-Method-Override: DELETE`, no key (rule admin takes DELETE, rule open the rest)",
    PROTECTED,
    "POST",
    "/api",
    { "x-http-method-override": "DELETE" },
    METHOD_OVERRIDE,
  ),
  overridden(
    "header-lower-case",
    "`POST /api` with `X-HTTP-Method: delete`, no key: Express and Rack upper-case the method asked for",
    PROTECTED,
    "POST",
    "/api",
    { "x-http-method": "delete" },
    "see route.method-override-header",
  ),
  overridden(
    "header-list",
    "`POST /api` with `X-HTTP-Method-Override: PUT, DELETE` and `X-Method-Override: PATCH`: each piece is a method some middleware takes",
    PROTECTED,
    "POST",
    "/api",
    { "x-http-method-override": "PUT, DELETE", "x-method-override": "PATCH" },
    "see route.method-override-header",
  ),
  overridden(
    "query",
    "`POST /api?_method=DELETE`, no key: Spring's HiddenHttpMethodFilter, Symfony and Laravel read `_method` from the query too",
    PROTECTED,
    "POST",
    "/api?_method=DELETE",
    {},
    "see route.method-override-header",
  ),
  overridden("with-key", "`POST /api` with `X-HTTP-Method-Override: DELETE` and a valid key: every reading allows", OPEN, "POST", "/api", {
    "x-http-method-override": "DELETE",
    "x-api-key": "alice-key",
  }),
  overridden(
    "get-not-overridden",
    "`GET /api` with `X-HTTP-Method-Override: DELETE`: middlewares override a POST only, the open rule",
    OPEN,
    "GET",
    "/api",
    { "x-http-method-override": "DELETE" },
  ),
  overridden(
    "too-many",
    "`POST /api` with `X-HTTP-Method-Override` listing 9 methods: refused, each would be a reading",
    BAD("the request asks for more than 8 methods to be run as (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override, _method)"),
    "POST",
    "/api",
    { "x-http-method-override": Array.from({ length: 9 }, (_, i) => `M${i}`).join(",") },
  ),
  p("regex", "`/re/aaaa` (RegularExpression rule `/re/(a+)+`)", PROTECTED, "/re/aaaa"),
  c(
    "regex-redos",
    "`/re/` + 50 000 × `a` + `!` against `/re/(a+)+` (catastrophic backtracking)",
    NO_ROUTE,
    async (ctx) => {
      const entry = ctx.decider.result.snapshot.routes.byGateway["apps/gw"]![0]!.vhosts.exact["api.example.com"]!.find(
        (e) => e.match.path.type === "RegularExpression",
      )!;
      if (entry.match.path.type !== "RegularExpression" || !(entry.match.path.regex instanceof RE2JS))
        throw new Error("route regex does not run on RE2");
      return ctx.check({ path: `/re/${"a".repeat(50_000)}!` });
    },
    "route regexes ran on V8's backtracking engine (one request could stall every check); they now run on RE2 (re2js), in linear time, as Envoy's do",
  ),
  c("gateway-unknown", "`x-portcullis-gateway` naming a Gateway that is not served", { status: 403, code: "gateway_not_found" }, (ctx) =>
    ctx.check({ path: "/public", gateway: "apps/other" }),
  ),
  fwd("fwd-disagree-uri", "forward-auth: X-Forwarded-Uri /public, X-Original-URI /keys", BAD("disagree"), {
    ...FWD,
    "x-forwarded-uri": "/public",
    "x-original-uri": "/keys",
  }),
  fwd("fwd-disagree-method", "forward-auth: X-Forwarded-Method GET, X-Original-Method POST", BAD("disagree"), {
    ...FWD,
    "x-forwarded-uri": "/m",
    "x-original-method": "POST",
  }),
  fwd(
    "fwd-host-list",
    "forward-auth: `X-Forwarded-Host: www.example.com, api.example.com`",
    BAD("one value, not a list"),
    { ...FWD, "x-forwarded-host": "www.example.com, api.example.com", "x-forwarded-uri": "/" },
    "the first entry of a list was used, so a client value that a proxy appended to could choose the host",
  ),
  fwd(
    "fwd-method-list",
    "forward-auth: `X-Forwarded-Method: GET, POST` on /m",
    BAD("one value, not a list"),
    { ...FWD, "x-forwarded-method": "GET, POST", "x-forwarded-uri": "/m" },
    "see route.fwd-host-list",
  ),
  fwd(
    "fwd-uri-twice",
    "forward-auth: two X-Forwarded-Uri lines (/public, /keys)",
    BAD("x-forwarded-uri header was sent 2 times"),
    [
      ["x-forwarded-method", "GET"],
      ["x-forwarded-host", "api.example.com"],
      ["x-forwarded-uri", "/public"],
      ["x-forwarded-uri", "/keys"],
    ],
    "Node joined them into `/public, /keys`, which was matched as one path; repeated lines are now refused",
  ),
  fwd("fwd-absolute-uri", "forward-auth: `X-Forwarded-Uri: http://api.example.com/keys`", BAD("origin-form"), {
    ...FWD,
    "x-forwarded-uri": "http://api.example.com/keys",
  }),
  fwd("fwd-missing", "forward-auth: no X-Forwarded-Uri", BAD("original request is missing"), FWD),
  fwd("fwd-normalised", "forward-auth: Host `API.Example.com.:443` (URIs not in normal form: see forward.*)", PROTECTED, {
    "x-forwarded-method": "GET",
    "x-forwarded-host": "API.Example.com.:443",
    "x-forwarded-uri": "/keys",
  }),
  fwd("fwd-host-fallback", "forward-auth without X-Forwarded-Host: the auth request's own Host is used", PROTECTED, {
    host: "api.example.com",
    "x-forwarded-method": "GET",
    "x-forwarded-uri": "/keys",
  }),
  took(
    "proxy-route-agrees",
    "Envoy Gateway's route metadata names rule `keys` of apps/api, which Portcullis matches too: decided as usual",
    PROTECTED,
    "/keys",
    { sectionName: "keys" },
  ),
  took(
    "proxy-route-whole-route",
    "route metadata naming apps/api without a rule (an unnamed rule): decided on Portcullis' match in that route",
    OPEN,
    "/public",
    {},
  ),
  took(
    "proxy-route-other-rule",
    "route metadata names the protected rule `keys`, Portcullis matches the open rule `open` of the same route",
    MISMATCH("the proxy selected HTTPRoute apps/api rule keys, Portcullis matches apps/api rule open"),
    "/public",
    { sectionName: "keys" },
    MISMATCH_FIXED,
  ),
  took(
    "proxy-route-other-route",
    "route metadata names HTTPRoute apps/www, Portcullis matches apps/api",
    MISMATCH("Portcullis matches apps/api rule open"),
    "/public",
    { name: "www" },
  ),
  took(
    "proxy-route-unknown",
    "route metadata names a route, Portcullis matches none",
    MISMATCH("Portcullis matches no route"),
    "/nowhere",
    {},
  ),
  order(
    "grpc-route-metadata",
    "gRPC call whose route metadata names GRPCRoute apps/orders, the rule Portcullis matches too: decided on its jwt policy",
    { status: 401, code: "jwt_missing" },
    {
      method: "POST",
      host: "grpc.example.com",
      path: "/orders.v1.OrderService/GetOrder",
      proxyRoute: { kind: "GRPCRoute", namespace: "apps", name: "orders", sectionName: undefined },
    },
  ),
  took(
    "proxy-route-other-kind",
    "route metadata names GRPCRoute apps/api, Portcullis matches HTTPRoute apps/api",
    MISMATCH("the proxy selected GRPCRoute apps/api"),
    "/public",
    { kind: "GRPCRoute" },
  ),
  matchCache(
    "method-text",
    "`/api/x` without a key, while another route of the Gateway has the match `PathPrefix /api` with the method written as the text `undefined`",
    PROTECTED,
    "/api/x",
    {},
    'the compile\'s cache of plain matches keyed them by one string in which an absent method and the method "undefined" read the same, so the other route\'s match, compiled first, replaced rule admin\'s: admin then matched only the method "undefined" and rule open took the request Envoy routes to admin; the cache now compares the method itself',
  ),
];
