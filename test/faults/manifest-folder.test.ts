/**
 * The manifest folder against the real `portcullis serve` process: a policy file broken at
 * start-up (not ready, every check denied, until it parses; then the ready line), a file broken later (the folder's
 * last good contents stay in force, whole), and key revocations written the ways editors and
 * Kubernetes write files (replaced by rename; a ConfigMap volume's `..data` swap), each timed from
 * the write to the first check that enforces it.
 */
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { LAST_GOOD_HELP } from "../../controller/server/metrics.ts";
import { POLL_INTERVAL_MS } from "../../controller/sources/manifests.ts";
import { writeConfigMapVolume } from "../support/configmap-volume.ts";
import { base64, gatewayWithRoute } from "../support/manifests.ts";
import { ask, get, serve, until, type Served } from "./process.ts";

const ROUTES = gatewayWithRoute("api.test", { keys: "/keys", open: "/open" });
const keys = (key: string) => `apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: apps}
data: {alice: ${base64(key)}}
`;
const POLICY = `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: keys, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api, sectionName: keys}]
  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key]}], forwardClientIDHeader: x-client-id}
`;
/** The policy with a typo after it: the file does not parse. */
const BROKEN_POLICY = `${POLICY}  bogus: [unclosed\n`;
/**
 * The bound on a change reaching checks: the poll (which catches what the directory watches miss),
 * the debounce and a compile, with room for a busy host. The directory watches take about 0.1 s.
 */
const ENFORCED_WITHIN_MS = POLL_INTERVAL_MS + 1500;

const check = (app: Served, path: string, key?: string) =>
  ask(app.authz, path, { host: "api.test", ...(key === undefined ? {} : { "x-api-key": key }) });
const lastGood = (app: Served) => app.metric("portcullis_serving_last_good_config", { source: "manifests" });
const ready = async (app: Served) => (await get(app.admin, "/readyz")) === "ready\n";
const logged = (app: Served, msg: string, file?: string) =>
  app.logs().find((l) => l.msg.includes(msg) && (file === undefined || l.file === file));

/** Makes the change `write` does, then times until `key` is accepted on /keys; the key before it must then be refused. */
async function revoke(app: Served, write: () => void, key: string, revoked: string): Promise<number> {
  const started = Date.now();
  write();
  await until(ENFORCED_WITHIN_MS, `key ${key} accepted`, async () => (await check(app, "/keys", key)).status === 200);
  const ms = Date.now() - started;
  expect(await check(app, "/keys", revoked)).toMatchObject({ status: 401, code: "apikey_invalid" });
  return ms;
}

it("a policy file broken at start-up: not ready, every check denied (not_ready), the file and line logged, portcullis_serving_last_good_config 1 with a help that says nothing is served yet; enforced once it parses", {
  timeout: 30_000,
}, async () => {
  const app = await serve({ "routes.yaml": ROUTES, "keys.yaml": keys("key-1"), "policy.yaml": BROKEN_POLICY });
  try {
    await until(10_000, "the broken file logged", () => logged(app, "manifest file is broken", "policy.yaml") !== undefined);
    const line = logged(app, "manifest file is broken", "policy.yaml")!;
    expect(line).toMatchObject({ level: 50, error: expect.stringMatching(/^line \d+, column \d+: /) });
    expect(
      logged(
        app,
        "not ready: every check is denied until every manifest file parses and holds no invalid or unknown object (the errors above say which)",
      ),
    ).toBeDefined();
    expect(await ready(app)).toBe(false);
    expect(await lastGood(app)).toBe(1);
    expect(logged(app, "ready: checks are decided by the loaded policies")).toBeUndefined();
    // Nothing is served yet: the gauge's help must say what its 1 means here too, not only "the last good version is served".
    const help = /^# HELP portcullis_serving_last_good_config (.*)$/m.exec(await get(app.admin, "/metrics"))?.[1];
    expect(help).toBe(LAST_GOOD_HELP);
    expect(help).toMatch(/before there is one, nothing is \(not ready, every check denied\)/);
    // The route the broken file's policy protects, and one it does not: what it held is unknown.
    expect(await check(app, "/keys", "key-1")).toMatchObject({ status: 403, code: "not_ready" });
    expect(await check(app, "/open")).toMatchObject({ status: 403, code: "not_ready" });

    const fixedAt = Date.now();
    writeFileSync(join(app.dir, "policy.yaml"), POLICY);
    await until(ENFORCED_WITHIN_MS, "the fixed folder enforced", async () => (await check(app, "/keys", "key-1")).status === 200);
    console.log(`broken at start-up: enforced ${Date.now() - fixedAt} ms after the file was fixed`);
    expect(await check(app, "/keys")).toMatchObject({ status: 401, code: "apikey_missing" });
    expect((await check(app, "/open")).status).toBe(200);
    expect(await ready(app)).toBe(true);
    expect(await lastGood(app)).toBe(0);
    expect(logged(app, "every manifest file parses again")).toBeDefined();
    expect(logged(app, "ready: checks are decided by the loaded policies")).toBeDefined();
  } finally {
    await app.close();
  }
});

