// A decision's trace (check --explain, the admin page, debug logs): the routes tried and why one won,
// the policy and where it came from, each phase's own account in Envoy Gateway's filter order, the
// headers set and removed; never a credential; and nothing of it built when no trace is asked for.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { TraceStep } from "../../controller/authz/trace.ts";
import { Trace } from "../../controller/authz/trace.ts";
import { gatewayWithRoute, securityPolicy } from "../support/manifests.ts";
import { basicAuthAs, decider, goldenDecider } from "../support/world.ts";
import pino from "pino";
import { createKeyStore } from "../../controller/keys/store.ts";
import { startJwksServer } from "../keys/helpers.ts";
import { ISSUER, jwksOf, makeKeys, manifests, token } from "../security/world.ts";

const step = (steps: readonly TraceStep[], phase: string) => steps.find((s) => s.phase === phase);

afterEach(() => vi.restoreAllMocks());

describe("route", () => {
  const world = decider(
    gatewayWithRoute("api.example.com", {
      exact: "{path: {type: Exact, value: /v1/x}}",
      posts: "{path: {type: PathPrefix, value: /v1}, method: POST}",
      prefix: "/v1",
    }),
  );

  it("lists the entries tried in Envoy Gateway's order with what did not match, and the one picked", async () => {
    const { trace } = await world.explain({ path: "/v1/y" });
    expect(step(trace.steps, "route")).toEqual({
      phase: "route",
      tables: [
        {
          gateway: "apps/gw",
          port: 80,
          virtualHost: "api.example.com",
          tried: [
            "apps/api rule exact (Exact /v1/x): path /v1/y is not Exact /v1/x",
            "apps/api rule posts (PathPrefix /v1, header :method Exact POST): method is not POST",
          ],
          picked: "apps/api rule prefix (PathPrefix /v1)",
        },
      ],
    });
  });

  it("names the entries that also match but come later, which the picked one wins over", async () => {
    const { trace } = await world.explain({ path: "/v1/x" });
    expect(step(trace.steps, "route")!.tables).toEqual([
      expect.objectContaining({
        tried: [],
        picked: "apps/api rule exact (Exact /v1/x)",
        alsoMatchingLater: ["apps/api rule prefix (PathPrefix /v1)"],
      }),
    ]);
  });

  it("says when no route of the listener has the host, and the decision says route_not_found", async () => {
    const { trace } = await world.explain({ path: "/v1/x", host: "other.example.com" });
    expect(step(trace.steps, "route")!.tables).toEqual([
      { gateway: "apps/gw", port: 80, virtualHost: "none: no route of this listener port has this host" },
    ]);
    expect(step(trace.steps, "decision")).toMatchObject({ allowed: false, code: "route_not_found" });
  });

  it("a request read two ways (an encoded slash) is traced per reading", async () => {
    const { trace } = await world.explain({ path: "/v1%2Fx" });
    const readings = trace.steps.filter((s) => s.phase === "branch");
    expect(readings.map((r) => r.path)).toEqual(["/v1%2Fx", "/v1/x"]);
    // The encoded reading matches no route; the decoded one reaches an open rule: not every reading allows.
    expect(readings.map((r) => (r.steps as TraceStep[]).map((s) => s.phase))).toEqual([["route"], ["route", "policy"]]);
    expect(step(trace.steps, "decision")).toMatchObject({ allowed: false, code: "route_not_found" });
  });
});

