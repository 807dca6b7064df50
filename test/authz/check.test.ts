/** check() table tests: routes, memoised answers, several methods and readings (apiKeyAuth and jwt: test/features/<feature>/check.test.ts). */
import { beforeAll, describe, expect, it } from "vitest";
import { check } from "../../controller/authz/check.ts";
import type { Decision } from "../../controller/authz/decision.ts";
import { MAX_HEADER_LINES } from "../../controller/snapshot/route-index.ts";
import { jwksOf, mint, type SigningKey } from "../support/tokens.ts";
import { basicAuthAs, decider, goldenDecider, type Decider } from "../support/world.ts";
import { aliceKeyPolicy, gatewayWithRoute, securityPolicy } from "../support/manifests.ts";
import { bearer, checkWorldText, countingKeyStore, ISSUER, MANAGED, useCheckWorld } from "../support/check-world.ts";

const checkWorld = useCheckWorld();
let d: Decider;
let idp: SigningKey;
let stranger: SigningKey;
beforeAll(() => ({ d, idp, stranger } = checkWorld));
const good = checkWorld.good;

describe("route phase", () => {
  it("denies a request that matches no route with 403", async () => {
    const r = await d({ path: "/nowhere" });
    expect([r.status, r.code]).toEqual([403, "route_not_found"]);
  });
  it("denies an unknown host", async () => {
    expect((await d({ host: "evil.example.com", path: "/public" })).code).toBe("route_not_found");
  });
  it("allows unmatched requests only when configured to", async () => {
    const open = decider(checkWorldText(jwksOf(idp)), { onNoRoute: "allow" });
    expect((await open({ path: "/nowhere" })).status).toBe(200);
  });
  it("allows a route without a policy, setting nothing and stripping every header a policy may set", async () => {
    const r = await d({ path: "/public/x", headers: { "x-user-id": "spoofed" } });
    expect(r).toMatchObject({
      status: 200,
      allowed: true,
      policy: undefined,
      route: "apps/api rule open",
      upstreamHeaders: {},
      removeHeaders: MANAGED,
    });
  });
  it("--on-no-policy deny: a route without a policy is refused (403 policy_missing); routes with one are decided as before", async () => {
    const strict = decider(checkWorldText(jwksOf(idp)), { onNoPolicy: "deny" });
    expect(await strict({ path: "/public/x" })).toMatchObject({
      status: 403,
      code: "policy_missing",
      route: "apps/api rule open",
      policy: undefined,
    });
    expect(await strict({ path: "/keys", headers: { "x-api-key": "alice-key" } })).toMatchObject({ status: 200, code: "allowed" });
  });
  it("denies an invalid policy's routes with 403, never a 5xx", async () => {
    const r = await d({ path: "/broken", headers: { "x-api-key": "alice-key" } });
    expect([r.status, r.code, r.policy]).toEqual([403, "policy_invalid", "apps/broken"]);
  });
  it("normalises host case, port and trailing dot", async () => {
    expect((await d({ host: "API.Example.COM.:8443", path: "/public" })).status).toBe(200);
  });
  it("matches the normalised path, so dot segments cannot dodge a policy", async () => {
    for (const path of ["/public/../keys", "/public/%2e%2e/keys", "//keys", "/./keys"]) {
      expect((await d({ path })).code, path).toBe("apikey_missing");
    }
  });
  it("scopes to the named Gateway", async () => {
    expect((await d({ path: "/public", gateway: "apps/gw" })).status).toBe(200);
    expect((await d({ path: "/public", gateway: "apps/other" })).code).toBe("gateway_not_found");
  });
  it("restricts matching to the HTTPRoute the proxy names", async () => {
    expect((await d({ path: "/keys", route: "apps/api", headers: { "x-api-key": "alice-key" } })).status).toBe(200);
    expect((await d({ path: "/keys", route: "apps/other" })).code).toBe("route_not_found");
  });
});

