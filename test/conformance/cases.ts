/**
 * The conformance corpus in Portcullis' own form, and how each of its items is checked.
 *
 * Two kinds of case, each naming the Envoy Gateway release file it states facts from:
 * - translator cases (`translator/*.yaml`, written by ./import-translator-cases.ts): input objects,
 *   the conditions EG sets per policy and ancestor, and per route of EG's xDS IR a request, the
 *   route Envoy takes for it and the security features EG attached there;
 * - request cases (`requests/*.yaml`, written by hand from EG's e2e tests): input objects and
 *   requests with the status and headers EG's e2e test expects, and the policy statuses it waits for;
 * - doc cases (`docs/*.yaml`, request cases from the security task pages of EG's documentation):
 *   the manifests a user copies from a page into a manifest folder (with the quickstart's Gateway
 *   and route) and the requests the page sends, with the answers it says they get.
 * A world holding a ListenerSet is also served in Kubernetes mode, and the statuses Portcullis
 * writes there are read back from the API server (statuses.ts).
 * Every item runs as its own test; `pending.yaml` names the items that must still differ, with the
 * issue that will make them pass (features not built yet) or the reason they differ on purpose.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, join } from "node:path";
import pino from "pino";
import { request as undiciRequest } from "undici";
import { parse, stringify } from "yaml";
import { toResources } from "../../controller/api/resources.ts";
import { clientAddressDetection } from "../../controller/authz/client-address.ts";
import { check } from "../../controller/authz/check.ts";
import type { CheckContext } from "../../controller/authz/context.ts";
import type { Decision } from "../../controller/authz/decision.ts";
import { compile, type CompileResult } from "../../controller/compile/index.ts";
import { geoIPDatabaseOf } from "../../controller/geoip/database.ts";
import { createKeyStore } from "../../controller/keys/store.ts";
import type { CompiledPolicy } from "../../controller/snapshot/types.ts";
import { startKubeTestApp, startTestApp, type TestApp } from "../support/app.ts";
import { kubeCluster } from "../support/kube-cluster.ts";
import { writeMmdb } from "../support/mmdb.ts";
import { testCheckContext } from "../support/world.ts";
import {
  assertEqual,
  compareStatus,
  compareWrittenStatus,
  EG_CONTROLLER_NAME,
  type CaseStatuses,
  type ConditionTypes,
} from "./statuses.ts";

/** The GatewayClass EG's translator tests treat as managed; Gateways of other classes are not served. */
export const EG_GATEWAY_CLASS = "envoy-gateway-class";

/**
 * Gateway API objects of EG's golden data at a version the Gateway API v1.6.1 CRDs (those Envoy
 * Gateway v1.9.0 ships) no longer serve, as they are applied now: the translator's tests read them
 * without an API server, which would refuse them, and so does Portcullis. The fields are the same.
 */
const NOW_SERVED_AS: Readonly<Record<string, string>> = {
  "gateway.networking.k8s.io/v1alpha2 GRPCRoute": "gateway.networking.k8s.io/v1",
  "gateway.networking.k8s.io/v1alpha2 ReferenceGrant": "gateway.networking.k8s.io/v1beta1",
  "gateway.networking.k8s.io/v1alpha2 BackendTLSPolicy": "gateway.networking.k8s.io/v1",
};

/** An input object of EG's golden data with the apiVersion it is served at now (NOW_SERVED_AS), for the importers. */
export function asServedNow<T extends { apiVersion?: unknown; kind?: unknown }>(object: T): T {
  const now = NOW_SERVED_AS[`${String(object.apiVersion)} ${String(object.kind)}`];
  return now === undefined ? object : { ...object, apiVersion: now };
}

export interface TranslatorCase {
  /** "envoyproxy/gateway <release> <path>": where the facts come from. */
  readonly source: string;
  readonly manifests: readonly object[];
  readonly statuses: CaseStatuses;
  readonly routes: readonly RouteExpectation[];
}