describe("policy: where it came from", () => {
  it("the most specific policy, its target and level, and the broader ones it replaces (precedence)", async () => {
    const { trace } = await goldenDecider("precedence-all-levels").explain({
      host: "shop.example.com",
      path: "/orders",
      headers: { "x-api-key": "alice-key-0001" },
    });
    expect(step(trace.steps, "policy")).toEqual({
      phase: "policy",
      policy: "apps/rule-orders",
      level: "rule",
      target: "HTTPRoute apps/shop/orders",
      overrides: [
        "apps/route-shop (HTTPRoute apps/shop)",
        "apps/listener-http (Gateway apps/gw/http)",
        "apps/gateway-wide (Gateway apps/gw)",
      ],
      phases: ["apiKeyAuth"],
    });
  });

  it("a route policy with mergeType: the parent it merged into, where, and how", async () => {
    const { trace } = await goldenDecider("merge-type").explain({ host: "shop.example.com", path: "/" });
    expect(step(trace.steps, "policy")).toMatchObject({
      policy: "apps/shop-cors merged into infra/gateway-basic",
      level: "route",
      target: "HTTPRoute apps/shop",
      merged: { into: "infra/gateway-basic", at: "Gateway infra/gw", mergeType: "StrategicMerge" },
    });
  });

  it("no policy: the rule is open by --on-no-policy", async () => {
    const { trace } = await decider(gatewayWithRoute("api.example.com")).explain({ path: "/" });
    expect(step(trace.steps, "policy")).toEqual({
      phase: "policy",
      policy: null,
      because: "no SecurityPolicy governs apps/api rule 0: --on-no-policy allow",
    });
  });
});

