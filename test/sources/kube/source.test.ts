import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { KubeClient } from "../../../controller/kube/client.ts";
import { KubeSource } from "../../../controller/sources/kube/source.ts";

/**
 * An API server that lists every kind at once, each with one object, except `held`, whose list waits
 * until `release` is called; the watch of `held` then adds a second object, the others stay open
 * until aborted.
 */
function apiServer(held: string) {
  let release = () => {};
  const released = new Promise<void>((r) => (release = r));
  const client = {
    async request(_method: string, path: string) {
      if (path.includes(`/${held}?`)) await released;
      const item = { metadata: { namespace: "default", name: "one", resourceVersion: "1" }, spec: {} };
      return { metadata: { resourceVersion: "1" }, items: [item] };
    },
    watch(path: string, _rv: string, onEvent: (e: unknown) => void, signal: AbortSignal) {
      if (path.includes(`/${held}`))
        setTimeout(
          () => onEvent({ type: "ADDED", object: { metadata: { namespace: "default", name: "two", resourceVersion: "2" }, spec: {} } }),
          20,
        );
      return new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    },
  } as unknown as KubeClient;
  return { client, release };
}

describe("KubeSource", () => {
  let source: KubeSource | undefined;
  afterEach(() => source?.stop());

  // A snapshot compiled before ClientTrafficPolicies are listed decides clientCIDRs on the flags'
  // address where Envoy's listener reads another (a wrong allow): no change is announced before
  // every kind has been listed once; `synced` is the first.
  it("announces no change until every kind has been listed once, and each after", async () => {
    const { client, release } = apiServer("clienttrafficpolicies");
    let changes = 0;
    source = new KubeSource({ client, logger: pino({ level: "silent" }), onChange: () => changes++, debounceMs: 1 });
    let synced = false;
    void source.synced.then(() => (synced = true));
    source.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(synced).toBe(false);
    expect(changes).toBe(0);
    release();
    await source.synced;
    expect(synced).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(changes).toBe(1);
  });
});

describe("KubeSource's referenced kinds", () => {
  let source: KubeSource | undefined;
  afterEach(() => source?.stop());

  // Listed before the policies say which they reference, every Secret was listed twice before the first snapshot and held nothing the first time.
  it("lists Secrets, ConfigMaps, Services and Backends first when loadReferences names what to hold, each once; synced does not wait for them", async () => {
    const lists: string[] = [];
    const queries = new Map<string, string>();
    const client = {
      async request(_method: string, path: string) {
        const plural = path.slice(path.lastIndexOf("/") + 1, path.indexOf("?"));
        lists.push(plural);
        queries.set(plural, path.slice(path.indexOf("?")));
        const items = ["one", "two"].map((name) => ({ metadata: { namespace: "default", name, resourceVersion: "1" }, spec: {} }));
        return { metadata: { resourceVersion: "1" }, items };
      },
      watch: (_path: string, _rv: string, _onEvent: unknown, signal: AbortSignal) =>
        new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve())),
    } as unknown as KubeClient;
    source = new KubeSource({ client, logger: pino({ level: "silent" }), onChange: () => {}, debounceMs: 1 });
    source.start();
    await source.synced;
    const referenced = ["secrets", "configmaps", "services", "backends"];
    expect(lists.filter((p) => referenced.includes(p))).toEqual([]);
    expect(source.resources().secrets).toEqual([]);
    const none = { configMaps: [], services: [], backends: [] };
    expect(await source.loadReferences({ secrets: ["default/one", "default/missing"], ...none })).toBe(true);
    expect(lists.filter((p) => referenced.includes(p)).sort()).toEqual([...referenced].sort());
    expect(source.resources().secrets.map((s) => s.metadata.name)).toEqual(["one"]);
    // The same names again: nothing listed, nothing changed.
    expect(await source.loadReferences({ secrets: ["default/one", "default/missing"], ...none })).toBe(false);
    expect(lists.filter((p) => p === "secrets")).toHaveLength(1);
    // Kinds held whole are listed from the watch cache at once; the ones `keep` filters, in pages (one
    // answer would carry every Secret of the cluster).
    expect(Object.fromEntries(queries)).toMatchObject({
      securitypolicies: "?resourceVersion=0",
      httproutes: "?resourceVersion=0",
      namespaces: "?resourceVersion=0",
      secrets: "?limit=500",
      configmaps: "?limit=500",
      services: "?limit=500",
      backends: "?limit=500",
    });
  });

  // A stopped source lists nothing more: the pipeline's first build must not wait for it for ever (shutdown during start-up).
  it("a first loadReferences after stop() returns, holding nothing", async () => {
    const { client } = apiServer("none");
    source = new KubeSource({ client, logger: pino({ level: "silent" }), onChange: () => {}, debounceMs: 1 });
    source.start();
    await source.synced;
    source.stop();
    expect(await source.loadReferences({ secrets: ["default/one"], configMaps: [], services: [], backends: [] })).toBe(false);
    expect(source.resources().secrets).toEqual([]);
  });
});
