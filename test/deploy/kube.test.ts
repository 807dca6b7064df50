// What users apply, sent to a real kube-apiserver (1.20.2, test/kube/apiserver.ts) with the real
// kubectl and helm: `kubectl apply --dry-run=server` for the kustomize base, the chart rendered by
// helm against that server with its default and example values, and the Envoy Gateway example; then
// the chart installed for real with `helm install` and its RBAC asked (`kubectl auth can-i`) what the
// ServiceAccount may and may not do; with `config.watchNamespaces`, Portcullis' informers run as that
// ServiceAccount (impersonated) under the RBAC the chart installed. README's recipe exporting a
// cluster's objects into a manifest folder is run with that kubectl, and the folder compiled and checked.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import pino from "pino";
import { parse, parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCheck } from "../../controller/commands/check.ts";
import { loadConfig, type CheckConfig } from "../../controller/config.ts";
import { KubeApiError, KubeClient } from "../../controller/kube/client.ts";
import { KubeSource } from "../../controller/sources/kube/source.ts";
import { startApiServer, type ApiServer } from "../kube/apiserver.ts";
import { compileCommand } from "../support/commands.ts";
import { CHART, renderChart, ROOT, type Obj } from "./chart.ts";
import { helm } from "./helm.ts";
import { kubectlPath, kubectl as runKubectl, toYaml } from "./kubectl.ts";

let server: ApiServer;
let apiVersions: string[];
let examplesApplied: string;

const kubectl = (args: string[], input?: string, kubeconfig = server.kubeconfigPath) => runKubectl(kubeconfig, args, input);

/** `kubectl apply --dry-run=server -o json`: the objects as the API server would store them. */
function dryRun(yaml: string): Obj[] {
  const out = JSON.parse(kubectl(["apply", "--dry-run=server", "-o", "json", "-f", "-"], yaml)) as Obj;
  return out.kind === "List" ? (out.items as Obj[]) : [out];
}

const kustomize = () => parseAllDocuments(kubectl(["kustomize", join(ROOT, "deploy/base")], undefined, "")).map((d) => d.toJS() as Obj);
const values = (f: string) => parse(readFileSync(join(CHART, "examples", f), "utf8")) as Obj;

