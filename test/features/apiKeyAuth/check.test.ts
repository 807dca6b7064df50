/**
 * The apiKeyAuth phase through check(): sources, Bearer keys, repeated keys, sanitize (Envoy
 * api_key_auth); and what a client's Secret says of it (labels for rules, annotations forwarded).
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { managedExcept, useCheckWorld } from "../../support/check-world.ts";
import { gatewayWithRoute, policiesOnRules, secret } from "../../support/manifests.ts";
import { decider, type Decider } from "../../support/world.ts";
import { apiKeyAuth } from "../../../controller/features/apiKeyAuth/index.ts";
import { compiledOf } from "../../../controller/features/feature.ts";

const checkWorld = useCheckWorld();
let d: Decider;
beforeAll(() => ({ d } = checkWorld));

describe("apiKeyAuth", () => {
  it("401 without a key", async () => {
    const r = await d({ path: "/keys" });
    expect([r.status, r.code]).toEqual([401, "apikey_missing"]);
    expect(r.responseHeaders).toEqual({});
  });
  it("401 with a wrong key, naming no key in the message", async () => {
    const r = await d({ path: "/keys", headers: { "x-api-key": "alice-kez" } });
    expect([r.status, r.code]).toEqual([401, "apikey_invalid"]);
    expect(r.message).not.toContain("alice-kez");
  });
  it("allows a valid key and forwards the client id, replacing a spoofed one", async () => {
    const r = await d({ path: "/keys", headers: { "x-api-key": "alice-key", "x-user-id": "admin" } });
    expect(r).toMatchObject({
      status: 200,
      principal: "apiKey alice",
      upstreamHeaders: { "x-user-id": "alice" },
      removeHeaders: managedExcept("x-user-id"),
    });
  });
  it('cuts a leading "Bearer " off a header key, exactly as Envoy\'s api_key_auth (case-sensitive, once)', async () => {
    expect((await d({ path: "/keys", headers: { authorization: "Bearer alice-key" } })).principal).toBe("apiKey alice");
    // bob's stored key itself starts with "Bearer ": Envoy reads only what follows the scheme.
    expect((await d({ path: "/keys", headers: { authorization: "Bearer Bearer bob-key" } })).principal).toBe("apiKey bob");
    expect((await d({ path: "/keys", headers: { authorization: "Bearer bob-key" } })).code).toBe("apikey_invalid");
    expect((await d({ path: "/keys", headers: { authorization: "bearer alice-key" } })).code).toBe("apikey_invalid");
  });
  it("uses the first source present, in extractFrom order", async () => {
    const r = await d({ path: "/keys?api_key=alice-key", headers: { "x-api-key": "wrong" } });
    expect(r.code).toBe("apikey_invalid");
    expect((await d({ path: "/keys?api_key=alice-key" })).principal).toBe("apiKey alice");
  });
  it("refuses a repeated query key rather than guessing", async () => {
    expect((await d({ path: "/keys?api_key=alice-key&api_key=x" })).code).toBe("apikey_invalid");
  });
  it("reads a query key only where Envoy's filter reads it, even once the key matched where it does (the memo is no way around)", async () => {
    expect((await d({ path: "/keys?api_key=alice-key" })).principal).toBe("apiKey alice");
    for (const path of ["/keys?x=1;api_key=alice-key", "/keys?api.key=alice-key", "/keys??api_key=alice-key"]) {
      const r = await d({ path });
      expect([path, r.status, r.code, r.message]).toEqual([
        path,
        401,
        "apikey_missing",
        "Client authentication failed: the API key is not where the proxy reads it",
      ]);
    }
    expect((await d({ path: "/keys?%61pi_key=alice-key&v=1.2;x" })).principal).toBe("apiKey alice");
  });
  it("sanitize strips the key header", async () => {
    const r = await d({ path: "/cookie", headers: { "x-api-key": "alice-key" } });
    expect(r.removeHeaders).toEqual([...managedExcept("x-user-id"), "x-api-key"].sort());
    expect(r.upstreamHeaders).toEqual({ "x-user-id": "alice" });
  });
  it("does not remember allows that carry the request's own other cookies (the memo would grow with every request)", async () => {
    const before = d.ctx.memo.rememberedAllows;
    for (let i = 0; i < 20; i++) {
      const r = await d({ path: "/cookie", headers: { cookie: `junk${i}=${"x".repeat(1000)}; apikey=alice-key` } });
      expect(r.upstreamHeaders.cookie).toBe(`junk${i}=${"x".repeat(1000)}`);
    }
    expect(d.ctx.memo.rememberedAllows).toBe(before);
  });

  it("remembers a key that matched by its own value, and never a key that did not (what clients send cannot grow the memo)", async () => {
    const config = compiledOf(d.result.snapshot.policies["apps/keys"]!.features, apiKeyAuth)!;
    const wrong = Array.from({ length: 20 }, (_, i) => `wrong-key-${i}`);
    for (const key of wrong) expect((await d({ path: "/keys", headers: { "x-api-key": key } })).code).toBe("apikey_invalid");
    for (const key of wrong) expect(d.ctx.memo.apiKey(config, key)).toBeUndefined();
    const first = await d({ path: "/keys", headers: { "x-api-key": "alice-key" } });
    expect(d.ctx.memo.apiKey(config, "alice-key")).toMatchObject({ ok: true, value: { principal: "apiKey alice" } });
    // Read from the memo: the same outcome, and the same key in another source reads the same.
    expect(await d({ path: "/keys", headers: { "x-api-key": "alice-key" } })).toBe(first);
    expect((await d({ path: "/keys?api_key=alice-key" })).principal).toBe("apiKey alice");
    expect((await d({ path: "/keys", headers: { "x-api-key": "alice-kez" } })).code).toBe("apikey_invalid");
  });

  it("sanitize rewrites the Cookie header without the key cookie", async () => {
    const r = await d({ path: "/cookie", headers: { cookie: "theme=dark; apikey=alice-key; lang=en" } });
    expect(r.upstreamHeaders).toEqual({ "x-user-id": "alice", cookie: "theme=dark; lang=en" });
    const only = await d({ path: "/cookie", headers: { cookie: "apikey=alice-key" } });
    expect(only.removeHeaders).toEqual(["cookie", ...managedExcept("x-user-id"), "x-api-key"].sort());
  });
});

describe("client metadata from the credential Secret", () => {
  const clients = decider(
    policiesOnRules(
      "api.example.com",
      {
        keys: {
          path: "/keys",
          features: `
apiKeyAuth: {credentialRefs: [{name: admin-keys}, {name: user-keys}], extractFrom: [{headers: [x-api-key]}], forwardClientIDHeader: x-client-id}
authorization:
  rules:
    - name: admins-write
      action: Allow
      principal: {cel: 'apiKey.metadata["portcullis.io/role"] == "admin"'}
    - name: users-read
      action: Allow
      operation: {methods: [GET]}
      principal: {cel: 'apiKey.client == "dev" && request.headers["x-purpose"] == "read"'}
`,
        },
      },
      secret(
        "admin-keys",
        { ops: "ops-key" },
        { labels: { "portcullis.io/role": "admin" }, annotations: { "portcullis.io/header.x-client-tier": "gold" } },
      ),
      secret("user-keys", { dev: "dev-key" }, { labels: { "portcullis.io/role": "user" } }),
    ),
  );
  it("Secret labels reach CEL and annotations forward headers", async () => {
    const ops = await clients({ path: "/keys", method: "DELETE", headers: { "x-api-key": "ops-key", "x-client-tier": "platinum" } });
    expect([ops.status, ops.upstreamHeaders]).toEqual([200, { "x-client-id": "ops", "x-client-tier": "gold" }]);
    expect((await clients({ path: "/keys", headers: { "x-api-key": "dev-key", "x-purpose": "read" } })).status).toBe(200);
    const dev = await clients({ path: "/keys", headers: { "x-api-key": "dev-key", "x-client-tier": "gold" } });
    expect([dev.status, dev.code]).toEqual([403, "authz_denied"]);
  });
  it("a header a client's Secret forwards is stripped for other clients", async () => {
    const r = await clients({ path: "/keys", headers: { "x-api-key": "dev-key", "x-purpose": "read", "x-client-tier": "gold" } });
    expect(r.removeHeaders).toContain("x-client-tier");
  });
});

/** A route /keys whose policy reads alice's and bob's keys from `extractFrom` (YAML). */
const aliceAndBob = (extractFrom: string): Decider =>
  decider(`${gatewayWithRoute("api.example.com", { keys: "/keys" })}---
${secret("keys", { alice: "alice-key", bob: "bob-key" })}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: keys, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}]
  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: ${extractFrom}}
`);

