/**
 * SIGTERM under load, against the real `portcullis serve` process. For the shutdown delay (1 s
 * here) it keeps answering while /readyz says 503, so endpoints can drop it; then its listeners
 * close and new connections are refused, while checks already in flight (held 2.5 s by a slow
 * JWKS refetch) are still answered. A steady stream of ordinary requests never gets a wrong answer
 * or a cut response, and the process exits 0 well within its grace period.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startJwksServer, type JwksServer } from "../keys/helpers.ts";
import { mint, signingKey, type SigningKey } from "../support/tokens.ts";
import { ask, serve, type Answer, type Served } from "./process.ts";
import { aliceKeyPolicy, gatewayWithRoute } from "../support/manifests.ts";
import { within } from "../support/app.ts";

let jwks: JwksServer;
let app: Served;
let key: SigningKey;
const DELAY_MS = 1000;

const world = (uri: string) => `${gatewayWithRoute("api.test", { keys: "/keys", jwt: "/jwt" })}---
${aliceKeyPolicy("keys", "keys", "forwardClientIDHeader: x-client-id")}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: jwt, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api, sectionName: jwt}]
  jwt: {providers: [{name: idp, issuer: https://idp.test, remoteJWKS: {uri: "${uri}"}}]}
`;

beforeAll(async () => {
  key = await signingKey("k1", "RS256");
  jwks = await startJwksServer({ kind: "jwks", doc: { keys: [key.publicJwk] } });
  app = await serve({ "world.yaml": world(jwks.url("/keys")) }, [
    "--shutdown-delay-seconds",
    String(DELAY_MS / 1000),
    "--shutdown-grace-seconds",
    "10",
  ]);
  // serve() returns once the ports listen; the first snapshot (after its JWKS fetch) may come later.
  await within(15_000, async () => (await fetch(`http://127.0.0.1:${app.admin}/readyz`)).status === 200);
});
afterAll(async () => {
  await app?.close();
  await jwks?.close();
});

type Result = { readonly answer: Answer; readonly startedAt: number } | { readonly error: string; readonly startedAt: number };
const attempt = (p: Promise<Answer>): Promise<Result> => {
  const startedAt = Date.now();
  return p.then(
    (answer) => ({ answer, startedAt }),
    (e: { code?: string }) => ({ error: e.code ?? String(e), startedAt }),
  );
};

it("keeps serving through the shutdown delay, then refuses new connections, answers in-flight checks and exits 0", {
  timeout: 30_000,
}, async () => {
  // A token whose kid the JWKS does not have makes every such check wait on one refetch, held 2.5 s.
  jwks.set({ kind: "hang", ms: 2500 }, "/keys");
  const stranger = await mint(await signingKey("unknown", "RS256"), { iss: "https://idp.test", sub: "x" });
  let slowDone = 0;
  const inFlight = Array.from({ length: 30 }, () =>
    attempt(ask(app.authz, "/jwt", { host: "api.test", authorization: `Bearer ${stranger}` })).finally(() => slowDone++),
  );

  // Steady load: 8 clients, each sending one request after another on fresh connections.
  let loading = true;
  const load: Result[] = [];
  const clients = Array.from({ length: 8 }, async (_, i) => {
    while (loading)
      load.push(
        await attempt(
          ask(
            i % 2 === 0 ? app.authz : app.forwardAuth,
            i % 2 === 0 ? "/keys" : "/",
            i % 2 === 0
              ? { host: "api.test", "x-api-key": "alice-key" }
              : { "x-forwarded-method": "GET", "x-forwarded-host": "api.test", "x-forwarded-uri": "/keys", "x-api-key": "alice-key" },
          ),
        ),
      );
  });
  await new Promise((r) => setTimeout(r, 400));
  const signalledAt = Date.now();
  app.child.kill("SIGTERM");

  // During the delay: not ready, still answering.
  await new Promise((r) => setTimeout(r, 300));
  expect((await ask(app.admin, "/readyz", {})).status).toBe(503);
  const duringDelay = await attempt(ask(app.authz, "/keys", { host: "api.test", "x-api-key": "alice-key" }));
  expect("answer" in duringDelay ? duringDelay.answer.status : duringDelay.error).toBe(200);
  // After it: refused, while the slow checks are still in flight.
  // (A connection caught in the kernel's queue at the instant of closing is reset, not refused.)
  let refusedAt = 0;
  while (refusedAt === 0) {
    const r = await attempt(ask(app.authz, "/keys", { host: "api.test", "x-api-key": "alice-key" }));
    if ("error" in r && r.error === "ECONNREFUSED") refusedAt = Date.now();
    else if ("error" in r) expect(r.error).toBe("ECONNRESET");
    if (Date.now() - signalledAt > DELAY_MS + 1500) throw new Error("still accepting connections long after the shutdown delay");
  }
  expect(refusedAt - signalledAt).toBeGreaterThanOrEqual(DELAY_MS - 50);
  expect(slowDone).toBe(0);
  loading = false;
  await Promise.all(clients);
  const slow = await Promise.all(inFlight);
  const exit = await app.exited;

  // Every check in flight when the listener closed got its real answer.
  for (const r of slow) expect("answer" in r ? [r.answer.status, r.answer.code] : r.error).toEqual([401, "jwt_invalid"]);
  // Under load: every answer is the right one; the only failures are connections refused (or reset
  // unaccepted in the kernel's queue) once the listener was closing, never a response cut short.
  const answered = load.filter((r) => "answer" in r);
  expect(answered.length).toBeGreaterThan(20);
  expect(answered.filter((r) => r.answer.status !== 200 || r.answer.headers["x-client-id"] !== "alice")).toEqual([]);
  for (const r of load.filter((x) => "error" in x)) {
    expect(["ECONNREFUSED", "ECONNRESET"]).toContain(r.error);
    expect(r.startedAt).toBeGreaterThanOrEqual(signalledAt + DELAY_MS - 100);
  }
  expect(exit.code).toBe(0);
  expect(exit.at - signalledAt).toBeLessThan(DELAY_MS + 4000);
  const messages = app.logs().map((l) => l.msg);
  expect(messages).toContain("shutting down: draining in-flight checks");
  expect(messages.at(-1)).toBe("stopped");
});
