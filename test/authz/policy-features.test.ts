/** check() tables for basicAuth, authorization rules (claims, scopes, CIDRs, headers, CEL), CORS and API-key client metadata. */
import { beforeAll, describe, expect, it } from "vitest";
import { clientAddressDetection } from "../../controller/authz/client-address.ts";
import { jwksOf, mint, signingKey, type SigningKey } from "../support/tokens.ts";
import { decider, type Decider } from "../support/world.ts";
import { gatewayWithRoute } from "../support/manifests.ts";

const ISSUER = "https://idp.example.com";
let idp: SigningKey;
let d: Decider;

const world = (jwks: string) => `
${gatewayWithRoute("api.example.com", { basic: "/basic", roles: "/roles", keys: "/keys", cors: "/cors" })}---
apiVersion: v1
kind: Secret
metadata: {name: users, namespace: apps}
stringData:
  .htpasswd: |
    alice:{SHA}4yvU2nDIjg+qQ04AgGsx1Egh63I=
    bob:$2y$04$QqyQH4rSce7d0jwFohlq1ebJ7xi0GCP23caez2vLLY/Maahl4ocRW
---
apiVersion: v1
kind: Secret
metadata:
  name: admin-keys
  namespace: apps
  labels: {portcullis.io/role: admin}
  annotations: {portcullis.io/header.x-client-tier: gold}
stringData: {ops: ops-key}
---
apiVersion: v1
kind: Secret
metadata: {name: user-keys, namespace: apps, labels: {portcullis.io/role: user}}
stringData: {dev: dev-key}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: basic, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api, sectionName: basic}]
  basicAuth: {users: {name: users}, forwardUsernameHeader: x-username}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: roles, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api, sectionName: roles}]
  jwt:
    providers: [{name: idp, issuer: ${ISSUER}, localJWKS: {inline: '${jwks}'}, claimToHeaders: [{claim: sub, header: x-user-id}]}]
  authorization:
    rules:
      - name: block-debug
        action: Deny
        principal: {headers: [{name: X-Debug, values: ["1"]}]}
      - name: admins
        action: Allow
        operation: {path: {type: PathPrefix, value: /roles/admin}}
        principal: {jwt: {provider: idp, claims: [{name: roles, valueType: StringArray, values: [admin]}]}}
      - name: readers
        action: Allow
        operation: {methods: [GET], path: {type: PathPrefix, value: /roles/admin, invert: true}}
        principal: {jwt: {provider: idp, scopes: [read]}}
      - name: office
        action: Allow
        principal: {clientCIDRs: ["10.1.0.0/16", "2001:db8::/32"]}
      - name: cel-bad-field
        action: Deny
        principal: {cel: 'jwt.claims.nope == "x"'}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: keys, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api, sectionName: keys}]
  apiKeyAuth: {credentialRefs: [{name: admin-keys}, {name: user-keys}], extractFrom: [{headers: [x-api-key]}], forwardClientIDHeader: x-client-id}
  authorization:
    rules:
      - name: admins-write
        action: Allow
        principal: {cel: 'apiKey.metadata["portcullis.io/role"] == "admin"'}
      - name: users-read
        action: Allow
        operation: {methods: [GET]}
        principal: {cel: 'apiKey.client == "dev" && request.headers["x-purpose"] == "read"'}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: cors, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api, sectionName: cors}]
  apiKeyAuth: {credentialRefs: [{name: user-keys}], extractFrom: [{headers: [x-api-key]}]}
  cors:
    allowOrigins: ["https://app.example.com", "https://*.preview.example.com"]
    allowMethods: [GET, POST]
    allowHeaders: [x-api-key, content-type]
    exposeHeaders: [x-request-id]
    maxAge: 10m
    allowCredentials: true
`;

