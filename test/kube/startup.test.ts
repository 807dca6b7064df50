/**
 * Kubernetes mode from start to ready against a real kube-apiserver + etcd (DESIGN §1): the world
 * is compiled once, after every kind and the Secrets the policies reference have been listed, and
 * the first status written of each policy is its right one (no "Secret not found" for a Secret that
 * had not been listed yet); a Secret that truly is missing is still reported by name.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createIdp } from "../../bench/tokens.ts";
import { buildWorld } from "../../bench/world.ts";
import type { WatchEvent } from "../../controller/kube/client.ts";
import { startApp, type App } from "../../controller/runtime/app.ts";
import { testServeConfig } from "../support/app.ts";
import { send } from "../support/http.ts";
import { startApiServer, type ApiServer } from "./apiserver.ts";
import { Kube, readManifests, until, type Obj } from "./objects.ts";

const ROOT = join(import.meta.dirname, "../..");
const CONTROLLER = "portcullis.io/gateway-controller";
const LEASE_NAMESPACE = "portcullis";
const TENANTS = 40;
/** A user bound to the shipped RBAC without Secrets (restrictedRbac). */
const RESTRICTED = "restricted";
let api: ApiServer;
let kube: Kube;
let app: App | undefined;
const watchStop = new AbortController();
/** Every status of a SecurityPolicy the API server stored, in order, by "namespace/name". */
const statusesSeen = new Map<string, Obj["status"][]>();

/** Our ancestor entries' Accepted conditions in `status`. */
const acceptedOf = (status: Obj["status"]) =>
  (
    (status?.ancestors ?? []) as {
      controllerName: string;
      conditions: { type: string; status: string; reason: string; message: string }[];
    }[]
  )
    .filter((a) => a.controllerName === CONTROLLER)
    .map((a) => a.conditions.find((c) => c.type === "Accepted")!);

beforeAll(async () => {
  api = await startApiServer({ users: [{ name: "portcullis" }, { name: RESTRICTED }] });
  kube = new Kube(api.kubeconfigPath);
  const shipped = readdirSync(join(ROOT, "crds")).map((f) => join(ROOT, "crds", f));
  await kube.installCrds(...shipped, join(ROOT, "test/kube/crds/gateway-api.yaml"));
  await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: LEASE_NAMESPACE } });
  await kube.applyShippedRbac("portcullis");
  const world = buildWorld({ tenants: TENANTS, keysPerSecret: 2, jwk: createIdp().jwk }).objects as Obj[];
  // A policy whose Secret does not exist, on a route of its own, and Secrets no policy references.
  const missing: Obj[] = [
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "route-missing", namespace: "tenant-0" },
      spec: { parentRefs: [{ name: "gateway", namespace: "bench-gateway" }], hostnames: ["missing.example.com"] },
    },
    {
      apiVersion: "gateway.envoyproxy.io/v1alpha1",
      kind: "SecurityPolicy",
      metadata: { name: "policy-missing", namespace: "tenant-0" },
      spec: {
        targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "route-missing" }],
        apiKeyAuth: { credentialRefs: [{ name: "no-such-keys" }], extractFrom: [{ headers: ["X-API-Key"] }] },
      },
    },
    ...Array.from({ length: 20 }, (_, i) => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `unrelated-${i}`, namespace: "tenant-0" },
      stringData: { k: "v" },
    })),
  ];
  await kube.createAll([...world, ...missing]);
  // Every status the API server stores from here on, as a watch sees it.
  const path = "/apis/gateway.envoyproxy.io/v1alpha1/securitypolicies";
  const listed = await kube.client.request<{ metadata: { resourceVersion: string } }>("GET", path);
  void kube.client
    .watch(
      path,
      listed.metadata.resourceVersion,
      (e: WatchEvent) => {
        if (e.type !== "MODIFIED" || e.object.status === undefined) return;
        const key = `${e.object.metadata.namespace}/${e.object.metadata.name}`;
        statusesSeen.set(key, [...(statusesSeen.get(key) ?? []), e.object.status]);
      },
      watchStop.signal,
    )
    .catch(() => {});
}, 180_000);

afterAll(async () => {
  watchStop.abort();
  await app?.stop();
  await api?.stop();
});

