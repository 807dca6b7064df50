// The authorizer's audit lines: one per denial, and for allowed requests a sample of the rate asked
// (--audit-allowed-sample-rate), counted in portcullis_audited_allowed_total; never a query, a
// header value or a credential.
import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import { Trace } from "../../controller/authz/trace.ts";
import type { BcryptPool } from "../../controller/features/basicAuth/bcrypt-pool.ts";
import { Passwords } from "../../controller/features/basicAuth/check.ts";
import { CheckMemo } from "../../controller/authz/check-memo.ts";
import { clientAddressDetection } from "../../controller/authz/client-address.ts";
import type { Decision } from "../../controller/authz/decision.ts";
import type { AuthzRequest } from "../../controller/authz/request.ts";
import { createKeyStore } from "../../controller/keys/store.ts";
import { createAuthorizer } from "../../controller/authz/authorizer.ts";
import { RecentDenials } from "../../controller/authz/recent-denials.ts";
import { createMetrics, decisionMetrics } from "../../controller/server/metrics.ts";
import { ALICE_KEY_AUTH, ALICE_KEYS, aliceKeyPolicy, gatewayWithRoute, policiesOnRules, secret } from "../support/manifests.ts";
import { compileText } from "../support/world.ts";

const HOST = "api.example.com";
const WORLD = `${gatewayWithRoute(HOST)}---\n${aliceKeyPolicy("keys")}`;

/** An authorizer over WORLD whose log lines (from `level` on) are collected; `draws` are the sampling draws in order. */
function authorizerOf(auditAllowedSampleRate: number | undefined, draws: number[] = [], level = "info") {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const metrics = createMetrics();
  const recentDenials = new RecentDenials();
  let served = { snapshot: compileText(WORLD).snapshot, memo: new CheckMemo() };
  const authorizer = createAuthorizer({
    current: () => served,
    keys: createKeyStore({ logger: pino({ level: "silent" }) }),
    logger,
    metrics: decisionMetrics(metrics),
    onNoRoute: "deny",
    onNoPolicy: "allow",
    clientAddress: clientAddressDetection({ trustedHops: 0, trustedCidrs: [] }),
    passwords: new Passwords(),
    recentDenials,
    auditAllowedSampleRate,
    random: () => draws.shift() ?? 0,
  });
  let id = 0;
  const decide = (request: Partial<AuthzRequest>) =>
    authorizer.decide(
      { method: "GET", scheme: "https", host: HOST, path: "/v1/models?api_key=alice-key", headers: {}, gateway: undefined, ...request },
      "envoy-http",
      () => `req-${++id}`,
    );
  const audited = async () => (await metrics.registry.getSingleMetric("portcullis_audited_allowed_total")!.get()).values[0]?.value ?? 0;
  const publish = () => (served = { snapshot: served.snapshot, memo: new CheckMemo() });
  return { decide, lines, audited, recentDenials, authorizer, publish, logger };
}

const alice = { headers: { "x-api-key": "alice-key" } };

