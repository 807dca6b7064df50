/**
 * CORS answers as Envoy's cors filter gives them for Envoy Gateway v1.9.0's own manifests and
 * requests (test/e2e/testdata/cors-security-policy.yaml, test/e2e/tests/cors.go
 * CORSFromSecurityPolicy), plus the behaviour of Envoy's filter those tests do not reach: actual
 * requests, credentials, non-matching preflights, case-sensitive origins. Envoy answers a preflight
 * 200; through ext_authz Portcullis answers 204 (a 200 would be an allow).
 */
import { describe, expect, it } from "vitest";
import { ALICE_KEYS, policiesOnRules } from "../../support/manifests.ts";
import { decider } from "../../support/world.ts";

const d = decider(
  policiesOnRules(
    "api.example.com",
    {
      "cors-exact": {
        path: "/cors-exact",
        features: `
cors:
  allowOrigins: ["https://www.foo.com", "https://www.bar.com", "https://*.foobar.com"]
  allowMethods: [GET, POST, PUT, PATCH, DELETE, OPTIONS]
  allowHeaders: [x-header-1, x-header-2]
  exposeHeaders: [x-header-3, x-header-4]
`,
      },
      "cors-wildcard": {
        path: "/cors-wildcard",
        features: 'cors: {allowOrigins: ["*"], allowMethods: ["*"], allowHeaders: ["*"], exposeHeaders: ["*"]}',
      },
      creds: {
        path: "/creds",
        features: 'cors: {allowOrigins: ["https://app.example.com"], allowMethods: [GET], maxAge: 90s, allowCredentials: true}',
      },
      "cors-keys": {
        path: "/cors-keys",
        features: `
apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [x-api-key]}]}
cors:
  allowOrigins: ["https://app.example.com", "https://*.preview.example.com"]
  allowMethods: [GET, POST]
  allowHeaders: [x-api-key, content-type]
  exposeHeaders: [x-request-id]
  maxAge: 10m
  allowCredentials: true
`,
      },
    },
    ALICE_KEYS,
  ),
);

const preflight = (path: string, origin: string) => ({
  method: "OPTIONS",
  path,
  headers: { origin, "access-control-request-method": "GET", "access-control-request-headers": "x-header-1, x-header-2" },
});

describe("Envoy Gateway v1.9.0 e2e CORSFromSecurityPolicy", () => {
  it("should enable cors with Allow Origin Exact", async () => {
    const r = await d(preflight("/cors-exact", "https://www.foo.com"));
    expect([r.status, r.code]).toEqual([204, "cors_preflight"]);
    expect(r.responseHeaders).toEqual({
      "access-control-allow-origin": "https://www.foo.com",
      "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
      "access-control-allow-headers": "x-header-1, x-header-2",
      "access-control-expose-headers": "x-header-3, x-header-4",
      vary: "Origin",
    });
  });
  it("should enable cors with Allow Origin Regex", async () => {
    const r = await d(preflight("/cors-exact", "https://anydomain.foobar.com"));
    expect([r.status, r.responseHeaders["access-control-allow-origin"], r.responseHeaders["access-control-expose-headers"]]).toEqual([
      204,
      "https://anydomain.foobar.com",
      "x-header-3, x-header-4",
    ]);
  });
  it("should not contain cors headers when Origin not registered", async () => {
    const r = await d(preflight("/cors-exact", "https://unknown.foo.com"));
    expect([r.status, r.code]).toEqual([204, "cors_origin"]);
    expect(r.responseHeaders).not.toHaveProperty("access-control-allow-origin");
  });
  it("should enable cors with wildcard matching: the origin, method and headers asked for are echoed", async () => {
    const r = await d(preflight("/cors-wildcard", "https://foo.bar.com"));
    expect(r.responseHeaders).toEqual({
      "access-control-allow-origin": "https://foo.bar.com",
      "access-control-allow-methods": "GET",
      "access-control-allow-headers": "x-header-1, x-header-2",
      "access-control-expose-headers": "*",
      vary: "Origin",
    });
  });
});

