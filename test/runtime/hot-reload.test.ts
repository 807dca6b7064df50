/** Hot reload in standalone mode: editing the manifest folder changes decisions within a second or two. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { EXAMPLES, startTestApp, within, type TestApp } from "../support/app.ts";
import { send } from "../support/http.ts";

let app: TestApp;
const models = (key: string) => send(`${app.authz}/v1/models`, { headers: { host: "api.maas.example.com", "x-api-key": key } });

beforeAll(async () => {
  app = await startTestApp({}, EXAMPLES);
});
afterAll(() => app?.close());

it("a rotated API key works and the removed one is refused, without restart", async () => {
  expect((await models("example-alice-key-change-me")).status).toBe(200);
  app.write("20-api-keys.yaml", readFileSync(join(EXAMPLES, "20-api-keys.yaml"), "utf8").replace("example-alice-key-change-me", "rotated-alice-key"));
  const ms = await within(2000, async () => (await models("rotated-alice-key")).status === 200);
  expect((await models("example-alice-key-change-me")).status).toBe(401);
  console.log(`hot reload: new key enforced after ${ms} ms`);
});

it("a policy made invalid denies its routes (fail closed) and fixing it restores them", async () => {
  const original = readFileSync(join(EXAMPLES, "40-apikey-policy.yaml"), "utf8");
  app.write("40-apikey-policy.yaml", original.replace("maas-api-keys", "no-such-secret"));
  await within(2000, async () => {
    const r = await models("rotated-alice-key");
    return r.status === 403 && r.json().code === "policy_invalid";
  });
  app.write("40-apikey-policy.yaml", original);
  await within(2000, async () => (await models("rotated-alice-key")).status === 200);
});

it("a file that stops parsing keeps its last good contents", async () => {
  const generation = app.pipeline.current!.generation;
  app.write("40-apikey-policy.yaml", "apiVersion: [unclosed\n");
  await new Promise((r) => setTimeout(r, 500));
  expect((await models("nope")).status).toBe(401);
  expect((await models("rotated-alice-key")).status).toBe(200);
  expect(app.pipeline.current!.generation).toBe(generation);
});

it("deleting a policy file opens its route again", async () => {
  app.write("40-apikey-policy.yaml", "# removed\n");
  await within(2000, async () => (await models("anything")).status === 200);
});