describe("phases, each in its own words, in Envoy Gateway's filter order", () => {
  const keys = makeKeys();
  const world = decider(manifests(keys));

  it("apiKeyAuth: each source read, and whose key it was; the decision names what is set and removed", async () => {
    const { trace } = await world.explain({ path: "/keys", headers: { "x-api-key": "bob-key" } });
    expect(step(trace.steps, "apiKeyAuth")).toMatchObject({
      order: 7,
      sources: ["header x-api-key: the key of client bob"],
      result: "pass",
      principal: "apiKey bob",
      sets: ["x-client-id"],
    });
    expect(step(trace.steps, "decision")).toMatchObject({
      allowed: true,
      setsUpstream: ["x-client-id"],
      removesUpstream: expect.arrayContaining(["x-user-id"]),
    });
  });

  it("jwt: the token's issuer, kid and provider, the key set and the keys for that kid, the claims checked", async () => {
    const { trace } = await world.explain({ path: "/jwt", headers: { authorization: `Bearer ${token({}, {}, undefined, keys)}` } });
    expect(step(trace.steps, "jwt")).toMatchObject({
      order: 10,
      tokensFound: ["a token read by idp"],
      tokens: [{ iss: "https://idp.example.com", kid: "es-1", alg: "ES256", providers: ["idp"] }],
      signature: [{ provider: "idp", jwks: "local kids [es-1, rsa-1]", keysForKid: 1, result: "verified" }],
      claims: [{ provider: "idp", checked: "exp, nbf, iss, aud", result: "hold" }],
      claimsToHeaders: expect.arrayContaining(["sub -> x-user-id"]),
      result: "pass",
      principal: "jwt idp sub=u-1",
    });
  });

  it("jwt: a token only another reader finds (`bearer <t>`: Envoy's extractor wants `Bearer `) is listed apart from those Envoy finds", async () => {
    const { trace } = await world.explain({ path: "/jwt", headers: { authorization: `bearer ${token({}, {}, undefined, keys)}` } });
    expect(step(trace.steps, "jwt")).toMatchObject({
      tokensFound: [],
      tokensOnlyOtherReadersFind: ["a token read by idp"],
      code: "jwt_missing",
    });
  });

  it("jwt: a kid the key set does not hold is named, with no key found for it", async () => {
    const { trace } = await world.explain({
      path: "/jwt",
      headers: { authorization: `Bearer ${token({}, { kid: "gone-7" }, undefined, keys)}` },
    });
    expect(step(trace.steps, "jwt")).toMatchObject({
      tokens: [expect.objectContaining({ kid: "gone-7" })],
      signature: [expect.objectContaining({ keysForKid: 0, result: "no key with kid gone-7 (unknown kid, or the JWKS has no keys)" })],
      result: "deny",
      code: "jwt_no_key",
    });
  });

  it("authorization: each rule tried and the part the request does not meet, then the default", async () => {
    const { trace } = await world.explain({ path: "/office", headers: { "x-api-key": "bob-key" } });
    expect(step(trace.steps, "authorization")).toMatchObject({
      order: 301,
      clientAddress: "(cannot be determined)",
      rules: [
        "office: Allow when client in 10.0.0.0/8: the client address cannot be determined, so it does not apply",
        "no rule applies: defaultAction Deny",
      ],
      result: "deny",
      code: "authz_denied",
    });
  });

  it("authorization read again without the client's own copy of a header a policy sets: that pass in a list of its own, not the first's", async () => {
    const keys = makeKeys();
    const jwt = {
      optional: true,
      providers: [
        { name: "idp", issuer: ISSUER, localJWKS: { inline: jwksOf(keys.es) }, claimToHeaders: [{ claim: "sub", header: "x-user-id" }] },
      ],
    };
    const authorization = {
      defaultAction: "Deny",
      rules: [{ name: "admins", action: "Allow", principal: { headers: [{ name: "x-user-id", values: ["admin"] }] } }],
    };
    const copies = decider(`${gatewayWithRoute("api.example.com", { x: "/x" })}---\n${securityPolicy("p", { jwt, authorization }, "x")}`);
    const { decision, trace } = await copies.explain({ path: "/x", headers: { "x-user-id": "admin" } });
    expect(decision.code).toBe("authz_denied");
    expect(step(trace.steps, "authorization")).toMatchObject({
      rules: ["admins: Allow when header x-user-id in admin: matches, and decides"],
      withoutClientCopies: {
        headers: ["x-user-id"],
        rules: [
          "admins: Allow when header x-user-id in admin: a header differs, so it does not apply",
          "no rule applies: defaultAction Deny",
        ],
        result: "deny",
        code: "authz_denied",
      },
      result: "deny",
    });
  });

  it("cors runs before the identity phases (order 3) and says whether the origin is allowed", async () => {
    const { trace } = await world.explain({ path: "/cors", headers: { origin: "https://evil.example.com", "x-api-key": "bob-key" } });
    expect(trace.steps.filter((s) => typeof s.order === "number").map((s) => [s.phase, s.order])).toEqual([
      ["cors", 3],
      ["apiKeyAuth", 7],
    ]);
    expect(step(trace.steps, "cors")).toMatchObject({
      origin: "https://evil.example.com",
      preflight: false,
      originAllowed: false,
      result: "pass",
    });
  });

  it("basicAuth: a known user and the password's verdict; an unknown username is not repeated", async () => {
    const golden = goldenDecider("basic-auth");
    const ok = await golden.explain({ host: "admin.example.com", path: "/ok", headers: basicAuthAs("alice") });
    expect(step(ok.trace.steps, "basicAuth")).toMatchObject({ user: "alice", password: "match", result: "pass" });
    const typo = `Basic ${Buffer.from("hunter2-typed-as-user:x").toString("base64")}`;
    const unknown = await golden.explain({ host: "admin.example.com", path: "/ok", headers: { authorization: typo } });
    expect(step(unknown.trace.steps, "basicAuth")).toMatchObject({
      user: "(not in the htpasswd Secret)",
      password: "mismatch",
      result: "deny",
    });
    expect(JSON.stringify(unknown.trace.steps)).not.toContain("hunter2");
  });
});

