/**
 * The "beside Envoy Gateway" recipe against a real kube-apiserver 1.20: Envoy Gateway v1.9.0's own
 * SecurityPolicy CRD, an Envoy Gateway GatewayClass (`eg`), its Gateway and an HTTPRoute, the
 * Service as deploy/base (and the chart) ship it, and deploy/proxies/envoy-gateway/
 * securitypolicy-extauth-grpc.yaml applied as written, with a jwt provider added to its policy.
 * Portcullis runs in Kubernetes mode with the environment deploy/base's Deployment gives it (the
 * chart's defaults: `--self-service portcullis/portcullis`) and the chart's Envoy Gateway example
 * (`--gateway-class eg`), and is asked on its gRPC port with the CheckRequests Envoy Gateway's
 * proxy sends for that policy: its context_extensions and the selected route's metadata.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type ServeConfig } from "../../controller/config.ts";
import { LOOP_HEADER } from "../../controller/features/extAuth/check.ts";
import { createExtAuthTransport } from "../../controller/features/extAuth/client.ts";
import { startApp, type App } from "../../controller/runtime/app.ts";
import { mint, signingKey, jwksOf, type SigningKey } from "../support/tokens.ts";
import { startApiServer, type ApiServer } from "./apiserver.ts";
import { envoyGatewaySecurityPolicyCrd } from "./envoy-gateway-crd.ts";
import { Kube, readManifests, until, type Obj } from "./objects.ts";

const ROOT = join(import.meta.dirname, "../..");
const RECIPE = join(ROOT, "deploy/proxies/envoy-gateway/securitypolicy-extauth-grpc.yaml");
const HOST = "api.maas.example.com";
const CONTROLLER = "portcullis.io/gateway-controller";
/** Envoy Gateway's container port for a Gateway listener on port 80. */
const ENVOY_LISTENER_PORT = 10080;

let api: ApiServer;
let kube: Kube;
let key: SigningKey;
let policy: Obj;
const apps: App[] = [];
const transport = createExtAuthTransport();

const [recipePolicy, recipeGrant] = readManifests(RECIPE) as [Obj, Obj];
const [service] = readManifests(join(ROOT, "deploy/base/service.yaml")) as [Obj];
const gatewayClass: Obj = {
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "GatewayClass",
  metadata: { name: "eg" },
  spec: { controllerName: "gateway.envoyproxy.io/gatewayclass-controller" },
};
const gatewayRef = recipePolicy.spec.targetRefs[0] as { name: string };
const gateway: Obj = {
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "Gateway",
  metadata: { name: gatewayRef.name, namespace: recipePolicy.metadata.namespace },
  spec: { gatewayClassName: "eg", listeners: [{ name: "http", protocol: "HTTP", port: 80 }] },
};
const route: Obj = {
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  metadata: { name: "models", namespace: recipePolicy.metadata.namespace },
  spec: {
    parentRefs: [{ name: gatewayRef.name }],
    hostnames: [HOST],
    rules: [{ matches: [{ path: { type: "PathPrefix", value: "/v1" } }], backendRefs: [{ name: "models", port: 8080 }] }],
  },
};

/** The environment deploy/base's Deployment gives the container (equal to the chart's defaults), as name → value. */
function deploymentEnv(): Record<string, string> {
  const deployment = readManifests(join(ROOT, "deploy/base/deployment.yaml"))[0]!;
  const env = deployment.spec.template.spec.containers[0].env as { name: string; value?: string }[];
  return Object.fromEntries(env.flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])));
}

/**
 * Portcullis as the chart runs it beside Envoy Gateway: its Deployment's environment, the Envoy
 * Gateway example's GatewayClass, and `env` on top; ports and timings made fit for a test.
 */