export interface CaseRequest {
  readonly method: string;
  /** Host header; carries the port when the listener is not on 80/443. */
  readonly host: string;
  /** Path and query. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface RouteExpectation {
  /** EG's xDS IR route name ("httproute/<ns>/<name>/rule/<i>/match/<j>/<host>"). */
  readonly irRoute: string;
  /** EG's xDS IR key: the Gateway "namespace/name" (requests name it as the proxy would). */
  readonly gateway: string;
  /** EG's IR listener name. */
  readonly listener: string;
  readonly request: CaseRequest;
  readonly expect: {
    /** "<Kind> namespace/name" of the route Envoy takes for the request. */
    readonly route: string;
    /** Index of its rule. */
    readonly rule: number;
    /**
     * `enforced`: the features apply. `policy-invalid`: EG answers 500 because the policy failed;
     * Portcullis must deny. `no-backend`: EG answers 500 because the route has no usable backend;
     * the features still apply (the filters run before the router).
     */
    readonly outcome: "enforced" | "policy-invalid" | "no-backend";
    /** EG's IR security features on that route (jwt, basicAuth, apiKeyAuth, cors, authorization, extAuth, oidc, csrf). */
    readonly features: readonly string[];
    /** The policy those features come from, when only one policy of the case could have produced them. */
    readonly policy?: string;
  };
}

export interface RequestCase {
  readonly source: string;
  readonly manifests: readonly object[];
  /** The GatewayClass Envoy Gateway controls in this world (EG_GATEWAY_CLASS unless the case names one: a doc page's `eg`). */
  readonly gatewayClass?: string;
  /**
   * The address the e2e client connects to Envoy from. Envoy appends it to X-Forwarded-For (or
   * sets that header to it) before asking Portcullis, so Portcullis receives it as the last entry.
   */
  readonly peer?: string;
  /**
   * Remote JWKS documents by the URI the manifests name (EG's e2e static file server). The runner
   * serves each on 127.0.0.1 at the same path and points the manifests there.
   */
  readonly jwks?: Readonly<Record<string, string>>;
  /**
   * The statuses EG's e2e test waits for (SecurityPolicyMustBeAccepted, …MustBeOverridden,
   * …MustBeMerged), each policy's whole list of ancestors as EG's translator gives it.
   */
  readonly statuses?: CaseStatuses;
  readonly requests: readonly {
    readonly name: string;
    /** Defaults: GET, host gateway.conformance.test (EG's e2e routes name no hostnames), no headers. */
    readonly request: Partial<CaseRequest> & { readonly path: string; readonly gateway?: string };
    readonly expect: {
      /** What the client gets, as EG's e2e test expects it (404: no route, answered by Envoy); absent: not checked. */
      readonly status?: number;
      /** Headers the backend receives. */
      readonly upstream?: Readonly<Record<string, string>>;
      /** Headers the backend must not receive (lower-case). */
      readonly removed?: readonly string[];
      /** Response headers the client receives; null: absent. */
      readonly response?: Readonly<Record<string, string | null>>;
    };
  }[];
}

/** One test of the corpus: a name, and a check that throws when Portcullis disagrees. */
export interface Item {
  readonly name: string;
  /** The name pending.yaml knows this item by, when it is a variant of another (the HTTP port). */
  readonly base?: string;
  readonly run: () => Promise<void>;
}

/**
 * An item Portcullis does not pass as EG's data states it, and why. With `issue`, the item runs and
 * must fail until that issue lands (then its test says to remove the entry). With `deliberate` (README, "Differences from Envoy Gateway"),
 * Portcullis differs on purpose; with `productionEG`, EG's test input is not what EG sees in a
 * cluster and Portcullis does what EG does there. Those two run, and must fail with `differs` in
 * the message, so an entry that stops being true fails.
 */
export type PendingEntry = {
  /** Case name, or "*" for every case. */
  readonly case: string;
  /** Names of the items it covers. */
  readonly items?: readonly string[];
  /** Or: a substring of the names of the items it covers. */
  readonly itemsContaining?: string;
  readonly reason: string;
} & (
  | { readonly issue: number }
  | { readonly deliberate: string; readonly differs: string }
  | { readonly productionEG: string; readonly differs: string }
);

