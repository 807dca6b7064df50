/**
 * Kubernetes mode with Envoy Gateway's ClientTrafficPolicy (controller/compile/client-traffic-policies.ts)
 * against a real kube-apiserver: Portcullis runs on the peer (no client address flags) under the
 * shipped RBAC. A ClientTrafficPolicy that trusts one proxy in front of Envoy makes Envoy decide on
 * another address than Portcullis: the clientCIDRs rule that let the office proxy's network in now
 * denies (client_address_unknown, the flags to start with in the log and the policy's status);
 * a ClientTrafficPolicy on the peer, or none, brings the decision back. A route whose policy reads
 * no address is decided as before throughout.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type App } from "../../controller/runtime/app.ts";
import { testServeConfig } from "../support/app.ts";
import { send } from "../support/http.ts";
import { startApiServer, type ApiServer } from "./apiserver.ts";
import { Kube, readManifests, until, type Obj } from "./objects.ts";

const ROOT = join(import.meta.dirname, "../..");
const HOST = "api.maas.example.com";
const NS = "maas-system";
const CONTROLLER = "portcullis.io/gateway-controller";
let api: ApiServer;
let kube: Kube;
let app: App;
const logLines: Obj[] = [];

const route = (name: string, path: string): Obj => ({
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  metadata: { name, namespace: NS },
  spec: {
    parentRefs: [{ name: "maas-gateway" }],
    hostnames: [HOST],
    rules: [{ matches: [{ path: { type: "PathPrefix", value: path } }] }],
  },
});
const policy = (name: string, target: string, authorization: object): Obj => ({
  apiVersion: "gateway.envoyproxy.io/v1alpha1",
  kind: "SecurityPolicy",
  metadata: { name, namespace: NS },
  spec: { targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: target }], authorization },
});
const officeOnly = policy("office-only", "office", {
  defaultAction: "Deny",
  rules: [{ action: "Allow", principal: { clientCIDRs: ["10.0.0.0/8"] } }],
});
const teamOnly = policy("team-only", "team", {
  defaultAction: "Deny",
  rules: [{ action: "Allow", principal: { headers: [{ name: "x-team", values: ["a"] }] } }],
});
const ctp = (clientIPDetection?: object): Obj => ({
  apiVersion: "gateway.envoyproxy.io/v1alpha1",
  kind: "ClientTrafficPolicy",
  metadata: { name: "enable-client-ip-detection", namespace: NS },
  spec: {
    targetRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "maas-gateway" }],
    ...(clientIPDetection === undefined ? {} : { clientIPDetection }),
  },
});
const ONE_HOP = { xForwardedFor: { numTrustedHops: 1 } };

/** A client at 203.0.113.9 behind the office proxy 10.1.2.3 (Envoy's append is the last entry). */
const fromOfficeProxy = (path: string, headers: Record<string, string> = {}) =>
  send(`http://127.0.0.1:${app.ports.authz}${path}`, { headers: { host: HOST, "x-forwarded-for": "203.0.113.9, 10.1.2.3", ...headers } });
const statusOf = async (path: string, headers?: Record<string, string>) => (await fromOfficeProxy(path, headers)).status;
const untilStatus = (path: string, status: number, what: string) =>
  until(10_000, async () => ((await statusOf(path)) === status ? true : undefined), what);
const warningsOf = async (o: Obj): Promise<{ reason: string; message: string }[]> =>
  (
    ((await kube.get(o))?.status?.ancestors ?? []) as {
      controllerName: string;
      conditions: { type: string; reason: string; message: string }[];
    }[]
  )
    .filter((a) => a.controllerName === CONTROLLER)
    .flatMap((a) => a.conditions.filter((c) => c.type === "Warning"));

beforeAll(async () => {
  api = await startApiServer({ users: [{ name: "portcullis" }] });
  kube = new Kube(api.kubeconfigPath);
  const shipped = readdirSync(join(ROOT, "crds")).map((f) => join(ROOT, "crds", f));
  await kube.installCrds(
    ...shipped,
    join(ROOT, "test/kube/crds/gateway-api.yaml"),
    join(ROOT, "test/kube/crds/envoy-gateway-clienttrafficpolicy.yaml"),
  );
  for (const ns of [NS, "portcullis"]) await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  await kube.applyShippedRbac("portcullis");
  for (const o of readManifests(join(ROOT, "deploy/examples/00-gateway.yaml"))) await kube.apply(o);
  for (const o of [route("office", "/office"), route("team", "/team"), officeOnly, teamOnly]) await kube.apply(o);
  const config = testServeConfig(["--kubeconfig", api.kubeconfigFor("portcullis"), "--lease-namespace", "portcullis"]);
  app = await startApp(config, pino({ level: "info" }, { write: (line: string) => void logLines.push(JSON.parse(line) as Obj) }));
  await app.ready;
}, 120_000);

