import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseJwks, type VerificationKey } from "../../controller/api/jwks.ts";
import { createKeyStore, type FetchEvent, type JwksKeyStore, type KeyStoreOptions } from "../../controller/keys/store.ts";
import { remoteJwksSource, type JwksSource, type RemoteJwksSource } from "../../controller/keys/types.ts";
import { captureLogger, eventually, jwks, makeKey, sleep, startJwksServer, type JwksServer, type TestKey } from "./helpers.ts";

let k1: TestKey, k2: TestKey, k3: TestKey;
beforeAll(async () => {
  [k1, k2, k3] = await Promise.all([makeKey("k1"), makeKey("k2"), makeKey("k3")]);
});

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(doc: unknown): Promise<JwksServer> {
  const s = await startJwksServer({ kind: "jwks", doc });
  cleanups.push(() => s.close());
  return s;
}

function store(overrides: Partial<KeyStoreOptions> = {}) {
  const { logger, lines } = captureLogger();
  const events: FetchEvent[] = [];
  const s: JwksKeyStore = createKeyStore({ logger, onFetch: (e) => events.push(e), ...overrides });
  cleanups.push(() => s.close());
  return { store: s, lines, events };
}

const remote = (uri: string, cacheDurationMs = 300_000, failedRefetchMs?: number): RemoteJwksSource =>
  remoteJwksSource(uri, cacheDurationMs, failedRefetchMs);
const kids = (keys: readonly VerificationKey[]) => keys.map((k) => k.kid);
/** Asserts the answer is synchronous (keys in hand) and returns it. */
function inHand(answer: readonly VerificationKey[] | Promise<readonly VerificationKey[]>): readonly VerificationKey[] {
  expect(answer).not.toBeInstanceOf(Promise);
  return answer as readonly VerificationKey[];
}

