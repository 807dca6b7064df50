/**
 * The reflector's recovery rules at the protocol level, against a scripted list/watch endpoint
 * (a real API server cannot be made to answer 410 on demand): a 410 ERROR event relists at once;
 * a dropped watch resumes from the last resourceVersion; a failing list is retried with backoff, its
 * log line saying whether a last known state is served.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import pino from "pino";
import { afterEach, expect, it, vi } from "vitest";
import { KubeClient, WATCH_TIMEOUT_SECONDS } from "../../controller/kube/client.ts";
import { Reflector, type ReflectorOptions } from "../../controller/sources/kube/reflector.ts";

type Step = (res: import("node:http").ServerResponse, url: URL) => void;
let server: Server | undefined;
const requests: string[] = [];
/** The query string of each list request, in order. */
const listQueries: string[] = [];
const watchTimeouts: string[] = [];

async function scripted(steps: Step[]): Promise<KubeClient> {
  requests.length = 0;
  listQueries.length = 0;
  server = createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    if (!url.searchParams.get("watch")) listQueries.push(url.search);
    requests.push(`${url.searchParams.get("watch") ? "watch" : "list"} rv=${url.searchParams.get("resourceVersion") ?? ""}`);
    if (url.searchParams.get("watch")) watchTimeouts.push(url.searchParams.get("timeoutSeconds") ?? "");
    const step = steps.shift();
    if (step === undefined) return; // hang: no more script
    step(res, url);
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  const config = new KubeConfig();
  config.loadFromOptions({
    // client-node speaks plain HTTP only with skipTLSVerify set.
    clusters: [{ name: "c", server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return new KubeClient(config);
}

const secret = (name: string, rv: string) => ({ metadata: { name, namespace: "ns", resourceVersion: rv }, data: {} });
const list =
  (rv: string, ...items: object[]): Step =>
  (res) =>
    res.end(JSON.stringify({ metadata: { resourceVersion: rv }, items }));
const watch =
  (...events: object[]): Step =>
  (res) => {
    res.writeHead(200, { "content-type": "application/json" });
    for (const e of events) res.write(`${JSON.stringify(e)}\n`);
    res.end();
  };

/** A reflector of Secrets over `client`, silent, with `options` on top. */
const secretReflector = (client: KubeClient, options: Partial<ReflectorOptions>) =>
  new Reflector({
    client,
    kind: "Secret",
    apiVersion: "v1",
    path: "/api/v1/secrets",
    onChange: () => {},
    logger: pino({ level: "silent" }),
    ...options,
  });

/** A reflector of BackendTLSPolicies (optional; v1, else v1alpha3) over `client`, silent, with `options` on top. */
const backendTlsReflector = (client: KubeClient, options: Partial<ReflectorOptions>) =>
  new Reflector({
    client,
    kind: "BackendTLSPolicy",
    apiVersion: "gateway.networking.k8s.io/v1",
    path: "/apis/gateway.networking.k8s.io/v1/backendtlspolicies",
    olderVersions: [
      { apiVersion: "gateway.networking.k8s.io/v1alpha3", path: "/apis/gateway.networking.k8s.io/v1alpha3/backendtlspolicies" },
    ],
    onChange: () => {},
    logger: pino({ level: "silent" }),
    backoffMs: { initial: 50, max: 100 },
    optional: true,
    ...options,
  });

afterEach(() => {
  server?.closeAllConnections();
  server?.close();
});

it("relists at once after a 410 ERROR event and resumes watching from the new list", async () => {
  const client = await scripted([
    list("10", secret("a", "9")),
    watch({ type: "ADDED", object: secret("b", "11") }, { type: "ERROR", object: { kind: "Status", code: 410, metadata: {} } }),
    list("20", secret("a", "9"), secret("c", "19")),
  ]);
  let changes = 0;
  const r = secretReflector(client, { onChange: () => changes++ });
  r.start();
  await r.synced;
  await new Promise((res) => setTimeout(res, 300));
  r.stop();
  expect(requests).toEqual(["list rv=", "watch rv=10", "list rv=", "watch rv=20"]);
  expect(
    r
      .objects()
      .map((o) => o.metadata.name)
      .sort(),
  ).toEqual(["a", "c"]);
  expect(r.objects()[0]).toMatchObject({ kind: "Secret", apiVersion: "v1" });
  expect(changes).toBeGreaterThanOrEqual(3);
});

it("resumes a closed watch from the last seen resourceVersion, and backs off after a failed list", async () => {
  const client = await scripted([
    (res) => {
      res.writeHead(500);
      res.end("{}");
    },
    list("5"),
    watch({ type: "ADDED", object: secret("x", "6") }, { type: "BOOKMARK", object: { metadata: { resourceVersion: "8" } } }),
  ]);
  const started = Date.now();
  const r = secretReflector(client, { backoffMs: { initial: 200, max: 400 } });
  r.start();
  await r.synced;
  expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  await new Promise((res) => setTimeout(res, 200));
  r.stop();
  expect(requests).toEqual(["list rv=", "list rv=", "watch rv=5", "watch rv=8"]);
});

it("holds only what keep() wants, and prune() drops what it no longer wants", async () => {
  const wanted = new Set(["ns/a", "ns/b"]);
  const client = await scripted([list("1", secret("a", "1"), secret("b", "1"), secret("c", "1"))]);
  const r = secretReflector(client, { keep: (k) => wanted.has(k) });
  r.start();
  await r.synced;
  expect(
    r
      .objects()
      .map((o) => o.metadata.name)
      .sort(),
  ).toEqual(["a", "b"]);
  wanted.delete("ns/b");
  expect(r.prune()).toBe(true);
  expect(r.objects().map((o) => o.metadata.name)).toEqual(["a"]);
  r.stop();
});

it("an optional kind whose CRD is not installed (404) counts as synced and empty, and is picked up once it is", async () => {
  const notServed: Step = (res) => {
    res.writeHead(404);
    res.end("{}");
  };
  const listenerSet = { metadata: { name: "ls", namespace: "ns", resourceVersion: "3" }, spec: {} };
  const client = await scripted([notServed, list("3", listenerSet)]);
  let changes = 0;
  const r = new Reflector({
    client,
    kind: "ListenerSet",
    apiVersion: "gateway.networking.k8s.io/v1",
    path: "/apis/gateway.networking.k8s.io/v1/listenersets",
    onChange: () => changes++,
    logger: pino({ level: "silent" }),
    backoffMs: { initial: 50, max: 100 },
    optional: true,
  });
  r.start();
  await r.synced;
  expect(r.objects()).toEqual([]);
  await new Promise((res) => setTimeout(res, 300));
  r.stop();
  expect(r.objects().map((o) => o.metadata.name)).toEqual(["ls"]);
  expect(changes).toBe(1);
});

it("a kind whose newest version is not served (404) is read at the older version the API server serves, labelled with it", async () => {
  const notServed: Step = (res) => {
    res.writeHead(404);
    res.end("{}");
  };
  const policy = { metadata: { name: "tls", namespace: "ns", resourceVersion: "5" }, spec: {} };
  const paths: string[] = [];
  const client = await scripted([
    (res, url) => (paths.push(url.pathname), notServed(res, url)),
    (res, url) => (paths.push(url.pathname), list("5", policy)(res, url)),
  ]);
  const r = backendTlsReflector(client, {});
  r.start();
  await r.synced;
  r.stop();
  expect(paths).toEqual([
    "/apis/gateway.networking.k8s.io/v1/backendtlspolicies",
    "/apis/gateway.networking.k8s.io/v1alpha3/backendtlspolicies",
  ]);
  expect(r.objects().map((o) => [o.apiVersion, o.metadata.name])).toEqual([["gateway.networking.k8s.io/v1alpha3", "tls"]]);
});

it("a failure before the first list says it is not ready, not that a last known state is served; after one, that it is", async () => {
  const failure: Step = (res) => {
    res.writeHead(500);
    res.end("{}");
  };
  const client = await scripted([failure, list("5"), failure]);
  const lines: { msg: string; error?: string }[] = [];
  const r = secretReflector(client, {
    logger: pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line)) }),
    backoffMs: { initial: 50, max: 100 },
  });
  r.start();
  await r.synced;
  // The failure after the list comes after a watch and a backoff: wait for its line, not a fixed time.
  await vi.waitFor(() => expect(lines.length).toBeGreaterThanOrEqual(2), { timeout: 10_000, interval: 20 });
  r.stop();
  expect(lines.map((l) => l.msg).slice(0, 2)).toEqual([
    "list/watch failed; not ready until it is listed once",
    "list/watch failed; serving the last known state",
  ]);
  expect(lines[0]!.error).toBe("GET /api/v1/secrets: 500 {}");
});

