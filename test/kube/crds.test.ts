// Installs crds/ and the test Gateway API CRDs into a real API server (1.20, the oldest we support)
// and checks that the SecurityPolicy schema keeps every field, rejects wrong types, and serves status.
import * as fs from "node:fs";
import * as https from "node:https";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { isServed } from "../../controller/api/kinds.ts";
import { WATCHED } from "../../controller/sources/kube/source.ts";
import { DEFAULT_CONTROLLER_NAME } from "../../controller/config.ts";
import { kubectl } from "../deploy/kubectl.ts";
import { startApiServer, type ApiServer } from "./apiserver.ts";

type Obj = Record<string, any>;

const fromRoot = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const SP = { group: "gateway.envoyproxy.io", version: "v1alpha1", plural: "securitypolicies" } as const;
const GW = { group: "gateway.networking.k8s.io", version: "v1" } as const;
const BE = { group: "gateway.envoyproxy.io", version: "v1alpha1", plural: "backends" } as const;
const NS = "default";

function readDocs(file: string): Obj[] {
  return parseAllDocuments(fs.readFileSync(file, "utf8"))
    .map((d) => d.toJS() as Obj)
    .filter((d) => d !== null);
}

/**
 * CRDs must go through client-node's own YAML loader: its typed serializer silently drops keys it does
 * not know by their JSON name (default, enum, x-kubernetes-*) when handed a plain parsed object.
 */
function readCrds(file: string): k8s.V1CustomResourceDefinition[] {
  return k8s.loadAllYaml(fs.readFileSync(file, "utf8")) as k8s.V1CustomResourceDefinition[];
}

/** 1.20 reports list fields without indices (spec.targetRefs.kind); newer servers add them. */
function fieldPath(field: string): RegExp {
  const escaped = field.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\\\[(\d+)\\\]/g, "(\\[$1\\])?");
  return new RegExp(escaped);
}

/** Runs `call`, expects an API error with `code`, and returns the error body as text. */
async function rejection(call: Promise<unknown>, code: number): Promise<string> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof k8s.ApiException)) throw err;
    const body = typeof err.body === "string" ? err.body : JSON.stringify(err.body);
    expect(err.code, body).toBe(code);
    return body;
  }
  throw new Error(`expected the API server to answer ${code}, but the request succeeded`);
}