const here = import.meta.dirname;

export function loadPending(): readonly PendingEntry[] {
  return parse(readFileSync(join(here, "pending.yaml"), "utf8")) as PendingEntry[];
}

export function loadCases<T>(folder: "translator" | "requests" | "docs"): { name: string; value: T }[] {
  return readdirSync(join(here, folder))
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => ({ name: f.slice(0, -".yaml".length), value: parse(readFileSync(join(here, folder, f), "utf8")) as T }));
}

/**
 * The Services EG's translator test adds to every case (internal/gatewayapi/translator_test.go,
 * "common test fixtures"): service-1 to service-4 in default (TCP 8080, 8443, 8163; UDP 8162),
 * mirror-service in default (TCP 8080) and otel-collector in monitoring (TCP 4317, 9411).
 */
const EG_FIXTURE_SERVICES: readonly object[] = [
  ...[1, 2, 3, 4].map((i) =>
    service("default", `service-${i}`, [
      ["http", 8080, "TCP"],
      ["https", 8443, "TCP"],
      ["tcp", 8163, "TCP"],
      ["udp", 8162, "UDP"],
    ]),
  ),
  service("default", "mirror-service", [["http", 8080, "TCP"]]),
  service("monitoring", "otel-collector", [
    ["grpc", 4317, "TCP"],
    ["zipkin", 9411, "TCP"],
  ]),
];

function service(namespace: string, name: string, ports: readonly [string, number, string][]): object {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { namespace, name },
    spec: { ports: ports.map(([portName, port, protocol]) => ({ name: portName, port, protocol })) },
  };
}

/** The manifests with EG's fixture Services, except those a case defines itself. */
function withFixtures(manifests: readonly object[]): object[] {
  type Named = { kind?: string; metadata?: { namespace?: string; name?: string } };
  const id = (o: Named) => `${o.kind} ${o.metadata?.namespace ?? "default"}/${o.metadata?.name}`;
  const defined = new Set((manifests as Named[]).map(id));
  return [...manifests, ...EG_FIXTURE_SERVICES.filter((s) => !defined.has(id(s as Named)))];
}

export function compileManifests(manifests: readonly object[], gatewayClass = EG_GATEWAY_CLASS): CompileResult {
  const { resources, rejected } = toResources(withFixtures(manifests).map((object, i) => ({ object, origin: `manifest ${i}` })));
  // EG's inputs hold kinds Portcullis does not read (EndpointSlices, ServiceImports): those are ignored, not rejected.
  if (rejected.length > 0) throw new Error(`manifests rejected: ${JSON.stringify(rejected)}`);
  return compile(resources, {
    controllerName: EG_CONTROLLER_NAME,
    gatewayClasses: [gatewayClass],
    geoipDatabases: geoipFilesOf(manifests).map((f) => geoIPDatabaseOf(f.path, f.bytes)),
  });
}

/** The `database_type` of a database each source of EG's `EnvoyProxy.spec.geoIP.provider.maxMind` names. */
const GEOIP_SOURCE_TYPES: Readonly<Record<string, string>> = {
  cityDbSource: "GeoIP2-City",
  countryDbSource: "GeoIP2-Country",
  asnDbSource: "GeoLite2-ASN",
  ispDbSource: "GeoIP2-ISP",
  anonymousIpDbSource: "GeoIP2-Anonymous-IP",
};

/**
 * The GeoIP databases the case gives Envoy (its EnvoyProxy's MaxMind sources), as Portcullis would
 * be given them with --geoip-database: the file a ConfigMap of the case holds under that name (EG's
 * e2e test database), else an empty database of the type the source names (translator cases name
 * paths only).
 */