/** Issue 11, situation 4: the compile golden case's world (ports 80 and 8080, alice on the Gateway, bob on listener alt). */
describe("listeners and ports", () => {
  const ports = goldenDecider("listeners-per-port");
  const on = async (port: number | undefined, user: string, host = "shop.example.com") => {
    const r = await ports({ host, path: "/orders", port, headers: basicAuthAs(user) });
    return `${r.status} ${r.policy}`;
  };
  it("decides a request on port 8080 with the policy of the 8080 listener, not the Gateway-wide one", async () => {
    expect(await on(8080, "bob")).toBe("200 apps/listener-alt");
    expect(await on(8080, "alice")).toBe("401 apps/listener-alt");
  });
  it("decides a request on port 80 with the Gateway-wide policy", async () => {
    expect(await on(80, "alice")).toBe("200 apps/gateway-wide");
    expect(await on(80, "bob")).toBe("401 apps/gateway-wide");
  });
  it("reads Envoy Gateway's container port for a privileged listener port (80 is bound as 10080)", async () => {
    expect(await on(10080, "alice")).toBe("200 apps/gateway-wide");
    expect(await on(10080, "bob")).toBe("401 apps/gateway-wide");
  });
  it("allows a request whose port is not stated only if every listener's policy allows it", async () => {
    const r = await ports({ host: "shop.example.com", path: "/orders", headers: basicAuthAs("alice") });
    expect([r.status, r.policy]).toEqual([401, "apps/listener-alt"]);
    expect(r.detail).toContain("is not known, and these rules decide differently");
    expect((await ports({ host: "shop.example.com", path: "/orders", headers: basicAuthAs("bob") })).policy).toBe("apps/gateway-wide");
  });
  it("does not take the port from Host: Envoy routes by the listener the connection arrived on", async () => {
    expect(await on(undefined, "bob", "shop.example.com:8080")).toBe("401 apps/gateway-wide");
  });
  it("leaves a host name to the listener on the same port that names it", async () => {
    expect((await ports({ host: "admin.example.com", path: "/orders", port: 80, headers: basicAuthAs("alice") })).route).toBe(
      "apps/shop rule orders",
    );
    const entries = ports.result.snapshot.routes.byGateway["apps/gw"]![0]!.vhosts.exact;
    expect([entries["admin.example.com"]![0]!.listener, entries["shop.example.com"]![0]!.listener]).toEqual(["admin", "http"]);
  });
  it("decides each HTTPS listener's table of a port, as Envoy picks one by SNI", async () => {
    const tls = goldenDecider("https-listeners");
    expect((await tls({ host: "billing.example.com", path: "/status", port: 443 })).code).toBe("basic_missing");
    expect((await tls({ host: "billing.example.com", path: "/status", port: 443, headers: basicAuthAs("alice") })).status).toBe(200);
    expect((await tls({ host: "shop.example.com", path: "/", port: 443 })).policy).toBe("apps/storefront-auth");
  });
  it("lets the route the proxy names (route metadata) settle which HTTPS listener's table it routed by", async () => {
    const tls = goldenDecider("https-listeners");
    const took = (name: string) => ({ kind: "HTTPRoute", namespace: "apps", name, sectionName: undefined });
    expect((await tls({ host: "billing.example.com", path: "/status", port: 443, proxyRoute: took("billing-status") })).status).toBe(200);
    expect((await tls({ host: "billing.example.com", path: "/status", port: 443, proxyRoute: took("storefront") })).code).toBe(
      "basic_missing",
    );
    expect((await tls({ host: "billing.example.com", path: "/status", port: 443, proxyRoute: took("elsewhere") })).code).toBe(
      "route_mismatch",
    );
  });
  it("has no route on a port no listener has", async () => {
    expect((await ports({ host: "shop.example.com", path: "/orders", port: 9999 })).code).toBe("route_not_found");
  });
});

/** Issue 11, situation 7: the compile golden case invalid-policy-targets. */
describe("invalid policies govern what they target", () => {
  const world = goldenDecider("invalid-policy-targets");
  const alice = basicAuthAs("alice");
  const on = async (host: string) => {
    const r = await world({ host, path: "/", headers: alice });
    return `${r.status} ${r.code} ${r.policy}`;
  };
  it("denies the routes an invalid policy selects with targetSelectors, in its namespace and through namespaces: All", async () => {
    expect(await on("billing.example.com")).toBe("403 policy_invalid apps/typo-selected");
    expect(await on("cart.example.com")).toBe("403 policy_invalid apps/typo-selected");
  });
  it("reads an unreadable selector wide", async () => {
    expect(await on("wide.example.com")).toBe("403 policy_invalid apps/unreadable-labels");
  });
  it("selects routes in namespaces whose labels match namespaces.selector", async () => {
    expect(await on("orders.example.com")).toBe("200 allowed apps/team-selected");
  });
});

