/**
 * Kubernetes mode against a real kube-apiserver + etcd (DESIGN §1, §6): Portcullis runs as the
 * non-admin user "portcullis" under the least-privilege RBAC, watches the API, enforces what is
 * applied and writes status by ancestor.
 */
import { readdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type ServeConfig } from "../../controller/config.ts";
import { startApp, type App } from "../../controller/runtime/app.ts";
import { KubeClient } from "../../controller/kube/client.ts";
import { KubeSource } from "../../controller/sources/kube/source.ts";
import { EPHEMERAL_PORTS } from "../support/app.ts";
import { send } from "../support/http.ts";
import { createTestCa } from "../support/test-ca.ts";
import { startApiServer, type ApiServer } from "./apiserver.ts";
import { Kube, readManifests, until, type Obj } from "./objects.ts";

const ROOT = join(import.meta.dirname, "../..");
const EXAMPLES = join(ROOT, "deploy/examples");
const CONTROLLER = "portcullis.io/gateway-controller";
const HOST = "api.maas.example.com";
/** The namespace deploy/base installs into, where its Role allows the Lease. */
const LEASE_NAMESPACE = "portcullis";
let api: ApiServer;
let kube: Kube;
const apps: App[] = [];

const example = (file: string) => readManifests(join(EXAMPLES, file));
const [apikeyPolicy] = example("40-apikey-policy.yaml") as [Obj];
const [keysSecret] = example("20-api-keys.yaml") as [Obj];
const routes = example("10-routes.yaml");

/** Every log line of every replica, parsed (pino's JSON), for the assertions on what an operator reads. */
const logLines: Obj[] = [];
const logSink = { write: (line: string) => void logLines.push(JSON.parse(line) as Obj) };

async function startReplica(identity: string): Promise<App> {
  const config = loadConfig(
    [
      "serve",
      "--kubeconfig",
      api.kubeconfigFor("portcullis"),
      ...EPHEMERAL_PORTS,
      "--lease-namespace",
      LEASE_NAMESPACE,
      "--lease-duration-seconds",
      "3",
      "--identity",
      identity,
      "--shutdown-grace-seconds",
      "1",
      "--shutdown-delay-seconds",
      "0",
    ],
    {},
  ) as ServeConfig;
  const app = await startApp(
    config,
    pino(
      { level: "info", base: { identity } },
      pino.multistream([
        { stream: logSink, level: "info" },
        ...(process.env.PORTCULLIS_TEST_LOG ? [{ stream: process.stdout, level: "info" as const }] : []),
      ]),
    ),
  );
  apps.push(app);
  await app.ready;
  return app;
}

const ask = (app: App, path: string, headers: Record<string, string> = {}) =>
  send(`http://127.0.0.1:${app.ports.authz}${path}`, { headers: { host: HOST, ...headers } });

const ancestorsOf = async (policy: Obj) =>
  ((await kube.get(policy))?.status?.ancestors ?? []) as {
    controllerName: string;
    conditions: { type: string; status: string; reason: string; lastTransitionTime?: string }[];
    ancestorRef: { kind: string; name: string };
  }[];
const accepted = async (policy: Obj) =>
  (await ancestorsOf(policy)).find((a) => a.controllerName === CONTROLLER)?.conditions.find((c) => c.type === "Accepted");

beforeAll(async () => {
  api = await startApiServer({ users: [{ name: "portcullis" }] });
  kube = new Kube(api.kubeconfigPath);
  // Everything crds/ ships (SecurityPolicy and Backend): the cluster has no Envoy Gateway.
  const shipped = readdirSync(join(ROOT, "crds")).map((f) => join(ROOT, "crds", f));
  await kube.installCrds(...shipped, join(ROOT, "test/kube/crds/gateway-api.yaml"));
  for (const ns of ["maas-system", LEASE_NAMESPACE]) await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  await kube.applyShippedRbac("portcullis");
}, 120_000);

afterAll(async () => {
  for (const app of apps) await app.stop();
  await api?.stop();
});