it("a kind it needs that the API server does not serve (404, an older Gateway API's GRPCRoute) is logged as a missing CRD naming the versions read, and never counts as synced", async () => {
  const notServed: Step = (res) => {
    res.writeHead(404);
    res.end("{}");
  };
  const client = await scripted([notServed, notServed]);
  const lines: { msg: string; kind?: string; apiVersions?: string[] }[] = [];
  const r = new Reflector({
    client,
    kind: "GRPCRoute",
    apiVersion: "gateway.networking.k8s.io/v1",
    path: "/apis/gateway.networking.k8s.io/v1/grpcroutes",
    onChange: () => {},
    logger: pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line)) }),
    backoffMs: { initial: 50, max: 100 },
  });
  let synced = false;
  void r.synced.then(() => (synced = true));
  r.start();
  await new Promise((res) => setTimeout(res, 120));
  r.stop();
  expect(synced).toBe(false);
  expect(lines[0]).toMatchObject({
    kind: "GRPCRoute",
    apiVersions: ["gateway.networking.k8s.io/v1"],
    msg: expect.stringMatching(
      /^kind not served by the API server at these versions \(its CRD is missing or older\): install or upgrade it/,
    ),
  });
});

it("asks the API server to close a watch before undici's 300 s body timeout would end a quiet one as an error", async () => {
  const client = await scripted([list("10"), watch()]);
  watchTimeouts.length = 0;
  const r = secretReflector(client, {});
  r.start();
  await r.synced;
  await new Promise((res) => setTimeout(res, 100));
  r.stop();
  expect(watchTimeouts[0]).toBe(String(WATCH_TIMEOUT_SECONDS));
  expect(WATCH_TIMEOUT_SECONDS).toBeLessThan(300);
});