/**
 * A differential test against Envoy's api_key_auth, written out from its source
 * (api_key_auth.cc, Http::Utility's query and cookie parsers): the first source that yields a
 * non-empty key supplies it (a header's first line, "Bearer " cut off; the query split at "&" only,
 * names and values percent-decoded, "+" kept, the first value; the first cookie of every Cookie line
 * whose name, from its first character that is not a space to the "=", is the source's, its value
 * unquoted). Whenever check() lets a request through as a client, Envoy must read that client's key.
 */
describe("apiKeyAuth against Envoy's api_key_auth, over hostile requests", () => {
  const world = aliceAndBob("[{headers: [X-API-Key]}, {params: [api_key]}, {cookies: [apikey]}]");
  const CLIENTS: Record<string, string> = { "alice-key": "alice", "bob-key": "bob" };
  const percentDecoded = (text: string) =>
    Buffer.from(
      text.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
      "latin1",
    ).toString("utf8");
  const fromHeader = (lines: readonly string[]) => (lines[0]?.startsWith("Bearer ") ? lines[0].slice(7) : (lines[0] ?? ""));
  const fromQuery = (query: string) => {
    for (const pair of query.split("&")) {
      const eq = pair.indexOf("=");
      if (percentDecoded(eq === -1 ? pair : pair.slice(0, eq)) === "api_key") return eq === -1 ? "" : percentDecoded(pair.slice(eq + 1));
    }
    return "";
  };
  const fromCookies = (lines: readonly string[]) => {
    for (const line of lines)
      for (const s of line.split(";")) {
        const eq = s.indexOf("=");
        if (s === "" || eq === -1) continue;
        const from = s.search(/[^ ]/);
        const value = s.slice(eq + 1);
        if (s.slice(from, eq) === "apikey")
          return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
      }
    return "";
  };
  const envoyKey = (headerLines: readonly string[], query: string, cookieLines: readonly string[]) =>
    [fromHeader(headerLines), fromQuery(query), fromCookies(cookieLines)].find((key) => key !== "") ?? "";

  const headerLine = fc.constantFrom(
    "alice-key",
    "bob-key",
    "Bearer alice-key",
    "Bearer  alice-key",
    "bearer alice-key",
    "",
    "alice-key,bob-key",
  );
  const queryPair = fc.constantFrom(
    "api_key=alice-key",
    "api_key=bob-key",
    "api_key=",
    "api_key",
    "api%5Fkey=alice-key",
    "api_key=alice%2Dkey",
    "api_key=alice-key;x=1",
    "x=1;api_key=alice-key",
    "api.key=alice-key",
    "api_key=alice+key",
    "?api_key=alice-key",
    "x=1",
    "",
  );
  const cookiePair = fc.constantFrom(
    "apikey=alice-key",
    "apikey=bob-key",
    " apikey=alice-key",
    "  apikey=bob-key",
    "apikey =alice-key",
    "\tapikey=alice-key",
    'apikey="alice-key"',
    'apikey="bob-key',
    "apikey=",
    "apikey",
    "x=1",
    "apikey=alice-key ",
    "APIKEY=alice-key",
    "",
  );
  const request = fc.record({
    headerLines: fc.array(headerLine, { maxLength: 2 }),
    query: fc.array(queryPair, { maxLength: 3 }).map((pairs) => pairs.join("&")),
    cookieLines: fc.array(
      fc.tuple(fc.array(cookiePair, { minLength: 1, maxLength: 3 }), fc.constantFrom(";", "; ")).map(([pairs, sep]) => pairs.join(sep)),
      { maxLength: 2 },
    ),
  });

  it("lets a request through as a client only when Envoy reads that client's key (fast-check, fixed seed)", async () => {
    await fc.assert(
      fc.asyncProperty(request, async ({ headerLines, query, cookieLines }) => {
        const headers: Record<string, string | string[]> = {};
        if (headerLines.length > 0) headers["x-api-key"] = headerLines.length === 1 ? headerLines[0]! : headerLines;
        // Node joins Cookie lines with "; " (every port hands them over so).
        if (cookieLines.length > 0) headers.cookie = cookieLines.join("; ");
        const decision = await world({ path: query === "" ? "/keys" : `/keys?${query}`, headers });
        if (decision.status !== 200) return;
        expect({ headerLines, query, cookieLines, principal: decision.principal }).toEqual({
          headerLines,
          query,
          cookieLines,
          principal: `apiKey ${CLIENTS[envoyKey(headerLines, query, cookieLines)]}`,
        });
      }),
      { seed: 20_261_201, numRuns: 600 },
    );
  });
});