describe("Envoy's cors filter beyond the e2e requests", () => {
  it("an actual request from an allowed origin gets its origin echoed, never *", async () => {
    const r = await d({ path: "/cors-wildcard/x", headers: { origin: "https://shop.example.net" } });
    expect([r.status, r.responseHeaders]).toEqual([
      200,
      { "access-control-allow-origin": "https://shop.example.net", "access-control-expose-headers": "*", vary: "Origin" },
    ]);
  });
  it("an actual request from another origin, or with an empty Origin, gets no CORS headers", async () => {
    expect((await d({ path: "/cors-exact/x", headers: { origin: "https://evil.example.com" } })).responseHeaders).toEqual({});
    expect((await d({ path: "/cors-wildcard/x", headers: { origin: "" } })).responseHeaders).toEqual({});
  });
  it("credentials: allowed on the preflight and on actual requests of the allowed origin", async () => {
    const pre = await d(preflight("/creds", "https://app.example.com"));
    expect(pre.responseHeaders).toEqual({
      "access-control-allow-origin": "https://app.example.com",
      "access-control-allow-credentials": "true",
      "access-control-allow-methods": "GET",
      "access-control-max-age": "90",
      vary: "Origin",
    });
    const actual = await d({ path: "/creds", headers: { origin: "https://app.example.com" } });
    expect(actual.responseHeaders).toEqual({
      "access-control-allow-origin": "https://app.example.com",
      "access-control-allow-credentials": "true",
      vary: "Origin",
    });
  });
  it("origins are compared case-sensitively, as Envoy's exact matcher does", async () => {
    expect((await d(preflight("/creds", "https://APP.example.com"))).code).toBe("cors_origin");
    expect((await d(preflight("/cors-exact", "https://x.FOOBAR.com"))).code).toBe("cors_origin");
  });
  it("the wildcard stands for any text, as Envoy Gateway's pattern does, but the rest is literal", async () => {
    expect((await d(preflight("/cors-exact", "https://a.b.foobar.com"))).code).toBe("cors_preflight");
    expect((await d(preflight("/cors-exact", "https://foobar.com"))).code).toBe("cors_origin");
    expect((await d(preflight("/cors-exact", "https://xfoobarxcom"))).code).toBe("cors_origin");
  });
  it("an OPTIONS request with an empty Access-Control-Request-Method is not a preflight: it is decided like any request", async () => {
    const r = await d({
      method: "OPTIONS",
      path: "/cors-exact",
      headers: { origin: "https://www.foo.com", "access-control-request-method": "" },
    });
    expect([r.status, r.code, r.responseHeaders["access-control-allow-origin"]]).toEqual([200, "allowed", "https://www.foo.com"]);
  });
});

describe("cors before an identity method (apiKeyAuth)", () => {
  const keyPreflight = (origin: string) => ({
    method: "OPTIONS",
    path: "/cors-keys/items",
    headers: { origin, "access-control-request-method": "POST" },
  });
  it("answers a preflight from an allowed origin with 204 and the CORS headers, without credentials", async () => {
    const r = await d(keyPreflight("https://app.example.com"));
    expect([r.status, r.code]).toEqual([204, "cors_preflight"]);
    expect(r.responseHeaders).toEqual({
      "access-control-allow-origin": "https://app.example.com",
      "access-control-allow-credentials": "true",
      "access-control-allow-methods": "GET, POST",
      "access-control-allow-headers": "x-api-key, content-type",
      "access-control-max-age": "600",
      "access-control-expose-headers": "x-request-id",
      vary: "Origin",
    });
  });
  it("wildcard origins match subdomains only; another origin's preflight is answered without Access-Control-Allow-Origin", async () => {
    expect((await d(keyPreflight("https://pr-42.preview.example.com"))).code).toBe("cors_preflight");
    for (const origin of ["https://preview.example.com", "https://evil.example.com"]) {
      const r = await d(keyPreflight(origin));
      expect([r.status, r.code, r.responseHeaders["access-control-allow-origin"]]).toEqual([204, "cors_origin", undefined]);
    }
  });
  it("an actual request still needs its credential, and gets the response headers when allowed", async () => {
    expect((await d({ path: "/cors-keys/items", headers: { origin: "https://app.example.com" } })).code).toBe("apikey_missing");
    const r = await d({ path: "/cors-keys/items", headers: { origin: "https://app.example.com", "x-api-key": "alice-key" } });
    expect(r.responseHeaders).toEqual({
      "access-control-allow-origin": "https://app.example.com",
      "access-control-allow-credentials": "true",
      "access-control-expose-headers": "x-request-id",
      vary: "Origin",
    });
    expect(
      (await d({ path: "/cors-keys/items", headers: { origin: "https://evil.example.com", "x-api-key": "alice-key" } })).responseHeaders,
    ).toEqual({});
  });
  it("an OPTIONS request without CORS headers is not a preflight", async () => {
    expect((await d({ method: "OPTIONS", path: "/cors-keys/items" })).code).toBe("apikey_missing");
  });
});

describe("a preflight read otherwise by the upstream (a suffix or letter-case reading)", () => {
  // Found by the route-choice property of test/compile/routes.test.ts once the suffix readings came:
  // /report/ also reads as /report, whose rule has CORS, while Envoy took the open rule, which has none.
  const world = decider(
    policiesOnRules("api.example.com", {
      open: { path: "/" },
      report: {
        path: "{path: {type: Exact, value: /report}}",
        features: 'cors: {allowOrigins: ["https://app.example.com"], allowMethods: [GET]}',
      },
    }),
  );
  const reportPreflight = (path: string) => ({
    method: "OPTIONS",
    path,
    headers: { origin: "https://app.example.com", "access-control-request-method": "GET" },
  });
  it("is answered only by the cors of the rule the proxy took: on the open rule it goes on to the upstream", async () => {
    const r = await world(reportPreflight("/report/"));
    expect([r.allowed, r.code, r.route]).toEqual([true, "allowed", "apps/api rule open"]);
  });
  it("on the rule with cors itself, it is answered", async () => {
    expect((await world(reportPreflight("/report"))).code).toBe("cors_preflight");
  });
});
