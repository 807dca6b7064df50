/** Hot reload in standalone mode: editing the manifest folder changes decisions within a second or two. */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { EXAMPLES, startTestApp, within, type TestApp } from "../support/app.ts";
import { send } from "../support/http.ts";
import { base64, gatewayWithRoute } from "../support/manifests.ts";
import { writeMmdb } from "../support/mmdb.ts";

let app: TestApp;
const models = (key: string) => send(`${app.authz}/v1/models`, { headers: { host: "api.maas.example.com", "x-api-key": key } });

beforeAll(async () => {
  app = await startTestApp({}, EXAMPLES);
});
afterAll(() => app?.close());

it("counts the route rules no policy governs (the examples' /healthz)", async () => {
  const text = await (await fetch(`${app.admin}/metrics`)).text();
  expect(/^portcullis_route_rules_without_policy (\d+)$/m.exec(text)?.[1]).toBe("1");
});

it("a rotated API key works and the removed one is refused, without restart", async () => {
  expect((await models("example-alice-key-change-me")).status).toBe(200);
  app.write(
    "20-api-keys.yaml",
    readFileSync(join(EXAMPLES, "20-api-keys.yaml"), "utf8").replace(base64("example-alice-key-change-me"), base64("rotated-alice-key")),
  );
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

const lastGoodGauge = async () =>
  /^portcullis_serving_last_good_config\{source="manifests"\} (\d+)$/m.exec(await (await fetch(`${app.admin}/metrics`)).text())?.[1];

it("a file that stops parsing keeps its last good contents, and the gauge says so until it parses again", async () => {
  const generation = app.pipeline.current!.generation;
  const original = readFileSync(join(app.dir, "40-apikey-policy.yaml"), "utf8");
  expect(await lastGoodGauge()).toBe("0");
  app.write("40-apikey-policy.yaml", "apiVersion: [unclosed\n");
  await within(2000, async () => (await lastGoodGauge()) === "1");
  expect((await models("nope")).status).toBe(401);
  expect((await models("rotated-alice-key")).status).toBe(200);
  expect(app.pipeline.current!.generation).toBe(generation);
  app.write("40-apikey-policy.yaml", original);
  await within(2000, async () => (await lastGoodGauge()) === "0");
});

it("deleting a policy file opens its route again", async () => {
  app.write("40-apikey-policy.yaml", "");
  await within(2000, async () => (await models("anything")).status === 200);
});

it("a file replaced by rename (editors, ConfigMap mounts) is seen every time, not only the first", async () => {
  const { renameSync, writeFileSync } = await import("node:fs");
  const keys = readFileSync(join(EXAMPLES, "20-api-keys.yaml"), "utf8");
  for (const key of ["renamed-1", "renamed-2", "renamed-3"]) {
    const tmp = join(app.dir, ".tmp-keys");
    writeFileSync(tmp, keys.replace(base64("example-alice-key-change-me"), base64(key)));
    renameSync(tmp, join(app.dir, "20-api-keys.yaml"));
    await within(3000, async () => (await models(key)).status === 200);
  }
});

it("a manifest file broken from the start keeps the server from serving (not ready, every check denied) until it parses", async () => {
  const broken = await startTestApp({ "99-broken.yaml": "kind: [unclosed\n" }, EXAMPLES);
  try {
    const ask = () => send(`${broken.authz}/healthz`, { headers: { host: "api.maas.example.com" } });
    expect((await fetch(`${broken.admin}/readyz`)).status).toBe(503);
    expect([(await ask()).status, (await ask()).json().code]).toEqual([403, "not_ready"]);
    broken.write("99-broken.yaml", "");
    await within(3000, async () => (await ask()).status === 200);
    expect((await fetch(`${broken.admin}/readyz`)).status).toBe(200);
  } finally {
    await broken.close();
  }
});

/** A ClientTrafficPolicy whose clientIPDetection (one proxy in front) the test app's flags (none: the peer) contradict. */
const TRUSTS_ONE_HOP = `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: enable-client-ip-detection, namespace: default}
spec:
  clientIPDetection: {xForwardedFor: {numTrustedHops: 1}}
`;

it("a ClientTrafficPolicy the client address flags contradict keeps the server from serving (not ready, every check denied) until they agree", async () => {
  const contradicted = await startTestApp({ "90-client-traffic.yaml": TRUSTS_ONE_HOP }, EXAMPLES);
  try {
    const ask = () => send(`${contradicted.authz}/healthz`, { headers: { host: "api.maas.example.com" } });
    expect((await fetch(`${contradicted.admin}/readyz`)).status).toBe(503);
    expect([(await ask()).status, (await ask()).json().code]).toEqual([403, "not_ready"]);
    contradicted.write("90-client-traffic.yaml", "");
    await within(3000, async () => (await ask()).status === 200);
  } finally {
    await contradicted.close();
  }
});

it("a ClientTrafficPolicy the flags contradict, added to a served folder: the last snapshot stays in force, and the gauge says so", async () => {
  const generation = app.pipeline.current!.generation;
  app.write("90-client-traffic.yaml", TRUSTS_ONE_HOP);
  await within(2000, async () => (await lastGoodGauge()) === "1");
  expect(app.pipeline.current!.generation).toBe(generation);
  app.write("90-client-traffic.yaml", "");
  await within(2000, async () => (await lastGoodGauge()) === "0");
});

it("a GeoIP database missing at start-up: its policy denies (Invalid) until the file arrives, then it is enforced, without restart", async () => {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-geoip-"));
  const database = join(dir, "GeoLite2-Country.mmdb");
  const geo = await startTestApp(
    {
      "geo.yaml": `${gatewayWithRoute("geo.example.com")}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: us-only, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}]
  authorization: {rules: [{action: Allow, principal: {clientIPGeoLocations: [{country: US}]}}]}
`,
    },
    undefined,
    ["--geoip-database", database, "--xff-trusted-hops", "1"],
  );
  try {
    const from = (address: string) => send(`${geo.authz}/`, { headers: { host: "geo.example.com", "x-forwarded-for": address } });
    expect((await from("50.114.0.1")).json().code).toBe("policy_invalid");
    writeFileSync(
      `${database}.new`,
      writeMmdb({ databaseType: "GeoLite2-Country", networks: [{ network: "50.114.0.0/16", data: { country: { iso_code: "US" } } }] }),
    );
    renameSync(`${database}.new`, database);
    const ms = await within(3000, async () => (await from("50.114.0.1")).status === 200);
    expect((await from("81.2.69.160")).status).toBe(403);
    console.log(`GeoIP database enforced ${ms} ms after it arrived`);
  } finally {
    await geo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

it("serves what Envoy Gateway's file provider reads: a policy moved into policy.txt is enforced; moved into a subfolder, the last good contents stay in force until the subfolder goes", async () => {
  const served = await startTestApp({}, EXAMPLES);
  try {
    const unkeyed = async () => (await send(`${served.authz}/v1/models`, { headers: { host: "api.maas.example.com" } })).status;
    const gauge = async () =>
      /^portcullis_serving_last_good_config\{source="manifests"\} (\d+)$/m.exec(await (await fetch(`${served.admin}/metrics`)).text())?.[1];
    const policy = readFileSync(join(EXAMPLES, "40-apikey-policy.yaml"), "utf8");
    served.write("40-apikey-policy.yaml", "");
    await within(2000, async () => (await unkeyed()) === 200);
    served.write("policy.txt", policy);
    await within(2000, async () => (await unkeyed()) === 401);
    mkdirSync(join(served.dir, "team"));
    renameSync(join(served.dir, "policy.txt"), join(served.dir, "team", "policy.yaml"));
    await within(2000, async () => (await gauge()) === "1");
    expect(await unkeyed()).toBe(401);
    rmSync(join(served.dir, "team"), { recursive: true });
    await within(2000, async () => (await unkeyed()) === 200);
    expect(await gauge()).toBe("0");
  } finally {
    await served.close();
  }
});