// client-go's first list: from the watch cache, whole (kube-apiserver 1.20 ignores a limit there anyway).
// A relist after 410 must not go back in time: etcd, in pages.
it("with listFromWatchCache, the first list is resourceVersion=0 unpaged, and a relist after 410 reads etcd in pages", async () => {
  const client = await scripted([
    list("10", secret("a", "9")),
    watch({ type: "ERROR", object: { kind: "Status", code: 410, metadata: {} } }),
    list("20", secret("a", "9")),
  ]);
  const r = secretReflector(client, { listFromWatchCache: true });
  r.start();
  await r.synced;
  await vi.waitFor(() => expect(requests).toEqual(["list rv=0", "watch rv=10", "list rv=", "watch rv=20"]), {
    timeout: 5_000,
    interval: 20,
  });
  r.stop();
  expect(listQueries).toEqual(["?resourceVersion=0", "?limit=500"]);
});

it("without listFromWatchCache every list is paged from etcd", async () => {
  const client = await scripted([list("10", secret("a", "9"))]);
  const r = secretReflector(client, {});
  r.start();
  await r.synced;
  r.stop();
  expect(listQueries).toEqual(["?limit=500"]);
});

it("a first list from the watch cache that fails is retried in pages, a continue token followed", async () => {
  const client = await scripted([
    (res) => {
      res.writeHead(503);
      res.end("{}");
    },
    (res) => res.end(JSON.stringify({ metadata: { resourceVersion: "7", continue: "next-page" }, items: [secret("a", "6")] })),
    list("7", secret("b", "7")),
  ]);
  const r = secretReflector(client, { listFromWatchCache: true, backoffMs: { initial: 20, max: 40 } });
  r.start();
  await r.synced;
  r.stop();
  expect(listQueries).toEqual(["?resourceVersion=0", "?limit=500", "?limit=500&continue=next-page"]);
  expect(
    r
      .objects()
      .map((o) => o.metadata.name)
      .sort(),
  ).toEqual(["a", "b"]);
});

it("a first list from the watch cache of a version not served (404) tries the older version from the cache too", async () => {
  const notServed: Step = (res) => {
    res.writeHead(404);
    res.end("{}");
  };
  const client = await scripted([notServed, list("5", { metadata: { name: "tls", namespace: "ns", resourceVersion: "5" }, spec: {} })]);
  const r = backendTlsReflector(client, { listFromWatchCache: true });
  r.start();
  await r.synced;
  r.stop();
  expect(listQueries).toEqual(["?resourceVersion=0", "?resourceVersion=0"]);
});