/** Issue 11, situation 10: the compile golden case status-truthfulness. */
describe("a policy is Accepted only where it is enforced", () => {
  const world = goldenDecider("status-truthfulness");
  it("reports a route that no listener accepts as not Accepted there, and its requests find no route", async () => {
    const status = world.result.statuses.find((s) => s.name === "refunds-auth")!;
    expect(status.ancestors.map((a) => [a.ancestorRef.name, a.conditions[0]!.status, a.conditions[0]!.reason])).toEqual([
      ["gw", "False", "TargetNotFound"],
    ]);
    expect((await world({ host: "refunds.example.com", path: "/" })).code).toBe("route_not_found");
  });
});

/** Issue 11, situation 4 (ListenerSets): the compile golden case listenerset. */
describe("ListenerSets", () => {
  const world = goldenDecider("listenerset");
  const on = async (host: string, port: number, user: string) => {
    const r = await world({ host, path: "/", port, headers: basicAuthAs(user) });
    return `${r.status} ${r.code === "route_not_found" ? r.code : r.policy}`;
  };
  it("serves a ListenerSet's listeners on their ports with the set's policies, the listener's own first", async () => {
    expect(await on("cart.example.com", 8081, "bob")).toBe("200 shop/set-wide");
    expect(await on("cart.example.com", 8082, "carol")).toBe("200 shop/set-admin");
    expect(await on("cart.example.com", 8082, "bob")).toBe("401 shop/set-admin");
  });
  it("never governs a ListenerSet's listener with the Gateway listener policy of the same name", async () => {
    expect(await on("home.example.com", 9090, "alice")).toBe("200 apps/gateway-ext-admin");
    expect(await on("cart.example.com", 8081, "alice")).toBe("401 shop/set-wide");
  });
  it("attaches a Gateway parentRef to the Gateway's own listeners only", async () => {
    expect(await on("home.example.com", 8081, "alice")).toBe("403 route_not_found");
  });
  it("takes no listeners from a ListenerSet the Gateway's allowedListeners refuses", async () => {
    expect(await on("cart.example.com", 8083, "alice")).toBe("403 route_not_found");
  });
  it("refuses a route from a namespace the ListenerSet's listener does not allow", async () => {
    expect(await on("spy.example.com", 8082, "alice")).toBe("403 route_not_found");
  });
});

