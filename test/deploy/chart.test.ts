// The Helm chart with the real helm (test/deploy/helm.ts): `helm lint --strict` with values.yaml and
// every example values file, values.schema.json enforced by helm, documentation of every value,
// template references, and the structure of every rendered object. (test/deploy/kube.test.ts installs
// the chart with helm on a real API server.)
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseDocument, isMap, isPair, isScalar, type YAMLMap } from "yaml";
import { describe, expect, it } from "vitest";
import { CHART, defaultValues, find, renderChart, ROOT, valuePathsInTemplates, type Obj } from "./chart.ts";
import { helm } from "./helm.ts";
import { WATCHED } from "../../controller/sources/kube/source.ts";
import { compileText } from "../support/world.ts";

const schemaJson = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8")) as Obj;
const EXAMPLES = readdirSync(join(CHART, "examples"))
  .filter((f) => f.endsWith(".yaml"))
  .sort();
const exampleValues = (f: string) => parse(readFileSync(join(CHART, "examples", f), "utf8")) as Obj;

/** What the controller reads of the cluster-scoped kinds (Kubernetes mode). */
const CLUSTER_SCOPED_RULES = [
  { apiGroups: ["gateway.networking.k8s.io"], resources: ["gatewayclasses"], verbs: ["get", "list", "watch"] },
  { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "watch"] },
];
/** What it reads and writes in each namespace it watches. */
const NAMESPACED_RULES = [
  {
    apiGroups: ["gateway.networking.k8s.io"],
    resources: ["gateways", "httproutes", "grpcroutes", "referencegrants", "listenersets", "backendtlspolicies"],
    verbs: ["get", "list", "watch"],
  },
  // backends and services: what extAuth's backendRefs name.
  {
    apiGroups: ["gateway.envoyproxy.io"],
    resources: ["securitypolicies", "backends", "clienttrafficpolicies"],
    verbs: ["get", "list", "watch"],
  },
  { apiGroups: ["gateway.envoyproxy.io"], resources: ["securitypolicies/status"], verbs: ["get", "update", "patch"] },
  { apiGroups: [""], resources: ["secrets", "configmaps", "services"], verbs: ["get", "list", "watch"] },
  { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
  { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
];
/** The controller's RBAC, exactly as the lead specified it (Kubernetes mode, every namespace). */
export const CLUSTER_RULES = [...CLUSTER_SCOPED_RULES, ...NAMESPACED_RULES];
export const LEASE_RULES = [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }];

describe("the controller's rules and what the Kubernetes source watches", () => {
  it("the rules read (list and watch) exactly the kinds WATCHED lists, by group and plural: no kind the source stopped watching, none it needs missing", () => {
    const read = CLUSTER_RULES.filter((rule) => rule.verbs.includes("list") && rule.verbs.includes("watch")).flatMap((rule) =>
      rule.apiGroups.flatMap((group) => rule.resources.map((resource) => `${group}/${resource}`)),
    );
    const watched = WATCHED.map(({ apiVersion, plural }) => `${apiVersion.includes("/") ? apiVersion.split("/")[0] : ""}/${plural}`);
    expect(read.sort()).toEqual(watched.sort());
  });
});

describe("values.schema.json, as helm enforces it", () => {
  it("helm lint --strict passes with values.yaml and with every example values file", () => {
    expect(EXAMPLES).toEqual(["envoy-gateway.yaml", "production.yaml", "standalone.yaml"]);
    expect(helm(["lint", "--strict", CHART])).toContain("0 chart(s) failed");
    for (const f of EXAMPLES) expect(helm(["lint", "--strict", CHART, "-f", join(CHART, "examples", f)]), f).toContain("0 chart(s) failed");
  });

  it.each([
    ["an unknown mode", { mode: "cluster" }, "mode"],
    ["zero replicas", { replicaCount: 0 }, "replicaCount"],
    ["a misspelt top-level value", { replicas: 2 }, "(root): Additional property replicas"],
    ["a misspelt nested value", { config: { logLvl: "info" } }, "config: Additional property logLvl"],
    ["an unknown log level", { config: { logLevel: "verbose" } }, "config.logLevel"],
    ["onNoRoute other than deny/allow", { config: { onNoRoute: "open" } }, "config.onNoRoute"],
    ["a digest that is not sha256", { image: { digest: "latest" } }, "image.digest"],
    ["a port out of range", { ports: { authz: 70000 } }, "ports.authz"],
    ["a PDB percentage without %", { podDisruptionBudget: { minAvailable: "half" } }, "podDisruptionBudget.minAvailable"],
    ["a non-string manifest file", { standalone: { manifests: { "a.yaml": { kind: "Gateway" } } } }, "standalone.manifests.a.yaml"],
    [
      "a hidden manifest file, which no reader of the folder reads",
      { standalone: { manifests: { ".a.yaml": "kind: Gateway" } } },
      "standalone.manifests",
    ],
    [
      "a manifest file in a subfolder (team-a/p.yaml), a key no ConfigMap can hold and a folder Envoy Gateway does not read",
      { standalone: { manifests: { "team-a/p.yaml": "kind: Gateway" } } },
      "standalone.manifests",
    ],
    ["a bad scrape interval", { serviceMonitor: { interval: "30" } }, "serviceMonitor.interval"],
  ])("helm refuses %s, naming the value", (_what, override, path) => {
    expect(() => renderChart(override)).toThrow(`- ${path}`);
  });
});

describe("values.yaml", () => {
  it("documents every value: a `# --` comment on the value, or on each value of its section", () => {
    const doc = parseDocument(readFileSync(join(CHART, "values.yaml"), "utf8"));
    const undocumented: string[] = [];
    const walk = (map: YAMLMap, at: string) => {
      map.items.forEach((pair, i) => {
        if (!isPair(pair) || !isScalar(pair.key)) return;
        const path = `${at}${String(pair.key.value)}`;
        // The comment above a section's first value belongs to the section's map node.
        const comment = `${pair.key.commentBefore ?? ""}${i === 0 ? (map.commentBefore ?? "") : ""}`;
        if (comment.includes(" -- ")) return;
        if (isMap(pair.value) && pair.value.items.length > 0) walk(pair.value, `${path}.`);
        else undocumented.push(path);
      });
    };
    walk(doc.contents as YAMLMap, "");
    expect(undocumented).toEqual([]);
  });

  it("every .Values path in the templates exists in values.yaml and in the schema", () => {
    const values = defaultValues();
    const missing: string[] = [];
    for (const [path, files] of valuePathsInTemplates()) {
      let v: unknown = values;
      let s: Obj | undefined = schemaJson;
      for (const key of path.split(".")) {
        v =
          typeof v === "object" && v !== null && key in v
            ? (v as Obj)[key]
            : (missing.push(`${path} (values.yaml; ${files.join(", ")})`), undefined);
        if (v === undefined) break;
        s = s?.$ref ? resolveRef(s.$ref as string) : s;
        s = (s?.properties as Obj | undefined)?.[key] as Obj | undefined;
        if (s === undefined) missing.push(`${path} (values.schema.json)`);
        if (s === undefined) break;
      }
    }
    expect(missing).toEqual([]);
  });

  it("has no value that no template reads", () => {
    const used = [...valuePathsInTemplates().keys()];
    const dead: string[] = [];
    const walk = (v: unknown, at: string) => {
      if (used.some((u) => u === at || at.startsWith(`${u}.`))) return;
      if (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length > 0)
        for (const [k, x] of Object.entries(v)) walk(x, at ? `${at}.${k}` : k);
      else dead.push(at);
    };
    walk(defaultValues(), "");
    expect(dead).toEqual([]);
  });
});

const resolveRef = (ref: string): Obj =>
  ref
    .replace(/^#\//, "")
    .split("/")
    .reduce((o: Obj, k) => o[k] as Obj, schemaJson);

describe("rendered with the default values (Kubernetes mode)", () => {
  const r = renderChart();
  const deployment = find(r, "Deployment");
  const pod = deployment.spec.template;
  const container = pod.spec.containers[0];
  const service = find(r, "Service");

  it("renders exactly the Kubernetes-mode objects, all in the release namespace but the cluster-scoped ones", () => {
    expect(r.objects.map((o) => `${o.obj.kind}/${o.obj.metadata.name}`).sort()).toEqual([
      "ClusterRole/portcullis",
      "ClusterRoleBinding/portcullis",
      "Deployment/portcullis",
      "PodDisruptionBudget/portcullis",
      "Role/portcullis-leader-election",
      "RoleBinding/portcullis-leader-election",
      "Service/portcullis",
      "ServiceAccount/portcullis",
    ]);
    for (const { obj } of r.objects)
      expect(obj.metadata.namespace, obj.kind).toBe(obj.kind.startsWith("Cluster") ? undefined : "portcullis");
  });

  it("Deployment: 2 replicas, surge-only rollout, pod labels match every selector", () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
    const selector = deployment.spec.selector.matchLabels;
    expect(pod.metadata.labels).toMatchObject(selector);
    expect(service.spec.selector).toEqual(selector);
    expect(find(r, "PodDisruptionBudget").spec).toEqual({ minAvailable: 1, selector: { matchLabels: selector } });
    expect(
      pod.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector.matchLabels,
    ).toEqual(selector);
  });

  it("container: `serve` in-cluster, probes on the admin port, downward-API identity, PORTCULLIS_* flags", () => {
    expect(container.args).toEqual(["serve"]);
    expect(container.image).toBe("ghcr.io/portcullis/portcullis:0.1.0");
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "admin" });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "admin" });
    const env = Object.fromEntries((container.env as Obj[]).map((e) => [e.name, e.value ?? e.valueFrom.fieldRef.fieldPath]));
    expect(env).toEqual({
      POD_NAMESPACE: "metadata.namespace",
      POD_NAME: "metadata.name",
      PORTCULLIS_CONTROLLER_NAME: "portcullis.io/gateway-controller",
      PORTCULLIS_SELF_SERVICE: "portcullis/portcullis",
      PORTCULLIS_ON_NO_ROUTE: "deny",
      PORTCULLIS_ON_NO_POLICY: "allow",
      PORTCULLIS_XFF_TRUSTED_HOPS: "0",
      PORTCULLIS_LOG_LEVEL: "info",
      PORTCULLIS_AUDIT_ALLOWED_SAMPLE_RATE: "0",
      PORTCULLIS_JWT_CACHE_MIB: "16",
      PORTCULLIS_SHUTDOWN_DELAY_SECONDS: "5",
      PORTCULLIS_SHUTDOWN_GRACE_SECONDS: "10",
      PORTCULLIS_LEASE_NAME: "portcullis-status-writer",
      PORTCULLIS_JWKS_FETCH_TIMEOUT_MS: "5000",
      PORTCULLIS_AUTHZ_PORT: "9002",
      PORTCULLIS_FORWARD_AUTH_PORT: "9003",
      PORTCULLIS_ADMIN_PORT: "9090",
      PORTCULLIS_GRPC_PORT: "9001",
    });
    expect(pod.spec.automountServiceAccountToken).toBe(true);
    expect(pod.spec.serviceAccountName).toBe(find(r, "ServiceAccount").metadata.name);
    expect(container.resources.requests).toEqual({ cpu: "100m", memory: "256Mi" });
    expect(container.resources.limits).toEqual({ memory: "512Mi" });
  });

  it("non-root, read-only root filesystem, no capabilities, seccomp RuntimeDefault; /tmp is an emptyDir", () => {
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(container.volumeMounts).toEqual([{ name: "tmp", mountPath: "/tmp" }]);
    expect(pod.spec.volumes).toEqual([{ name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } }]);
  });

  it("Service: authz 9002, forward-auth 9003, admin 9090 (and gRPC ext_authz 9001), each to the container port of that name", () => {
    expect(service.spec.ports.map((p: Obj) => [p.name, p.port, p.targetPort])).toEqual([
      ["authz", 9002, "authz"],
      ["forward-auth", 9003, "forward-auth"],
      ["admin", 9090, "admin"],
      ["grpc", 9001, "grpc"],
    ]);
    expect(container.ports.map((p: Obj) => [p.name, p.containerPort])).toEqual([
      ["authz", 9002],
      ["forward-auth", 9003],
      ["admin", 9090],
      ["grpc", 9001],
    ]);
  });

  it("RBAC: exactly the controller's rules, bound to its ServiceAccount; the Lease Role in the release namespace", () => {
    expect(find(r, "ClusterRole").rules).toEqual(CLUSTER_RULES);
    expect(find(r, "Role").rules).toEqual(LEASE_RULES);
    const subject = [{ kind: "ServiceAccount", name: "portcullis", namespace: "portcullis" }];
    expect(find(r, "ClusterRoleBinding")).toMatchObject({ roleRef: { kind: "ClusterRole", name: "portcullis" }, subjects: subject });
    expect(find(r, "RoleBinding")).toMatchObject({ roleRef: { kind: "Role", name: "portcullis-leader-election" }, subjects: subject });
  });
});