describe("jwt with a remote key set: its state as the key store has it", () => {
  it("an unreachable JWKS: no key for the kid, never fetched, and the failure; then reachable: the keys and the last fetch", async () => {
    const keys = makeKeys();
    const server = await startJwksServer({ kind: "status", status: 503 });
    const store = createKeyStore({ logger: pino({ level: "silent" }), fetchTimeoutMs: 1000 });
    try {
      const world = decider(
        `${gatewayWithRoute("api.example.com")}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: remote, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}]
  jwt: {providers: [{name: idp, remoteJWKS: {uri: "${server.url("/jwks")}"}}]}
`,
        { keys: store },
      );
      await store.sync(world.result.snapshot.remoteJwks);
      const headers = { authorization: `Bearer ${token({}, {}, undefined, keys)}` };
      const down = await world.explain({ path: "/", headers });
      expect(step(down.trace.steps, "jwt")!.signature).toEqual([
        expect.objectContaining({
          keysForKid: 0,
          jwksState: [expect.objectContaining({ keys: 0, fetched: "never successfully", lastError: expect.stringContaining("503") })],
          result: "no key with kid es-1 (unknown kid, or the JWKS has no keys)",
        }),
      ]);
      expect(down.decision.allowed).toBe(false);
      server.set({ kind: "jwks", doc: JSON.parse(jwksOf(keys.es)) }, "/jwks");
      await store.sync([]);
      await store.sync(world.result.snapshot.remoteJwks);
      const up = await world.explain({ path: "/", headers });
      expect(step(up.trace.steps, "jwt")!.signature).toEqual([
        expect.objectContaining({
          keysForKid: 1,
          jwksState: [expect.objectContaining({ keys: 1, kids: ["es-1"], lastFetchedAt: expect.any(String) })],
          result: "verified",
        }),
      ]);
    } finally {
      store.close();
      await server.close();
    }
  });
});

describe("never a credential", () => {
  const keys = makeKeys();
  const world = decider(manifests(keys));
  const jwt = token({}, {}, undefined, keys);
  const secrets = ["bob-key", "alice-key", jwt, "alice-pass", "sess-cookie-value"];

  it.each([
    ["an API key in a header", { path: "/keys", headers: { "x-api-key": "bob-key" } }],
    ["an API key in the query", { path: "/keys?api_key=bob-key" }],
    ["an API key in a cookie, next to another cookie", { path: "/keys", headers: { cookie: "session=sess-cookie-value; apikey=bob-key" } }],
    ["a wrong API key", { path: "/keys", headers: { "x-api-key": "alice-key" } }],
    ["a sanitized API key cookie", { path: "/sanitized", headers: { cookie: "apikey=bob-key; session=sess-cookie-value" } }],
    ["a bearer token", { path: "/jwt", headers: { authorization: `Bearer ${jwt}` } }],
    ["a bearer token in the query", { path: `/jwt?access_token=${jwt}` }],
    ["a password", { path: "/basic", headers: { authorization: `Basic ${Buffer.from("carol:alice-pass").toString("base64")}` } }],
  ])("%s: the trace holds none of the request's secrets", async (_what, request) => {
    const { trace } = await world.explain(request);
    const text = JSON.stringify(trace.steps);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toContain(Buffer.from("carol:alice-pass").toString("base64"));
  });
});

describe("the hot path", () => {
  it("builds no trace when none is asked for: check() without ctx.trace never touches a Trace", async () => {
    const spies = (["step", "note", "add", "branch"] as const).map((m) => vi.spyOn(Trace.prototype, m));
    const keys = makeKeys();
    const world = decider(manifests(keys));
    const answers = [];
    for (const request of [
      { path: "/keys", headers: { "x-api-key": "bob-key" } },
      { path: "/keys", headers: { "x-api-key": "wrong-key" } },
      { path: "/jwt", headers: { authorization: `Bearer ${token({}, {}, undefined, keys)}` } },
      { path: "/cel", headers: { "x-name": "abc" } },
      { path: "/lan" },
      { path: "/v1%2Fx" },
    ])
      answers.push((await world(request)).code);
    expect(answers).toEqual(["allowed", "apikey_invalid", "allowed", "allowed", "authz_denied", "route_not_found"]);
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    await world.explain({ path: "/keys", headers: { "x-api-key": "bob-key" } });
    expect(spies[0]).toHaveBeenCalled();
  });

  it("a request no authorization rule allows pays for an account of the rules, for its audit line (the operator's detail)", async () => {
    const denied = await decider(manifests(makeKeys()))({ path: "/office", headers: { "x-api-key": "bob-key" } });
    expect(denied).toMatchObject({
      code: "authz_denied",
      message: "no authorization rule allows the request",
      detail: "rules tried: office: Allow when client in 10.0.0.0/8: the client address cannot be determined, so it does not apply",
    });
  });
});