describe("Kubernetes mode", () => {
  let leader: App;

  it("enforces the seed manifests once applied, and reports apply → enforced latency", async () => {
    leader = await startReplica("replica-a");
    for (const file of ["00-gateway.yaml", "10-routes.yaml", "20-api-keys.yaml", "30-jwt-policy.yaml"])
      for (const o of example(file)) await kube.apply(o);
    await until(5000, async () => ((await ask(leader, "/v1/models")).status === 200 ? true : undefined), "the open models route");
    const applied = Date.now();
    await kube.apply(apikeyPolicy);
    await until(5000, async () => ((await ask(leader, "/v1/models")).status === 401 ? true : undefined), "API keys enforced");
    console.log(`apply → enforced: ${Date.now() - applied} ms`);
    expect((await ask(leader, "/v1/models", { "x-api-key": "example-alice-key-change-me" })).header("x-user-id")).toBe("alice");
    const condition = await until(5000, () => accepted(apikeyPolicy), "Accepted status");
    expect(condition).toMatchObject({ status: "True", reason: "Accepted", lastTransitionTime: expect.any(String) });
    const [ancestor] = await ancestorsOf(apikeyPolicy);
    expect(ancestor).toMatchObject({ controllerName: CONTROLLER, ancestorRef: { kind: "Gateway", name: "maas-gateway" } });
  });

  it("logs its first leadership (a lease it created) and every policy status change", async () => {
    await until(
      5000,
      async () =>
        logLines.some((l) => l.identity === "replica-a" && l.msg === "became the status writer (lease acquired)") ? true : undefined,
      "leadership logged",
    );
    const statuses = logLines.filter((l) => l.identity === "replica-a" && l.msg === "policy status").map((l) => l.status as Obj);
    expect(statuses).toContainEqual(
      expect.objectContaining({ policy: "maas-system/maas-apikey-auth", type: "Accepted", status: "True", reason: "Accepted" }),
    );
  });

  it("writes nothing when nothing changed: resourceVersion and lastTransitionTime stay put", async () => {
    const before = (await kube.get(apikeyPolicy))!;
    const time = (await accepted(apikeyPolicy))!.lastTransitionTime;
    // An unrelated change makes every replica rebuild; the policy's status is the same.
    await kube.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "unrelated", namespace: "maas-system" },
      data: { at: String(Date.now()) },
    });
    await kube.apply({
      ...routes.find((r) => r.metadata.name === "health")!,
      metadata: { ...routes.find((r) => r.metadata.name === "health")!.metadata, labels: { touched: "yes" } },
    });
    await new Promise((r) => setTimeout(r, 1000));
    const after = (await kube.get(apikeyPolicy))!;
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect((await accepted(apikeyPolicy))!.lastTransitionTime).toBe(time);
  });

  it("keeps another controller's ancestor entry through our writes", async () => {
    const current = (await kube.get(apikeyPolicy))!;
    const foreign = {
      ancestorRef: { group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "maas-system", name: "other-gw" },
      controllerName: "example.com/other",
      conditions: [
        {
          type: "Accepted",
          status: "True",
          reason: "Accepted",
          message: "theirs",
          lastTransitionTime: "2026-01-01T00:00:00Z",
          observedGeneration: 1,
        },
      ],
    };
    await kube.client.request(
      "PUT",
      `/apis/gateway.envoyproxy.io/v1alpha1/namespaces/maas-system/securitypolicies/maas-apikey-auth/status`,
      { ...current, status: { ancestors: [foreign] } },
    );
    // Our entry was removed by that write: Portcullis must put it back next to theirs.
    const both = await until(
      5000,
      async () => {
        const a = await ancestorsOf(apikeyPolicy);
        return a.length === 2 ? a : undefined;
      },
      "both entries",
    );
    expect(both.map((a) => a.controllerName).sort()).toEqual(["example.com/other", CONTROLLER]);
  });

  it("an invalid policy is Accepted=False/Invalid with a Warning event, denies its route, and recovers when fixed", async () => {
    await kube.apply({
      ...apikeyPolicy,
      spec: { ...apikeyPolicy.spec, apiKeyAuth: { ...apikeyPolicy.spec.apiKeyAuth, credentialRefs: [{ name: "no-such-secret" }] } },
    });
    await until(5000, async () => ((await accepted(apikeyPolicy))?.reason === "Invalid" ? true : undefined), "Invalid status");
    expect((await ask(leader, "/v1/models", { "x-api-key": "example-alice-key-change-me" })).json().code).toBe("policy_invalid");
    const events = await until(
      5000,
      async () => {
        const list = (await kube.list({ apiVersion: "v1", kind: "Event", metadata: { name: "", namespace: "maas-system" } })).filter(
          (e: any) => e.involvedObject?.name === "maas-apikey-auth" && e.type === "Warning",
        );
        return list.length > 0 ? list : undefined;
      },
      "Warning event",
    );
    expect((events[0] as any).reason).toBe("Invalid");
    await kube.apply(apikeyPolicy);
    await until(5000, async () => ((await accepted(apikeyPolicy))?.status === "True" ? true : undefined), "Accepted again");
    expect((await ask(leader, "/v1/models", { "x-api-key": "example-alice-key-change-me" })).status).toBe(200);
  });

  it("Secret rotation: the new key works and the removed one is refused, without restart", async () => {
    // The API server folds stringData over the example's data: alice's key is replaced, ci-runner's kept.
    await kube.apply({ ...keysSecret, stringData: { alice: "rotated-alice" } });
    await until(
      5000,
      async () => ((await ask(leader, "/v1/models", { "x-api-key": "rotated-alice" })).status === 200 ? true : undefined),
      "rotated key",
    );
    expect((await ask(leader, "/v1/models", { "x-api-key": "example-alice-key-change-me" })).status).toBe(401);
  });

  it("route deleted → TargetNotFound; policy deleted → the route's requests are no longer governed by it", async () => {
    const models = routes.find((r) => r.metadata.name === "models")!;
    await kube.remove(models);
    await until(5000, async () => ((await accepted(apikeyPolicy))?.reason === "TargetNotFound" ? true : undefined), "TargetNotFound");
    expect((await ask(leader, "/v1/models")).json().code).toBe("route_not_found");
    await kube.apply(models);
    await until(5000, async () => ((await ask(leader, "/v1/models")).status === 401 ? true : undefined), "route back");
    await kube.remove(apikeyPolicy);
    await until(5000, async () => ((await ask(leader, "/v1/models")).status === 200 ? true : undefined), "route open again");
    await kube.apply(apikeyPolicy);
  });

  it("watches GRPCRoutes: a policy on one governs its calls and is Accepted on its Gateway; deleted, the calls fall to the open routes", async () => {
    const grpcRoute: Obj = {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "GRPCRoute",
      metadata: { name: "orders", namespace: "maas-system" },
      spec: {
        parentRefs: [{ name: "maas-gateway" }],
        hostnames: [HOST],
        rules: [{ matches: [{ method: { service: "orders.v1.OrderService" } }] }],
      },
    };
    const grpcPolicy: Obj = {
      apiVersion: "gateway.envoyproxy.io/v1alpha1",
      kind: "SecurityPolicy",
      metadata: { name: "orders-keys", namespace: "maas-system" },
      spec: {
        targetRefs: [{ group: "gateway.networking.k8s.io", kind: "GRPCRoute", name: "orders" }],
        apiKeyAuth: { credentialRefs: [{ name: keysSecret.metadata.name }], extractFrom: [{ headers: ["X-API-Key"] }] },
      },
    };
    const call = () => ask(leader, "/orders.v1.OrderService/GetOrder");
    const before = (await call()).json().code;
    await kube.apply(grpcRoute);
    await kube.apply(grpcPolicy);
    await until(5000, async () => ((await call()).json().code === "apikey_missing" ? true : undefined), "GRPCRoute policy enforced");
    await until(5000, async () => ((await accepted(grpcPolicy))?.status === "True" ? true : undefined), "Accepted");
    expect((await ancestorsOf(grpcPolicy)).map((a) => a.ancestorRef.kind)).toEqual(["Gateway"]);
    await kube.remove(grpcPolicy);
    await kube.remove(grpcRoute);
    await until(5000, async () => ((await call()).json().code === before ? true : undefined), "GRPCRoute gone");
  });

  it("extAuth through an Envoy Gateway Backend (Portcullis' own CRD): its ip endpoint's service decides; an invalid Backend makes the policy Invalid", async () => {
    // The external authorization service: allows only "Bearer good", and names the user upstream.
    const service: Server = createServer((req, res) => {
      if (req.headers.authorization === "Bearer good") res.writeHead(200, { "x-user-id": "from-backend" }).end();
      else res.writeHead(403, { "content-type": "text/plain" }).end("not you");
    });
    await new Promise<void>((resolve) => service.listen(0, "127.0.0.1", resolve));
    const port = (service.address() as AddressInfo).port;
    const backend: Obj = {
      apiVersion: "gateway.envoyproxy.io/v1alpha1",
      kind: "Backend",
      metadata: { name: "authz", namespace: "maas-system" },
      spec: { endpoints: [{ ip: { address: "127.0.0.1", port } }] },
    };
    const route: Obj = {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "ext", namespace: "maas-system" },
      spec: {
        parentRefs: [{ name: "maas-gateway" }],
        hostnames: [HOST],
        rules: [{ matches: [{ path: { type: "PathPrefix", value: "/ext" } }] }],
      },
    };
    const policy: Obj = {
      apiVersion: "gateway.envoyproxy.io/v1alpha1",
      kind: "SecurityPolicy",
      metadata: { name: "ext-backend", namespace: "maas-system" },
      spec: {
        targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "ext" }],
        extAuth: {
          http: { backendRefs: [{ group: "gateway.envoyproxy.io", kind: "Backend", name: "authz" }], headersToBackend: ["x-user-id"] },
        },
      },
    };
    try {
      for (const o of [backend, route, policy]) await kube.apply(o);
      await until(5000, async () => ((await accepted(policy))?.status === "True" ? true : undefined), "Accepted");
      const allowed = await ask(leader, "/ext/a", { authorization: "Bearer good" });
      expect(allowed.status).toBe(200);
      expect(allowed.header("x-user-id")).toBe("from-backend");
      const refused = await ask(leader, "/ext/a", { authorization: "Bearer bad" });
      expect([refused.status, refused.body]).toEqual([403, "not you"]);

      // Our CRD has no CEL: the API server stores an endpoint with both ip and fqdn; Portcullis refuses it, by name.
      await kube.apply({
        ...backend,
        spec: { endpoints: [{ ip: { address: "127.0.0.1", port }, fqdn: { hostname: "authz.example.com", port } }] },
      });
      const invalid = await until(
        5000,
        async () => {
          const c = await accepted(policy);
          return c?.reason === "Invalid" ? c : undefined;
        },
        "Invalid status",
      );
      expect((invalid as { message?: string }).message).toBe(
        "ExtAuth: Backend maas-system/authz: spec.endpoints[0]: sets more than one of fqdn, ip or unix; exactly one is allowed",
      );
      expect((await ask(leader, "/ext/a", { authorization: "Bearer good" })).json().code).toBe("policy_invalid");
    } finally {
      for (const o of [policy, route, backend]) await kube.remove(o);
      await new Promise((resolve) => service.close(resolve));
    }
  });

  it("two replicas: one writes status; when it stops, the other takes over within the lease duration", async () => {
    const standby = await startReplica("replica-b");
    await until(5000, async () => (leader.leading() ? true : undefined));
    expect(standby.leading()).toBe(false);
    await until(5000, async () => ((await ask(standby, "/v1/models")).status === 401 ? true : undefined), "standby serving");
    // Decisions are checked on the standby the whole time the leader goes away: none may be wrong.
    let checking = true;
    let checked = 0;
    const watch = (async () => {
      while (checking) {
        expect((await ask(standby, "/v1/models")).status).toBe(401);
        expect((await ask(standby, "/v1/models", { "x-api-key": "rotated-alice" })).status).toBe(200);
        checked += 2;
      }
    })();
    const stopped = Date.now();
    await leader.stop();
    apps.splice(apps.indexOf(leader), 1);
    await until(3000 + 2000, async () => (standby.leading() ? true : undefined), "standby leading");
    checking = false;
    await watch;
    expect(checked).toBeGreaterThan(0);
    console.log(`leader handover: ${Date.now() - stopped} ms (lease 3 s, released on stop)`);
    const lease = await kube.get({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "portcullis-status-writer", namespace: LEASE_NAMESPACE },
    });
    expect(lease?.spec.holderIdentity).toBe("replica-b");
    // The new leader writes: break the policy and watch its status change.
    await kube.apply({
      ...apikeyPolicy,
      spec: { ...apikeyPolicy.spec, apiKeyAuth: { ...apikeyPolicy.spec.apiKeyAuth, forwardClientIDHeader: "bad header" } },
    });
    await until(5000, async () => ((await accepted(apikeyPolicy))?.reason === "Invalid" ? true : undefined), "status from the new leader");
    await kube.apply(apikeyPolicy);
    leader = standby;
  });

  it("API server away for 10 s: checks keep being answered from the last snapshot; watches resume and later changes are enforced", async () => {
    await until(5000, async () => ((await ask(leader, "/v1/models", { "x-api-key": "rotated-alice" })).status === 200 ? true : undefined));
    await api.stopApiServer();
    const outageEnds = Date.now() + 10_000;
    let answered = 0;
    while (Date.now() < outageEnds) {
      expect((await ask(leader, "/v1/models", { "x-api-key": "rotated-alice" })).status).toBe(200);
      expect((await ask(leader, "/v1/models", { "x-api-key": "wrong" })).status).toBe(401);
      answered += 2;
      await new Promise((r) => setTimeout(r, 100));
    }
    await api.startApiServer();
    const restarted = Date.now();
    await kube.apply({ ...keysSecret, stringData: { alice: "after-outage", "ci-runner": "x" } });
    await until(
      20_000,
      async () => ((await ask(leader, "/v1/models", { "x-api-key": "after-outage" })).status === 200 ? true : undefined),
      "change after the outage",
    );
    console.log(`API server outage: ${answered} checks answered correctly; change after restart enforced in ${Date.now() - restarted} ms`);
    // Status converges after the outage: a change made now is reported by the (re-elected) leader.
    await kube.apply({
      ...apikeyPolicy,
      spec: { ...apikeyPolicy.spec, apiKeyAuth: { ...apikeyPolicy.spec.apiKeyAuth, credentialRefs: [{ name: "gone" }] } },
    });
    await until(
      20_000,
      async () => ((await accepted(apikeyPolicy))?.reason === "Invalid" ? true : undefined),
      "status written after the outage",
    );
    await kube.apply(apikeyPolicy);
    await until(20_000, async () => ((await accepted(apikeyPolicy))?.status === "True" ? true : undefined), "status back to Accepted");
  }, 60_000);

  it("BackendTLSPolicy served as v1alpha3 only (Gateway API 1.1 to 1.3): read, so extAuth reaches an HTTPS Backend through the private CA it names", async () => {
    // Swap the v1 CRD for one serving v1alpha3 only, as the experimental channel of those releases installs it.
    const [crd] = readManifests(join(ROOT, "test/kube/crds/gateway-api.yaml")).filter((c) => c.spec.names.kind === "BackendTLSPolicy") as [
      Obj,
    ];
    await kube.remove(crd);
    await until(10_000, async () => ((await kube.get(crd)) === undefined ? true : undefined), "v1 CRD gone");
    await kube.installCrdObjects({ ...crd, spec: { ...crd.spec, versions: [{ ...crd.spec.versions[0], name: "v1alpha3" }] } });

    const ca = createTestCa();
    const certificate = ca.issue("authz.internal");
    const service = createHttpsServer({ key: certificate.keyPem, cert: certificate.certPem }, (req, res) => {
      res.writeHead(req.headers.authorization === "Bearer good" ? 200 : 403).end();
    });
    await new Promise<void>((resolve) => service.listen(0, "127.0.0.1", resolve));
    const port = (service.address() as AddressInfo).port;
    const objects: Obj[] = [
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "authz-ca", namespace: "maas-system" }, data: { "ca.crt": ca.certPem } },
      {
        apiVersion: "gateway.envoyproxy.io/v1alpha1",
        kind: "Backend",
        metadata: { name: "authz-tls", namespace: "maas-system" },
        spec: { endpoints: [{ ip: { address: "127.0.0.1", port } }] },
      },
      {
        apiVersion: "gateway.networking.k8s.io/v1alpha3",
        kind: "BackendTLSPolicy",
        metadata: { name: "authz-tls", namespace: "maas-system" },
        spec: {
          targetRefs: [{ group: "gateway.envoyproxy.io", kind: "Backend", name: "authz-tls" }],
          validation: { caCertificateRefs: [{ group: "", kind: "ConfigMap", name: "authz-ca" }], hostname: "authz.internal" },
        },
      },
      {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name: "tls", namespace: "maas-system" },
        spec: {
          parentRefs: [{ name: "maas-gateway" }],
          hostnames: [HOST],
          rules: [{ matches: [{ path: { type: "PathPrefix", value: "/tls" } }] }],
        },
      },
      {
        apiVersion: "gateway.envoyproxy.io/v1alpha1",
        kind: "SecurityPolicy",
        metadata: { name: "tls-backend", namespace: "maas-system" },
        spec: {
          targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "tls" }],
          extAuth: { http: { backendRefs: [{ group: "gateway.envoyproxy.io", kind: "Backend", name: "authz-tls" }] } },
        },
      },
    ];
    try {
      for (const o of objects) await kube.apply(o);
      await until(10_000, async () => ((await accepted(objects[4]!))?.status === "True" ? true : undefined), "Accepted");
      // Without the policy's CA (v1 not served, v1alpha3 unread) the call is plain text to a TLS server: 403 extauth_error.
      await until(
        10_000,
        async () => ((await ask(leader, "/tls", { authorization: "Bearer good" })).status === 200 ? true : undefined),
        "allowed over TLS",
      );
      expect((await ask(leader, "/tls", { authorization: "Bearer bad" })).status).toBe(403);
      expect(logLines.some((l) => l.kind === "BackendTLSPolicy" && l.apiVersion === "gateway.networking.k8s.io/v1alpha3")).toBe(true);
    } finally {
      for (const o of objects.reverse()) await kube.remove(o);
      await new Promise((resolve) => service.close(resolve));
    }
  });
});