describe("audit lines", () => {
  it("a denial gets one line: route, policy, code, reason and the path without its query; no key anywhere", async () => {
    const { decide, lines, recentDenials } = authorizerOf(undefined);
    expect((await decide({ headers: { "x-api-key": "wrong-key" } })).status).toBe(401);
    expect(lines).toEqual([
      expect.objectContaining({
        audit: "deny",
        requestId: "req-1",
        protocol: "envoy-http",
        method: "GET",
        host: HOST,
        path: "/v1/models",
        route: "apps/api rule 0",
        policy: "apps/keys",
        code: "apikey_invalid",
        status: 401,
        msg: "request denied",
      }),
    ]);
    expect(recentDenials.list()).toEqual([expect.objectContaining({ path: "/v1/models", code: "apikey_invalid" })]);
    expect(JSON.stringify(lines)).not.toMatch(/alice-key|wrong-key|api_key/);
  });

  it("without a request id reader (the HTTP ports), a line carries the request's own X-Request-Id, its first value, else a UUID", async () => {
    const { authorizer, lines } = authorizerOf(undefined);
    const request = (headers: Record<string, string | string[]>) =>
      authorizer.decide({ method: "GET", scheme: "https", host: HOST, path: "/v1/models", headers, gateway: undefined }, "envoy-http");
    await request({ "x-request-id": "req-from-envoy" });
    await request({ "x-request-id": " first-hop , second-hop" });
    await request({ "x-request-id": ["first-line", "second-line"] });
    await request({});
    const ids = lines.filter((l) => l.audit === "deny").map((l) => l.requestId as string);
    expect(ids.slice(0, 3)).toEqual(["req-from-envoy", "first-hop", "first-line"]);
    expect(ids[3]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("allowed requests are not audited by default, and the sampling draw is not even taken", async () => {
    const draws = [0];
    const { decide, lines, audited } = authorizerOf(undefined, draws);
    expect((await decide(alice)).status).toBe(200);
    expect(lines).toEqual([]);
    expect(draws).toEqual([0]);
    expect(await audited()).toBe(0);
  });

  it("with a sample rate of 1 every allowed request gets the denial's line with audit=allow and the principal, counted", async () => {
    const { decide, lines, audited } = authorizerOf(1);
    await decide(alice);
    await decide(alice);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toEqual(
      expect.objectContaining({
        audit: "allow",
        requestId: "req-1",
        path: "/v1/models",
        route: "apps/api rule 0",
        policy: "apps/keys",
        code: "allowed",
        status: 200,
        principal: "apiKey alice",
        msg: "request allowed",
      }),
    );
    expect(await audited()).toBe(2);
    expect(JSON.stringify(lines)).not.toMatch(/alice-key|api_key/);
  });

  it("a rate of 0.25 audits the allowed requests whose draw falls under it; denials are audited whatever the draw", async () => {
    const { decide, lines, audited } = authorizerOf(0.25, [0.1, 0.25, 0.9, 0.2]);
    for (let i = 0; i < 4; i++) await decide(alice);
    await decide({});
    expect(lines.map((l) => [l.audit, l.requestId])).toEqual([
      ["allow", "req-1"],
      ["allow", "req-2"],
      ["deny", "req-3"],
    ]);
    expect(await audited()).toBe(2);
  });
});

describe("rendered answers", () => {
  it("an allow is rendered once per published snapshot, a denial every time", async () => {
    const { decide, authorizer, publish } = authorizerOf(undefined);
    const renders: string[] = [];
    const render = (d: Decision) => (renders.push(d.code), { code: d.code });
    const allowed = await decide(alice);
    const first = authorizer.rendered(allowed, render);
    expect(authorizer.rendered(await decide(alice), render)).toBe(first);
    const denied = await decide({});
    authorizer.rendered(denied, render);
    authorizer.rendered(denied, render);
    expect(renders).toEqual(["allowed", "apikey_missing", "apikey_missing"]);
    publish();
    expect(authorizer.rendered(allowed, render)).not.toBe(first);
    expect(renders).toHaveLength(4);
  });
});

describe("--log-level debug: a trace per decision", () => {
  it("each decision logs its trace, with the request id of its audit line (read once), and never the key", async () => {
    const { decide, lines } = authorizerOf(undefined, [], "debug");
    await decide({ headers: { "x-api-key": "wrong-key" } });
    await decide(alice);
    const traces = lines.filter((l) => l.msg === "decision trace");
    expect(traces.map((t) => t.requestId)).toEqual(["req-1", "req-2"]);
    expect(lines.find((l) => l.audit === "deny")!.requestId).toBe("req-1");
    const [denied, allowed] = traces.map((t) => t.trace as { phase: string; code?: string; result?: string }[]);
    expect(denied!.map((s) => s.phase)).toEqual(["request", "route", "policy", "apiKeyAuth", "decision"]);
    expect(denied!.find((s) => s.phase === "apiKeyAuth")).toMatchObject({ result: "deny", code: "apikey_invalid" });
    expect(allowed!.at(-1)).toMatchObject({ phase: "decision", allowed: true, principal: "apiKey alice" });
    expect(JSON.stringify(lines)).not.toMatch(/alice-key|wrong-key/);
  });

  it("at info level no trace is logged, and none is built", async () => {
    const step = vi.spyOn(Trace.prototype, "step");
    const { decide, lines } = authorizerOf(undefined);
    await decide({ headers: { "x-api-key": "wrong-key" } });
    await decide(alice);
    expect(lines.filter((l) => l.msg === "decision trace")).toEqual([]);
    expect(step).not.toHaveBeenCalled();
    step.mockRestore();
  });

  it("a level changed while serving takes effect at the next decision (the level is not read per request)", async () => {
    const { decide, lines, logger } = authorizerOf(undefined);
    const traces = () => lines.filter((l) => l.msg === "decision trace").length;
    await decide(alice);
    expect(traces()).toBe(0);
    logger.level = "debug";
    await decide(alice);
    expect(traces()).toBe(1);
    logger.level = "info";
    await decide(alice);
    expect(traces()).toBe(1);
  });

  it("explain (the admin page's form) answers with the trace, neither counted nor audited", async () => {
    const { authorizer, lines } = authorizerOf(1);
    const { decision, trace } = await authorizer.explain({
      method: "GET",
      scheme: "https",
      host: HOST,
      path: "/v1/models",
      headers: alice.headers,
      gateway: undefined,
    });
    expect(decision.allowed).toBe(true);
    expect(trace.steps.map((s) => s.phase)).toEqual(["request", "route", "policy", "apiKeyAuth", "decision"]);
    expect(lines).toEqual([]);
  });
});

describe("portcullis_check_duration_seconds", () => {
  /** An authorizer over a route with apiKeyAuth (/keys: decided at once) and bcrypt basicAuth (/basic: waits for `comparison`). */
  function timedAuthorizer(comparison: Promise<boolean>) {
    const world = policiesOnRules(
      HOST,
      { keys: { path: "/keys", features: ALICE_KEY_AUTH }, basic: { path: "/basic", features: "basicAuth: {users: {name: users}}" } },
      ALICE_KEYS,
      secret("users", { ".htpasswd": "carol:$2b$04$gFFTOaLbYg2l1Ehc7R6cMeKyHj.t4uWtJ9Ut/b16Hm1OS4MJYDPFK\n" }),
    );
    const metrics = createMetrics();
    const served = { snapshot: compileText(world).snapshot, memo: new CheckMemo() };
    const authorizer = createAuthorizer({
      current: () => served,
      keys: createKeyStore({ logger: pino({ level: "silent" }) }),
      logger: pino({ level: "silent" }),
      metrics: decisionMetrics(metrics),
      onNoRoute: "deny",
      onNoPolicy: "allow",
      clientAddress: clientAddressDetection({ trustedHops: 0, trustedCidrs: [] }),
      passwords: new Passwords({ pool: { compare: () => comparison } as unknown as BcryptPool }),
    });
    const decide = (path: string, headers: Record<string, string>) =>
      authorizer.decide({ method: "GET", scheme: "https", host: HOST, path, headers, gateway: undefined }, "envoy-http");
    /** The histogram's lines in Prometheus' text format, without its HELP and TYPE. */
    const histogram = async () =>
      (await metrics.registry.getSingleMetricAsString("portcullis_check_duration_seconds")).split("\n").filter((l) => !l.startsWith("#"));
    return { decide, histogram };
  }

  it("a check that waits records its own time, not that of a check decided meanwhile (one start slot is shared)", async () => {
    let settle = (_ok: boolean) => {};
    const { decide, histogram } = timedAuthorizer(new Promise<boolean>((resolve) => (settle = resolve)));
    let clock = 1_000;
    const now = vi.spyOn(performance, "now").mockImplementation(() => clock);
    try {
      const waiting = decide("/basic", { authorization: `Basic ${Buffer.from("carol:secret").toString("base64")}` });
      expect(waiting).toBeInstanceOf(Promise);
      clock = 5_000;
      expect((decide("/keys", { "x-api-key": "alice-key" }) as Decision).status).toBe(200);
      clock = 1_010;
      settle(true);
      expect((await waiting).status).toBe(200);
    } finally {
      now.mockRestore();
    }
    // The check decided at once took 0 ms, the one that waited 10 ms (not 1,010 − 5,000).
    expect(await histogram()).toEqual(
      expect.arrayContaining([
        'portcullis_check_duration_seconds_bucket{le="0.00005",protocol="envoy-http"} 1',
        'portcullis_check_duration_seconds_bucket{le="0.005",protocol="envoy-http"} 1',
        'portcullis_check_duration_seconds_bucket{le="0.01",protocol="envoy-http"} 2',
        'portcullis_check_duration_seconds_sum{protocol="envoy-http"} 0.01',
        'portcullis_check_duration_seconds_count{protocol="envoy-http"} 2',
      ]),
    );
  });
});
