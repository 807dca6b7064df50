/**
 * The roles scenario end to end, on the example manifests through the real ports: the admin API
 * accepts only tokens whose roles contain admin; every other valid token gets 403.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { EXAMPLES, exampleToken, startTestApp, type TestApp } from "../support/app.ts";
import { send } from "../support/http.ts";

let app: TestApp;
const token = (roles: string) => exampleToken("carol", "maas-gateway", roles);
const admin = (headers: Record<string, string>, port = "authz") =>
  send(`${port === "authz" ? app.authz : app.forwardAuth}/v1/admin/tenants`, { headers: { host: "api.maas.example.com", ...headers } });

beforeAll(async () => {
  app = await startTestApp({}, EXAMPLES);
});
afterAll(() => app?.close());

it("an admin token is allowed, with its identity forwarded", async () => {
  const r = await admin({ authorization: `Bearer ${token("user,admin")}` });
  expect([r.status, r.header("x-user-id")]).toEqual([200, "carol"]);
});

it("a valid token without the admin role is forbidden, not unauthenticated", async () => {
  const r = await admin({ authorization: `Bearer ${token("user")}` });
  expect([r.status, r.json()]).toEqual([403, { code: "authz_denied", message: "Forbidden" }]);
});

it("no token is still 401 with the Bearer challenge", async () => {
  expect((await admin({})).status).toBe(401);
});

it("the same through the forward-auth port", async () => {
  const via = (roles: string) =>
    send(`${app.forwardAuth}/`, {
      headers: {
        "x-forwarded-method": "GET",
        "x-forwarded-host": "api.maas.example.com",
        "x-forwarded-uri": "/v1/admin/x",
        authorization: `Bearer ${token(roles)}`,
      },
    });
  expect((await via("admin")).status).toBe(200);
  expect((await via("")).status).toBe(403);
});
