/**
 * Route matches and Envoy Gateway's route order (controller/compile/routes.ts): how HTTPRoute and
 * GRPCRoute matches compile, how entries rank, and the situations of issue 11 where Portcullis
 * used to decide on another route than Envoy.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { compareAge } from "../../controller/api/meta.ts";
import { compileGrpcMatch, createMatchCompiler } from "../../controller/compile/routes.ts";
import { jwksOf, mint, signingKey } from "../support/tokens.ts";
import { GATEWAY, gatewayWithRoute } from "../support/manifests.ts";
import { decider } from "../support/world.ts";
import {
  compareResources,
  envoyMatches,
  sortEG,
  translateGRPCRouteMatch,
  translateHTTPRouteMatches,
  type EnvoyRequest,
  type IrRoute,
} from "../conformance/route-order/eg-order.ts";

const value = (r: ReturnType<ReturnType<typeof createMatchCompiler>>) => {
  if (!r.ok) throw new Error(r.error);
  return r.value.match;
};

describe("headersMatchedByLine (Snapshot.headersMatchedByLine)", () => {
  it("lists, lower-case and sorted, the headers route matches read line by line: not the method, the host, a query parameter or a header no match names", () => {
    const d = decider(
      gatewayWithRoute("api.example.com", {
        tier: "{path: {type: PathPrefix, value: /a}, headers: [{name: X-Tier, value: gold}, {name: host, value: api.example.com}]}",
        role: "{path: {type: PathPrefix, value: /b}, method: GET, headers: [{type: RegularExpression, name: x-role, value: adm.*}]}",
        again: "{path: {type: PathPrefix, value: /c}, headers: [{name: x-tier, value: silver}], queryParams: [{name: x-q, value: v}]}",
        open: "/",
      }),
    );
    expect(d.result.snapshot.headersMatchedByLine).toEqual(["x-role", "x-tier"]);
    expect(decider(gatewayWithRoute("api.example.com", { open: "/" })).result.snapshot.headersMatchedByLine).toEqual([]);
  });
});

describe("the route index's tables (looked up by the request's Host and Gateway)", () => {
  it("inherit nothing: a Host or Gateway named as an Object property finds no route", async () => {
    const d = decider(gatewayWithRoute("api.example.com", { open: "/" }));
    const { byGateway } = d.result.snapshot.routes;
    const vhosts = byGateway["apps/gw"]![0]!.vhosts;
    for (const table of [byGateway, vhosts.exact, vhosts.wildcard]) expect(Object.getPrototypeOf(table)).toBeNull();
    expect(Object.keys(vhosts.exact)).toEqual(["api.example.com"]);
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      expect((await d({ path: "/", host: name })).code).toBe("route_not_found");
      expect((await d({ path: "/", gateway: name })).code).toBe("gateway_not_found");
    }
    expect((await d({ path: "/" })).allowed).toBe(true);
  });
});

describe("createMatchCompiler", () => {
  it("shares one object per distinct plain match and keeps the others apart", () => {
    const compile = createMatchCompiler();
    const prefix = value(compile({ path: { type: "PathPrefix", value: "/v1/" } }));
    expect(value(compile({ path: { type: "PathPrefix", value: "/v1/" } }))).toBe(prefix);
    expect(prefix).toEqual({ path: { type: "PathPrefix", value: "/v1" }, headers: [], queryParams: [] });
    expect(value(compile({ path: { type: "Exact", value: "/v1/" } }))).not.toBe(prefix);
    expect(value(compile({ path: { type: "PathPrefix", value: "/v1/" }, method: "GET" }))).not.toBe(prefix);
    const withHeader: Parameters<typeof compile>[0] = {
      path: { type: "PathPrefix", value: "/v1/" },
      headers: [{ type: "Exact", name: "X-Tier", value: "gold" }],
    };
    expect(value(compile(withHeader))).not.toBe(value(compile(withHeader)));
    expect(value(compile(withHeader)).headers).toEqual([{ type: "Exact", name: "x-tier", value: "gold" }]);
    expect(createMatchCompiler()({ path: { type: "PathPrefix", value: "/v1/" } })).not.toBe(
      compile({ path: { type: "PathPrefix", value: "/v1/" } }),
    );
  });
  it('never gives a match without a method the entry of one whose method is the text "undefined" (one key string held both)', () => {
    const compile = createMatchCompiler();
    const odd = value(compile({ path: { type: "PathPrefix", value: "/v1" }, method: "undefined" }));
    expect(odd.headers).toEqual([{ type: "Exact", name: ":method", value: "undefined" }]);
    expect(value(compile({ path: { type: "PathPrefix", value: "/v1" } })).headers).toEqual([]);
    const without = createMatchCompiler();
    expect(value(without({ path: { type: "PathPrefix", value: "/v1" } })).headers).toEqual([]);
    expect(value(without({ path: { type: "PathPrefix", value: "/v1" }, method: "undefined" })).headers).toHaveLength(1);
  });
  it("reports a bad match every time it is asked", () => {
    const compile = createMatchCompiler();
    for (let i = 0; i < 2; i++)
      expect(compile({ path: { type: "PathPrefix", value: "v1" } })).toEqual({ ok: false, error: 'path "v1" does not start with /' });
  });
  it("turns `method` into the exact header match `:method`, after the other headers, as Envoy Gateway does", () => {
    const r = createMatchCompiler()({
      path: { type: "PathPrefix", value: "/" },
      method: "GET",
      headers: [{ type: "RegularExpression", name: "X-A", value: ".*" }],
    });
    expect(r.ok && r.value.match.headers.map((h) => `${h.name} ${h.type} ${h.value}`)).toEqual([
      "x-a RegularExpression .*",
      ":method Exact GET",
    ]);
  });
  it("counts a path as written: the prefix `/` counts 0, a trailing slash counts", () => {
    const count = (type: "Exact" | "PathPrefix" | "RegularExpression", v: string) => {
      const r = createMatchCompiler()({ path: { type, value: v } });
      return r.ok ? r.value.pathCount : -1;
    };
    expect([
      count("PathPrefix", "/"),
      count("PathPrefix", "/foo"),
      count("PathPrefix", "/foo/"),
      count("Exact", "/foo"),
      count("RegularExpression", "/f.*"),
    ]).toEqual([0, 4, 5, 4, 4]);
  });
});

describe("compileGrpcMatch", () => {
  const describeMatch = (m: Parameters<typeof compileGrpcMatch>[0]) => {
    const r = compileGrpcMatch(m);
    if (!r.ok) return r.error;
    const { path, headers } = r.value.match;
    return [`${path.type} ${path.value}`, ...headers.map((h) => `${h.name} ${h.type} ${h.value}`), `count ${r.value.pathCount}`].join("; ");
  };
  it("makes service/method matches paths as Envoy Gateway does", () => {
    expect(describeMatch({ method: { type: "Exact", service: "a.B", method: "M" } })).toBe("Exact /a.B/M; count 6");
    expect(describeMatch({ method: { type: "Exact", service: "a.B" } })).toBe("PathPrefix /a.B; count 4");
    expect(describeMatch({ method: { type: "Exact", method: "M" } })).toBe("PathPrefix ; :path Suffix /M; count 0");
    expect(describeMatch({ method: { type: "RegularExpression", service: "a\\..*", method: "M" } })).toBe(
      "RegularExpression /a\\..*/M; count 8",
    );
    expect(describeMatch({ headers: [{ type: "Exact", name: "X-T", value: "1" }] })).toBe("PathPrefix ; x-t Exact 1; count 0");
  });
  it("fills a missing part of a RegularExpression match with Envoy Gateway's name patterns, ranked by their RE2 length", () => {
    const service = compileGrpcMatch({ method: { type: "RegularExpression", method: "Get.*" } });
    expect(service.ok && service.value.match.path.value).toBe("/(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*/Get.*");
    expect(service.ok && service.value.pathCount).toBe(51);
    const regex = service.ok && service.value.match.path.type === "RegularExpression" ? service.value.match.path.regex : undefined;
    // EG's service pattern starts with RE2's `(?i)`, which makes the method pattern after it case-insensitive too.
    expect(
      ["/orders.v1.OrderService/GetOrder", "/Orders/GetX", "/.a/Get", "/a/getorder", "/a/GETORDER"].map((p) => regex?.testExact(p)),
    ).toEqual([true, true, true, true, true]);
    expect(["/1a/GetOrder", "/a/b/GetOrder", "/a/Put"].map((p) => regex?.testExact(p))).toEqual([false, false, false]);
    const method = compileGrpcMatch({ method: { type: "RegularExpression", service: "svc" } });
    const byMethod = method.ok && method.value.match.path.type === "RegularExpression" ? method.value.match.path.regex : undefined;
    expect(["/svc/Get_1", "/svc/1Get", "/svc/"].map((p) => byMethod?.testExact(p))).toEqual([true, false, false]);
  });
  it("refuses a service or method pattern that RE2 refuses", () => {
    expect(compileGrpcMatch({ method: { type: "RegularExpression", service: "(x" } })).toEqual({
      ok: false,
      error: 'service regular expression "(x" is not valid RE2: missing closing ): `(x`',
    });
  });
});

