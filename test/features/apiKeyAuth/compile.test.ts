/** compileApiKey: credential Secrets into a digest index of client ids, as Envoy Gateway's APIKeyAuth reads them. */
import { describe, expect, it } from "vitest";
import { apiKeyDigest, secretBytesAbove, type CompiledApiKey } from "../../../controller/features/apiKeyAuth/compile.ts";
import { apiKeyAuth } from "../../../controller/features/apiKeyAuth/index.ts";
import { ALICE_KEY_AUTH, ALICE_KEYS, gatewayWithRoute, secret, securityPolicy } from "../../support/manifests.ts";
import { compile, type CompileResult } from "../../../controller/compile/index.ts";
import { compilePolicy, compilePolicyWith, HOOK_UP_WORLD, resourcesOf } from "../../support/world.ts";

describe("compileApiKey", () => {
  it("reads the sources in extractFrom order, header names lower-case, and indexes each key by its digest", () => {
    const outcome = compilePolicy(
      "apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key], params: [key]}, {cookies: [session]}], forwardClientIDHeader: X-Client-ID}",
      secret("keys", { bob: "bob-key", alice: "alice-key" }),
    );
    expect(outcome.accepted.status).toBe("True");
    const compiled = outcome.compiled(apiKeyAuth)!;
    expect(compiled.sources).toEqual([
      { in: "header", name: "x-api-key", prefix: undefined },
      { in: "param", name: "key" },
      { in: "cookie", name: "session" },
    ]);
    expect(compiled.clientIDs).toEqual(["alice", "bob"]);
    expect(compiled.clientByDigest.get(apiKeyDigest("bob-key"))).toBe("bob");
    expect([...compiled.clientByDigest.keys()]).not.toContain("bob-key");
    expect([compiled.forwardClientIDHeader, compiled.sanitize]).toEqual(["x-client-id", false]);
  });

  it("orders the sources as Envoy Gateway's key_sources: entry by entry, each entry's headers, then params, then cookies, whatever order its YAML keys", () => {
    const outcome = compilePolicy(
      "apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{cookies: [session], params: [key], headers: [X-API-Key]}, {cookies: [later]}, {headers: [X-Last]}]}",
      secret("keys", { alice: "alice-key" }),
    );
    expect(outcome.compiled(apiKeyAuth)!.sources.map((s) => `${s.in} ${s.name}`)).toEqual([
      "header x-api-key",
      "param key",
      "cookie session",
      "cookie later",
      "header x-last",
    ]);
  });

  it("keeps a client id's first key when several Secrets name it (Envoy Gateway's order: credentialRefs)", () => {
    const outcome = compilePolicy(
      "apiKeyAuth: {credentialRefs: [{name: keys}, {name: more}], extractFrom: [{headers: [X-API-Key]}]}",
      ALICE_KEYS,
      secret("more", { alice: "second-key", carol: "carol-key" }),
    );
    const compiled = outcome.compiled(apiKeyAuth)!;
    expect(compiled.clientIDs).toEqual(["alice", "carol"]);
    expect(compiled.clientByDigest.get(apiKeyDigest("alice-key"))).toBe("alice");
    expect(compiled.clientByDigest.has(apiKeyDigest("second-key"))).toBe(false);
  });

  it("takes the portcullis.io/ labels and annotations of a client's Secret, and forwards its header annotations", () => {
    const outcome = compilePolicy(
      ALICE_KEY_AUTH,
      secret(
        "keys",
        { alice: "alice-key" },
        { labels: { "portcullis.io/role": "admin", team: "ops" }, annotations: { "portcullis.io/header.X-Tier": "gold", note: "x" } },
      ),
    );
    expect(outcome.compiled(apiKeyAuth)!.clients.alice).toEqual({
      metadata: { "portcullis.io/role": "admin" },
      headers: { "x-tier": "gold" },
    });
  });

  it.each([
    ["a missing Secret", ALICE_KEY_AUTH, "", "APIKeyAuth: credentialRefs: "],
    [
      "sanitize with a key in the query (the HTTP ext_authz protocol cannot remove it)",
      "apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{params: [key]}], sanitize: true}",
      ALICE_KEYS,
      "APIKeyAuth: sanitize cannot remove a key sent as a query parameter",
    ],
    [
      "two clients with one key (the client id would be ambiguous)",
      ALICE_KEY_AUTH,
      secret("keys", { alice: "s3cr3t", bob: "s3cr3t" }),
      "APIKeyAuth: Secret apps/keys: clients alice and bob share the same key",
    ],
    ["an empty key", ALICE_KEY_AUTH, secret("keys", { alice: "" }), "APIKeyAuth: Secret apps/keys: client alice has an empty key"],
    [
      "a forwarded header a client could not be trusted with",
      "apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key]}], forwardClientIDHeader: authorization}",
      ALICE_KEYS,
      "APIKeyAuth: forwardClientIDHeader: ",
    ],
  ])("is Invalid for %s, never echoing a key", (_situation, features, objects, message) => {
    const outcome = compilePolicy(features, ...(objects === "" ? [] : [objects]));
    expect(outcome.accepted.status).toBe("False");
    expect(outcome.accepted.message).toContain(message);
    expect(outcome.accepted.message).not.toMatch(/alice-key|s3cr3t/);
  });

  it("serves a key no header can carry, with a Warning naming the usual cause", () => {
    const outcome = compilePolicy(ALICE_KEY_AUTH, secret("keys", { alice: "alice-key", bob: "bob-key\n" }));
    expect(outcome.accepted.status).toBe("True");
    expect(outcome.warnings).toEqual([
      "APIKeyAuth: Secret apps/keys: the key of client bob ends with a line break (as `kubectl create secret --from-file` stores a file's last line); no header or cookie can carry it, so this client can never authenticate",
    ]);
  });

  it("warns of each kind of key no header can carry (whitespace at either end, a control character, DEL) and of keys not UTF-8", () => {
    const keys = { a: " lead", b: "trail\t", c: "mid\x01dle", d: "del\x7f", e: "bad\uFFFDbytes", f: "in side", g: "fine-key" };
    const outcome = compilePolicy(ALICE_KEY_AUTH, secret("keys", keys));
    expect(outcome.accepted.status).toBe("True");
    const cannotCarry = "no header or cookie can carry it, so this client can never authenticate";
    expect(outcome.warnings.join("; ").split("; APIKeyAuth: ")).toEqual([
      `APIKeyAuth: Secret apps/keys: the key of client a begins or ends with whitespace; ${cannotCarry}`,
      `Secret apps/keys: the key of client b begins or ends with whitespace; ${cannotCarry}`,
      `Secret apps/keys: the key of client c holds a control character; ${cannotCarry}`,
      `Secret apps/keys: the key of client d holds a control character; ${cannotCarry}`,
      "Secret apps/keys: the key of client e is not valid UTF-8, so it is not served and this client can never authenticate",
    ]);
    expect(outcome.compiled(apiKeyAuth)?.clientIDs).toEqual(["a", "b", "c", "d", "f", "g"]);
  });

  it("leaves sanitize to the proxy when the policy's extAuth is the hook-up: its own apiKeyAuth filter, after extAuth, must still read the key", () => {
    const features = { apiKeyAuth: { credentialRefs: [{ name: "keys" }], extractFrom: [{ headers: ["X-API-Key"] }], sanitize: true } };
    const hookedUp = compilePolicyWith(
      HOOK_UP_WORLD.options,
      { ...features, extAuth: HOOK_UP_WORLD.extAuth },
      ALICE_KEYS,
      HOOK_UP_WORLD.service,
    );
    expect(hookedUp.accepted.status).toBe("True");
    expect(hookedUp.compiled(apiKeyAuth)).toMatchObject({ sanitize: false, sanitizedByProxy: true });
    expect(compilePolicyWith(HOOK_UP_WORLD.options, features, ALICE_KEYS).compiled(apiKeyAuth)).toMatchObject({
      sanitize: true,
      sanitizedByProxy: false,
    });
  });
});