/** A Prometheus Operator CRD that accepts anything, so the chart's optional ServiceMonitor and PrometheusRule have somewhere to go. */
const monitoringCrd = (kind: string, plural: string) => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${plural}.monitoring.coreos.com` },
  spec: {
    group: "monitoring.coreos.com",
    names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
    scope: "Namespaced",
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
      },
    ],
  },
});

beforeAll(async () => {
  server = await startApiServer();
  const crds = [
    join(ROOT, "crds"),
    join(ROOT, "test/kube/crds/gateway-api.yaml"),
    join(ROOT, "test/kube/crds/envoy-gateway-clienttrafficpolicy.yaml"),
  ];
  for (const c of crds) kubectl(["apply", "-f", c]);
  for (const crd of [monitoringCrd("ServiceMonitor", "servicemonitors"), monitoringCrd("PrometheusRule", "prometheusrules")])
    kubectl(["apply", "-f", "-"], JSON.stringify(crd));
  kubectl(["wait", "--for", "condition=established", "--timeout", "60s", "crd", "--all"]);
  // What README's Kubernetes mode section says, on a cluster with only the CRDs: maas-system comes from the examples.
  examplesApplied = kubectl(["apply", "-f", join(ROOT, "deploy/examples")]);
  for (const ns of ["portcullis", "apps", "monitoring", "scoped"]) kubectl(["create", "namespace", ns]);
  apiVersions = kubectl(["api-versions"]).trim().split("\n");
}, 180_000);
afterAll(async () => {
  await server?.stop();
});

describe("kubectl apply -f deploy/examples/ on a cluster with only the CRDs", () => {
  it("creates its namespace and every example object", () => {
    const created = examplesApplied
      .trim()
      .split("\n")
      .map((l) => l.replace(/ (created|configured|unchanged)$/, ""));
    expect(created[0]).toBe("namespace/maas-system");
    const files = readdirSync(join(ROOT, "deploy/examples")).filter((f) => f.endsWith(".yaml"));
    const objects = files
      .flatMap((f) => parseAllDocuments(readFileSync(join(ROOT, "deploy/examples", f), "utf8")).map((d) => d.toJS() as Obj))
      .filter((o) => o !== null);
    expect(created).toHaveLength(objects.length);
    expect(kubectl(["get", "securitypolicies", "-n", "maas-system", "-o", "name"]).trim().split("\n").length).toBe(
      objects.filter((o) => o.kind === "SecurityPolicy").length,
    );
  });
});

describe("README's recipe trying a cluster's policies in a folder (Try it)", () => {
  it("its export command writes a folder compile accepts and check decides as on the examples", async () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const recipe = /Policies already in a cluster[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    const exportCommand = /^kubectl get namespaces[^\n]*\\\n[^\n]*> policies\/cluster\.yaml/m.exec(recipe)?.[0];
    expect(exportCommand, "README's recipe no longer exports the cluster's objects into policies/cluster.yaml").toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), "portcullis-export-"));
    try {
      mkdirSync(join(dir, "policies"));
      execFileSync("bash", ["-c", `set -o pipefail; ${exportCommand}`], {
        cwd: dir,
        env: { ...process.env, KUBECONFIG: server.kubeconfigPath, PATH: `${dirname(kubectlPath())}:${process.env.PATH}` },
      });
      // The recipe's next line, for the examples' API keys.
      writeFileSync(join(dir, "policies/api-keys.yaml"), kubectl(["-n", "maas-system", "get", "secret", "maas-api-keys", "-o", "yaml"]));
      const folder = join(dir, "policies");
      expect(compileCommand(folder)).toEqual({ code: 0, reported: [] });
      const problems: string[] = [];
      const decision: string[] = [];
      const checked = await runCheck(
        loadConfig(
          ["check", "--manifests", folder, "-H", "X-API-Key: example-alice-key-change-me", "GET", "https://api.maas.example.com/v1/models"],
          {},
        ) as CheckConfig,
        (text) => void decision.push(text),
        (l) => void problems.push(l),
      );
      expect(problems).toEqual([]);
      expect(JSON.parse(decision.join(""))).toMatchObject({
        status: 200,
        headers: { "x-user-id": "alice" },
        policy: "maas-system/maas-apikey-auth",
      });
      expect(checked).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("kubectl apply --dry-run=server on kube-apiserver 1.20", () => {
  it("the chart with default values", () => {
    const r = renderChart({}, { kubeconfig: server.kubeconfigPath });
    const stored = dryRun(r.yaml);
    expect(stored.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      r.objects.map((o) => `${o.obj.kind}/${o.obj.metadata.name}`).sort(),
    );
    // 1.20 predates policy/v1: helm asked the server, and the chart chose policy/v1beta1.
    expect(apiVersions).not.toContain("policy/v1");
    expect(stored.find((o) => o.kind === "PodDisruptionBudget")!.apiVersion).toBe("policy/v1beta1");
  });

  it("refuses a misspelt field (so a pass above means something)", () => {
    const objs = renderChart({}, { kubeconfig: server.kubeconfigPath }).objects.map((o) => structuredClone(o.obj));
    const deployment = objs.find((o) => o.kind === "Deployment")!;
    deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFilesytem = true;
    expect(() => dryRun(toYaml([deployment]))).toThrow(/readOnlyRootFilesytem/);
  });

  it.each(readdirSync(join(CHART, "examples")).filter((f) => f.endsWith(".yaml")))("the chart with examples/%s", (file) => {
    const r = renderChart(values(file), { kubeconfig: server.kubeconfigPath });
    expect(dryRun(r.yaml)).toHaveLength(r.objects.length);
  });

  it("the standalone example's inline manifests are valid objects for the CRDs", () => {
    const manifests = values("standalone.yaml").standalone.manifests as Record<string, string>;
    const objs = Object.values(manifests).flatMap((text) => parseAllDocuments(text).map((d) => d.toJS() as Obj));
    const stored = dryRun(toYaml(objs));
    for (const [i, o] of objs.entries()) expect(stored[i]!.spec, `${o.kind} ${o.metadata.name}: nothing pruned`).toMatchObject(o.spec);
  });

  it("the kustomize base (policy/v1 PodDisruptionBudget sent as policy/v1beta1, its 1.20 name: same spec)", () => {
    const objs = kustomize();
    const pdb = objs.find((o) => o.kind === "PodDisruptionBudget")!;
    expect(pdb.apiVersion).toBe("policy/v1");
    pdb.apiVersion = "policy/v1beta1";
    const stored = dryRun(toYaml(objs));
    expect(stored.map((o) => o.kind)).toEqual(objs.map((o) => o.kind));
  });

  for (const file of ["securitypolicy-extauth.yaml", "securitypolicy-extauth-grpc.yaml"]) {
    it(`the Envoy Gateway example ${file}: extAuth and the ReferenceGrant are accepted, no field pruned by the CRD schemas`, () => {
      const objs = parseAllDocuments(readFileSync(join(ROOT, "deploy/proxies/envoy-gateway", file), "utf8")).map((d) => d.toJS() as Obj);
      const stored = dryRun(toYaml(objs));
      expect(stored.map((o) => o.kind)).toEqual(["SecurityPolicy", "ReferenceGrant"]);
      for (const [i, o] of objs.entries())
        expect(stored[i]!.spec, `${o.kind}: nothing pruned (defaults may be added)`).toMatchObject(o.spec);
    });
  }
});

describe("the chart and the kustomize base are the same objects", () => {
  it("equal once Helm's own labels are set aside", () => {
    const helmOnly = ["app.kubernetes.io/managed-by", "helm.sh/chart"];
    const normal = (o: Obj) => {
      const copy = structuredClone(o);
      for (const l of helmOnly) delete copy.metadata.labels?.[l];
      return copy;
    };
    const chart = renderChart().objects.map((o) => normal(o.obj));
    const base = kustomize().filter((o) => o.kind !== "Namespace");
    const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    expect(base.map(key).sort()).toEqual(chart.map(key).sort());
    for (const b of base) expect(b, key(b)).toEqual(chart.find((c) => key(c) === key(b)));
  });
});

// Each question is a kubectl process of its own (up to 36 in one test): the default 20 s per test is
// the bound of a hang, which a host busy with other suites reached without one.
const RBAC_TEST_TIMEOUT = { timeout: 120_000 };

describe("RBAC, installed for real and asked with kubectl auth can-i", RBAC_TEST_TIMEOUT, () => {
  const sa = "system:serviceaccount:portcullis:portcullis";
  const can = (verb: string, resource: string, ns?: string, subresource?: string) => {
    const args = [
      "auth",
      "can-i",
      verb,
      resource,
      "--as",
      sa,
      ...(ns ? ["-n", ns] : ["--all-namespaces"]),
      ...(subresource ? ["--subresource", subresource] : []),
    ];
    try {
      return kubectl(args).trim() === "yes";
    } catch (e) {
      if (/\bno\b/.test((e as Error).message)) return false;
      throw e;
    }
  };

  let release: Obj;
  beforeAll(() => {
    release = JSON.parse(
      helm(["install", "portcullis", CHART, "--namespace", "portcullis", "--kubeconfig", server.kubeconfigPath, "-o", "json"]),
    ) as Obj;
  });
  afterAll(() => {
    helm(["uninstall", "portcullis", "--namespace", "portcullis", "--kubeconfig", server.kubeconfigPath]);
  });

  it("helm install deploys the release, and its NOTES name the image, the decision endpoints and the hook-up Service", () => {
    expect(release.info.status).toBe("deployed");
    expect(
      kubectl([
        "get",
        "deployment",
        "portcullis",
        "-n",
        "portcullis",
        "-o",
        "jsonpath={.metadata.labels.app\\.kubernetes\\.io/managed-by}",
      ]),
    ).toBe("Helm");
    // Installed is not running: the image must first be pulled, and nothing publishes the default one.
    expect(release.info.notes).toContain(
      "Portcullis 0.1.0 is installed in kubernetes mode as portcullis in portcullis,\nfrom the image ghcr.io/portcullis/portcullis:0.1.0 (build and push it yourself",
    );
    expect(release.info.notes).not.toContain("is running");
    expect(release.info.notes).toContain("http://portcullis.portcullis.svc:9002");
    expect(release.info.notes).toContain("portcullis.portcullis.svc:9001");
    expect(release.info.notes).toContain("--self-service portcullis/portcullis");
    expect(release.info.notes).toContain("http://portcullis.portcullis.svc:9003");
  });

  it("may read what policies refer to, in every namespace", () => {
    for (const r of [
      "gateways.gateway.networking.k8s.io",
      "httproutes.gateway.networking.k8s.io",
      "grpcroutes.gateway.networking.k8s.io",
      "gatewayclasses.gateway.networking.k8s.io",
      "referencegrants.gateway.networking.k8s.io",
      "listenersets.gateway.networking.k8s.io",
      "backendtlspolicies.gateway.networking.k8s.io",
      "securitypolicies.gateway.envoyproxy.io",
      "clienttrafficpolicies.gateway.envoyproxy.io",
      "secrets",
      "configmaps",
      "namespaces",
    ]) {
      for (const verb of ["get", "list", "watch"]) expect(can(verb, r), `${verb} ${r}`).toBe(true);
    }
  });

  it("may write SecurityPolicy status and Events, nothing else of theirs", () => {
    for (const verb of ["get", "update", "patch"])
      expect(can(verb, "securitypolicies.gateway.envoyproxy.io", undefined, "status"), `${verb} status`).toBe(true);
    for (const verb of ["create", "update", "patch", "delete"])
      expect(can(verb, "securitypolicies.gateway.envoyproxy.io"), `${verb} securitypolicies`).toBe(false);
    for (const r of ["events", "events.events.k8s.io"]) {
      expect([can("create", r, "apps"), can("patch", r, "apps"), can("delete", r, "apps")], r).toEqual([true, true, false]);
    }
    for (const verb of ["create", "update", "delete"]) expect(can(verb, "secrets", "apps"), `${verb} secrets`).toBe(false);
    expect(can("update", "httproutes.gateway.networking.k8s.io", "apps", "status")).toBe(false);
    expect(can("list", "pods", "portcullis")).toBe(false);
  });

  it("may get, create and update Leases in its own namespace only", () => {
    expect(["get", "create", "update", "list", "watch", "delete"].map((v) => can(v, "leases.coordination.k8s.io", "portcullis"))).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(can("create", "leases.coordination.k8s.io", "kube-system")).toBe(false);
  });
});

describe("config.watchNamespaces: the chart's RBAC, installed for real, and Portcullis running under it", RBAC_TEST_TIMEOUT, () => {
  const sa = "system:serviceaccount:scoped:scoped-portcullis";
  const can = (verb: string, resource: string, ns: string | undefined, subresource?: string) => {
    const where = ns === undefined ? ["--all-namespaces"] : ["-n", ns];
    const args = ["auth", "can-i", verb, resource, "--as", sa, ...where, ...(subresource ? ["--subresource", subresource] : [])];
    try {
      return kubectl(args).trim() === "yes";
    } catch (e) {
      if (/\bno\b/.test((e as Error).message)) return false;
      throw e;
    }
  };
  /** A client that authenticates as the admin and acts as the release's ServiceAccount (impersonation). */
  const asServiceAccount = () => {
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: "test", server: server.server, caData: Buffer.from(server.ca).toString("base64") }],
      users: [{ name: "admin", token: server.token, impersonateUser: sa }],
      contexts: [{ name: "test", cluster: "test", user: "admin" }],
      currentContext: "test",
    });
    return new KubeClient(config);
  };
  const policy = (namespace: string, secret: string) => ({
    apiVersion: "gateway.envoyproxy.io/v1alpha1",
    kind: "SecurityPolicy",
    metadata: { name: "keys", namespace },
    spec: {
      targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "models" }],
      apiKeyAuth: { credentialRefs: [{ name: secret }], extractFrom: [{ headers: ["X-API-Key"] }] },
    },
  });
  const secret = (namespace: string, name: string) => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace },
    stringData: { alice: "not-a-real-key" },
  });

  beforeAll(() => {
    helm([
      "install",
      "scoped",
      CHART,
      "--namespace",
      "scoped",
      "--kubeconfig",
      server.kubeconfigPath,
      "--set",
      "config.watchNamespaces={apps}",
      "--skip-crds",
    ]);
    kubectl(
      ["apply", "-f", "-"],
      toYaml([secret("apps", "keys"), secret("monitoring", "keys"), policy("apps", "keys"), policy("monitoring", "keys")]),
    );
  });
  afterAll(() => {
    helm(["uninstall", "scoped", "--namespace", "scoped", "--kubeconfig", server.kubeconfigPath]);
  });

  it("may read Secrets and the other namespaced kinds in apps only; GatewayClasses and Namespaces cluster-wide", () => {
    for (const r of ["secrets", "configmaps", "securitypolicies.gateway.envoyproxy.io", "httproutes.gateway.networking.k8s.io"]) {
      expect(
        ["get", "list", "watch"].map((v) => can(v, r, "apps")),
        `${r} in apps`,
      ).toEqual([true, true, true]);
      expect(
        ["get", "list", "watch"].map((v) => can(v, r, "monitoring")),
        `${r} in monitoring`,
      ).toEqual([false, false, false]);
      expect(can("list", r, undefined), `${r} across namespaces`).toBe(false);
    }
    expect(can("patch", "securitypolicies.gateway.envoyproxy.io", "apps", "status")).toBe(true);
    expect(can("patch", "securitypolicies.gateway.envoyproxy.io", "monitoring", "status")).toBe(false);
    expect([can("create", "events", "apps"), can("create", "events", "monitoring")]).toEqual([true, false]);
    for (const r of ["namespaces", "gatewayclasses.gateway.networking.k8s.io"]) expect(can("list", r, undefined), r).toBe(true);
  });

  it("KubeSource with --watch-namespaces apps syncs as the ServiceAccount, holds only what apps has, and names a Secret it cannot read", async () => {
    const lines: { msg: string; references?: string[] }[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const source = new KubeSource({ client: asServiceAccount(), logger, onChange: () => {}, namespaces: ["apps"] });
    source.start();
    try {
      await source.synced;
      expect(source.resources().securityPolicies.map((p) => p.metadata.namespace)).toEqual(["apps"]);
      expect(source.resources().namespaces.map((n) => n.metadata.name)).toEqual(["apps"]);
      expect(await source.loadReferences({ secrets: ["apps/keys", "monitoring/keys"], configMaps: [], services: [], backends: [] })).toBe(
        true,
      );
      expect(source.resources().secrets.map((s) => `${s.metadata.namespace}/${s.metadata.name}`)).toEqual(["apps/keys"]);
      expect(lines).toEqual([
        expect.objectContaining({ references: ["monitoring/keys"], msg: expect.stringContaining("--watch-namespaces") }),
      ]);
      // No list or watch was refused: everything it asked for, the chart's RBAC grants.
    } finally {
      source.stop();
    }
  });

  it("a Secret outside the watched namespaces is refused to the ServiceAccount (403), and so is listing across namespaces", async () => {
    const client = asServiceAccount();
    expect(await client.request("GET", "/api/v1/namespaces/apps/secrets/keys")).toMatchObject({ metadata: { name: "keys" } });
    for (const path of ["/api/v1/namespaces/monitoring/secrets/keys", "/api/v1/secrets"]) {
      const refused = await client.request("GET", path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused, path).toBeInstanceOf(KubeApiError);
      expect((refused as KubeApiError).status, path).toBe(403);
    }
  });
});