it("compiles the world once before ready, and writes each policy's right status first", async () => {
  const config = testServeConfig([
    "--kubeconfig",
    api.kubeconfigFor("portcullis"),
    "--lease-namespace",
    LEASE_NAMESPACE,
    "--identity",
    "startup",
  ]);
  app = await startApp(config, pino({ level: process.env.PORTCULLIS_TEST_LOG ? "info" : "silent" }));
  await app.ready;
  const metrics = (await send(`http://127.0.0.1:${app.ports.admin}/metrics`)).body;
  // The metric an operator reads: one compile before ready (two, before: the first without any Secret).
  expect(metrics).toMatch(/^portcullis_compile_duration_seconds_count 1$/m);
  expect(metrics).toMatch(/^portcullis_snapshot_generation 1$/m);

  const policies = TENANTS + 1;
  await until(30_000, async () => (statusesSeen.size === policies ? true : undefined), `status of all ${policies} policies`);
  for (const [key, seen] of statusesSeen) {
    for (const status of seen) {
      const accepted = acceptedOf(status);
      expect(accepted.length, key).toBeGreaterThan(0);
      if (key === "tenant-0/policy-missing")
        for (const c of accepted)
          expect(c, key).toMatchObject({
            status: "False",
            reason: "Invalid",
            message: expect.stringContaining("tenant-0/no-such-keys not found"),
          });
      else for (const c of accepted) expect(c, key).toMatchObject({ status: "True", reason: "Accepted" });
    }
  }
});

/**
 * deploy/base/rbac.yaml for RESTRICTED, its objects renamed, without the Secrets rule's `secrets`:
 * as a cluster whose RBAC was not upgraded, or a namespace whose Secrets an admission policy hides.
 */
const restrictedRbac = (): Obj[] =>
  readManifests(join(ROOT, "deploy/base/rbac.yaml")).map((o) => ({
    ...o,
    metadata: { ...o.metadata, name: `${o.metadata.name}-${RESTRICTED}` },
    ...("rules" in o
      ? { rules: (o.rules as { resources: string[] }[]).map((r) => ({ ...r, resources: r.resources.filter((k) => k !== "secrets") })) }
      : {}),
    ...("roleRef" in o
      ? {
          roleRef: { ...(o.roleRef as object), name: `${(o.roleRef as { name: string }).name}-${RESTRICTED}` },
          subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: RESTRICTED }],
        }
      : {}),
  }));

it("stays not ready, saying why, while the referenced Secrets cannot be listed (403), and is ready once they can, compiled once", async () => {
  for (const o of restrictedRbac()) await kube.apply(o);
  const logs: { level: number; kind?: string; error?: string; msg: string }[] = [];
  const restricted = await startApp(
    testServeConfig(["--kubeconfig", api.kubeconfigFor(RESTRICTED), "--lease-namespace", LEASE_NAMESPACE, "--identity", "restricted"]),
    pino({ level: "warn" }, { write: (line: string) => void logs.push(JSON.parse(line)) }),
  );
  try {
    const admin = `http://127.0.0.1:${restricted.ports.admin}`;
    // Every other kind is listed; the Secrets the policies reference are not: a warning names the kind and the API server's answer.
    const warned = await until(30_000, async () => logs.find((l) => l.kind === "Secret"), "a warning about Secrets");
    expect(warned).toMatchObject({ level: 40, msg: "list/watch failed; not ready until it is listed once" });
    expect(warned.error).toMatch(/403|forbidden/i);
    expect((await send(`${admin}/readyz`)).status).toBe(503);
    const notReady = await send(`${admin}/metrics`);
    expect(notReady.body).toMatch(/^portcullis_compile_duration_seconds_count 0$/m);

    await kube.apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: `${RESTRICTED}-secrets` },
      rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"] }],
    } as Obj);
    await kube.apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: `${RESTRICTED}-secrets` },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: `${RESTRICTED}-secrets` },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: RESTRICTED }],
    } as Obj);
    await restricted.ready;
    expect((await send(`${admin}/readyz`)).status).toBe(200);
    // The first compile waited for the Secrets: one compile, and no policy reported a Secret present as not found.
    expect((await send(`${admin}/metrics`)).body).toMatch(/^portcullis_compile_duration_seconds_count 1$/m);
  } finally {
    await restricted.stop();
  }
}, 120_000);