describe("apiKeyAuth reading a cookie or parameter whose configured name has upper-case letters", () => {
  const world = aliceAndBob("[{cookies: [ApiKey]}]");
  it("takes the key only from a cookie named exactly so, as Envoy compares names", async () => {
    expect((await world({ path: "/keys", headers: { cookie: "ApiKey=alice-key" } })).principal).toBe("apiKey alice");
    // Envoy finds no ApiKey cookie here; a reader of names in any case would take alice's key.
    const lower = await world({ path: "/keys", headers: { cookie: "apikey=alice-key" } });
    expect([lower.status, lower.code]).toEqual([401, "apikey_missing"]);
  });
  it("refuses a second copy under a name in another letter case", async () => {
    const two = await world({ path: "/keys", headers: { cookie: "ApiKey=alice-key; apikey=bob-key" } });
    expect([two.status, two.code]).toEqual([401, "apikey_invalid"]);
  });
  it("takes a parameter's key only under the name exactly, as Envoy compares names", async () => {
    const params = aliceAndBob("[{params: [Api_Key]}]");
    expect((await params({ path: "/keys?Api_Key=alice-key" })).principal).toBe("apiKey alice");
    const lower = await params({ path: "/keys?api_key=alice-key" });
    expect([lower.status, lower.code]).toEqual([401, "apikey_missing"]);
    const two = await params({ path: "/keys?Api_Key=alice-key&API_KEY=bob-key" });
    expect([two.status, two.code]).toEqual([401, "apikey_invalid"]);
  });
});