export function geoipFilesOf(manifests: readonly object[]): { path: string; bytes: Buffer }[] {
  type Source = { local?: { path?: string } };
  type Proxy = { kind?: string; spec?: { geoIP?: { provider?: { maxMind?: Record<string, Source> } } } };
  type ConfigMap = { kind?: string; binaryData?: Record<string, string> };
  const shipped = new Map<string, Buffer>();
  for (const m of manifests as ConfigMap[])
    if (m.kind === "ConfigMap")
      for (const [key, value] of Object.entries(m.binaryData ?? {})) shipped.set(key, Buffer.from(value, "base64"));
  return (manifests as Proxy[]).flatMap((m) =>
    m.kind !== "EnvoyProxy"
      ? []
      : Object.entries(m.spec?.geoIP?.provider?.maxMind ?? {}).flatMap(([source, { local }]) => {
          const path = local?.path;
          const type = GEOIP_SOURCE_TYPES[source];
          if (path === undefined || type === undefined) return [];
          return [{ path, bytes: shipped.get(basename(path)) ?? writeMmdb({ databaseType: type, networks: [] }) }];
        }),
  );
}

/**
 * A check context; the client address is determined as the manifests' ClientTrafficPolicy
 * `clientIPDetection.xForwardedFor` tells Envoy to (Portcullis' --xff-trusted-hops / --xff-trusted-cidrs).
 */
export function checkContext(manifests: readonly object[] = [], overrides: Partial<CheckContext> = {}): CheckContext {
  const xff = clientIPDetectionOf(manifests);
  return testCheckContext({
    clientAddress: clientAddressDetection({
      trustedHops: xff?.numTrustedHops ?? 0,
      trustedCidrs: xff?.trustedCIDRs ?? [],
      customHeader: xff?.customHeader?.toLowerCase(),
    }),
    ...overrides,
  });
}

/**
 * The port of EG's IR listener "gwns/gw/listener" (a Gateway's) or "gwns/gw/lsns/ls/listener" (a
 * ListenerSet's), from the case's manifests.
 */
function listenerPortOf(manifests: readonly object[], irListener: string): number | undefined {
  const parts = irListener.split("/");
  const [namespace, name, listener] = parts.length === 5 ? [parts[2], parts[3], parts[4]] : [parts[0], parts[1], parts[2]];
  const kinds = parts.length === 5 ? ["ListenerSet"] : ["Gateway"];
  type Holder = {
    kind?: string;
    metadata?: { namespace?: string; name?: string };
    spec?: { listeners?: { name?: string; port?: number }[] };
  };
  const holder = (manifests as Holder[]).find(
    (m) => kinds.includes(m.kind ?? "") && (m.metadata?.namespace ?? "default") === namespace && m.metadata?.name === name,
  );
  return holder?.spec?.listeners?.find((l) => l.name === listener)?.port;
}

/** The manifests' ClientTrafficPolicy `clientIPDetection`: `xForwardedFor`'s fields and `customHeader`'s name, if any. */
function clientIPDetectionOf(
  manifests: readonly object[],
): { numTrustedHops?: number; trustedCIDRs?: string[]; customHeader?: string } | undefined {
  type Detection = { xForwardedFor?: { numTrustedHops?: number; trustedCIDRs?: string[] }; customHeader?: { name?: string } };
  type Ctp = { kind?: string; spec?: { clientIPDetection?: Detection } };
  const detection = (manifests as Ctp[]).find((m) => m.kind === "ClientTrafficPolicy")?.spec?.clientIPDetection;
  return detection === undefined ? undefined : { ...detection.xForwardedFor, customHeader: detection.customHeader?.name };
}

export function decide(
  result: CompileResult,
  ctx: CheckContext,
  request: CaseRequest & { readonly gateway?: string; readonly port?: number | undefined },
): Promise<Decision> {
  return Promise.resolve(check(result.snapshot, { scheme: "http", gateway: undefined, ...request }, ctx));
}