describe("compareAge (Envoy Gateway's resource order)", () => {
  const meta = (namespace: string, name: string, creationTimestamp?: string) => ({ metadata: { namespace, name, creationTimestamp } });
  it("orders by creation time, then namespace, then name, byte by byte", () => {
    expect(compareAge(meta("b", "x", "2026-01-01T00:00:00Z"), meta("a", "x", "2026-01-02T00:00:00Z"))).toBeLessThan(0);
    // "a" < "a-b" as namespaces, though "a/z" > "a-b/c" as keys.
    expect(compareAge(meta("a", "z"), meta("a-b", "c"))).toBeLessThan(0);
    expect(compareAge(meta("a", "B"), meta("a", "a"))).toBeLessThan(0);
    expect(compareAge(meta("a", "x", "2026-01-01T00:00:00Z"), meta("a", "y", "2026-01-01T00:00:00.000Z"))).toBeLessThan(0);
  });
});

/** An HTTPRoute (or GRPCRoute) apps/`name` on api.example.com with one rule of the given matches. */
const route = (name: string, created: string, match: string, rule = "r", kind = "HTTPRoute") => `---
apiVersion: gateway.networking.k8s.io/v1
kind: ${kind}
metadata: {name: ${name}, namespace: apps, creationTimestamp: "${created}"}
spec:
  parentRefs: [{name: gw}]
  hostnames: [api.example.com]
  rules: [{${rule === "" ? "" : `name: ${rule}, `}matches: [${match}]}]
`;
const apiKeyPolicy = (name: string, kind: string, target: string) => `---
apiVersion: v1
kind: Secret
metadata: {name: keys-${name}, namespace: apps}
stringData: {alice: alice-key}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: ${name}, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: ${kind}, name: ${target}}]
  apiKeyAuth: {credentialRefs: [{name: keys-${name}}], extractFrom: [{headers: [x-api-key]}]}
`;
const OLD = "2026-01-01T00:00:00Z";
const NEW = "2026-01-02T00:00:00Z";

