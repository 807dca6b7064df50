// A rule's HTTPRoute CORS filter, as Envoy Gateway v1.9.0 applies it: on a rule without a
// SecurityPolicy, and over a policy's cors on the rule (internal/xds/translator/cors.go).
import { describe, expect, it } from "vitest";
import { aliceKeyPolicy, GATEWAY } from "../support/manifests.ts";
import { decider } from "../support/world.ts";

/** GATEWAY plus HTTPRoute apps/api on api.example.com: rule `web` with the CORS filter `cors` (a YAML flow map), rule `plain` under /plain without one. */
const routeWithFilter = (cors: string) => `${GATEWAY}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [api.example.com]
  rules:
    - name: web
      matches: [{path: {type: PathPrefix, value: /}}]
      filters: [{type: CORS, cors: ${cors}}]
    - name: plain
      matches: [{path: {type: PathPrefix, value: /plain}}]
`;
const FILTER = `{allowOrigins: ["http://*.foo.com"], allowCredentials: true, allowMethods: [GET, POST], allowHeaders: [x-header-1], exposeHeaders: [x-header-3], maxAge: 600}`;
const preflight = (origin: string, path = "/") => ({
  method: "OPTIONS",
  path,
  headers: { origin, "access-control-request-method": "GET" },
});

describe("a rule's HTTPRoute CORS filter", () => {
  it("answers the rule's preflights without a SecurityPolicy, as Envoy Gateway's cors filter (the doc page's HTTPCORSFilter)", async () => {
    const d = decider(routeWithFilter(FILTER));
    expect(await d(preflight("http://www.foo.com"))).toMatchObject({
      allowed: false,
      status: 204,
      code: "cors_preflight",
      route: "apps/api rule web",
      policy: "HTTPRoute apps/api rule web (CORS filter)",
      responseHeaders: {
        "access-control-allow-origin": "http://www.foo.com",
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, POST",
        "access-control-allow-headers": "x-header-1",
        "access-control-expose-headers": "x-header-3",
        "access-control-max-age": "600",
      },
    });
    const unlisted = await d(preflight("http://www.foo.com:8080"));
    expect(unlisted).toMatchObject({ status: 204, code: "cors_origin" });
    expect(unlisted.responseHeaders["access-control-allow-origin"]).toBeUndefined();
  });

  it("adds the response headers to an allowed origin's actual request, and nothing without an Origin", async () => {
    const d = decider(routeWithFilter(FILTER));
    expect(await d({ path: "/", headers: { origin: "http://a.foo.com" } })).toMatchObject({
      allowed: true,
      responseHeaders: { "access-control-allow-origin": "http://a.foo.com", "access-control-allow-credentials": "true" },
    });
    const plain = await d({ path: "/" });
    expect(plain.allowed).toBe(true);
    expect(plain.responseHeaders).toEqual({});
  });

  it("leaves a rule without a CORS filter alone", async () => {
    const d = decider(routeWithFilter(FILTER));
    expect(await d(preflight("http://www.foo.com", "/plain"))).toMatchObject({ allowed: true, route: "apps/api rule plain" });
  });

  it("counts as no SecurityPolicy for --on-no-policy deny", async () => {
    const d = decider(routeWithFilter(FILTER), { onNoPolicy: "deny" });
    expect(await d(preflight("http://www.foo.com"))).toMatchObject({ status: 403, code: "policy_missing" });
  });

  it("sends max-age 0 when the filter sets no maxAge, as Envoy Gateway translates it", async () => {
    const d = decider(routeWithFilter(`{allowOrigins: ["https://app.example.com"]}`));
    expect((await d(preflight("https://app.example.com"))).responseHeaders["access-control-max-age"]).toBe("0");
  });

  it("replaces the policy's cors on the rule, the policy's other features still applying", async () => {
    const d = decider(
      `${routeWithFilter(`{allowOrigins: ["https://partner.example.com"]}`)}---
${aliceKeyPolicy("keys", "web", "forwardClientIDHeader: x-client-id")}  cors: {allowOrigins: ["https://app.example.com"], allowCredentials: true}
`,
    );
    // An origin only the policy lists: no Access-Control-Allow-Origin (Envoy Gateway applies the filter's cors).
    const policyOrigin = await d({ path: "/", headers: { origin: "https://app.example.com", "x-api-key": "alice-key" } });
    expect(policyOrigin).toMatchObject({ allowed: true, policy: "apps/keys", upstreamHeaders: { "x-client-id": "alice" } });
    expect(policyOrigin.responseHeaders["access-control-allow-origin"]).toBeUndefined();
    expect(await d(preflight("https://partner.example.com"))).toMatchObject({
      status: 204,
      code: "cors_preflight",
      policy: "apps/keys",
      responseHeaders: { "access-control-allow-origin": "https://partner.example.com" },
    });
    expect(await d({ path: "/", headers: { origin: "https://partner.example.com" } })).toMatchObject({
      status: 401,
      code: "apikey_missing",
    });
  });

  it("denies the rule when the filter cannot be enforced, naming it", async () => {
    const d = decider(routeWithFilter(`{allowOrigins: ["*"], allowCredentials: true}`));
    const denied = await d({ path: "/" });
    expect(denied).toMatchObject({ allowed: false, status: 403, code: "policy_invalid" });
    expect(denied.message).toContain("the HTTPRoute CORS filter of apps/api rule web: allowCredentials cannot be combined");
    expect(await d({ path: "/plain" })).toMatchObject({ allowed: true });
  });

  it("denies the rule when the filter's fields are not Gateway API's", async () => {
    const d = decider(routeWithFilter(`{allowOrigins: ["https://app.example.com"], maxAge: soon}`));
    expect((await d({ path: "/" })).message).toContain("the HTTPRoute CORS filter of apps/api rule web: maxAge:");
  });
});