async function waitEstablished(ext: k8s.ApiextensionsV1Api, name: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const crd = await ext.readCustomResourceDefinition({ name });
    const conds = crd.status?.conditions ?? [];
    if (conds.some((c) => c.type === "Established" && c.status === "True")) return;
    const rejected = conds.find((c) => c.type === "NamesAccepted" && c.status === "False");
    if (rejected) throw new Error(`CRD ${name} names not accepted: ${rejected.message}`);
    if (Date.now() > deadline) throw new Error(`CRD ${name} not Established: ${JSON.stringify(conds)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** GET as a meta.k8s.io Table, i.e. what `kubectl get` prints (server-side printer columns). */
function getTable(server: ApiServer, path: string): Promise<Obj> {
  return new Promise((resolve, reject) => {
    const headers = { Authorization: `Bearer ${server.token}`, Accept: "application/json;as=Table;v=v1;g=meta.k8s.io" };
    https
      .get(`${server.server}${path}`, { headers, ca: server.ca }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(body) as Obj) : reject(new Error(`${res.statusCode}: ${body}`))));
      })
      .on("error", reject);
  });
}

function policy(name: string, spec: Obj): Obj {
  return { apiVersion: `${SP.group}/${SP.version}`, kind: "SecurityPolicy", metadata: { name }, spec };
}

function backend(name: string, spec: Obj): Obj {
  return { apiVersion: `${BE.group}/${BE.version}`, kind: "Backend", metadata: { name }, spec };
}

function ancestor(name: string, reason: string): Obj {
  return {
    ancestorRef: { group: GW.group, kind: "Gateway", name, namespace: NS, sectionName: "https", port: 443 },
    controllerName: "portcullis.dev/controller",
    conditions: [
      {
        type: "Accepted",
        status: reason === "Accepted" ? "True" : "False",
        reason,
        message: `policy ${reason.toLowerCase()}`,
        observedGeneration: 1,
        lastTransitionTime: "2024-01-02T03:04:05Z",
      },
    ],
  };
}

describe("CRDs on kube-apiserver 1.20", () => {
  let server: ApiServer;
  let custom: k8s.CustomObjectsApi;

  beforeAll(async () => {
    server = await startApiServer();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(server.kubeconfigPath);
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const crds = [
      ...readCrds(fromRoot("crds/gateway.envoyproxy.io_securitypolicies.yaml")),
      ...readCrds(fromRoot("crds/gateway.envoyproxy.io_backends.yaml")),
      ...readCrds(fromRoot("test/kube/crds/gateway-api.yaml")),
    ];
    for (const crd of crds) await ext.createCustomResourceDefinition({ body: crd });
    for (const crd of crds) await waitEstablished(ext, crd.metadata!.name!);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  it("keeps every field of the full policies (nothing pruned, no unexpected defaults)", async () => {
    const docs = readDocs(fromRoot("test/kube/testdata/securitypolicy-full.yaml"));
    expect(docs.map((d) => d.metadata.name)).toEqual(["full-route", "full-gateway", "full-selectors"]);
    for (const doc of docs) {
      await custom.createNamespacedCustomObject({ ...SP, namespace: NS, body: doc });
      const got = (await custom.getNamespacedCustomObject({ ...SP, namespace: NS, name: doc.metadata.name })) as Obj;
      expect(got.spec, doc.metadata.name).toEqual(doc.spec);
    }
  });

  it("applies Envoy Gateway's defaults to omitted fields", async () => {
    const body = policy("defaults", {
      targetRefs: [{ group: GW.group, kind: "HTTPRoute", name: "api" }],
      jwt: { providers: [{ name: "p", remoteJWKS: { uri: "https://idp.example.com/jwks", backendRefs: [{ name: "idp" }] } }] },
      basicAuth: { users: { name: "htpasswd" } },
    });
    await custom.createNamespacedCustomObject({ ...SP, namespace: NS, body });
    const got = (await custom.getNamespacedCustomObject({ ...SP, namespace: NS, name: "defaults" })) as Obj;
    expect(got.spec.jwt.providers[0].remoteJWKS).toEqual({
      uri: "https://idp.example.com/jwks",
      cacheDuration: "300s",
      backendRefs: [{ group: "", kind: "Service", name: "idp", weight: 1 }],
    });
    expect(got.spec.basicAuth.users).toEqual({ group: "", kind: "Secret", name: "htpasswd" });
  });

  it("drops unknown fields (structural schema pruning)", async () => {
    const body = policy("unknown-fields", {
      targetRefs: [{ group: GW.group, kind: "Gateway", name: "eg" }],
      notAField: true,
      jwt: { providers: [{ name: "p", typo: "x", localJWKS: { type: "Inline", inline: "{}" } }] },
    });
    await custom.createNamespacedCustomObject({ ...SP, namespace: NS, body });
    const got = (await custom.getNamespacedCustomObject({ ...SP, namespace: NS, name: "unknown-fields" })) as Obj;
    expect(got.spec).toEqual({
      targetRefs: [{ group: GW.group, kind: "Gateway", name: "eg" }],
      jwt: { providers: [{ name: "p", localJWKS: { type: "Inline", inline: "{}" } }] },
    });
  });

  it.each([
    ["spec.jwt.providers", { jwt: { providers: "x" } }],
    ["spec.authorization.defaultAction", { authorization: { defaultAction: "Maybe" } }],
    ["spec.jwt.providers", { jwt: { providers: [] } }],
    ["spec.apiKeyAuth.extractFrom", { apiKeyAuth: { credentialRefs: [{ name: "k" }] } }],
    ["spec.cors.maxAge", { cors: { maxAge: "ten minutes" } }],
    ["spec.extAuth.statusOnError", { extAuth: { statusOnError: 200 } }],
    ["spec.targetRefs[0].kind", { targetRefs: [{ group: GW.group, kind: "not a kind", name: "x" }] }],
    [
      "spec.authorization.rules[0].principal.clientIPGeoLocations[0].country",
      { authorization: { rules: [{ action: "Allow", principal: { clientIPGeoLocations: [{ country: "France" }] } }] } },
    ],
  ])("rejects an invalid %s with 422 naming the field", async (field, spec) => {
    const body = policy("invalid", { targetRefs: [{ group: GW.group, kind: "Gateway", name: "eg" }], ...spec });
    const message = await rejection(custom.createNamespacedCustomObject({ ...SP, namespace: NS, body }), 422);
    expect(message).toMatch(fieldPath(field));
  });

  it("keeps every field of a full Backend and applies Envoy Gateway's defaults (type, tls.insecureSkipVerify)", async () => {
    const spec = {
      endpoints: [
        { ip: { address: "10.0.0.7", port: 9001 }, hostname: "authz.internal", zone: "eu-1a" },
        { ip: { address: "fd00::7", port: 9001 } },
      ],
      appProtocols: ["gateway.envoyproxy.io/h2c"],
      fallback: false,
      tls: {
        caCertificateRefs: [{ group: "", kind: "ConfigMap", name: "authz-ca" }],
        sni: "authz.internal",
        clientCertificateRef: { name: "client-cert" },
        alpnProtocols: ["h2"],
        ciphers: ["ECDHE-RSA-AES128-GCM-SHA256"],
        ecdhCurves: ["X25519"],
        signatureAlgorithms: ["rsa_pss_rsae_sha256"],
        minVersion: "1.2",
        maxVersion: "1.3",
        fingerprints: ["JA3"],
      },
    };
    await custom.createNamespacedCustomObject({ ...BE, namespace: NS, body: backend("full", spec) });
    const got = (await custom.getNamespacedCustomObject({ ...BE, namespace: NS, name: "full" })) as Obj;
    expect(got.spec).toEqual({
      ...spec,
      type: "Endpoints",
      tls: { ...spec.tls, insecureSkipVerify: false, clientCertificateRef: { group: "", kind: "Secret", name: "client-cert" } },
    });
  });

  it.each([
    ["spec.endpoints[0].ip.port", { endpoints: [{ ip: { address: "10.0.0.7", port: 70000 } }] }],
    ["spec.endpoints[0].ip.address", { endpoints: [{ ip: { address: "not-an-ip", port: 80 } }] }],
    ["spec.endpoints[0].fqdn.hostname", { endpoints: [{ fqdn: { hostname: "Not_A_Name", port: 80 } }] }],
    ["spec.endpoints", { endpoints: [] }],
    ["spec.type", { type: "Static" }],
  ])("rejects a Backend with an invalid %s with 422 naming the field", async (field, spec) => {
    const message = await rejection(custom.createNamespacedCustomObject({ ...BE, namespace: NS, body: backend("invalid", spec) }), 422);
    expect(message).toMatch(fieldPath(field));
  });

  it("writes status.ancestors through the status subresource only", async () => {
    const name = "with-status";
    const body = {
      ...policy(name, { targetRefs: [{ group: GW.group, kind: "Gateway", name: "eg" }] }),
      status: { ancestors: [ancestor("ignored", "Invalid")] },
    };
    const created = (await custom.createNamespacedCustomObject({ ...SP, namespace: NS, body })) as Obj;
    expect(created.status, "status sent on create is dropped").toBeUndefined();

    const status = { ancestors: [ancestor("eg", "Accepted"), ancestor("other", "Conflicted")] };
    await custom.replaceNamespacedCustomObjectStatus({ ...SP, namespace: NS, name, body: { ...created, status } });
    const got = (await custom.getNamespacedCustomObject({ ...SP, namespace: NS, name })) as Obj;
    expect(got.status).toEqual(status);
    expect(got.metadata.generation, "status writes do not bump generation").toBe(created.metadata.generation);

    // A spec update through the main resource must not touch status.
    await custom.replaceNamespacedCustomObject({
      ...SP,
      namespace: NS,
      name,
      body: { ...got, spec: { ...got.spec, mergeType: "JSONMerge" }, status: {} },
    });
    const updated = (await custom.getNamespacedCustomObject({ ...SP, namespace: NS, name })) as Obj;
    expect(updated.status).toEqual(status);
    expect(updated.metadata.generation).toBe(created.metadata.generation + 1);

    const table = await getTable(server, `/apis/${SP.group}/${SP.version}/namespaces/${NS}/${SP.plural}/${name}`);
    const columns = (table.columnDefinitions as Obj[]).map((c) => c.name);
    expect(columns).toEqual(["Name", "Accepted", "Reason", "Age"]);
    expect(table.rows[0].cells.slice(0, 3)).toEqual([name, "True", "Accepted"]);
  });

  it("rejects more than 16 ancestors and conditions without required fields", async () => {
    const created = (await custom.createNamespacedCustomObject({
      ...SP,
      namespace: NS,
      body: policy("bad-status", { targetRefs: [{ group: GW.group, kind: "Gateway", name: "eg" }] }),
    })) as Obj;
    const tooMany = { ancestors: Array.from({ length: 17 }, (_, i) => ancestor(`gw-${i}`, "Accepted")) };
    const body1 = await rejection(
      custom.replaceNamespacedCustomObjectStatus({ ...SP, namespace: NS, name: "bad-status", body: { ...created, status: tooMany } }),
      422,
    );
    expect(body1).toMatch(fieldPath("status.ancestors"));
    const noReason = { ancestors: [{ ...ancestor("eg", "Accepted"), conditions: [{ type: "Accepted", status: "True" }] }] };
    const body2 = await rejection(
      custom.replaceNamespacedCustomObjectStatus({ ...SP, namespace: NS, name: "bad-status", body: { ...created, status: noReason } }),
      422,
    );
    expect(body2).toMatch(fieldPath("status.ancestors[0].conditions[0].reason"));
  });

  it("serves the Gateway API kinds Portcullis watches, with a status subresource", async () => {
    await custom.createClusterCustomObject({
      ...GW,
      plural: "gatewayclasses",
      body: { apiVersion: `${GW.group}/v1`, kind: "GatewayClass", metadata: { name: "eg" }, spec: { controllerName: "example.com/gc" } },
    });
    const gw = (await custom.createNamespacedCustomObject({
      ...GW,
      namespace: NS,
      plural: "gateways",
      body: {
        apiVersion: `${GW.group}/v1`,
        kind: "Gateway",
        metadata: { name: "eg" },
        spec: { gatewayClassName: "eg", listeners: [{ name: "http", port: 80, protocol: "HTTP" }] },
      },
    })) as Obj;
    await custom.replaceNamespacedCustomObjectStatus({
      ...GW,
      namespace: NS,
      plural: "gateways",
      name: "eg",
      body: { ...gw, status: { conditions: [{ type: "Programmed", status: "True" }] } },
    });
    const readBack = (await custom.getNamespacedCustomObject({ ...GW, namespace: NS, plural: "gateways", name: "eg" })) as Obj;
    expect(readBack.status.conditions[0].type).toBe("Programmed");
    expect(readBack.spec.listeners[0].port).toBe(80);
    const route = parse("spec: {parentRefs: [{name: eg}], rules: [{matches: [{path: {type: PathPrefix, value: /}}]}]}") as Obj;
    await custom.createNamespacedCustomObject({
      ...GW,
      namespace: NS,
      plural: "httproutes",
      body: { apiVersion: `${GW.group}/v1`, kind: "HTTPRoute", metadata: { name: "api" }, ...route },
    });
    await custom.createNamespacedCustomObject({
      group: GW.group,
      version: "v1beta1",
      namespace: NS,
      plural: "referencegrants",
      body: {
        apiVersion: `${GW.group}/v1beta1`,
        kind: "ReferenceGrant",
        metadata: { name: "rg" },
        spec: { from: [{ group: SP.group, kind: "SecurityPolicy", namespace: "apps" }], to: [{ group: "", kind: "Secret" }] },
      },
    });
  });
});

describe("crds/", () => {
  // A ClientTrafficPolicy configures Envoy itself: Portcullis reads it only to know the client address
  // Envoy finds, so without Envoy Gateway (and its CRD) none exists and none should be written.
  const readFromEnvoyGatewayOnly = ["ClientTrafficPolicy"];

  it("ships a CRD for every gateway.envoyproxy.io kind Portcullis watches (a cluster without Envoy Gateway can hold them) but those it reads from Envoy Gateway only", () => {
    const shipped = fs.readdirSync(fromRoot("crds")).flatMap((f) => readDocs(fromRoot(`crds/${f}`)).map((c) => c.spec.names.kind));
    const watched = WATCHED.filter((w) => w.apiVersion.startsWith("gateway.envoyproxy.io/"))
      .map((w) => w.kind)
      .filter((kind) => !readFromEnvoyGatewayOnly.includes(kind));
    expect(shipped.sort()).toEqual([...watched].sort());
  });

  it("the README's status query reads Portcullis' Accepted, not Envoy Gateway's entry for the same Gateway", () => {
    const query = /get securitypolicy maas-apikey-auth \\\n\s+-o jsonpath='([^']+)'/.exec(
      fs.readFileSync(fromRoot("README.md"), "utf8"),
    )?.[1];
    expect(query).toBeDefined();
    const ancestor = (controllerName: string, status: string) => ({
      ancestorRef: { group: GW.group, kind: "Gateway", namespace: "maas-system", name: "eg" },
      controllerName,
      conditions: [{ type: "Accepted", status, reason: status === "True" ? "Accepted" : "Invalid" }],
    });
    const policy = {
      apiVersion: `${SP.group}/${SP.version}`,
      kind: "SecurityPolicy",
      metadata: { name: "maas-apikey-auth", namespace: "maas-system" },
      spec: {},
      status: {
        ancestors: [ancestor("gateway.envoyproxy.io/gatewayclass-controller", "True"), ancestor(DEFAULT_CONTROLLER_NAME, "False")],
      },
    };
    // --local: kubectl evaluates the query on the object given, with no API server.
    const printed = kubectl(
      "",
      ["patch", "--local", "-f", "-", "--type", "merge", "-p", "{}", "-o", `jsonpath=${query}`],
      JSON.stringify(policy),
    );
    expect(printed).toBe("False");
  });
});

describe("the Kubernetes source's watches", () => {
  it("name only versions the Gateway API v1.6.1 and Envoy Gateway v1.9.0 CRDs serve, the versions a manifest may use (ReferenceGrant v1beta1, GRPCRoute v1, no XListenerSet)", () => {
    const watched = WATCHED.flatMap((w) => [w.apiVersion, ...("olderVersions" in w ? w.olderVersions : [])].map((v) => `${v} ${w.kind}`));
    expect(watched.filter((w) => !isServed(w.split(" ")[0]!, w.split(" ")[1]!))).toEqual([]);
    expect(watched).toContain("gateway.networking.k8s.io/v1beta1 ReferenceGrant");
    expect(watched).toContain("gateway.networking.k8s.io/v1 GRPCRoute");
    expect(WATCHED.map((w) => w.kind)).not.toContain("XListenerSet");
  });
});

describe("the stand-ins for the upstream Gateway API CRDs", () => {
  const standIns = readDocs(fromRoot("test/kube/crds/gateway-api.yaml"));

  it("define exactly the gateway.networking.k8s.io kinds Portcullis watches", () => {
    const watched = WATCHED.filter((w) => w.apiVersion.startsWith("gateway.networking.k8s.io/")).map((w) => w.kind);
    expect(standIns.map((c) => c.spec.names.kind).sort()).toEqual([...watched].sort());
  });

  it("name the release README's install command applies (standard channel)", () => {
    const release = /Gateway API (v\d+\.\d+\.\d+), standard channel/.exec(
      fs.readFileSync(fromRoot("test/kube/crds/gateway-api.yaml"), "utf8"),
    )?.[1];
    expect(release).toBeDefined();
    const readme = fs.readFileSync(fromRoot("README.md"), "utf8");
    expect(readme).toContain(`https://github.com/kubernetes-sigs/gateway-api/releases/download/${release}/standard-install.yaml`);
    expect(readme).toContain(`Portcullis follows Gateway API ${release} (standard channel)`);
  });
});
