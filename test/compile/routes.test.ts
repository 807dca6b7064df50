/**
 * Route matches and Envoy Gateway's route order (controller/compile/routes.ts): how HTTPRoute and
 * GRPCRoute matches compile, how entries rank, and the situations of issue 11 where Portcullis
 * used to decide on another route than Envoy.
 */
import { describe, expect, it } from "vitest";
import { compareAge } from "../../controller/api/meta.ts";
import { compileGrpcMatch, createMatchCompiler } from "../../controller/compile/routes.ts";
import { jwksOf, mint, signingKey } from "../support/tokens.ts";
import { GATEWAY } from "../support/manifests.ts";
import { decider } from "../support/world.ts";

const value = (r: ReturnType<ReturnType<typeof createMatchCompiler>>) => {
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

describe("createMatchCompiler", () => {
  it("shares one object per distinct plain match and keeps the others apart", () => {
    const compile = createMatchCompiler();
    const prefix = value(compile({ path: { type: "PathPrefix", value: "/v1/" } }));
    expect(value(compile({ path: { type: "PathPrefix", value: "/v1/" } }))).toBe(prefix);
    expect(prefix).toEqual({ path: { type: "PathPrefix", value: "/v1" }, headers: [], queryParams: [] });
    expect(value(compile({ path: { type: "Exact", value: "/v1/" } }))).not.toBe(prefix);
    expect(value(compile({ path: { type: "PathPrefix", value: "/v1/" }, method: "GET" }))).not.toBe(prefix);
    const withHeader: Parameters<typeof compile>[0] = { path: { type: "PathPrefix", value: "/v1/" }, headers: [{ type: "Exact", name: "X-Tier", value: "gold" }] };
    expect(value(compile(withHeader))).not.toBe(value(compile(withHeader)));
    expect(value(compile(withHeader)).headers).toEqual([{ type: "Exact", name: "x-tier", value: "gold" }]);
    expect(createMatchCompiler()({ path: { type: "PathPrefix", value: "/v1/" } })).not.toBe(compile({ path: { type: "PathPrefix", value: "/v1/" } }));
  });
  it("reports a bad match every time it is asked", () => {
    const compile = createMatchCompiler();
    for (let i = 0; i < 2; i++) expect(compile({ path: { type: "PathPrefix", value: "v1" } })).toEqual({ ok: false, error: 'path "v1" does not start with /' });
  });
  it("turns `method` into the exact header match `:method`, after the other headers, as Envoy Gateway does", () => {
    const r = createMatchCompiler()({ path: { type: "PathPrefix", value: "/" }, method: "GET", headers: [{ type: "RegularExpression", name: "X-A", value: ".*" }] });
    expect(r.ok && r.value.headers.map((h) => `${h.name} ${h.type} ${h.value}`)).toEqual(["x-a RegularExpression .*", ":method Exact GET"]);
  });
  it("counts a path as written: the prefix `/` counts 0, a trailing slash counts", () => {
    const count = (type: "Exact" | "PathPrefix" | "RegularExpression", v: string) => {
      const r = createMatchCompiler()({ path: { type, value: v } });
      return r.ok ? r.pathCount : -1;
    };
    expect([count("PathPrefix", "/"), count("PathPrefix", "/foo"), count("PathPrefix", "/foo/"), count("Exact", "/foo"), count("RegularExpression", "/f.*")]).toEqual([0, 4, 5, 4, 4]);
  });
});

describe("compileGrpcMatch", () => {
  const describeMatch = (m: Parameters<typeof compileGrpcMatch>[0]) => {
    const r = compileGrpcMatch(m);
    if (!r.ok) return r.error;
    const { path, headers } = r.value;
    return [`${path.type} ${path.value}`, ...headers.map((h) => `${h.name} ${h.type} ${h.value}`), `count ${r.pathCount}`].join("; ");
  };
  it("makes service/method matches paths as Envoy Gateway does", () => {
    expect(describeMatch({ method: { type: "Exact", service: "a.B", method: "M" } })).toBe("Exact /a.B/M; count 6");
    expect(describeMatch({ method: { type: "Exact", service: "a.B" } })).toBe("PathPrefix /a.B; count 4");
    expect(describeMatch({ method: { type: "Exact", method: "M" } })).toBe("PathPrefix ; :path Suffix /M; count 0");
    expect(describeMatch({ method: { type: "RegularExpression", service: "a\\..*", method: "M" } })).toBe("RegularExpression /a\\..*/M; count 8");
    expect(describeMatch({ headers: [{ type: "Exact", name: "X-T", value: "1" }] })).toBe("PathPrefix ; x-t Exact 1; count 0");
  });
  it("fills a missing part of a RegularExpression match with Envoy Gateway's name patterns, ranked by their RE2 length", () => {
    const service = compileGrpcMatch({ method: { type: "RegularExpression", method: "Get.*" } });
    expect(service.ok && service.value.path.value).toBe("/(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*/Get.*");
    expect(service.ok && service.pathCount).toBe(51);
    const regex = service.ok && service.value.path.type === "RegularExpression" ? service.value.path.regex : undefined;
    // EG's service pattern starts with RE2's `(?i)`, which makes the method pattern after it case-insensitive too.
    expect(["/orders.v1.OrderService/GetOrder", "/Orders/GetX", "/.a/Get", "/a/getorder", "/a/GETORDER"].map((p) => regex?.test(p))).toEqual([true, true, true, true, true]);
    expect(["/1a/GetOrder", "/a/b/GetOrder", "/a/Put"].map((p) => regex?.test(p))).toEqual([false, false, false]);
    const method = compileGrpcMatch({ method: { type: "RegularExpression", service: "svc" } });
    const byMethod = method.ok && method.value.path.type === "RegularExpression" ? method.value.path.regex : undefined;
    expect(["/svc/Get_1", "/svc/1Get", "/svc/"].map((p) => byMethod?.test(p))).toEqual([true, false, false]);
  });
  it("refuses a service or method pattern that does not compile", () => {
    expect(compileGrpcMatch({ method: { type: "RegularExpression", service: "(x" } })).toEqual({ ok: false, error: 'service regular expression "(x" does not compile' });
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

const route = (name: string, created: string, match: string, rule = "r") => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: apps, creationTimestamp: "${created}"}
spec:
  parentRefs: [{name: gw}]
  hostnames: [api.example.com]
  rules: [{name: ${rule}, matches: [${match}]}]
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
    const d = decider(`${GATEWAY}${route("any-org", OLD, "{path: {type: PathPrefix, value: /}, headers: [{name: x-org-id, type: RegularExpression, value: '.*'}]}")}${route(
      "acme", NEW, "{path: {type: PathPrefix, value: /}, headers: [{name: x-org-id, value: acme}]}")}${apiKeyPolicy("acme", "HTTPRoute", "acme")}`);
    expect(await d({ path: "/", headers: { "x-org-id": "acme" } })).toMatchObject({ status: 401, code: "apikey_missing", route: "apps/acme rule r" });
    expect(await d({ path: "/", headers: { "x-org-id": "other" } })).toMatchObject({ status: 200, route: "apps/any-org rule r" });
  });
  it("situation 1, query parameters: an Exact query match ranks above a RegularExpression one", async () => {
    const d = decider(`${GATEWAY}${route("any-debug", OLD, "{path: {type: PathPrefix, value: /}, queryParams: [{name: debug, type: RegularExpression, value: '.*'}]}")}${route(
      "debug-on", NEW, "{path: {type: PathPrefix, value: /}, queryParams: [{name: debug, value: 'on'}]}")}${apiKeyPolicy("debug", "HTTPRoute", "debug-on")}`);
    expect(await d({ path: "/?debug=on" })).toMatchObject({ status: 401, route: "apps/debug-on rule r" });
    expect(await d({ path: "/?debug=off" })).toMatchObject({ status: 200, route: "apps/any-debug rule r" });
  });
  it("situation 2: `method` is one exact header match, so it ties with an exact header and the older route wins", async () => {
    const d = decider(`${GATEWAY}${route("blue", OLD, "{path: {type: PathPrefix, value: /}, headers: [{name: x-tenant, value: blue}]}")}${route(
      "reads", NEW, "{path: {type: PathPrefix, value: /}, method: GET}")}${apiKeyPolicy("blue", "HTTPRoute", "blue")}`);
    expect(await d({ path: "/", headers: { "x-tenant": "blue" } })).toMatchObject({ status: 401, route: "apps/blue rule r" });
    expect(await d({ path: "/" })).toMatchObject({ status: 200, route: "apps/reads rule r" });
    // The other way round the open route is older and takes the tie, as in Envoy.
    const swapped = decider(`${GATEWAY}${route("blue", NEW, "{path: {type: PathPrefix, value: /}, headers: [{name: x-tenant, value: blue}]}")}${route(
      "reads", OLD, "{path: {type: PathPrefix, value: /}, method: GET}")}${apiKeyPolicy("blue", "HTTPRoute", "blue")}`);
    expect(await swapped({ path: "/", headers: { "x-tenant": "blue" } })).toMatchObject({ status: 200, route: "apps/reads rule r" });
  });
  it("situation 3: a jwt policy on a GRPCRoute governs its calls, though an open HTTPRoute `PathPrefix /` serves the host", async () => {
    const key = await signingKey("k1");
    const d = decider(`${GATEWAY}${route("web", OLD, "{path: {type: PathPrefix, value: /}}")}---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: orders, namespace: apps, creationTimestamp: "${NEW}"}
spec:
  parentRefs: [{name: gw}]
  hostnames: [api.example.com]
  rules: [{matches: [{method: {service: orders.v1.OrderService}}]}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: orders-jwt, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: GRPCRoute, name: orders}]
  jwt: {providers: [{name: idp, issuer: https://idp.example.com, localJWKS: {inline: '${jwksOf(key)}'}}]}
`);
    const call = { method: "POST", path: "/orders.v1.OrderService/GetOrder", headers: { "content-type": "application/grpc" } };
    expect(await d(call)).toMatchObject({ status: 401, code: "jwt_missing", route: "GRPCRoute apps/orders rule 0", policy: "apps/orders-jwt" });
    const token = await mint(key, { iss: "https://idp.example.com", sub: "u-1" });
    expect(await d({ ...call, headers: { ...call.headers, authorization: `Bearer ${token}` } })).toMatchObject({ status: 200, route: "GRPCRoute apps/orders rule 0" });
    expect(await d({ ...call, path: "/orders.v1.OrderServiceX/GetOrder" })).toMatchObject({ status: 200, route: "apps/web rule r" });
  });
  it("ranks a PathPrefix by its length as written: `/foo/` above `/foo`", async () => {
    const d = decider(`${GATEWAY}${route("foo", OLD, "{path: {type: PathPrefix, value: /foo}}")}${route("foo-slash", NEW, "{path: {type: PathPrefix, value: /foo/}}")}${apiKeyPolicy("foo", "HTTPRoute", "foo")}`);
    expect(await d({ path: "/foo/x" })).toMatchObject({ status: 200, route: "apps/foo-slash rule r" });
    expect(await d({ path: "/foo" })).toMatchObject({ status: 200, route: "apps/foo-slash rule r" });
  });
  it("serves no match of a rule that has one it cannot translate, as Envoy Gateway drops the rule", async () => {
    const d = decider(`${GATEWAY}${route("open", NEW, "{path: {type: RegularExpression, value: '(bad'}}, {path: {type: PathPrefix, value: /admin}}")}${route(
      "all", OLD, "{path: {type: PathPrefix, value: /}}")}${apiKeyPolicy("all", "HTTPRoute", "all")}`);
    expect(await d({ path: "/admin" })).toMatchObject({ status: 401, route: "apps/all rule r" });
    expect(d.result.problems).toContain('HTTPRoute apps/open rule 0 match 0: path regular expression "(bad" does not compile; this rule is not served, as in Envoy Gateway');
  });
  it("reads query parameters as Envoy's route match does: the first value, not decoded", async () => {
    const d = decider(`${GATEWAY}${route("debug", OLD, "{path: {type: PathPrefix, value: /}, queryParams: [{name: debug, value: 'on'}]}")}${route("all", NEW, "{path: {type: PathPrefix, value: /}}")}${apiKeyPolicy("debug", "HTTPRoute", "debug")}`);
    expect(await d({ path: "/?debug=on&debug=off" })).toMatchObject({ route: "apps/debug rule r" });
    expect(await d({ path: "/?debug=off&debug=on" })).toMatchObject({ route: "apps/all rule r" });
    expect(await d({ path: "/?debug=o%6E" })).toMatchObject({ route: "apps/all rule r" });
    expect(await d({ path: "/?deb%75g=on" })).toMatchObject({ route: "apps/all rule r" });
  });
  it("matches a GRPCRoute method without service on the whole `:path`, query included", async () => {
    const d = decider(`${GATEWAY}---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: health, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [api.example.com]
  rules: [{matches: [{method: {method: Check}}]}]
${apiKeyPolicy("health", "GRPCRoute", "health")}`);
    expect(await d({ method: "POST", path: "/grpc.health.v1.Health/Check" })).toMatchObject({ status: 401, route: "GRPCRoute apps/health rule 0" });
    expect(await d({ method: "POST", path: "/grpc.health.v1.Health/Check?x=1" })).toMatchObject({ status: 403, code: "route_not_found" });
  });
});