/**
 * EG's translator test reads its inputs with sigs.k8s.io/yaml (Go's encoding/json), which matches a
 * field name in any letter case, and some inputs write `Name`, `Port`, `Group`… where the CRD says
 * `name`, `port`, `group`. The API server and Portcullis take names as written, so such a policy
 * cannot exist in a cluster (pending.yaml, productionEG). This is the case as it could exist there:
 * the field names of its SecurityPolicy specs spelt as the CRD spells them (first letter in lower
 * case; label keys are data, left alone), so the facts its output states are still checked.
 * Undefined when the case writes no such name.
 */
export function withCrdFieldNames(testCase: TranslatorCase): TranslatorCase | undefined {
  let renamed = false;
  const spell = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(spell);
    if (typeof value !== "object" || value === null) return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        const crd = k.charAt(0).toLowerCase() + k.slice(1);
        if (crd !== k) renamed = true;
        return [crd, k === "matchLabels" ? v : spell(v)];
      }),
    );
  };
  type Manifest = { kind?: string; spec?: unknown };
  const manifests = (testCase.manifests as Manifest[]).map((m) => (m.kind === "SecurityPolicy" ? { ...m, spec: spell(m.spec) } : m));
  return renamed ? { ...testCase, manifests } : undefined;
}

/** An item's name suffix for the status read back from the API server of a world served in Kubernetes mode. */
const WRITTEN_SUFFIX = ", as written to the API server";

/** A case's items, and for a world served in Kubernetes mode, what starts it (a beforeAll, whose timeout allows the API server's start) and stops it. */
export interface CaseItems {
  readonly items: Item[];
  readonly setUp?: () => Promise<void>;
  readonly close?: () => Promise<void>;
}

/**
 * Whether a world is served in Kubernetes mode, from a real API server: it holds a ListenerSet,
 * which a manifest folder refuses (Envoy Gateway's file provider does not load one).
 */
function servedInCluster(manifests: readonly object[]): boolean {
  return manifests.some((o) => (o as { kind?: unknown }).kind === "ListenerSet");
}

/**
 * One item per policy status as compile() gives it (and one per policy's `Warning` conditions), and
 * in a world served in Kubernetes mode the same as the status writer left it on the API server
 * (`base` names it for pending.yaml as the item it repeats).
 */
function statusItems(statuses: CaseStatuses, result: () => Promise<CompileResult>, inCluster: boolean): Item[] {
  return Object.entries(statuses).flatMap(([policy, expected]) => {
    const kinds: [string, ConditionTypes][] = [[`status ${policy}`, (type) => type !== "Warning"]];
    if (expected.some((a) => "Warning" in a.conditions)) kinds.push([`status ${policy} Warning`, (type) => type === "Warning"]);
    return kinds.flatMap(([name, types]): Item[] => [
      { name, run: async () => compareStatus(await result(), policy, expected, types) },
      ...(inCluster
        ? [
            {
              name: `${name}${WRITTEN_SUFFIX}`,
              base: name,
              run: async () => compareWrittenStatus((await kubeCluster()).kube, policy, expected, types),
            },
          ]
        : []),
    ]);
  });
}

/**
 * A translator case's items: its statuses (statusItems) and one per IR route. A world holding a
 * ListenerSet is also served in Kubernetes mode, with EG's fixture Services, for its written statuses.
 */
export function translatorItems(testCase: TranslatorCase): CaseItems {
  let compiled: CompileResult | undefined;
  const result = () => (compiled ??= compileManifests(testCase.manifests));
  const inCluster = servedInCluster(testCase.manifests);
  const items = statusItems(testCase.statuses, async () => result(), inCluster);
  const ctx = checkContext();
  for (const route of testCase.routes) {
    items.push({ name: `route ${route.irRoute} on ${route.listener}`, run: () => compareRoute(result(), ctx, testCase.manifests, route) });
  }
  if (!inCluster) return { items };
  let app: Pick<TestApp, "close"> | undefined;
  return {
    items,
    setUp: async () => {
      app = await startKubeTestApp(withFixtures(testCase.manifests), [
        "--gateway-class",
        EG_GATEWAY_CLASS,
        "--controller-name",
        EG_CONTROLLER_NAME,
      ]);
    },
    close: async () => app?.close(),
  };
}