async function startPortcullis(identity: string, env: Record<string, string | undefined>): Promise<App> {
  const argv = ["serve", "--kubeconfig", api.kubeconfigFor("portcullis"), "--bind-address", "127.0.0.1"];
  for (const port of ["authz", "forward-auth", "admin", "grpc"]) argv.push(`--${port}-port`, "0");
  argv.push("--lease-namespace", "portcullis", "--identity", identity, "--shutdown-delay-seconds", "0", "--shutdown-grace-seconds", "1");
  const config = loadConfig(argv, { ...deploymentEnv(), PORTCULLIS_GATEWAY_CLASS: "eg", ...env }) as ServeConfig;
  const app = await startApp(config, pino({ level: process.env.PORTCULLIS_TEST_LOG ? "info" : "silent" }));
  apps.push(app);
  await app.ready;
  return app;
}

interface CheckAnswer {
  status: { code: number };
  ok_response?: { headers: { header: { key: string; value: string } }[] } | null;
  denied_response?: { status: { code: number }; body: string } | null;
}

/**
 * Envoy Gateway's CheckRequest for GET `path` on the route `models` of this recipe: the request's
 * headers, the policy's context_extensions, the selected route's metadata, Envoy's listener port.
 */
async function check(app: App, path: string, headers: Record<string, string> = {}): Promise<CheckAnswer> {
  const contextExtensions = Object.fromEntries(
    (policy.spec.extAuth.contextExtensions as { name: string; value: string }[]).map((e) => [e.name, e.value]),
  );
  const resource = { kind: "HTTPRoute", namespace: route.metadata.namespace, name: route.metadata.name };
  const request = {
    attributes: {
      source: { address: { socket_address: { address: "10.1.2.3", port_value: 41000 } } },
      destination: { address: { socket_address: { address: "10.0.0.9", port_value: ENVOY_LISTENER_PORT } } },
      request: {
        http: {
          id: "req-1",
          method: "GET",
          headers: { ":authority": HOST, ":method": "GET", ":path": path, ":scheme": "https", ...headers },
          path,
          host: HOST,
          scheme: "https",
          protocol: "HTTP/1.1",
        },
      },
      context_extensions: contextExtensions,
      route_metadata_context: {
        filter_metadata: {
          "envoy-gateway": {
            fields: {
              resources: {
                listValue: {
                  values: [
                    { structValue: { fields: Object.fromEntries(Object.entries(resource).map(([k, v]) => [k, { stringValue: v }])) } },
                  ],
                },
              },
            },
          },
        },
      },
    },
  };
  const service = {
    key: `grpc ${app.ports.grpc}`,
    endpoints: [{ host: "127.0.0.1", port: app.ports.grpc, weight: 1 }],
    names: [],
    tls: undefined,
  };
  const answer = await transport.grpc(service, request, 5000);
  if (!answer.ok) throw new Error(`the gRPC check failed: ${answer.error}`);
  return answer.answer as CheckAnswer;
}

const headerOf = (a: CheckAnswer, name: string) => a.ok_response?.headers.find((h) => h.header.key === name)?.header.value;
const deniedCode = (a: CheckAnswer) => JSON.parse(a.denied_response?.body ?? "{}").code as string | undefined;

beforeAll(async () => {
  api = await startApiServer({ users: [{ name: "portcullis" }] });
  kube = new Kube(api.kubeconfigPath);
  const crd = join(api.dir, "envoy-gateway-securitypolicies.yaml");
  writeFileSync(crd, envoyGatewaySecurityPolicyCrd());
  await kube.installCrds(crd, join(ROOT, "test/kube/crds/gateway-api.yaml"));
  for (const ns of [recipePolicy.metadata.namespace!, service.metadata.namespace!])
    await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  await kube.applyShippedRbac("portcullis");
  key = await signingKey("beside-1");
  policy = {
    ...recipePolicy,
    spec: {
      ...recipePolicy.spec,
      jwt: {
        providers: [
          {
            name: "example",
            issuer: "https://idp.example.com",
            localJWKS: { type: "Inline", inline: jwksOf(key) },
            claimToHeaders: [{ claim: "sub", header: "x-user-id" }],
          },
        ],
      },
    },
  };
  for (const o of [gatewayClass, gateway, route, service, policy, recipeGrant]) await kube.apply(o);
}, 180_000);