it("a file broken after start-up: the folder's last good contents stay in force, whole (a policy moved into it included)", {
  timeout: 30_000,
}, async () => {
  const app = await serve({ "routes.yaml": ROUTES, "keys.yaml": keys("key-1"), "policy.yaml": POLICY });
  try {
    await until(10_000, "ready", () => ready(app));
    // One edit moves the policy into a new file that does not parse: in neither file, its route would open.
    writeFileSync(join(app.dir, "team.yaml"), BROKEN_POLICY);
    writeFileSync(join(app.dir, "policy.yaml"), "");
    await until(
      ENFORCED_WITHIN_MS,
      "the broken file logged",
      () => logged(app, "last good contents stay in force", "team.yaml") !== undefined,
    );
    expect(await lastGood(app)).toBe(1);
    expect(await ready(app)).toBe(true);
    expect(await check(app, "/keys")).toMatchObject({ status: 401, code: "apikey_missing" });
    expect((await check(app, "/keys", "key-1")).headers["x-client-id"]).toBe("alice");

    writeFileSync(join(app.dir, "team.yaml"), POLICY);
    await until(ENFORCED_WITHIN_MS, "the fixed folder enforced", async () => (await lastGood(app)) === 0);
    expect(await check(app, "/keys")).toMatchObject({ status: 401, code: "apikey_missing" });
    expect(logged(app, "every manifest file parses again")).toBeDefined();
  } finally {
    await app.close();
  }
});

it("a key revoked by replacing its file by rename (an editor's save) is refused each time, timed", { timeout: 60_000 }, async () => {
  const app = await serve({ "routes.yaml": ROUTES, "keys.yaml": keys("key-0"), "policy.yaml": POLICY });
  try {
    await until(10_000, "ready", () => ready(app));
    const times: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const replace = () => {
        writeFileSync(join(app.dir, ".keys.yaml.swp"), keys(`key-${i}`));
        renameSync(join(app.dir, ".keys.yaml.swp"), join(app.dir, "keys.yaml"));
      };
      times.push(await revoke(app, replace, `key-${i}`, `key-${i - 1}`));
    }
    console.log(`replaced by rename: each new key enforced after ${times.join(", ")} ms`);
  } finally {
    await app.close();
  }
});

it("a key revoked by a ConfigMap volume update (the kubelet's ..data swap) is refused each time, timed", { timeout: 60_000 }, async () => {
  const volume = (key: string) => ({ "routes.yaml": ROUTES, "keys.yaml": keys(key), "policy.yaml": POLICY });
  const app = await serve((dir) => writeConfigMapVolume(dir, volume("key-0")));
  try {
    await until(10_000, "ready", () => ready(app));
    const times: number[] = [];
    for (let i = 1; i <= 5; i++)
      times.push(await revoke(app, () => writeConfigMapVolume(app.dir, volume(`key-${i}`)), `key-${i}`, `key-${i - 1}`));
    console.log(`ConfigMap ..data swap: each new key enforced after ${times.join(", ")} ms`);
  } finally {
    await app.close();
  }
});