describe("rendered with other values", () => {
  it("standalone: manifests mounted from the chart's ConfigMap and an existing Secret, no RBAC, no token", () => {
    const r = renderChart(exampleValues("standalone.yaml"));
    expect(r.objects.map((o) => o.obj.kind).sort()).toEqual([
      "ConfigMap",
      "Deployment",
      "PodDisruptionBudget",
      "Service",
      "ServiceAccount",
    ]);
    const pod = find(r, "Deployment").spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers[0].args).toEqual(["serve", "--manifests", "/etc/portcullis/manifests"]);
    expect(pod.volumes[1]).toEqual({
      name: "manifests",
      projected: { sources: [{ configMap: { name: "portcullis-manifests" } }, { secret: { name: "portcullis-api-keys" } }] },
    });
    expect(Object.keys(find(r, "ConfigMap").data)).toEqual(["00-gateway.yaml", "10-routes.yaml", "30-jwt.yaml"]);
    for (const text of Object.values(find(r, "ConfigMap").data as Record<string, string>)) expect(parse(text)).toHaveProperty("kind");
  });

  it("standalone: the example's manifests, as the mounted folder, enforce every policy (each Accepted on an ancestor)", () => {
    const files = Object.values(find(renderChart(exampleValues("standalone.yaml")), "ConfigMap").data as Record<string, string>);
    const { statuses } = compileText(files.join("\n---\n"), { controllerName: "portcullis.io/gateway-controller" });
    expect(statuses.map((s) => s.name)).toEqual(["api-jwt"]);
    for (const status of statuses) {
      expect(status.ancestors, status.name).not.toEqual([]);
      for (const a of status.ancestors)
        expect(
          a.conditions.find((c) => c.type === "Accepted"),
          status.name,
        ).toMatchObject({ status: "True" });
    }
  });

  it("standalone: a manifest file of any name but a hidden one is rendered, as the folder reads every such file", () => {
    const names = ["a.yml", "b.JSON", "policies", "policy.txt"];
    const manifests = Object.fromEntries(names.map((n) => [n, "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"]));
    expect(Object.keys(find(renderChart({ mode: "standalone", standalone: { manifests } }), "ConfigMap").data)).toEqual(names);
  });

  it("standalone without any manifest source fails with a message", () => {
    expect(() => renderChart({ mode: "standalone" })).toThrow(/mode: standalone needs standalone.manifests/);
  });

  it("production example: digest pinned, ServiceMonitor and NetworkPolicy point at named ports that exist", () => {
    const r = renderChart(exampleValues("production.yaml"));
    const deployment = find(r, "Deployment");
    expect(deployment.spec.template.spec.containers[0].image).toBe(`registry.example.com/platform/portcullis@sha256:${"0".repeat(64)}`);
    const portNames = find(r, "Service").spec.ports.map((p: Obj) => p.name);
    const monitor = find(r, "ServiceMonitor");
    expect(portNames).toContain(monitor.spec.endpoints[0].port);
    expect(monitor.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(monitor.metadata.labels.release).toBe("kube-prometheus-stack");
    const policy = find(r, "NetworkPolicy");
    expect(policy.spec.podSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    for (const rule of policy.spec.ingress as Obj[]) for (const p of rule.ports as Obj[]) expect(portNames).toContain(p.port);
    expect(find(r, "PodDisruptionBudget").spec.minAvailable).toBe(2);
  });

  it("README's Memory section states the memory the chart renders by default and with the production example, and deploy/base's", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8").replace(/\s+/g, " ");
    const stated =
      /The default limit, (\w+) \(requests (\w+)\).* needs (\w+) \(requests (\w+), as in `charts\/portcullis\/examples\/production\.yaml`\)/.exec(
        readme,
      );
    expect(stated, "README's Memory section no longer states the default and the production memory").not.toBeNull();
    const [, defaultLimit, defaultRequest, productionLimit, productionRequest] = stated!;
    const memory = (container: Obj) => [container.resources.limits.memory, container.resources.requests.memory];
    expect(memory(find(renderChart(), "Deployment").spec.template.spec.containers[0])).toEqual([defaultLimit, defaultRequest]);
    const production = find(renderChart(exampleValues("production.yaml")), "Deployment");
    expect(memory(production.spec.template.spec.containers[0])).toEqual([productionLimit, productionRequest]);
    const base = parse(readFileSync(join(ROOT, "deploy/base/deployment.yaml"), "utf8")) as Obj;
    expect(memory(base.spec.template.spec.containers[0])).toEqual([defaultLimit, defaultRequest]);
  });

  it("envoy-gateway example: Envoy Gateway's GatewayClass, ingress only from envoy-gateway-system", () => {
    const r = renderChart(exampleValues("envoy-gateway.yaml"));
    const env = find(r, "Deployment").spec.template.spec.containers[0].env as Obj[];
    expect(env).toContainEqual({ name: "PORTCULLIS_GATEWAY_CLASS", value: "eg" });
    const policy = find(r, "NetworkPolicy");
    expect(policy.spec.policyTypes).toEqual(["Ingress"]);
    expect(policy.spec.ingress[0].from).toEqual([
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "envoy-gateway-system" } } },
    ]);
    expect(policy.spec.ingress[1].from).toBeUndefined();
  });

  it.each([
    ["portcullis", "portcullis", {}, "portcullis/portcullis"],
    ["edge", "auth", {}, "auth/edge-portcullis"],
    ["edge", "auth", { fullnameOverride: "gate" }, "auth/gate"],
  ])("passes --self-service with its own Service: release %s in namespace %s %j", (releaseName, namespace, values, expected) => {
    const r = renderChart(values, { releaseName, namespace });
    const service = find(r, "Service");
    expect(`${service.metadata.namespace}/${service.metadata.name}`).toBe(expected);
    const env = find(r, "Deployment").spec.template.spec.containers[0].env as Obj[];
    expect(env).toContainEqual({ name: "PORTCULLIS_SELF_SERVICE", value: expected });
  });

  it("geoip: the databases' volume mounted read-only, their paths in PORTCULLIS_GEOIP_DATABASE; none without databases", () => {
    const values = {
      geoip: { databases: ["GeoLite2-City.mmdb", "asn/GeoLite2-ASN.mmdb"], volume: { persistentVolumeClaim: { claimName: "geoip" } } },
    };
    const pod = find(renderChart(values), "Deployment").spec.template.spec;
    expect(pod.containers[0].env).toContainEqual({
      name: "PORTCULLIS_GEOIP_DATABASE",
      value: "/etc/portcullis/geoip/GeoLite2-City.mmdb,/etc/portcullis/geoip/asn/GeoLite2-ASN.mmdb",
    });
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: "geoip", mountPath: "/etc/portcullis/geoip", readOnly: true });
    expect(pod.volumes).toContainEqual({ name: "geoip", persistentVolumeClaim: { claimName: "geoip" } });
    const plain = find(renderChart({}), "Deployment").spec.template.spec;
    expect(plain.volumes.map((v: Obj) => v.name)).not.toContain("geoip");
    expect(plain.containers[0].env.map((e: Obj) => e.name)).not.toContain("PORTCULLIS_GEOIP_DATABASE");
  });

  it("geoip databases without their volume fail with a message; a file that is not .mmdb is refused", () => {
    expect(() => renderChart({ geoip: { databases: ["City.mmdb"] } })).toThrow(/geoip.databases needs geoip.volume/);
    expect(() => renderChart({ geoip: { databases: ["City.csv"], volume: { emptyDir: {} } } })).toThrow("- geoip.databases.0");
  });

  it("client-address values that exclude each other, as their flags do, fail with a message instead of rendering a pod that never starts", () => {
    const cidrs = ["10.0.0.0/8"];
    expect(() => renderChart({ config: { xffTrustedHops: 1, xffTrustedCidrs: cidrs } })).toThrow(
      /xffTrustedHops and config.xffTrustedCidrs exclude/,
    );
    expect(() => renderChart({ config: { xffPeerNotAppended: true } })).toThrow(/xffPeerNotAppended needs/);
    expect(() => renderChart({ config: { clientIpHeader: "CF-Connecting-IP", xffTrustedHops: 1 } })).toThrow(/clientIpHeader excludes/);
    expect(() => renderChart({ config: { clientIpHeader: "CF-Connecting-IP", xffTrustedCidrs: cidrs } })).toThrow(
      /clientIpHeader excludes/,
    );
    for (const config of [
      { xffTrustedHops: 1, xffPeerNotAppended: true },
      { xffTrustedCidrs: cidrs, xffPeerNotAppended: true },
      { clientIpHeader: "CF-Connecting-IP" },
    ]) {
      expect(find(renderChart({ config }), "Deployment").spec.template.spec.containers[0].env).toBeDefined();
    }
  });

  it("several gateway classes become one comma-separated PORTCULLIS_GATEWAY_CLASS (the flag's env syntax)", () => {
    const env = find(renderChart({ config: { gatewayClasses: ["a", "b"] } }), "Deployment").spec.template.spec.containers[0].env as Obj[];
    expect(env).toContainEqual({ name: "PORTCULLIS_GATEWAY_CLASS", value: "a,b" });
  });

  it("Envoy Gateway's own controllerNames become one comma-separated PORTCULLIS_ENVOY_GATEWAY_CONTROLLER_NAME; helm refuses one that is not a controllerName", () => {
    const config = { envoyGatewayControllerNames: ["corp.example/envoy", "corp.example/envoy-b"] };
    const env = find(renderChart({ config }), "Deployment").spec.template.spec.containers[0].env as Obj[];
    expect(env).toContainEqual({ name: "PORTCULLIS_ENVOY_GATEWAY_CONTROLLER_NAME", value: "corp.example/envoy,corp.example/envoy-b" });
    expect(() => renderChart({ config: { envoyGatewayControllerNames: ["envoy"] } })).toThrow(/envoyGatewayControllerNames/);
    const unset = find(renderChart({}), "Deployment").spec.template.spec.containers[0].env as Obj[];
    expect(unset.map((e) => e.name)).not.toContain("PORTCULLIS_ENVOY_GATEWAY_CONTROLLER_NAME");
  });

  it("names: <release>-portcullis, the release name when it contains the chart name, fullnameOverride", () => {
    expect(find(renderChart({}, { releaseName: "edge" }), "Deployment").metadata.name).toBe("edge-portcullis");
    expect(find(renderChart({}, { releaseName: "portcullis-prod" }), "Deployment").metadata.name).toBe("portcullis-prod");
    expect(find(renderChart({ fullnameOverride: "authz" }), "ClusterRole").metadata.name).toBe("authz");
  });

  it("PodDisruptionBudget is policy/v1 where the cluster serves it (the 1.20 fallback: test/deploy/kube.test.ts)", () => {
    expect(find(renderChart(), "PodDisruptionBudget").apiVersion).toBe("policy/v1");
  });

  it("jwtCacheMib becomes PORTCULLIS_JWT_CACHE_MIB; the schema refuses a fraction", () => {
    const env = find(renderChart({ config: { jwtCacheMib: 128 } }), "Deployment").spec.template.spec.containers[0].env as Obj[];
    expect(env).toContainEqual({ name: "PORTCULLIS_JWT_CACHE_MIB", value: "128" });
    expect(() => renderChart({ config: { jwtCacheMib: 1.5 } })).toThrow(/jwtCacheMib/);
  });
  it("auditAllowedSampleRate becomes PORTCULLIS_AUDIT_ALLOWED_SAMPLE_RATE; the schema refuses a rate over 1", () => {
    const env = find(renderChart({ config: { auditAllowedSampleRate: 0.05 } }), "Deployment").spec.template.spec.containers[0].env as Obj[];
    expect(env).toContainEqual({ name: "PORTCULLIS_AUDIT_ALLOWED_SAMPLE_RATE", value: "0.05" });
    expect(() => renderChart({ config: { auditAllowedSampleRate: 2 } })).toThrow(/auditAllowedSampleRate/);
  });

  it("watchNamespaces: the ClusterRole reads only cluster-scoped kinds; each listed namespace gets a Role for the rest", () => {
    const r = renderChart({ config: { watchNamespaces: ["apps", "shop"] } });
    const env = find(r, "Deployment").spec.template.spec.containers[0].env as Obj[];
    expect(env).toContainEqual({ name: "PORTCULLIS_WATCH_NAMESPACES", value: "apps,shop" });
    expect(find(r, "ClusterRole").rules).toEqual(CLUSTER_SCOPED_RULES);
    const subject = [{ kind: "ServiceAccount", name: "portcullis", namespace: "portcullis" }];
    const of = (kind: string) => r.objects.map((o) => o.obj).filter((o) => o.kind === kind && o.metadata.name === "portcullis");
    expect(of("Role").map((o) => [o.metadata.namespace, o.rules])).toEqual([
      ["apps", NAMESPACED_RULES],
      ["shop", NAMESPACED_RULES],
    ]);
    expect(of("RoleBinding").map((o) => [o.metadata.namespace, o.roleRef, o.subjects])).toEqual([
      ["apps", { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "portcullis" }, subject],
      ["shop", { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "portcullis" }, subject],
    ]);
  });

  it("watchNamespaces must be namespace names, each once (the schema, enforced by helm)", () => {
    expect(() => renderChart({ config: { watchNamespaces: ["Apps"] } })).toThrow(/watchNamespaces/);
    expect(() => renderChart({ config: { watchNamespaces: ["apps", "apps"] } })).toThrow(/watchNamespaces/);
  });

  it("user affinity replaces the default anti-affinity; rbac.create=false renders no RBAC", () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: ["edge"] }] }],
        },
      },
    };
    expect(find(renderChart({ affinity }), "Deployment").spec.template.spec.affinity).toEqual(affinity);
    expect(renderChart({ rbac: { create: false } }).objects.filter((o) => o.file === "rbac.yaml")).toEqual([]);
  });
});

describe("CRDs", () => {
  it("charts/portcullis/crds/ is an exact copy of crds/ (refresh with `make chart-crds`)", () => {
    const source = readdirSync(join(ROOT, "crds")).sort();
    expect(readdirSync(join(CHART, "crds")).sort()).toEqual(source);
    for (const f of source) {
      expect(
        readFileSync(join(CHART, "crds", f), "utf8") === readFileSync(join(ROOT, "crds", f), "utf8"),
        `${f} differs from crds/${f}: run make chart-crds`,
      ).toBe(true);
    }
  });
});
