/**
 * oidc beside jwt and authorization on one policy, through check(), as Envoy Gateway's filter chain
 * runs them (oauth2, then jwt_authn, then rbac): the ID token oidc forwards in Authorization is the
 * token jwt verifies, and authorization rules decide on its claims; with passThroughAuthHeader an
 * API client's own bearer token skips the login and is verified by jwt.
 */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Decision } from "../../../controller/authz/decision.ts";
import { createOidcProviders } from "../../../controller/features/oidc/provider.ts";
import { createKeyStore } from "../../../controller/keys/store.ts";
import { base64, gatewayWithRoute, securityPolicy } from "../../support/manifests.ts";
import { loginAt, startTestProvider, type TestProvider } from "../../support/oidc-provider.ts";
import { type Decider, decider } from "../../support/world.ts";

const HOST = "console.example.com";
let op: TestProvider;

beforeAll(async () => {
  op = await startTestProvider({ redirectUris: [`https://${HOST}/oauth2/callback`] });
});
afterAll(() => op.close());

/**
 * oidc with `oidcExtra`, jwt (with `jwtExtra`) verifying Authorization with the provider's keys, and
 * a rule letting only alice in (without `rules`: no authorization at all).
 */
function world(oidcExtra: string, jwtExtra = "", rules = true): string {
  return `${gatewayWithRoute(HOST)}---
apiVersion: v1
kind: Secret
metadata: {name: console-oidc, namespace: apps}
data: {client-secret: ${base64(op.clientSecret)}}
---
${securityPolicy(
  "console",
  `
  oidc:
    provider: {issuer: "${op.issuer}"}
    clientID: ${op.clientId}
    clientSecret: {name: console-oidc}
${oidcExtra}
  jwt:
${jwtExtra}
    providers:
      - name: op
        issuer: "${op.issuer}"
        audiences: [${op.clientId}]
        remoteJWKS: {uri: "${op.issuer}/jwks"}
        claimToHeaders: [{claim: sub, header: x-user-id}]
${rules ? ALICE_ONLY : ""}`,
)}`;
}

const ALICE_ONLY = `  authorization:
    defaultAction: Deny
    rules: [{name: alice-only, action: Allow, principal: {jwt: {provider: op, claims: [{name: sub, values: [alice]}]}}}]
`;

async function worldDecider(oidcExtra: string, jwtExtra = "", rules = true): Promise<Decider> {
  const keys = createKeyStore({ logger: pino({ level: "silent" }) });
  const d = decider(world(oidcExtra, jwtExtra, rules), {
    keys,
    oidc: createOidcProviders({ logger: pino({ level: "silent" }), timeoutMs: 3000 }),
  });
  await keys.sync(d.result.snapshot.remoteJwks);
  return d;
}

/** Logs `user` in through check() and returns the Cookie header of the session. */
async function sessionOf(d: Decider, user: string): Promise<string> {
  const ask = (path: string, cookie?: string): Promise<Decision> =>
    d({ path, scheme: "https", host: HOST, headers: cookie === undefined ? {} : { cookie } });
  const login = await ask("/");
  expect(login.code).toBe("oidc_login");
  const loginCookie = login.cookies![0]!.split(";")[0]!;
  const back = await loginAt(login.responseHeaders.location!, user);
  const done = await ask(`${back.pathname}${back.search}`, loginCookie);
  expect(done.code).toBe("oidc_callback");
  return done.cookies![0]!.split(";")[0]!;
}

describe("oidc, then jwt, then authorization on one policy", () => {
  it("jwt verifies the ID token oidc forwards in Authorization; the rule over its claims lets alice in and keeps bob out", async () => {
    const d = await worldDecider("    forwardIDToken: {header: Authorization}");
    const alice = await d({ path: "/reports", scheme: "https", host: HOST, headers: { cookie: await sessionOf(d, "alice") } });
    expect([alice.status, alice.code]).toEqual([200, "allowed"]);
    expect(alice.upstreamHeaders["x-user-id"]).toBe("alice");
    expect(alice.upstreamHeaders.authorization).toMatch(/^Bearer eyJ/);
    const bob = await d({ path: "/reports", scheme: "https", host: HOST, headers: { cookie: await sessionOf(d, "bob") } });
    expect([bob.status, bob.code]).toEqual([403, "authz_denied"]);
  });

  it("a client's own Authorization does not stand in for the session's token (oidc's replaces it before jwt)", async () => {
    const d = await worldDecider("    forwardIDToken: {header: Authorization}");
    const bobSession = await sessionOf(d, "bob");
    const spoof = await d({
      path: "/reports",
      scheme: "https",
      host: HOST,
      headers: { cookie: bobSession, authorization: "Bearer not-a-token", "x-user-id": "alice" },
    });
    expect([spoof.status, spoof.code]).toEqual([403, "authz_denied"]);
  });

  it("passThroughAuthHeader: an API client's bearer token skips the login and is what jwt verifies", async () => {
    const d = await worldDecider("    passThroughAuthHeader: true\n    forwardAccessToken: true");
    const forged = await d({ path: "/api", scheme: "https", host: HOST, headers: { authorization: "Bearer eyJhbGciOiJub25lIn0.e30." } });
    expect([forged.status, forged.code]).toEqual([401, "jwt_invalid"]);
    const browser = await d({ path: "/api", scheme: "https", host: HOST, headers: {} });
    expect([browser.status, browser.code]).toEqual([302, "oidc_login"]);
  });

  it("passThroughAuthHeader with a failOpen jwt: a bearer that does not verify neither skips the login nor passes (regression)", async () => {
    // Before: the header skipped the login and failOpen let the refused token through, so any
    // `Authorization: Bearer x` opened a route that browsers reach only after logging in.
    const d = await worldDecider("    passThroughAuthHeader: true", "    failOpen: true", false);
    for (const authorization of ["Bearer x", "Bearer eyJhbGciOiJub25lIn0.e30."]) {
      const forged = await d({ path: "/api", scheme: "https", host: HOST, headers: { authorization } });
      expect([forged.status, forged.code, forged.upstreamHeaders]).toEqual([401, "jwt_invalid", {}]);
    }
    const browser = await d({ path: "/api", scheme: "https", host: HOST, headers: {} });
    expect([browser.status, browser.code]).toEqual([302, "oidc_login"]);
    // A token that verifies still passes, with its identity.
    const issuing = await worldDecider("    forwardIDToken: {header: Authorization}");
    const alice = await issuing({ path: "/reports", scheme: "https", host: HOST, headers: { cookie: await sessionOf(issuing, "alice") } });
    const token = alice.upstreamHeaders.authorization!;
    const api = await d({ path: "/api", scheme: "https", host: HOST, headers: { authorization: token } });
    expect([api.status, api.code, api.upstreamHeaders["x-user-id"]]).toEqual([200, "allowed", "alice"]);
    // A session still passes on failOpen's terms (no bearer of its own: oidc decides, jwt finds none).
    const session = await d({ path: "/api", scheme: "https", host: HOST, headers: { cookie: await sessionOf(d, "bob") } });
    expect([session.status, session.code]).toEqual([200, "allowed"]);
  });
});