afterAll(async () => {
  for (const app of apps) await app.stop();
  await transport.close();
  await api?.stop();
});

describe("beside Envoy Gateway (deploy/proxies/envoy-gateway/securitypolicy-extauth-grpc.yaml)", () => {
  it("Envoy Gateway v1.9.0's SecurityPolicy CRD on Kubernetes 1.20 stores the recipe's policy and jwt whole", async () => {
    const stored = (await kube.get(policy))!;
    // Nothing pruned; the CRD adds its defaults (a backendRef's group, kind and weight).
    expect(stored.spec).toMatchObject(policy.spec);
    expect(stored.spec.extAuth.grpc.backendRefs).toEqual([
      { group: "", kind: "Service", name: "portcullis", namespace: "portcullis", port: 9001, weight: 1 },
    ]);
  });

  it("with the chart's --self-service: the hook-up is not called, jwt decides, and Portcullis reports the policy Accepted", async () => {
    const app = await startPortcullis("with-self-service", {});
    const token = await mint(key, { iss: "https://idp.example.com", sub: "alice" });
    const allowed = await until(
      10_000,
      async () => {
        const a = await check(app, "/v1/models", { authorization: `Bearer ${token}` });
        return a.status.code === 0 ? a : undefined;
      },
      "an allow with a valid token",
    );
    expect(headerOf(allowed, "x-user-id")).toBe("alice");
    const missing = await check(app, "/v1/models");
    expect([missing.status.code, missing.denied_response?.status.code, deniedCode(missing)]).toEqual([16, 401, "jwt_missing"]);
    const forged = await check(app, "/v1/models", { authorization: `Bearer ${token.slice(0, -4)}AAAA` });
    expect(forged.denied_response?.status.code).toBe(401);
    // The nested check a Portcullis calling itself would receive: with the hook-up there is no call to refuse.
    const nested = await check(app, "/v1/models", { authorization: `Bearer ${token}`, [LOOP_HEADER]: "1" });
    expect(nested.status.code).toBe(0);
    const ancestors = await until(
      10_000,
      async () => {
        const mine = ((await kube.get(policy))?.status?.ancestors ?? []).filter((a: Obj) => a.controllerName === CONTROLLER);
        return mine.length > 0 ? mine : undefined;
      },
      "Portcullis' status entry",
    );
    expect(ancestors[0].ancestorRef).toMatchObject({ kind: "Gateway", name: gateway.metadata.name });
    expect(ancestors[0].conditions.find((c: Obj) => c.type === "Accepted")).toMatchObject({ status: "True" });
    const view = (await (await fetch(`http://127.0.0.1:${app.ports.admin}/snapshot`)).json()) as {
      snapshot: { policies: Record<string, { extAuth: unknown }> };
    };
    const id = `${policy.metadata.namespace}/${policy.metadata.name}`;
    expect(view.snapshot.policies[id]?.extAuth).toBe("this Portcullis (hook-up), grpc: Service portcullis/portcullis:9001");
  });

  it("without --self-service the same policy is an extAuth call to Portcullis itself: never an allow, and the nested check is refused as a loop", async () => {
    const app = await startPortcullis("without-self-service", { PORTCULLIS_SELF_SERVICE: undefined });
    const token = await mint(key, { iss: "https://idp.example.com", sub: "alice" });
    const nested = await until(
      10_000,
      async () => {
        const a = await check(app, "/v1/models", { authorization: `Bearer ${token}`, [LOOP_HEADER]: "1" });
        return deniedCode(a) === "extauth_error" ? a : undefined;
      },
      "the loop denial",
    );
    expect([nested.status.code, nested.denied_response?.status.code]).toEqual([7, 403]);
    // The outer check asks portcullis.portcullis.svc:9001, here unreachable; in a cluster it gets the loop denial above.
    const outer = await check(app, "/v1/models", { authorization: `Bearer ${token}` });
    expect([outer.status.code, outer.denied_response?.status.code, deniedCode(outer)]).toEqual([7, 403, "extauth_error"]);
  });
});