describe("what a snapshot's checks remember (check-memo.ts)", () => {
  const request = (path: string, headers: Record<string, string> = {}) => ({
    method: "GET",
    scheme: "http",
    host: "api.example.com",
    path,
    headers,
    gateway: undefined,
  });
  const counting = () => {
    const { counts, keys } = countingKeyStore();
    const counted = decider(checkWorldText(jwksOf(idp)), { keys });
    return {
      counts,
      decide: (path: string, headers?: Record<string, string>) => check(counted.result.snapshot, request(path, headers), counted.ctx),
    };
  };

  it("answers API-key, cached-token and open-route checks synchronously, with one decision object per identity and rule", async () => {
    const { decide } = counting();
    const token = await good();
    await decide("/jwt", bearer(token));
    for (const [path, headers] of [
      ["/keys", { "x-api-key": "alice-key" }],
      ["/jwt", bearer(token)],
      ["/public", {}],
    ] as const) {
      const first = decide(path, headers);
      expect(first).not.toBeInstanceOf(Promise);
      expect(decide(path, headers)).toBe(first);
    }
    const alice = decide("/keys", { "x-api-key": "alice-key" });
    const bob = decide("/keys", { "x-api-key": "Bearer Bearer bob-key" });
    expect([alice, bob].map((r) => ("upstreamHeaders" in r ? r.upstreamHeaders["x-user-id"] : undefined))).toEqual(["alice", "bob"]);
  });
  it("keeps one verdict per policy for a token used on routes of several policies, its signature checked once per key set", async () => {
    const { counts, decide } = counting();
    const token = await good();
    const answers: Record<string, Decision[]> = { "/jwt": [], "/optional": [] };
    for (let i = 0; i < 3; i++) {
      for (const path of ["/jwt", "/optional"]) answers[path]!.push(await decide(path, bearer(token)));
    }
    expect(Object.values(answers).flatMap((a) => a.map((d) => d.status))).toEqual([200, 200, 200, 200, 200, 200]);
    // From its second sight on, each policy answers from a remembered verdict and allow (one decision object each).
    for (const a of Object.values(answers)) expect(a[2]).toBe(a[1]);
    // Both policies name the same inline JWKS (one key set): the doorkeeper's record of the first
    // sight under it stands for the signature check on the other policy's routes too.
    expect(counts.verifications).toBe(1);
  });
  it("never answers from the cache for a payload moved under a cached token's signature", async () => {
    const { decide } = counting();
    const token = await good({ sub: "u-1" });
    expect(await decide("/jwt", bearer(token))).toMatchObject({ status: 200, principal: "jwt idp sub=u-1" });
    const [header, , signature] = token.split(".");
    const admin = Buffer.from(JSON.stringify({ iss: ISSUER, aud: "api", sub: "admin" })).toString("base64url");
    expect(await decide("/jwt", bearer(`${header}.${admin}.${signature}`))).toMatchObject({ status: 401, code: "jwt_bad_signature" });
  });
  it("waits for keys that are still being fetched, then serves the verdict from the cache", async () => {
    const { counts, keys } = countingKeyStore({ firstWaits: true });
    const slow = decider(checkWorldText(jwksOf(idp)), { keys });
    const token = await good();
    const first = check(slow.result.snapshot, request("/jwt", bearer(token)), slow.ctx);
    expect(first).toBeInstanceOf(Promise);
    expect((await first).status).toBe(200);
    const forged = check(
      slow.result.snapshot,
      request("/jwt", bearer(await mint(stranger, { iss: ISSUER, aud: "api", sub: "u-1" }))),
      slow.ctx,
    );
    expect((await forged).code).toBe("jwt_bad_signature");
    expect(check(slow.result.snapshot, request("/jwt", bearer(token)), slow.ctx)).toMatchObject({
      status: 200,
      principal: "jwt idp sub=u-1",
    });
    expect(counts.verifications).toBe(2);
  });
});

describe("several methods (AND)", () => {
  it("needs every configured method", async () => {
    expect((await d({ path: "/both", headers: { "x-api-key": "alice-key" } })).code).toBe("jwt_missing");
    expect((await d({ path: "/both", headers: bearer(await good()) })).code).toBe("apikey_missing");
    const r = await d({ path: "/both", headers: { "x-api-key": "alice-key", ...bearer(await good()) } });
    expect(r).toMatchObject({
      status: 200,
      principal: "apiKey alice, jwt idp sub=u-1",
      upstreamHeaders: { "x-client-id": "alice", "x-user-id": "u-1" },
    });
  });
});

describe("paths that components read differently (DESIGN §0)", () => {
  const llm = (jwks: string) => `
${gatewayWithRoute("api.example.com", { embeddings: "/v1/embeddings", chat: "/v1/chat/completions" })}---
${aliceKeyPolicy("embeddings", "embeddings")}---
${securityPolicy(
  "chat",
  `
  jwt: {providers: [{name: idp, issuer: ${ISSUER}, localJWKS: {inline: '${jwks}'}}]}
`,
  "chat",
)}`;
  it("issue 11 situation 8: an API key for /v1/embeddings does not open /v1/embeddings/..%2Fchat/completions", async () => {
    const at = decider(llm(jwksOf(idp)));
    const r = await at({ path: "/v1/embeddings/..%2Fchat/completions", headers: { "x-api-key": "alice-key" } });
    expect([r.status, r.code, r.route]).toEqual([401, "jwt_missing", "apps/api rule chat"]);
    expect(r.detail).toContain("also reads as GET /v1/chat/completions");
    expect(r.message).not.toContain("/v1/chat");
    expect((await at({ path: "/v1/embeddings/a%2Fb", headers: { "x-api-key": "alice-key" } })).status).toBe(200);
  });
  it("allowed when every reading allows: a token and a key together", async () => {
    const at = decider(llm(jwksOf(idp)));
    const token = await mint(idp, { iss: ISSUER, sub: "alice" });
    const r = await at({
      path: "/v1/embeddings/..%2Fchat/completions",
      headers: { "x-api-key": "alice-key", authorization: `Bearer ${token}` },
    });
    expect([r.status, r.route]).toEqual([200, "apps/api rule embeddings"]);
  });
});