afterAll(async () => {
  await app?.stop();
  await api?.stop();
});

describe("a ClientTrafficPolicy on the Gateway, against Portcullis on the peer", () => {
  it("without one, the office proxy's network passes the clientCIDRs rule (Envoy also sees the peer)", async () => {
    await untilStatus("/office", 200, "the office route allowed");
    expect(await statusOf("/team", { "x-team": "a" })).toBe(200);
  });

  it("numTrustedHops 1: the clientCIDRs request is denied, client_address_unknown in the log with the flags; the header rule is untouched", async () => {
    await kube.apply(ctp(ONE_HOP));
    await untilStatus("/office", 403, "the office route denied");
    expect((await fromOfficeProxy("/office")).json()).toEqual({ code: "authz_denied", message: "Forbidden" });
    const denied = logLines.find((l) => l.msg === "request denied" && l.code === "client_address_unknown");
    expect(JSON.stringify(denied)).toContain("start it with --xff-trusted-hops 1");
    expect(await statusOf("/team", { "x-team": "a" })).toBe(200);
    expect(await statusOf("/team")).toBe(403);
    const warnings = await until(
      10_000,
      async () => ((await warningsOf(officeOnly)).length > 0 ? warningsOf(officeOnly) : undefined),
      "Warning",
    );
    expect(warnings).toEqual([
      {
        type: "Warning",
        status: "True",
        reason: "ClientAddressUnknown",
        message: expect.stringContaining(
          "ClientTrafficPolicy maas-system/enable-client-ip-detection: Envoy finds the client address otherwise than Portcullis, which runs with --xff-trusted-hops 0; start it with --xff-trusted-hops 1",
        ),
        observedGeneration: expect.any(Number),
        lastTransitionTime: expect.any(String),
      },
    ]);
    expect(await warningsOf(teamOnly)).toEqual([]);
  });

  it("a ClientTrafficPolicy on the peer (what the flags say): allowed again, the Warning gone", async () => {
    await kube.apply(ctp(undefined));
    await untilStatus("/office", 200, "the office route allowed again");
    await until(10_000, async () => ((await warningsOf(officeOnly)).length === 0 ? true : undefined), "the Warning removed");
  });

  it("contradicting again, then deleted: denied, then back to the peer's decision", async () => {
    await kube.apply(ctp(ONE_HOP));
    await untilStatus("/office", 403, "denied once more");
    await kube.remove(ctp());
    await untilStatus("/office", 200, "allowed once the ClientTrafficPolicy is gone");
  });
});

describe("an Envoy Gateway installed under a controllerName of its own (--envoy-gateway-controller-name)", () => {
  // The example GatewayClass's controllerName, taken here for an Envoy Gateway's own: no ClientTrafficPolicy is left.
  const EXAMPLE_CLASS_CONTROLLER = "portcullis.io/gateway-controller";
  /** A client claiming an office address in X-Forwarded-For, reaching Envoy from outside the office (the peer). */
  const claimingOffice = (a: App) =>
    send(`http://127.0.0.1:${a.ports.authz}/office`, { headers: { host: HOST, "x-forwarded-for": "10.9.9.9, 198.51.100.7" } });
  const trustingOneHop = async (extra: readonly string[]) => {
    const flags = ["--kubeconfig", api.kubeconfigFor("portcullis"), "--lease-namespace", "portcullis", "--xff-trusted-hops", "1"];
    // Statuses under a name of their own, leaving the first app's entries alone.
    const config = testServeConfig([...flags, "--controller-name", "other.example/portcullis", "--lease-name", "other", ...extra]);
    const started = await startApp(config, pino({ level: "silent" }));
    await started.ready;
    return started;
  };

  it("unnamed, its Gateway is another proxy's and the flags decide; named, Envoy's peer applies and the address rule denies", async () => {
    const unnamed = await trustingOneHop([]);
    const named = await trustingOneHop(["--envoy-gateway-controller-name", EXAMPLE_CLASS_CONTROLLER]);
    try {
      expect((await claimingOffice(unnamed)).status).toBe(200);
      expect((await claimingOffice(named)).status).toBe(403);
    } finally {
      await Promise.all([unnamed.stop(), named.stop()]);
    }
  }, 60_000);
});