describe("KubeSource", () => {
  it("reads ListenerSets and Namespace labels under the shipped RBAC", async () => {
    await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "shop", labels: { team: "payments" } } });
    await kube.apply({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "ListenerSet",
      metadata: { name: "ext", namespace: "shop" },
      spec: {
        parentRef: { name: "maas-gateway", namespace: "maas-system" },
        listeners: [{ name: "ext-http", protocol: "HTTP", port: 8081 }],
      },
    });
    const source = new KubeSource({
      client: KubeClient.load(api.kubeconfigFor("portcullis")),
      logger: pino({ level: "silent" }),
      onChange: () => {},
    });
    source.start();
    await source.synced;
    const { listenerSets, namespaces } = source.resources();
    expect(listenerSets.map((l) => [`${l.metadata.namespace}/${l.metadata.name}`, l.spec.listeners[0]!.port])).toEqual([
      ["shop/ext", 8081],
    ]);
    expect(namespaces.find((n) => n.metadata.name === "shop")?.metadata.labels).toEqual({ team: "payments" });
    source.stop();
  });

  it("holds only the Secrets and ConfigMaps that policies reference", async () => {
    for (let i = 0; i < 30; i++)
      await kube.apply({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `unrelated-${i}`, namespace: "maas-system" },
        stringData: { k: "v".repeat(1000) },
      });
    const source = new KubeSource({
      client: KubeClient.load(api.kubeconfigFor("portcullis")),
      logger: pino({ level: "silent" }),
      onChange: () => {},
    });
    source.start();
    await source.synced;
    expect(source.resources().secrets).toEqual([]);
    expect(
      await source.loadReferences({
        secrets: ["maas-system/maas-api-keys", "maas-system/not-there"],
        configMaps: [],
        services: [],
        backends: [],
      }),
    ).toBe(true);
    expect(source.resources().secrets.map((s) => s.metadata.name)).toEqual(["maas-api-keys"]);
    expect(await source.loadReferences({ secrets: [], configMaps: [], services: [], backends: [] })).toBe(true);
    expect(source.resources().secrets).toEqual([]);
    source.stop();
  });
});