/**
 * Rule admin of api.example.com (`/api` and `match`, a Gateway API match's fields) wants an API
 * key; rule open takes every other /api request.
 */
const adminOrOpen = (match: string) =>
  decider(`
${gatewayWithRoute("api.example.com", { admin: `{path: {type: PathPrefix, value: /api}, ${match}}`, open: "/api" })}---
${aliceKeyPolicy("admin", "admin")}`);
/** The route metadata of a proxy that took rule open of adminOrOpen. */
const TOOK_OPEN = { kind: "HTTPRoute", namespace: "apps", name: "api", sectionName: "open" };

describe("query matches that components read differently (DESIGN §0)", () => {
  const at = adminOrOpen("queryParams: [{name: role, value: admin}]");

  it("decides the rule the last value of a repeated name picks, and says why to the audit log only", async () => {
    const r = await at({ path: "/api?role=user&role=admin" });
    expect([r.status, r.code, r.route]).toEqual([401, "apikey_missing", "apps/api rule admin"]);
    expect(r.detail).toContain(
      "the request also reads as the last value of a name in the query split at &, which takes apps/api rule admin",
    );
    expect(r.message).not.toContain("role");
  });
  it("decides the rule the query split at ; picks", async () => {
    expect((await at({ path: "/api?role=admin;x=1" })).route).toBe("apps/api rule admin");
  });
  it("decides the rule the percent-decoded query picks (name or value)", async () => {
    expect((await at({ path: "/api?role=%61dmin" })).code).toBe("apikey_missing");
    expect((await at({ path: "/api?rol%65=admin" })).code).toBe("apikey_missing");
  });
  it("allows when every reading's rule allows", async () => {
    expect((await at({ path: "/api?role=user&role=admin", headers: { "x-api-key": "alice-key" } })).status).toBe(200);
    expect((await at({ path: "/api?role=user&role=guest" })).status).toBe(200);
  });
  it("lets the route the proxy names settle Envoy's reading only: the upstream's reading is still decided", async () => {
    expect((await at({ path: "/api?role=user", proxyRoute: TOOK_OPEN })).status).toBe(200);
    expect((await at({ path: "/api?role=user&role=admin", proxyRoute: TOOK_OPEN })).code).toBe("apikey_missing");
  });
});