beforeAll(async () => {
  idp = await signingKey("idp-1", "ES256");
  d = decider(world(jwksOf(idp)));
});
const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}` });
const bearer = async (claims: Record<string, unknown>) => ({
  authorization: `Bearer ${await mint(idp, { iss: ISSUER, sub: "u", ...claims })}`,
});

describe("basicAuth", () => {
  it("401 with a Basic challenge when credentials are missing or another scheme is used", async () => {
    for (const headers of [{}, { authorization: "Bearer x" }]) {
      const r = await d({ path: "/basic", headers });
      expect([r.status, r.code, r.responseHeaders["www-authenticate"]]).toEqual([
        401,
        "basic_missing",
        'Basic realm="http://api.example.com/basic"',
      ]);
    }
  });
  it("accepts {SHA} and bcrypt ($2y$) users and forwards the username", async () => {
    const a = await d({ path: "/basic", headers: { ...basic("alice", "alice-pass"), "x-username": "root" } });
    expect([a.status, a.principal, a.upstreamHeaders["x-username"]]).toEqual([200, "basic alice", "alice"]);
    expect((await d({ path: "/basic", headers: basic("bob", "bob-pass") })).status).toBe(200);
  });
  it.each([
    ["a wrong password", basic("alice", "nope")],
    ["a wrong bcrypt password", basic("bob", "nope")],
    ["an unknown user", basic("mallory", "alice-pass")],
    ["no colon", { authorization: `Basic ${Buffer.from("alice").toString("base64")}` }],
    ["garbage base64", { authorization: "Basic %%%" }],
  ])("401 basic_invalid for %s", async (_name, headers) => {
    expect((await d({ path: "/basic", headers })).code).toBe("basic_invalid");
  });
  it("remembers a bcrypt password that verified, not one that failed", async () => {
    const fresh = decider(world(jwksOf(idp)));
    const pool = fresh.ctx.passwords.pool;
    expect((await fresh({ path: "/basic", headers: basic("bob", "nope") })).status).toBe(401);
    expect((await fresh({ path: "/basic", headers: basic("bob", "nope") })).status).toBe(401);
    expect((await fresh({ path: "/basic", headers: basic("bob", "bob-pass") })).status).toBe(200);
    expect(pool.completed).toBe(3);
    // A remembered password answers before bcrypt runs: 20 repeats cost no bcrypt round at all.
    for (let i = 0; i < 20; i++) expect((await fresh({ path: "/basic", headers: basic("bob", "bob-pass") })).status).toBe(200);
    expect(pool.completed).toBe(3);
  });
});

describe("authorization (roles from claims)", () => {
  it("allows the admin route only to tokens whose roles contain admin", async () => {
    expect((await d({ path: "/roles/admin/users", headers: await bearer({ roles: ["user", "admin"] }) })).status).toBe(200);
    const r = await d({ path: "/roles/admin/users", headers: await bearer({ roles: ["user"], scope: "read" }) });
    // No Allow rule matches; the last rule, a Deny whose CEL reads a missing claim, catches it.
    expect([r.status, r.code, r.message]).toEqual([403, "authz_denied", "denied by authorization rule cel-bad-field"]);
  });
  it("StringArray claims must be arrays: a string claim does not match", async () => {
    expect((await d({ path: "/roles/admin", headers: await bearer({ roles: "admin" }) })).status).toBe(403);
  });
  it("scopes from a space-delimited scope claim or an scp list, methods and inverted paths", async () => {
    expect((await d({ path: "/roles/reports", headers: await bearer({ scope: "read write" }) })).status).toBe(200);
    expect((await d({ path: "/roles/reports", headers: await bearer({ scp: ["read"] }) })).status).toBe(200);
    expect((await d({ path: "/roles/reports", method: "POST", headers: await bearer({ scope: "read" }) })).status).toBe(403);
    expect((await d({ path: "/roles/reports", headers: await bearer({ scope: "write" }) })).status).toBe(403);
  });
  it("the first matching rule wins: a Deny before an Allow", async () => {
    const r = await d({ path: "/roles/admin", headers: { ...(await bearer({ roles: ["admin"] })), "x-debug": "1" } });
    expect([r.status, r.message]).toEqual([403, "denied by authorization rule block-debug"]);
  });
  it("clientCIDRs read X-Forwarded-For from the right, after the trusted hops", async () => {
    const headers = await bearer({});
    expect((await d({ path: "/roles/x", headers: { ...headers, "x-forwarded-for": "203.0.113.9, 10.1.2.3" } })).status).toBe(200);
    expect((await d({ path: "/roles/x", headers: { ...headers, "x-forwarded-for": "10.1.2.3, 203.0.113.9" } })).status).toBe(403);
    const behindLb = decider(world(jwksOf(idp)), { clientAddress: clientAddressDetection({ trustedHops: 1, trustedCidrs: [] }) });
    expect((await behindLb({ path: "/roles/x", headers: { ...headers, "x-forwarded-for": "10.1.2.3, 198.51.100.7" } })).status).toBe(200);
    expect((await d({ path: "/roles/x", headers, clientAddress: "::ffff:10.1.9.9" })).status).toBe(200);
    expect((await d({ path: "/roles/x", headers, clientAddress: "2001:db8::1" })).status).toBe(200);
  });
  it("a CEL expression that cannot be evaluated matches a Deny rule: it never helps a request through", async () => {
    // cel-bad-field reads a claim the token lacks: as a Deny rule it matches, even for an office address.
    const r = await d({ path: "/roles/x", headers: await bearer({}), clientAddress: "192.0.2.1" });
    expect(r.message).toBe("denied by authorization rule cel-bad-field");
  });
});

describe("API-key client metadata", () => {
  it("Secret labels reach CEL and annotations forward headers", async () => {
    const ops = await d({ path: "/keys", method: "DELETE", headers: { "x-api-key": "ops-key", "x-client-tier": "platinum" } });
    expect([ops.status, ops.upstreamHeaders]).toEqual([200, { "x-client-id": "ops", "x-client-tier": "gold" }]);
    expect((await d({ path: "/keys", headers: { "x-api-key": "dev-key", "x-purpose": "read" } })).status).toBe(200);
    const dev = await d({ path: "/keys", headers: { "x-api-key": "dev-key", "x-client-tier": "gold" } });
    expect([dev.status, dev.code]).toEqual([403, "authz_denied"]);
  });
  it("a header a client's Secret forwards is stripped for other clients", async () => {
    const r = await d({ path: "/keys", headers: { "x-api-key": "dev-key", "x-purpose": "read", "x-client-tier": "gold" } });
    expect(r.removeHeaders).toContain("x-client-tier");
  });
});

describe("cors", () => {
  const preflight = (origin: string) => ({
    method: "OPTIONS",
    path: "/cors/items",
    headers: { origin, "access-control-request-method": "POST" },
  });
  it("answers a preflight from an allowed origin with 204 and the CORS headers, without credentials", async () => {
    const r = await d(preflight("https://app.example.com"));
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
    expect((await d(preflight("https://pr-42.preview.example.com"))).code).toBe("cors_preflight");
    for (const origin of ["https://preview.example.com", "https://evil.example.com"]) {
      const r = await d(preflight(origin));
      expect([r.status, r.code, r.responseHeaders["access-control-allow-origin"]]).toEqual([204, "cors_origin", undefined]);
    }
  });
  it("an actual request still needs its credential, and gets the response headers when allowed", async () => {
    expect((await d({ path: "/cors/items", headers: { origin: "https://app.example.com" } })).code).toBe("apikey_missing");
    const r = await d({ path: "/cors/items", headers: { origin: "https://app.example.com", "x-api-key": "dev-key" } });
    expect(r.responseHeaders).toEqual({
      "access-control-allow-origin": "https://app.example.com",
      "access-control-allow-credentials": "true",
      "access-control-expose-headers": "x-request-id",
      vary: "Origin",
    });
    expect(
      (await d({ path: "/cors/items", headers: { origin: "https://evil.example.com", "x-api-key": "dev-key" } })).responseHeaders,
    ).toEqual({});
  });
  it("an OPTIONS request without CORS headers is not a preflight", async () => {
    expect((await d({ method: "OPTIONS", path: "/cors/items" })).code).toBe("apikey_missing");
  });
});

describe("route named by the proxy", () => {
  it("restricts matching to that HTTPRoute", async () => {
    expect((await d({ path: "/basic", route: "apps/api", headers: basic("alice", "alice-pass") })).status).toBe(200);
    expect((await d({ path: "/basic", route: "apps/other" })).code).toBe("route_not_found");
  });
});