describe("the key table of a credential Secret", () => {
  const world = `${gatewayWithRoute("api.example.com")}---\n${ALICE_KEYS}---\n${securityPolicy("p", ALICE_KEY_AUTH)}`;
  const options = { controllerName: "portcullis.io/controller", gatewayClasses: [] };
  const tableOf = (result: CompileResult) => result.snapshot.policies["apps/p"]!.features[0]!.compiled as CompiledApiKey;

  it("is built once per Secret object: a rebuild over the same objects reuses it, digests and all", () => {
    const resources = resourcesOf(world);
    const first = tableOf(compile(resources, options));
    const second = tableOf(compile(resources, options));
    expect(second.clientByDigest).toBe(first.clientByDigest);
    expect(second.clients).toBe(first.clients);
  });

  it("is frozen as soon as it is built: the snapshots that share it cannot change it, nor can a decision", () => {
    const table = tableOf(compile(resourcesOf(world), options));
    const client = table.clients.alice!;
    expect([table.clients, table.clientIDs, table.headersSet, client, client.metadata, client.headers].map(Object.isFrozen)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(() => {
      (table.clientIDs as string[]).push("mallory");
    }).toThrow(TypeError);
  });

  it("is built again for a changed Secret (a new object), with its new keys", () => {
    const resources = resourcesOf(world);
    const before = tableOf(compile(resources, options));
    const changed = resourcesOf(world.replace(ALICE_KEYS, secret("keys", { alice: "rotated-key" })));
    const after = tableOf(compile(changed, options));
    expect(after.clientByDigest).not.toBe(before.clientByDigest);
    expect([after.clientByDigest.get(apiKeyDigest("rotated-key")), after.clientByDigest.has(apiKeyDigest("alice-key"))]).toEqual([
      "alice",
      false,
    ]);
  });
});

describe("secretBytesAbove", () => {
  it("counts keys and values as UTF-8 bytes against the limit", () => {
    expect(secretBytesAbove({ alice: "a".repeat(5) }, 10)).toBe(false);
    expect(secretBytesAbove({ alice: "a".repeat(6) }, 10)).toBe(true);
  });
  it("counts multi-byte characters exactly where the short count is not conclusive", () => {
    // 4 code units, but "é" is 2 bytes and "€" 3: 1 + 2 + 3 + 1 = 7 bytes.
    expect(secretBytesAbove({ k: "é€v" }, 7)).toBe(false);
    expect(secretBytesAbove({ k: "é€v" }, 6)).toBe(true);
    expect(secretBytesAbove({ k: "€€€€" }, 12)).toBe(true);
  });
});
