/** The verified-token cache: bounded, per policy configuration, and never fooled by a copied signature. */
import { describe, expect, it } from "vitest";
import { generateKeyPairSync, sign as nodeSign, verify } from "node:crypto";
import { otherEcdsaSpelling, TokenCache } from "../../../controller/features/jwt/token-cache.ts";
import type { CompiledJwt } from "../../../controller/features/jwt/compile.ts";

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
  it("keeps tokens whose signatures share a long start apart (entries are found by the start, answers by the whole token)", () => {
    const cache = new TokenCache();
    const start = "A".repeat(60);
    cache.set(verdict(`h.p.${start}x`), 0, undefined);
    expect(cache.get(`h.p.${start}y`, configA, 1)).toBeUndefined();
    cache.set(verdict(`h.p.${start}y`), 0, undefined);
    expect([cache.get(`h.p.${start}x`, configA, 1)?.token, cache.get(`h.p.${start}y`, configA, 1)?.token]).toEqual([
      `h.p.${start}x`,
      `h.p.${start}y`,
    ]);
  });
  it("is bounded: beyond the limit the oldest signatures go first", () => {
    const cache = new TokenCache(4);
    const tokens = ["h.p.1", "h.p.2", "h.p.3", "h.p.4", "h.p.5"];
    for (const t of tokens) cache.set(verdict(t), 0, undefined);
    expect(tokens.map((t) => cache.get(t, configA, 1) !== undefined)).toEqual([false, false, true, true, true]);
  });
});

describe("ECDSA's two spellings of one signature (issue 12 situation 15)", () => {
  const sign = (alg: "ES256" | "ES384" | "ES512", curve: string) => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: curve });
    const input = `${Buffer.from(JSON.stringify({ alg, typ: "JWT" })).toString("base64url")}.${Buffer.from('{"sub":"alice"}').toString("base64url")}`;
    const hash = `sha${alg.slice(2)}`;
    const token = `${input}.${nodeSign(hash, Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url")}`;
    const holds = (t: string) =>
      verify(
        hash,
        Buffer.from(input),
        { key: publicKey, dsaEncoding: "ieee-p1363" },
        Buffer.from(t.slice(t.lastIndexOf(".") + 1), "base64url"),
      );
    return { token, holds };
  };
  for (const [alg, curve] of [
    ["ES256", "P-256"],
    ["ES384", "P-384"],
    ["ES512", "P-521"],
  ] as const) {
    it(`${alg}: (r, n − s) is another string that verifies too, and its other spelling is the token again`, () => {
      const { token, holds } = sign(alg, curve);
      const other = otherEcdsaSpelling(token)!;
      expect(other).not.toBe(token);
      expect([holds(token), holds(other)]).toEqual([true, true]);
      expect(otherEcdsaSpelling(other)).toBe(token);
      // Both spellings start with the same r: they share one cache entry.
      const sig = token.lastIndexOf(".") + 1;
      expect(other.slice(sig, sig + 42)).toBe(token.slice(sig, sig + 42));
    });
  }
  it("the other spelling finds the verdict of the first: one token, one entry", () => {
    const { token } = sign("ES256", "P-256");
    const cache = new TokenCache();
    const entry = cache.set(verdict(token), 0, undefined);
    expect(cache.get(otherEcdsaSpelling(token)!, configA, 1)).toBe(entry);
  });
  it("has no other spelling for other algorithms, a non-canonical segment, or an s out of range", () => {
    const { token } = sign("ES256", "P-256");
    const [h, p, s] = token.split(".") as [string, string, string];
    const rs256 = `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${p}.${s}`;
    const zeroS = `${h}.${p}.${Buffer.concat([Buffer.from(s, "base64url").subarray(0, 32), Buffer.alloc(32)]).toString("base64url")}`;
    const maxS = `${h}.${p}.${Buffer.concat([Buffer.from(s, "base64url").subarray(0, 32), Buffer.alloc(32, 0xff)]).toString("base64url")}`;
    // 64 bytes end in a character whose low 4 bits are spare: setting one spells the same bytes non-canonically.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const spareBit = `${h}.${p}.${s.slice(0, -1)}${alphabet[alphabet.indexOf(s.at(-1)!) | 1]}`;
    for (const t of [
      rs256,
      zeroS,
      maxS,
      spareBit,
      `${h}.${p}.${s}A`,
      "no-dots",
      `${Buffer.from('{"alg":"constructor"}').toString("base64url")}.${p}.${s}`,
    ]) {
      expect(otherEcdsaSpelling(t), t).toBeUndefined();
    }
  });
});
