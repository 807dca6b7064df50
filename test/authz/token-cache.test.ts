/** The verified-token cache: bounded, per policy configuration, and never fooled by a copied signature. */
import { describe, expect, it } from "vitest";
import { TokenCache } from "../../controller/authz/token-cache.ts";
import type { CompiledJwt } from "../../controller/snapshot/types.ts";

const configA = { providers: [], optional: false } as unknown as CompiledJwt;
const configB = { providers: [], optional: false } as unknown as CompiledJwt;
const passed = { ok: true, value: { principal: "jwt idp", headers: {}, strip: [], attributes: {} } } as const;
const verdict = (token: string, config = configA) => ({ token, config, provider: 0, claims: {}, passed });

describe("TokenCache", () => {
  it("answers for the whole token only: another payload under the same signature is a miss", () => {
    const cache = new TokenCache();
    cache.set(verdict("h.payload-alice.sig"), 0, undefined);
    expect(cache.get("h.payload-alice.sig", configA, 1)?.token).toBe("h.payload-alice.sig");
    expect(cache.get("h.payload-admin.sig", configA, 1)).toBeUndefined();
    // Both tokens may sit under one signature; each answers for itself.
    cache.set(verdict("h.payload-admin.sig"), 0, undefined);
    expect(cache.get("h.payload-alice.sig", configA, 1)?.token).toBe("h.payload-alice.sig");
    expect(cache.get("h.payload-admin.sig", configA, 1)?.token).toBe("h.payload-admin.sig");
  });
  it("keeps one verdict per policy configuration", () => {
    const cache = new TokenCache();
    cache.set(verdict("h.p.s", configA), 0, undefined);
    expect(cache.get("h.p.s", configB, 1)).toBeUndefined();
    cache.set(verdict("h.p.s", configB), 0, undefined);
    expect(cache.get("h.p.s", configA, 1)?.config).toBe(configA);
    expect(cache.get("h.p.s", configB, 1)?.config).toBe(configB);
  });
  it("forgets a verdict at the token's expiry or after the maximum age, whichever comes first", () => {
    const cache = new TokenCache(10, 60_000);
    cache.set(verdict("h.p.short"), 0, 5_000);
    cache.set(verdict("h.p.long"), 0, undefined);
    expect(cache.get("h.p.short", configA, 4_999)).toBeDefined();
    expect(cache.get("h.p.short", configA, 5_000)).toBeUndefined();
    expect(cache.get("h.p.long", configA, 59_999)).toBeDefined();
    expect(cache.get("h.p.long", configA, 60_000)).toBeUndefined();
    // An already expired token is not stored at all.
    cache.set(verdict("h.p.expired"), 10_000, 9_000);
    expect(cache.get("h.p.expired", configA, 10_000)).toBeUndefined();
  });
  it("is bounded: beyond the limit the oldest signatures go first", () => {
    const cache = new TokenCache(4);
    const tokens = ["h.p.1", "h.p.2", "h.p.3", "h.p.4", "h.p.5"];
    for (const t of tokens) cache.set(verdict(t), 0, undefined);
    expect(tokens.map((t) => cache.get(t, configA, 1) !== undefined)).toEqual([false, false, true, true, true]);
  });
});