describe("createKeyStore", () => {
  it("fetches new URIs on sync; keys are then resolved synchronously, filtered by kid", async () => {
    const idp = await server(jwks(k1, k2));
    const { store: s, events } = store();
    await s.sync([remote(idp.url())]);
    expect(idp.hits()).toBe(1);
    expect(kids(inHand(s.resolve(remote(idp.url()), "k2")))).toEqual(["k2"]);
    expect(kids(inHand(s.resolve(remote(idp.url()), undefined)))).toEqual(["k1", "k2"]);
    expect(events).toEqual([expect.objectContaining({ uri: idp.url(), outcome: "success", keyCount: 2, trigger: "initial" })]);
    expect(s.describe()).toEqual([
      expect.objectContaining({
        uri: idp.url(),
        keyCount: 2,
        kids: ["k1", "k2"],
        synced: true,
        lastSuccessAt: expect.any(Number),
        nextRefreshAt: expect.any(Number),
      }),
    ]);
  });

  it("does not refetch a URI present in consecutive syncs, and takes its latest cacheDuration", async () => {
    const idp = await server(jwks(k1));
    let clock = 1_000_000;
    const { store: s } = store({ now: () => clock });
    await s.sync([remote(idp.url(), 300_000)]);
    expect(s.describe()[0]?.nextRefreshAt).toBe(1_300_000);
    clock += 10;
    await s.sync([remote(idp.url(), 60_000), { kind: "local", keys: [] }]);
    await s.sync([remote(idp.url(), 60_000)]);
    expect(idp.hits()).toBe(1);
    expect(s.describe()[0]).toMatchObject({ cacheDurationMs: 60_000, nextRefreshAt: 1_060_000 });
  });

  it("a sync overlapping an earlier one also waits for that URI's first attempt", async () => {
    const idp = await server(jwks(k1));
    const { store: s } = store();
    const first = s.sync([remote(idp.url())]);
    await s.sync([remote(idp.url())]);
    expect(kids(inHand(s.resolve(remote(idp.url()), "k1")))).toEqual(["k1"]);
    await first;
    expect(idp.hits()).toBe(1);
  });

  it("picks up a rotated key set when a token carries an unknown kid, without restart", async () => {
    const idp = await server(jwks(k1));
    const { store: s, events } = store();
    await s.sync([remote(idp.url())]);
    idp.set({ kind: "jwks", doc: jwks(k2) });
    const answer = s.resolve(remote(idp.url()), "k2");
    expect(answer).toBeInstanceOf(Promise);
    expect(kids(await answer)).toEqual(["k2"]);
    expect(kids(inHand(s.resolve(remote(idp.url()), "k2")))).toEqual(["k2"]);
    expect(idp.hits()).toBe(2);
    expect(events.map((e) => e.trigger)).toEqual(["initial", "unknown-kid"]);
  });

  it("shares one refetch among concurrent unknown kids, then cools down", async () => {
    const idp = await server(jwks(k1));
    let clock = 1_000_000;
    const { store: s } = store({ now: () => clock, unknownKidCooldownMs: 30_000 });
    await s.sync([remote(idp.url())]);
    idp.set({ kind: "jwks", doc: jwks(k1, k2) });
    const answers = Array.from({ length: 50 }, (_, i) => s.resolve(remote(idp.url()), i % 2 === 0 ? "k2" : "nope"));
    const results = await Promise.all(answers);
    expect(idp.hits()).toBe(2); // the sync's fetch + exactly one refetch
    expect(kids(results[0]!)).toEqual(["k2"]);
    expect(results[1]).toEqual([]);
    // Inside the cooldown: an empty answer at once, no fetch.
    clock += 29_000;
    for (let i = 0; i < 20; i++) expect(inHand(s.resolve(remote(idp.url()), "k3"))).toEqual([]);
    expect(idp.hits()).toBe(2);
    // After the cooldown: one more refetch may find it.
    idp.set({ kind: "jwks", doc: jwks(k3) });
    clock += 2_000;
    expect(kids(await s.resolve(remote(idp.url()), "k3"))).toEqual(["k3"]);
    expect(idp.hits()).toBe(3);
  });

  it("keeps the last good keys through an outage and reports it (500, then connection refused)", async () => {
    const idp = await server(jwks(k1));
    let clock = 1_000_000;
    const { store: s, events, lines } = store({ now: () => clock });
    const source = remote(idp.url());
    await s.sync([source]);

    idp.set({ kind: "status", status: 500 });
    expect(await s.resolve(source, "unknown")).toEqual([]);
    expect(kids(inHand(s.resolve(source, "k1")))).toEqual(["k1"]);
    expect(s.describe()[0]).toMatchObject({ keyCount: 1, consecutiveFailures: 1, lastError: { reason: "HTTP 500 Internal Server Error" } });
    expect(events.at(-1)).toMatchObject({
      uri: idp.url(),
      outcome: "error",
      reason: "HTTP 500 Internal Server Error",
      trigger: "unknown-kid",
    });
    const warning = JSON.parse(lines.find((l) => l.includes("JWKS fetch failed"))!);
    expect(warning).toMatchObject({ uri: idp.url(), reason: "HTTP 500 Internal Server Error", keptKeys: 1 });

    await idp.close();
    await sleep(100); // lets the client notice its pooled keep-alive connection is gone
    clock += 60_000;
    expect(await s.resolve(source, "unknown")).toEqual([]);
    expect(kids(inHand(s.resolve(source, undefined)))).toEqual(["k1"]);
    expect(s.describe()[0]?.lastError?.reason).toMatch(/ECONNREFUSED/);
    expect(events.at(-1)).toMatchObject({ outcome: "error", reason: expect.stringMatching(/ECONNREFUSED/) });
  });

  it("never logs key material", async () => {
    const idp = await server(jwks(k1));
    const { store: s, lines } = store();
    await s.sync([remote(idp.url())]);
    idp.set({ kind: "raw", body: JSON.stringify(jwks(k2)).slice(0, -2) });
    await s.resolve(remote(idp.url()), "k2");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      for (const key of [k1, k2]) expect(line).not.toContain(String(key.jwk.n).slice(0, 32));
    }
  });

  it("never shows a URI's query secrets: logs, fetch events and the admin view carry it redacted", async () => {
    const idp = await server(jwks(k1));
    const { store: s, lines, events } = store();
    const source = remote(idp.url("/jwks?api_key=s3cret-query"));
    await s.sync([source]);
    idp.set({ kind: "status", status: 503 }, "/jwks");
    await s.resolve(source, "unknown");
    const shown = `${idp.origin}/jwks?api_key=redacted`;
    expect(events.map((e) => [e.uri, e.outcome])).toEqual([
      [shown, "success"],
      [shown, "error"],
    ]);
    expect(s.describe().map((v) => v.uri)).toEqual([shown]);
    expect(lines.some((l) => l.includes("JWKS fetch failed") && l.includes(shown))).toBe(true);
    for (const text of [...lines, JSON.stringify(s.describe())]) expect(text).not.toContain("s3cret-query");
  });

  it("bounds sync and resolve by the fetch timeout when the server hangs", async () => {
    const idp = await server(jwks(k1));
    idp.set({ kind: "hang", ms: 30_000 });
    const { store: s, events } = store({ fetchTimeoutMs: 300 });
    let started = performance.now();
    await s.sync([remote(idp.url())]);
    expect(performance.now() - started).toBeLessThan(300 + 1500);
    expect(s.describe()[0]).toMatchObject({ keyCount: 0, lastError: { reason: "timed out after 300 ms" } });
    expect(events[0]).toMatchObject({ outcome: "error", reason: "timed out after 300 ms" });
    // A URI no sync announced is fetched on demand, with the same bound.
    started = performance.now();
    expect(await s.resolve(remote(idp.url("/other")), "k1")).toEqual([]);
    expect(performance.now() - started).toBeLessThan(300 + 1500);
  });

  it.each([
    ["garbage JSON", { kind: "raw", body: "<html>oops</html>" }, "JWKS is not valid JSON"],
    ["JSON without keys", { kind: "raw", body: '{"issuer":"https://idp"}' }, 'JWKS must be a JSON object with a "keys" array'],
    ["an empty key set", { kind: "jwks", doc: { keys: [] } }, "JWKS has no usable signing key"],
    ["a huge body", { kind: "huge", bytes: 8 * 1024 * 1024, declareLength: false }, "body exceeds 65536 bytes"],
  ] as const)("keeps the last good keys when the server sends %s", async (_, behaviour, reason) => {
    const idp = await server(jwks(k1));
    const { store: s } = store({ maxBodyBytes: 64 * 1024 });
    await s.sync([remote(idp.url())]);
    idp.set(behaviour);
    expect(await s.resolve(remote(idp.url()), "k2")).toEqual([]);
    expect(kids(inHand(s.resolve(remote(idp.url()), "k1")))).toEqual(["k1"]);
    expect(s.describe()[0]?.lastError?.reason).toBe(reason);
  });

  it("refreshes in the background when cacheDuration expires", async () => {
    const idp = await server(jwks(k1));
    const { store: s, events } = store();
    await s.sync([remote(idp.url(), 200)]);
    idp.set({ kind: "jwks", doc: jwks(k2) });
    await eventually(() => idp.hits() >= 2, 3000);
    await eventually(() => s.describe()[0]?.kids[0] === "k2", 3000);
    expect(kids(inHand(s.resolve(remote(idp.url(), 200), "k2")))).toEqual(["k2"]);
    expect(events.filter((e) => e.trigger === "refresh").length).toBeGreaterThanOrEqual(1);
  });

  it("tries a failed fetch again failedRefetchMs later, at that fixed interval, until keys arrive (Envoy's failed_refetch_duration)", async () => {
    const idp = await server(jwks(k1));
    idp.set({ kind: "status", status: 502 });
    const { store: s, events } = store();
    const started = performance.now();
    await s.sync([remote(idp.url(), 60_000, 200)]);
    expect(s.describe()[0]).toMatchObject({ keyCount: 0, failedRefetchMs: 200 });
    await eventually(() => idp.hits() >= 4, 3000);
    // Three refetches 200 ms apart (not a doubling backoff: that would take 200 + 400 + 800 ms).
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(1300);
    idp.set({ kind: "jwks", doc: jwks(k1) });
    await eventually(() => s.describe()[0]?.keyCount === 1, 3000);
    expect(events.some((e) => e.trigger === "retry" && e.outcome === "success")).toBe(true);
    // Back to the cache duration once healthy: no more hits for a while.
    const hits = idp.hits();
    await sleep(500);
    expect(idp.hits()).toBe(hits);
  });

  it("uses Envoy's default of 1 s between failed fetches when failedRefetchDuration is not set", async () => {
    const idp = await server(jwks(k1));
    idp.set({ kind: "status", status: 503 });
    const { store: s } = store();
    await s.sync([remote(idp.url(), 60_000)]);
    expect(s.describe()[0]?.failedRefetchMs).toBe(1000);
    await sleep(700);
    expect(idp.hits()).toBe(1);
    await eventually(() => idp.hits() === 2, 1500);
  });

  it("keeps sources of one URI reached differently apart: keys fetched one way never serve the other", async () => {
    const good = await server(jwks(k1));
    const other = await server(jwks(k2));
    const port = Number(new URL(other.url()).port);
    const direct = remote(good.url());
    const elsewhere = remoteJwksSource(good.url(), 300_000, 1000, { endpoints: [{ host: "127.0.0.1", port }] });
    expect(elsewhere.cacheKey).not.toBe(direct.cacheKey);
    const { store: s } = store();
    await s.sync([direct, elsewhere]);
    expect(kids(inHand(s.resolve(direct, undefined)))).toEqual(["k1"]);
    expect(kids(inHand(s.resolve(elsewhere, undefined)))).toEqual(["k2"]);
    expect(s.describe().map((d) => d.uri)).toEqual([good.url(), good.url()]);
  });

  it("stops refreshing URIs dropped by sync", async () => {
    const a = await server(jwks(k1));
    const b = await server(jwks(k2));
    const { store: s } = store();
    await s.sync([remote(a.url(), 150), remote(b.url(), 150)]);
    await eventually(() => b.hits() >= 2, 3000);
    await s.sync([remote(a.url(), 150)]);
    const bHits = b.hits();
    const aHits = a.hits();
    await sleep(700);
    expect(b.hits()).toBe(bHits);
    expect(a.hits()).toBeGreaterThan(aHits);
    expect(s.describe().map((d) => d.uri)).toEqual([a.url()]);
  });

  it("resolves local sources without I/O, filtering by kid (a key without kid matches any kid)", async () => {
    const parsed = parseJwks(JSON.stringify({ keys: [k1.jwk, k2.jwk, { ...k3.jwk, kid: undefined }] }));
    if (!parsed.ok) throw new Error(parsed.error);
    const local: JwksSource = { kind: "local", keys: parsed.keys };
    const { store: s, events } = store();
    expect(kids(inHand(s.resolve(local, "k2")))).toEqual(["k2", undefined]);
    expect(kids(inHand(s.resolve(local, "zz")))).toEqual([undefined]);
    expect(inHand(s.resolve(local, undefined))).toHaveLength(3);
    expect(inHand(s.resolve({ kind: "local", keys: [] }, "k1"))).toEqual([]);
    await s.sync([local]);
    expect(events).toEqual([]);
    expect(s.describe()).toEqual([]);
  });

  it("fetches an unsynced URI on demand, once for concurrent callers, and lets a later sync adopt it", async () => {
    const idp = await server(jwks(k1));
    const { store: s } = store();
    const answers = [s.resolve(remote(idp.url()), "k1"), s.resolve(remote(idp.url()), undefined)];
    expect(answers[0]).toBeInstanceOf(Promise);
    expect((await Promise.all(answers)).map(kids)).toEqual([["k1"], ["k1"]]);
    expect(idp.hits()).toBe(1);
    expect(s.describe()[0]).toMatchObject({ synced: false, keyCount: 1 });
    await s.sync([remote(idp.url())]);
    expect(idp.hits()).toBe(1);
    expect(s.describe()[0]).toMatchObject({ synced: true, keyCount: 1 });
  });

  it("never rejects sync, even for unusable URIs", async () => {
    const { store: s } = store();
    await expect(s.sync([remote("ftp://127.0.0.1/jwks"), remote("not a uri")])).resolves.toBeUndefined();
    expect(s.describe().map((d) => d.lastError?.reason)).toEqual(['unsupported URI scheme "ftp" (only http and https)', "invalid URI"]);
  });

  it("close() releases a sync and a resolve stuck on a hanging server", async () => {
    const idp = await server(jwks(k1));
    idp.set({ kind: "hang", ms: 30_000 });
    const { store: s } = store({ fetchTimeoutMs: 20_000 });
    const started = performance.now();
    const syncing = s.sync([remote(idp.url())]);
    const resolving = s.resolve(remote(idp.url()), "k1"); // joins the first fetch in flight
    expect(resolving).toBeInstanceOf(Promise);
    await sleep(100);
    s.close();
    await syncing;
    expect(await resolving).toEqual([]);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(idp.hits()).toBe(1);
  });

  it("stops all refreshes on close", async () => {
    const idp = await server(jwks(k1));
    const { store: s } = store();
    await s.sync([remote(idp.url(), 150)]);
    await eventually(() => idp.hits() >= 2, 3000);
    s.close();
    const hits = idp.hits();
    await sleep(500);
    expect(idp.hits()).toBe(hits);
    expect(kids(inHand(s.resolve(remote(idp.url()), "k1")))).toEqual(["k1"]);
    expect(inHand(s.resolve(remote(idp.url()), "k9"))).toEqual([]);
  });
});