/** The features a compiled policy applies, by spec field: the names EG's IR gives them too (jwt, basicAuth, apiKeyAuth, cors, …). */
export function featuresOf(policy: CompiledPolicy): string[] {
  return policy.features.map((f) => f.feature.field).sort();
}

async function compareRoute(
  result: CompileResult,
  ctx: CheckContext,
  manifests: readonly object[],
  route: RouteExpectation,
): Promise<void> {
  // The request arrives on the IR listener's port, as Envoy states it on the gRPC port.
  const decision = await decide(result, ctx, { ...route.request, gateway: route.gateway, port: listenerPortOf(manifests, route.listener) });
  const { expect } = route;
  const [kind, id] = expect.route.split(" ") as [string, string];
  const ruleName = ruleNameOf(manifests, kind, id, expect.rule);
  // Portcullis labels a GRPCRoute rule with its kind (an HTTPRoute's rule label has none).
  const label = kind === "GRPCRoute" ? `GRPCRoute ${id}` : id;
  const labels = [`${label} rule ${expect.rule}`, ...(ruleName === undefined ? [] : [`${label} rule ${ruleName}`])];
  assertEqual(
    labels.includes(decision.route ?? "") ? labels[0] : (decision.route ?? `(no route: ${decision.code})`),
    labels[0],
    "route taken",
  );
  if (expect.outcome === "policy-invalid") {
    // EG answers 500 itself; Portcullis denies with 403 (README, Differences from Envoy Gateway: invalid policy).
    assertEqual(
      `${decision.allowed ? "allowed" : "denied"} ${decision.code}`,
      "denied policy_invalid",
      "decision on a route whose policy failed",
    );
    return;
  }
  // No features in EG's IR: no policy, or a policy that configures none; either way nothing is enforced.
  if (expect.policy !== undefined) assertEqual(decision.policy ?? "(none)", expect.policy, "policy applied");
  const compiled = decision.policy === undefined ? undefined : result.snapshot.policies[decision.policy];
  // EG answers 500 on a route without a usable backend; there, a policy both find unusable denies too.
  if (expect.outcome === "no-backend" && expect.features.length === 0 && compiled?.invalid !== undefined) return;
  if (compiled?.invalid !== undefined) throw new Error(`policy ${compiled.id} is Invalid in Portcullis: ${compiled.invalid}`);
  assertEqual(compiled === undefined ? [] : featuresOf(compiled), [...expect.features].sort(), "security features applied");
}

function ruleNameOf(manifests: readonly object[], kind: string, id: string, rule: number): string | undefined {
  const [namespace, name] = id.split("/");
  const route = (
    manifests as { kind?: string; metadata?: { namespace?: string; name?: string }; spec?: { rules?: { name?: string }[] } }[]
  ).find((m) => m.kind === kind && (m.metadata?.namespace ?? "default") === namespace && m.metadata?.name === name);
  return route?.spec?.rules?.[rule]?.name;
}

/** What Portcullis answered, in the terms a request case states expectations in. */
interface Answer {
  readonly allowed: boolean;
  readonly status: number;
  readonly code: string;
  /** Headers for the backend (allow). */
  readonly upstream: Readonly<Record<string, string>>;
  /** Headers removed before the backend. */
  readonly removed: readonly string[];
  /** Headers for the client. */
  readonly response: Readonly<Record<string, string>>;
}

/** A request case's manifests as run, and the server holding its remote JWKS documents. */
export interface LocalJwks {
  readonly manifests: readonly object[];
  close(): Promise<void>;
}