describe("header matches that components read differently (DESIGN §0)", () => {
  const at = adminOrOpen("headers: [{name: x-role, value: admin}]");

  it("decides the rule the last line (or list element) of a header picks, and says why to the audit log only", async () => {
    const r = await at({ path: "/api", headers: { "x-role": ["user", "admin"] } });
    expect([r.status, r.code, r.route]).toEqual([401, "apikey_missing", "apps/api rule admin"]);
    expect(r.detail).toContain("the request also reads as the last line (or list element) of a header, which takes apps/api rule admin");
    expect(r.message).not.toContain("x-role");
  });
  it("decides the rule the first line picks", async () => {
    expect((await at({ path: "/api", headers: { "x-role": ["admin", "user"] } })).code).toBe("apikey_missing");
  });
  it("routes a header sent once as before", async () => {
    expect((await at({ path: "/api", headers: { "x-role": "user" } })).status).toBe(200);
    expect((await at({ path: "/api", headers: { "x-role": "admin" } })).code).toBe("apikey_missing");
  });
  it("allows when every reading's rule allows", async () => {
    expect((await at({ path: "/api", headers: { "x-role": ["user", "admin"], "x-api-key": "alice-key" } })).status).toBe(200);
    expect((await at({ path: "/api", headers: { "x-role": ["user", "guest"] } })).status).toBe(200);
  });
  it("lets the route the proxy names settle Envoy's reading only: the upstream's reading is still decided", async () => {
    expect((await at({ path: "/api", headers: { "x-role": ["user", "admin"] }, proxyRoute: TOOK_OPEN })).code).toBe("apikey_missing");
  });
  it("decides the rule a line between the first and the last picks", async () => {
    expect((await at({ path: "/api", headers: { "x-role": ["user", "admin", "user"] } })).code).toBe("apikey_missing");
  });
  it(`refuses (431) a header of more than ${MAX_HEADER_LINES} lines or list elements, each a reading decided in full; up to that, decides`, async () => {
    const over = await at({ path: "/api", headers: { "x-role": many(MAX_HEADER_LINES + 1) } });
    expect([over.status, over.code]).toEqual([431, "request_invalid"]);
    expect((await at({ path: "/api", headers: { "x-role": [...many(MAX_HEADER_LINES - 1), "admin"] } })).code).toBe("apikey_missing");
    expect((await at({ path: "/api", headers: { "x-role": many(MAX_HEADER_LINES) } })).status).toBe(200);
  });
  it(`decides as before a header no route match reads, however many lines or list elements it has (a JSON value of 70 commas)`, async () => {
    const json = Array.from({ length: 71 }, (_, i) => `"k${i}":${i}`);
    const metadata = { "x-client-metadata": json, accept: Array.from({ length: 100 }, (_, i) => `type/t${i}`) };
    expect(await at({ path: "/api", headers: { ...metadata, "x-role": "user" } })).toMatchObject({
      status: 200,
      route: "apps/api rule open",
    });
    expect((await at({ path: "/api", headers: { ...metadata, "x-role": "admin" } })).code).toBe("apikey_missing");
    // The header a route match reads is still refused past the bound, whatever else the request holds.
    const over = await at({ path: "/api", headers: { ...metadata, "x-role": many(MAX_HEADER_LINES + 1) } });
    expect([over.status, over.code]).toEqual([431, "request_invalid"]);
  });
});

const many = (n: number) => Array.from({ length: n }, (_, i) => `r${i}`);

describe("a phase sees the request as the phases before it left it (Envoy's filter chain)", () => {
  // jwt sets x-user-id from `sub`; a header rule on x-user-id must read that value, as Envoy's rbac
  // filter reads what jwt_authn's claim_to_headers wrote, never a copy the client sent.
  const chain = (jwks: string) => `${gatewayWithRoute("chain.example.com")}---
${securityPolicy(
  "chain",
  `
  jwt:
    providers: [{name: idp, issuer: ${ISSUER}, localJWKS: {inline: '${jwks}'}, claimToHeaders: [{claim: sub, header: x-user-id}]}]
  authorization:
    defaultAction: Deny
    rules: [{name: admins, action: Allow, principal: {headers: [{name: x-user-id, values: [admin]}]}}]
`,
)}`;

  it("a header rule reads jwt's claim header: a client's own x-user-id: admin does not match for bob", async () => {
    const c = decider(chain(jwksOf(idp)));
    const ask = async (sub: string) =>
      c({
        host: "chain.example.com",
        path: "/",
        headers: { authorization: `Bearer ${await mint(idp, { iss: ISSUER, sub })}`, "x-user-id": "admin" },
      });
    expect((await ask("bob")).code).toBe("authz_denied");
    expect((await ask("admin")).code).toBe("allowed");
  });
});

describe('header names that fold into a managed one ("_" read as "-")', () => {
  // A policy whose forwarded client id is spelled with "_": its managed name itself folds, and any
  // other spelling of it a client sends is refused, as x_user_id is for x-user-id (security catalogue).
  const folding = decider(
    `${gatewayWithRoute("api.example.com")}---\n${aliceKeyPolicy("keys", undefined, "forwardClientIDHeader: x_client")}`,
  );
  it('refuses x-client, the spelling with "-" of the managed x_client', async () => {
    const r = await folding({ path: "/", headers: { "x-api-key": "alice-key", "x-client": "admin" } });
    expect([r.status, r.code, r.message]).toEqual([400, "request_invalid", expect.stringContaining("the header x-client is refused")]);
  });
  it("leaves the managed name itself to the allow (replaced by the client id) and unrelated names alone", async () => {
    const r = await folding({ path: "/", headers: { "x-api-key": "alice-key", x_client: "admin", x_trace_id: "1" } });
    expect(r).toMatchObject({ status: 200, upstreamHeaders: { x_client: "alice" } });
  });
});