describe("Envoy Gateway's route order decides (issue 11)", () => {
  it("situation 1: an Exact header match ranks above a RegularExpression one on the same path, whatever the routes' ages", async () => {
    const d = decider(
      `${GATEWAY}${route("any-org", OLD, "{path: {type: PathPrefix, value: /}, headers: [{name: x-org-id, type: RegularExpression, value: '.*'}]}")}${route(
        "acme",
        NEW,
        "{path: {type: PathPrefix, value: /}, headers: [{name: x-org-id, value: acme}]}",
      )}${apiKeyPolicy("acme", "HTTPRoute", "acme")}`,
    );
    expect(await d({ path: "/", headers: { "x-org-id": "acme" } })).toMatchObject({
      status: 401,
      code: "apikey_missing",
      route: "apps/acme rule r",
    });
    expect(await d({ path: "/", headers: { "x-org-id": "other" } })).toMatchObject({ status: 200, route: "apps/any-org rule r" });
  });
  it("situation 1, query parameters: an Exact query match ranks above a RegularExpression one", async () => {
    const d = decider(
      `${GATEWAY}${route("any-debug", OLD, "{path: {type: PathPrefix, value: /}, queryParams: [{name: debug, type: RegularExpression, value: '.*'}]}")}${route(
        "debug-on",
        NEW,
        "{path: {type: PathPrefix, value: /}, queryParams: [{name: debug, value: 'on'}]}",
      )}${apiKeyPolicy("debug", "HTTPRoute", "debug-on")}`,
    );
    expect(await d({ path: "/?debug=on" })).toMatchObject({ status: 401, route: "apps/debug-on rule r" });
    expect(await d({ path: "/?debug=off" })).toMatchObject({ status: 200, route: "apps/any-debug rule r" });
  });
  it("situation 2: `method` is one exact header match, so it ties with an exact header and the older route wins", async () => {
    const d = decider(
      `${GATEWAY}${route("blue", OLD, "{path: {type: PathPrefix, value: /}, headers: [{name: x-tenant, value: blue}]}")}${route(
        "reads",
        NEW,
        "{path: {type: PathPrefix, value: /}, method: GET}",
      )}${apiKeyPolicy("blue", "HTTPRoute", "blue")}`,
    );
    expect(await d({ path: "/", headers: { "x-tenant": "blue" } })).toMatchObject({ status: 401, route: "apps/blue rule r" });
    expect(await d({ path: "/" })).toMatchObject({ status: 200, route: "apps/reads rule r" });
    // The other way round the open route is older and takes the tie, as in Envoy.
    const swapped = decider(
      `${GATEWAY}${route("blue", NEW, "{path: {type: PathPrefix, value: /}, headers: [{name: x-tenant, value: blue}]}")}${route(
        "reads",
        OLD,
        "{path: {type: PathPrefix, value: /}, method: GET}",
      )}${apiKeyPolicy("blue", "HTTPRoute", "blue")}`,
    );
    expect(await swapped({ path: "/", headers: { "x-tenant": "blue" } })).toMatchObject({ status: 200, route: "apps/reads rule r" });
  });
  it("situation 3: a jwt policy on a GRPCRoute governs its calls, though an open HTTPRoute `PathPrefix /` serves the host", async () => {
    const key = await signingKey("k1");
    const d =
      decider(`${GATEWAY}${route("web", OLD, "{path: {type: PathPrefix, value: /}}")}${route("orders", NEW, "{method: {service: orders.v1.OrderService}}", "", "GRPCRoute")}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: orders-jwt, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: GRPCRoute, name: orders}]
  jwt: {providers: [{name: idp, issuer: https://idp.example.com, localJWKS: {inline: '${jwksOf(key)}'}}]}
`);
    const call = { method: "POST", path: "/orders.v1.OrderService/GetOrder", headers: { "content-type": "application/grpc" } };
    expect(await d(call)).toMatchObject({
      status: 401,
      code: "jwt_missing",
      route: "GRPCRoute apps/orders rule 0",
      policy: "apps/orders-jwt",
    });
    const token = await mint(key, { iss: "https://idp.example.com", sub: "u-1" });
    expect(await d({ ...call, headers: { ...call.headers, authorization: `Bearer ${token}` } })).toMatchObject({
      status: 200,
      route: "GRPCRoute apps/orders rule 0",
    });
    expect(await d({ ...call, path: "/orders.v1.OrderServiceX/GetOrder" })).toMatchObject({ status: 200, route: "apps/web rule r" });
  });
  it("ranks a PathPrefix by its length as written: `/foo/` above `/foo`", async () => {
    const d = decider(
      `${GATEWAY}${route("foo", OLD, "{path: {type: PathPrefix, value: /foo}}")}${route("foo-slash", NEW, "{path: {type: PathPrefix, value: /foo/}}")}${apiKeyPolicy("foo", "HTTPRoute", "foo")}`,
    );
    expect(await d({ path: "/foo/x" })).toMatchObject({ status: 200, route: "apps/foo-slash rule r" });
    expect(await d({ path: "/foo" })).toMatchObject({ status: 200, route: "apps/foo-slash rule r" });
  });
  it("serves no match of a rule that has one it cannot translate, as Envoy Gateway drops the rule", async () => {
    const d = decider(
      `${GATEWAY}${route("open", NEW, "{path: {type: RegularExpression, value: '(bad'}}, {path: {type: PathPrefix, value: /admin}}")}${route(
        "all",
        OLD,
        "{path: {type: PathPrefix, value: /}}",
      )}${apiKeyPolicy("all", "HTTPRoute", "all")}`,
    );
    expect(await d({ path: "/admin" })).toMatchObject({ status: 401, route: "apps/all rule r" });
    expect(d.result.problems).toContain(
      'HTTPRoute apps/open rule 0 match 0: path regular expression "(bad" is not valid RE2: missing closing ): `(bad`; this rule is not served, as in Envoy Gateway',
    );
  });
  it("runs every pattern RE2 accepts as RE2 does, Unicode classes included: a header matching \\pL takes the rule, another falls through", async () => {
    const d = decider(
      `${GATEWAY}${route("letters", NEW, "{path: {type: PathPrefix, value: /}, headers: [{type: RegularExpression, name: x-l, value: '\\pL'}]}")}${route(
        "all",
        OLD,
        "{path: {type: PathPrefix, value: /}}",
      )}`,
    );
    expect(await d({ path: "/", headers: { "x-l": "é" } })).toMatchObject({ status: 200, route: "apps/letters rule r" });
    expect(await d({ path: "/", headers: { "x-l": "1" } })).toMatchObject({ status: 200, route: "apps/all rule r" });
    expect(d.result.problems).toEqual([]);
  });
  it("reads query parameters as Envoy's route match does (the first value, not decoded), and decides the last or decoded value's rule too", async () => {
    const d = decider(
      `${GATEWAY}${route("debug", OLD, "{path: {type: PathPrefix, value: /}, queryParams: [{name: debug, value: 'on'}]}")}${route("all", NEW, "{path: {type: PathPrefix, value: /}}")}${apiKeyPolicy("debug", "HTTPRoute", "debug")}`,
    );
    expect(await d({ path: "/?debug=on&debug=off" })).toMatchObject({ route: "apps/debug rule r" });
    // Envoy takes the open route; an upstream reading the last value acts as the protected one would.
    expect(await d({ path: "/?debug=off&debug=on" })).toMatchObject({ status: 401, route: "apps/debug rule r" });
    // Envoy compares as sent (the open route); an upstream decodes `on`.
    expect(await d({ path: "/?debug=o%6E" })).toMatchObject({ status: 401, route: "apps/debug rule r" });
    expect(await d({ path: "/?deb%75g=on" })).toMatchObject({ status: 401, route: "apps/debug rule r" });
    expect(await d({ path: "/?debug=of%66" })).toMatchObject({ status: 200, route: "apps/all rule r" });
  });
  it("routes a CORS preflight to a GET rule with a CORS filter, as the route Envoy Gateway adds for it", async () => {
    const d = decider(`${GATEWAY}${route("all", OLD, "{path: {type: PathPrefix, value: /}}")}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reads, namespace: apps, creationTimestamp: "${NEW}"}
spec:
  parentRefs: [{name: gw}]
  hostnames: [api.example.com]
  rules: [{matches: [{path: {type: PathPrefix, value: /api}, method: GET}], filters: [{type: CORS, cors: {allowOrigins: ["https://app.example.com"]}}]}]
${apiKeyPolicy("reads", "HTTPRoute", "reads")}`);
    const preflight = { origin: "https://evil.example.com", "access-control-request-method": "DELETE" };
    // The rule's CORS filter answers its preflight (an origin it does not list: no Access-Control-Allow-Origin), as Envoy's cors filter.
    expect(await d({ method: "OPTIONS", path: "/api/x", headers: preflight })).toMatchObject({
      status: 204,
      code: "cors_origin",
      route: "apps/reads rule 0",
    });
    expect(await d({ method: "OPTIONS", path: "/api/x", headers: { origin: "https://evil.example.com" } })).toMatchObject({
      status: 200,
      route: "apps/all rule r",
    });
  });
  it('matches a header sent several times on its lines joined with ",", as Envoy does', async () => {
    const d = decider(
      `${GATEWAY}${route("both", OLD, "{path: {type: PathPrefix, value: /}, headers: [{name: x-tier, value: 'gold,silver'}]}")}${route("all", NEW, "{path: {type: PathPrefix, value: /}}")}${apiKeyPolicy("both", "HTTPRoute", "both")}`,
    );
    expect(await d({ path: "/", headers: { "x-tier": ["gold", "silver"] } })).toMatchObject({ status: 401, route: "apps/both rule r" });
    expect(await d({ path: "/", headers: { "x-tier": "gold, silver" } })).toMatchObject({ status: 200, route: "apps/all rule r" });
  });
  it("matches a GRPCRoute method without service on the whole `:path`, query included", async () => {
    const d = decider(
      `${GATEWAY}${route("health", OLD, "{method: {method: Check}}", "", "GRPCRoute")}${apiKeyPolicy("health", "GRPCRoute", "health")}`,
    );
    expect(await d({ method: "POST", path: "/grpc.health.v1.Health/Check" })).toMatchObject({
      status: 401,
      route: "GRPCRoute apps/health rule 0",
    });
    expect(await d({ method: "POST", path: "/grpc.health.v1.Health/Check?x=1" })).toMatchObject({ status: 403, code: "route_not_found" });
  });
});