/** The case's manifests with each remote JWKS URI it maps (`jwks`) pointed at a loopback server holding that document. */
export async function withLocalJwks(testCase: Pick<RequestCase, "manifests" | "jwks">): Promise<LocalJwks> {
  if (testCase.jwks === undefined) return { manifests: testCase.manifests, close: async () => {} };
  const documents = new Map(Object.entries(testCase.jwks).map(([uri, body]) => [new URL(uri).pathname, body]));
  const server: Server = createServer((req, res) => {
    const body = documents.get(req.url ?? "");
    res.writeHead(body === undefined ? 404 : 200, { "content-type": "application/json" }).end(body ?? "");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const local = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let text = JSON.stringify(testCase.manifests);
  for (const uri of Object.keys(testCase.jwks))
    text = text.replaceAll(JSON.stringify(uri), JSON.stringify(`${local}${new URL(uri).pathname}`));
  return { manifests: JSON.parse(text) as object[], close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Where a case's request is answered: check() itself, or the HTTP ext_authz port of a running Portcullis. */
type Asker = (request: CaseRequest & { readonly gateway?: string }) => Promise<Answer>;

const HTTP_PORT_SUFFIX = ", through the HTTP ext_authz port";

/**
 * A request case's items: its statuses, if it states them (statusItems), and each request once
 * through check() and once through the HTTP ext_authz port of a Portcullis serving the case's
 * manifests (`base` names the request for pending.yaml). A world holding a ListenerSet is served in
 * Kubernetes mode from a real API server, started by `setUp` before the items.
 */
export function requestItems(testCase: RequestCase): CaseItems {
  const keys = createKeyStore({ logger: pino({ level: "silent" }) });
  const xff = clientIPDetectionOf(testCase.manifests);
  const ctx = checkContext(testCase.manifests, { keys });
  let jwks: LocalJwks | undefined;
  let app: Pick<TestApp, "authz" | "close"> | undefined;
  let manifests: Promise<readonly object[]> | undefined;
  let compiled: Promise<CompileResult> | undefined;
  let served: Promise<Pick<TestApp, "authz" | "close">> | undefined;
  const localManifests = async (): Promise<readonly object[]> => (jwks = await withLocalJwks(testCase)).manifests;
  const result = () =>
    (compiled ??= (async () => {
      const r = compileManifests(await (manifests ??= localManifests()), testCase.gatewayClass);
      await keys.sync(r.snapshot.remoteJwks);
      return r;
    })());
  const viaCheck: Asker = async (request) => {
    // The e2e client connects to the port its Host names; Envoy states that port (as on the gRPC port).
    const d = await decide(await result(), ctx, { ...request, port: Number(/:(\d+)$/.exec(request.host)?.[1] ?? 80) });
    return {
      allowed: d.allowed,
      status: d.allowed ? 200 : d.status,
      code: d.code,
      upstream: d.upstreamHeaders,
      removed: d.removeHeaders,
      response: d.responseHeaders,
    };
  };
  const inCluster = servedInCluster(testCase.manifests);
  const serve = () =>
    (served ??= (async () => {
      const flags = ["--gateway-class", testCase.gatewayClass ?? EG_GATEWAY_CLASS, "--controller-name", EG_CONTROLLER_NAME];
      for (const file of geoipFilesOf(testCase.manifests)) {
        const path = join(mkdtempSync(join(tmpdir(), "portcullis-geoip-")), basename(file.path));
        writeFileSync(path, file.bytes);
        flags.push("--geoip-database", path);
      }
      if (xff?.numTrustedHops !== undefined) flags.push("--xff-trusted-hops", String(xff.numTrustedHops));
      for (const cidr of xff?.trustedCIDRs ?? []) flags.push("--xff-trusted-cidrs", cidr);
      if (xff?.customHeader !== undefined) flags.push("--client-ip-header", xff.customHeader);
      const objects = await (manifests ??= localManifests());
      if (inCluster) return (app = await startKubeTestApp(objects, flags));
      return (app = await startTestApp({ "case.yaml": objects.map((m) => stringify(m)).join("---\n") }, undefined, flags));
    })());
  const viaHttpPort: Asker = async (request) => {
    const portcullis = await serve();
    const headers: Record<string, string> = { host: request.host, ...request.headers };
    if (request.gateway !== undefined) headers["x-portcullis-gateway"] = request.gateway;
    const res = await undiciRequest(`${portcullis.authz}${request.path}`, { method: request.method, headers });
    const text = await res.body.text();
    const response = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : String(v)]));
    const allowed = res.statusCode === 200;
    return {
      allowed,
      status: res.statusCode,
      // The port's 204 is only ever a CORS preflight Portcullis answered, whether or not the origin
      // is listed (no body); other denials say their code.
      code: allowed ? "allowed" : res.statusCode === 204 ? "cors_preflight" : (JSON.parse(text) as { code: string }).code,
      upstream: allowed ? response : {},
      removed: (response["x-envoy-auth-headers-to-remove"] ?? "")
        .split(",")
        .map((h) => h.trim())
        .filter((h) => h !== ""),
      response,
    };
  };
  const close = async () => {
    keys.close();
    await app?.close();
    await jwks?.close();
  };
  const asked = testCase.requests.flatMap(({ name, request, expect }) => {
    const headers: Record<string, string> = { ...request.headers };
    // Envoy appends the address it received the connection from before it asks Portcullis.
    if (testCase.peer !== undefined) {
      headers["x-forwarded-for"] =
        headers["x-forwarded-for"] === undefined ? testCase.peer : `${headers["x-forwarded-for"]},${testCase.peer}`;
    }
    const asked = { method: "GET", host: "gateway.conformance.test", ...request, headers };
    const run = (ask: Asker) => async () => compareAnswer(await ask(asked), expect);
    return [
      { name, run: run(viaCheck) },
      { name: `${name}${HTTP_PORT_SUFFIX}`, base: name, run: run(viaHttpPort) },
    ];
  });
  const items = [...statusItems(testCase.statuses ?? {}, result, inCluster), ...asked];
  return { close, items, ...(inCluster ? { setUp: async () => void (await serve()) } : {}) };
}

function compareAnswer(answer: Answer, expect: RequestCase["requests"][number]["expect"]): void {
  const actual = {
    ...(expect.status === undefined ? {} : { status: statusAsEnvoyGateway(answer, expect.status) }),
    ...(expect.upstream === undefined ? {} : { upstream: pick(answer.upstream, Object.keys(expect.upstream)) }),
    ...(expect.removed === undefined ? {} : { removed: expect.removed.filter((h) => answer.removed.includes(h)) }),
    ...(expect.response === undefined ? {} : { response: pick(answer.response, Object.keys(expect.response)) }),
  };
  const expected = {
    ...(expect.status === undefined ? {} : { status: expect.status }),
    ...(expect.upstream === undefined ? {} : { upstream: expect.upstream }),
    ...(expect.removed === undefined ? {} : { removed: expect.removed }),
    ...(expect.response === undefined ? {} : { response: expect.response }),
  };
  assertEqual(actual, expected, `answer (Portcullis: ${answer.status} ${answer.code})`);
}

/** Portcullis' answer, read as the client's status where README "Differences from Envoy Gateway" explains why they differ. */
function statusAsEnvoyGateway(answer: Answer, expected: number): number {
  if (answer.allowed) return 200;
  // No route: Envoy answers 404 itself; Portcullis, asked anyway, refuses with 403.
  if (answer.code === "route_not_found" && expected === 404) return 404;
  // CORS preflight (origin listed or not): Envoy answers 200, or lets an unlisted origin's preflight
  // through to the backend; through ext_authz only a non-200 reaches the client, so 204.
  if ((answer.code === "cors_preflight" || answer.code === "cors_origin") && answer.status === 204 && expected === 200) return 200;
  return answer.status;
}

function pick(headers: Readonly<Record<string, string>>, names: readonly string[]): Record<string, string | null> {
  return Object.fromEntries(names.map((n) => [n, headers[n] ?? null]));
}

export function pendingEntryFor(entries: readonly PendingEntry[], caseName: string, item: string): PendingEntry | undefined {
  return entries.find(
    (p) =>
      (p.case === "*" || p.case === caseName) &&
      (p.items?.includes(item) === true || (p.itemsContaining !== undefined && item.includes(p.itemsContaining))),
  );
}