/**
 * The property: for random route sets (ties on creation time and names included) and requests,
 * check() decides on the rule an oracle of Envoy Gateway's order picks: EG's IR routes built from
 * the manifests as route.go does, ordered by resource.Sort then sort.go's Less, the first one
 * Envoy's route match accepts (test/conformance/route-order/eg-order.ts; it never reads the index).
 */
describe("route choice against an oracle of Envoy Gateway's order", () => {
  const TIMES = ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"];
  const stringMatch = (names: readonly string[], values: readonly string[]) =>
    fc.record({ name: fc.constantFrom(...names), type: fc.constantFrom("Exact", "RegularExpression"), value: fc.constantFrom(...values) });
  const httpMatch = fc.record(
    {
      path: fc.constantFrom(
        { type: "Exact", value: "/a" },
        { type: "Exact", value: "/a/b" },
        { type: "PathPrefix", value: "/" },
        { type: "PathPrefix", value: "/a" },
        { type: "PathPrefix", value: "/a/" },
        { type: "RegularExpression", value: "/a.*" },
        { type: "RegularExpression", value: "/[ab]+" },
      ),
      headers: fc.array(stringMatch(["x-h", "X-G"], ["1", "[12]", ".*"]), { maxLength: 2 }),
      queryParams: fc.array(stringMatch(["q"], ["1", "2", "[12]", ".*"]), { maxLength: 2 }),
      method: fc.constantFrom(undefined, "GET", "POST"),
    },
    { requiredKeys: ["path"] },
  );
  const grpcMatch = fc.record(
    {
      method: fc.constantFrom(
        { type: "Exact", service: "svc.S", method: "Get" },
        { type: "Exact", service: "svc.S" },
        { type: "Exact", method: "Get" },
        { type: "RegularExpression", service: "svc\\..*" },
        { type: "RegularExpression", method: "Get.*" },
      ),
      headers: fc.array(stringMatch(["x-h"], ["1", ".*"]), { maxLength: 1 }),
    },
    { requiredKeys: [] },
  );
  const routeArb = fc
    .oneof(
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant("HTTPRoute" as const),
          rules: fc.array(fc.array(httpMatch, { maxLength: 2 }), { minLength: 1, maxLength: 2 }),
          cors: fc.boolean(),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant("GRPCRoute" as const),
          rules: fc.array(fc.array(grpcMatch, { maxLength: 2 }), { minLength: 1, maxLength: 2 }),
          cors: fc.constant(false),
        }),
      },
    )
    .chain((r) =>
      fc.record({ namespace: fc.constantFrom("a", "a-b", "b"), created: fc.constantFrom(...TIMES) }).map((m) => ({ ...r, ...m })),
    );
  const worldArb = fc.array(routeArb, { minLength: 1, maxLength: 6 });
  const requestArb = fc.record({
    method: fc.constantFrom("GET", "POST", "OPTIONS"),
    path: fc.constantFrom("/", "/a", "/a/b", "/ab", "/a/", "/a/b/c", "/svc.S/Get", "/svc.S/getX", "/svc.T/Put"),
    query: fc.constantFrom(undefined, "q=1", "q=2", "q=1&q=2", "q=2&q=1", "r=1&q=1", "q"),
    headers: fc.record(
      {
        "x-h": fc.constantFrom("1", "2"),
        "x-g": fc.constantFrom("1", "x"),
        origin: fc.constant("https://a.example"),
        "access-control-request-method": fc.constant("PUT"),
      },
      { requiredKeys: [] },
    ),
  });

  type World = Parameters<Parameters<typeof worldArb.map>[0]>[0];
  const manifestsOf = (routes: World) =>
    [
      GATEWAY,
      ...routes.map((r, i) =>
        stringify({
          apiVersion: "gateway.networking.k8s.io/v1",
          kind: r.kind,
          metadata: { name: `r${i}`, namespace: r.namespace, creationTimestamp: r.created },
          spec: {
            parentRefs: [{ name: "gw", namespace: "apps" }],
            hostnames: ["api.example.com"],
            rules: r.rules.map((matches) => ({ matches, ...(r.cors ? { filters: CORS_FILTERS } : {}) })),
          },
        }),
      ),
    ].join("---\n");
  const CORS_FILTERS = [{ type: "CORS", cors: { allowOrigins: ["https://a.example"] } }];
  const GATEWAY_ALL = GATEWAY.replace(
    "listeners: [{name: http, protocol: HTTP, port: 80}]",
    "listeners: [{name: http, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: All}}}]",
  );

  /** The oracle: the rule label of the first IR route, in EG's order, that Envoy matches. */
  function oracle(routes: World, request: EnvoyRequest): string {
    const ir: (IrRoute & { label: string })[] = [];
    for (const kind of ["HTTPRoute", "GRPCRoute"] as const) {
      const ofKind = routes
        .map((r, i) => ({ ...r, name: `r${i}` }))
        .filter((r) => r.kind === kind)
        .sort((a, b) => compareResources({ ...a, creationTimestamp: a.created }, { ...b, creationTimestamp: b.created }));
      for (const r of ofKind) {
        r.rules.forEach((matches, rule) => {
          const label = `${kind === "GRPCRoute" ? "GRPCRoute " : ""}${r.namespace}/${r.name} rule ${rule}`;
          if (matches.length === 0) ir.push({ name: label, label });
          const translated =
            kind === "HTTPRoute"
              ? translateHTTPRouteMatches(label, matches, r.cors ? CORS_FILTERS : [])
              : matches.map((m, j) => translateGRPCRouteMatch(`${label} ${j}`, m));
          for (const t of translated) ir.push({ ...t, label });
        });
      }
    }
    return sortEG(ir).find((r) => envoyMatches(r, request))?.label ?? "(no route)";
  }

  it("check() decides on the rule Envoy Gateway's order gives the request", async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, fc.array(requestArb, { minLength: 1, maxLength: 5 }), async (routes, requests) => {
        const d = decider(manifestsOf(routes).replace(GATEWAY, GATEWAY_ALL));
        for (const r of requests) {
          const decision = await d({ method: r.method, path: r.query === undefined ? r.path : `${r.path}?${r.query}`, headers: r.headers });
          const expected = oracle(routes, { method: r.method, path: r.path, query: r.query, headers: r.headers });
          expect(decision.code === "route_not_found" ? "(no route)" : decision.route).toBe(expected);
        }
      }),
      { seed: 20_261_130, numRuns: 300 },
    );
  });
});
