/** The verified-token cache: bounded, per policy configuration, and never fooled by a copied signature. */
import { describe, expect, it } from "vitest";
import { generateKeyPairSync, randomBytes, sign as nodeSign, verify } from "node:crypto";
import {
  DEFAULT_TOKEN_CACHE_BYTES,
  DOORKEEPER_SHARE,
  otherEcdsaSpelling,
  TokenCache,
} from "../../../controller/features/jwt/token-cache.ts";
import type { CompiledJwt } from "../../../controller/features/jwt/compile.ts";
import type { VerificationKey } from "../../../controller/api/jwks.ts";
import { SLOT_BYTES } from "../../../controller/features/jwt/doorkeeper.ts";
import { heapHeldBy, memoryHeldBy } from "../../support/heap.ts";

const configA = { providers: [], optional: false } as unknown as CompiledJwt;
const configB = { providers: [], optional: false } as unknown as CompiledJwt;
const passed = { ok: true, value: { principal: "jwt idp", headers: {}, strip: [], attributes: {} } } as const;
const verdict = (token: string, config = configA) => ({ token, config, provider: 0, kid: undefined, keys: [], claims: {}, passed });
/** A verdict shaped as check() builds one: the token's claims (decoded from it, so nothing is shared) passed on with a header. */
function claimsVerdict(token: string) {
  const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
  const value = {
    principal: `jwt idp sub=${String(claims.sub)}`,
    headers: { "x-user-id": String(claims.sub) },
    strip: [],
    attributes: { jwt: { provider: "idp", claims } },
  };
  return { token, config: configA, provider: 0, kid: undefined, keys: [], claims, passed: { ok: true, value } as const };
}
/** A token of about 8 KiB: a hundred group names in its claims, its own signature. */
const largeToken = (i: number) =>
  [
    Buffer.from('{"alg":"ES256"}').toString("base64url"),
    Buffer.from(
      JSON.stringify({ sub: `user-${i}`, groups: Array.from({ length: 100 }, (_, g) => `engineering-group-${g}-of-user-${i}`) }),
    ).toString("base64url"),
    `${String(i).padStart(6, "0")}${"s".repeat(80)}`,
  ].join(".");

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
    const cache = new TokenCache(DEFAULT_TOKEN_CACHE_BYTES, 60_000);
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
  it("keys a string with fewer or more than two dots as well (from its start, or after its second dot), each answering for itself", () => {
    const cache = new TokenCache();
    const strings = ["no-dot-at-all", "one.dot", "h.p.s.more", "h.p.s.other", "h.p.s"];
    for (const s of strings) cache.set(verdict(s), 0, undefined);
    expect(strings.map((s) => cache.get(s, configA, 1)?.token)).toEqual(strings);
    expect(cache.get("h.p.s.unknown", configA, 1)).toBeUndefined();
  });
  it("is bounded in bytes: filled with 8 KiB tokens, it holds at most its bound (estimated and measured), the oldest going first", () => {
    const bound = 1024 * 1024;
    const tokens = Array.from({ length: 400 }, (_, i) => largeToken(i));
    const { bytes: held, value: cache } = heapHeldBy(() => {
      const c = new TokenCache(bound);
      for (const t of tokens) {
        c.set(claimsVerdict(t), 0, undefined);
        expect(c.bytes).toBeLessThanOrEqual(bound);
      }
      return c;
    });
    const kept = tokens.map((t) => cache.get(t, configA, 1) !== undefined);
    const firstKept = kept.indexOf(true);
    // The newest are kept, every older one is gone: 3.2 MiB of tokens went through a 1 MiB bound.
    expect(kept.slice(firstKept).every(Boolean)).toBe(true);
    expect(kept.slice(0, firstKept).some(Boolean)).toBe(false);
    expect(firstKept).toBeGreaterThan(200);
    expect(held).toBeLessThanOrEqual(bound);
    expect(cache.bytes).toBeGreaterThan(bound / 4);
  });
  it("estimates at least the heap an entry really holds, small tokens included (where the entry's own objects weigh most)", () => {
    const tokens = Array.from(
      { length: 4000 },
      (_, i) => `${"h".repeat(36)}.${Buffer.from(`{"sub":"user-${i}"}`).toString("base64url")}.${i}`,
    );
    const { bytes: held, value: cache } = heapHeldBy(() => {
      const c = new TokenCache(64 * 1024 * 1024);
      for (const t of tokens.map((t) => `${t}`)) c.set(claimsVerdict(t), 0, undefined);
      return c;
    });
    expect(tokens.every((t) => cache.get(t, configA, 1) !== undefined)).toBe(true);
    expect(cache.bytes).toBeGreaterThanOrEqual(held);
  });
  it("holds at most its bound in measured heap when filled with bench-shaped ES256 tokens (about 400 characters, eight claims; issue 17)", () => {
    const bound = 4 * 1024 * 1024;
    const header = Buffer.from('{"alg":"ES256","typ":"JWT","kid":"bench-key-1"}').toString("base64url");
    const tokens = Array.from({ length: 40_000 }, (_, i) => {
      const claims = {
        iss: "https://idp.bench.example.com",
        aud: "bench-gateway",
        sub: `user-${i}`,
        iat: 1_800_000_000 + i,
        nbf: 1_800_000_000 + i,
        exp: 1_800_003_600 + i,
        jti: randomBytes(12).toString("hex"),
        scope: "read write",
      };
      return `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${randomBytes(64).toString("base64url")}`;
    });
    const { bytes: held, value: cache } = heapHeldBy(() => {
      const c = new TokenCache(bound);
      // Each token a string of its own, as read from a request (the array above is not counted).
      for (const t of tokens) c.set(claimsVerdict(Buffer.from(t).toString()), 0, undefined);
      return c;
    });
    expect(cache.get(tokens.at(-1)!, configA, 1)).toBeDefined();
    expect(cache.get(tokens[0]!, configA, 1)).toBeUndefined();
    expect(held).toBeLessThanOrEqual(cache.bytes);
    expect(cache.bytes).toBeLessThanOrEqual(bound);
    // The estimate errs high (a shape's first token pays for its hidden class and names, and the entry's own objects are
    // priced high): the bound is a ceiling on memory, and the cache holds more tokens than it claims, not fewer.
    expect(held).toBeGreaterThan(cache.bytes / 6);
  });
  it("estimates the heap of `make bench`'s tokens within 1.25× (the README's count: 16 MiB, less the doorkeeper's eighth, holds about 11,000 of them)", () => {
    const header = Buffer.from('{"alg":"ES256","kid":"bench-es256","typ":"JWT"}').toString("base64url");
    // bench/tokens.ts's claims: 421 characters a token; as many as the default bound holds whole.
    const tokens = Array.from({ length: 10_000 }, (_, i) => {
      const claims = {
        iss: "https://idp.bench.example.com",
        aud: "bench-gateway",
        sub: `user-${i}`,
        email: `user-${i}@bench.example.com`,
        department: "research",
        iat: 1_800_000_000,
        exp: 1_800_003_600,
        jti: `bench-1800000000-${i}`,
      };
      return `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${randomBytes(64).toString("base64url")}`;
    });
    const { bytes: held, value: cache } = heapHeldBy(() => {
      const c = new TokenCache(DEFAULT_TOKEN_CACHE_BYTES);
      for (const t of tokens) c.set(claimsVerdict(Buffer.from(t).toString()), 0, undefined);
      return c;
    });
    expect(tokens.every((t) => cache.get(t, configA, 1) !== undefined)).toBe(true);
    expect(cache.bytes).toBeGreaterThanOrEqual(held);
    expect(cache.bytes).toBeLessThanOrEqual(1.25 * held);
    const perToken = cache.bytes / tokens.length;
    const verdictBytes = DEFAULT_TOKEN_CACHE_BYTES - DEFAULT_TOKEN_CACHE_BYTES / DOORKEEPER_SHARE;
    expect(Math.round(verdictBytes / perToken / 1000)).toBe(11);
  });
  it("caches nothing with a bound of 0 bytes", () => {
    const cache = new TokenCache(0);
    cache.set(verdict("h.p.s"), 0, undefined);
    expect(cache.get("h.p.s", configA, 1)).toBeUndefined();
    expect(cache.bytes).toBe(0);
  });
});

describe("TokenCache's doorkeeper: admission on second sight (issue 17)", () => {
  const keys = [{ kid: "k" }] as unknown as readonly VerificationKey[];
  const otherKeys = [{ kid: "k" }] as unknown as readonly VerificationKey[];
  /** A token as one that decoded would be: three base64url segments, an 86-character signature. */
  const tokenOf = (i: number) =>
    `eyJhbGciOiJFUzI1NiJ9.${Buffer.from(`{"sub":"user-${i}"}`).toString("base64url")}.${randomBytes(64).toString("base64url")}`;

  it("answers for this exact token under this very key array, while its record is valid", () => {
    const cache = new TokenCache(DEFAULT_TOKEN_CACHE_BYTES, 60_000);
    const token = tokenOf(1);
    expect(cache.verifiedBefore(token, keys, 0)).toBe(false);
    cache.recordVerified(token, keys, 0, 5_000);
    expect(cache.verifiedBefore(token, keys, 4_999)).toBe(true);
    // Another key array (a JWKS fetched again, another provider's keys) is another key set.
    expect(cache.verifiedBefore(token, otherKeys, 1)).toBe(false);
    // Never past the token's own limit, nor past the maximum age.
    expect(cache.verifiedBefore(token, keys, 5_000)).toBe(false);
    const lasting = tokenOf(2);
    cache.recordVerified(lasting, keys, 0, undefined);
    expect([cache.verifiedBefore(lasting, keys, 59_999), cache.verifiedBefore(lasting, keys, 60_000)]).toEqual([true, false]);
  });
  it("never answers for another token sharing the signature's start, its length, or its header and payload", () => {
    const cache = new TokenCache();
    const token = tokenOf(1);
    cache.recordVerified(token, keys, 0, undefined);
    const at = token.lastIndexOf(".") + 1 + 60;
    const sameStart = `${token.slice(0, at)}${token[at] === "A" ? "B" : "A"}${token.slice(at + 1)}`;
    const resigned = `${token.slice(0, token.lastIndexOf("."))}.${randomBytes(64).toString("base64url")}`;
    const [h, , sig] = token.split(".");
    const swapped = `${h}.${Buffer.from('{"sub":"user-2"}').toString("base64url")}.${sig}`;
    for (const other of [sameStart, resigned, swapped]) expect(cache.verifiedBefore(other, keys, 1), other).toBe(false);
  });
  it("answers for the other ECDSA spelling of a recorded token (one token, two spellings)", () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const input = `${Buffer.from('{"alg":"ES256"}').toString("base64url")}.${Buffer.from('{"sub":"alice"}').toString("base64url")}`;
    const token = `${input}.${nodeSign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url")}`;
    const cache = new TokenCache();
    cache.recordVerified(token, keys, 0, undefined);
    expect(cache.verifiedBefore(otherEcdsaSpelling(token)!, keys, 1)).toBe(true);
  });
  it("holds several records under one entry key (signatures that start alike), each answering for its own token, none past its limit", () => {
    const start = randomBytes(6).toString("base64url");
    const alike = (i: number) =>
      `eyJhbGciOiJFUzI1NiJ9.${Buffer.from(`{"sub":"user-${i}"}`).toString("base64url")}.${start}${randomBytes(58).toString("base64url")}`;
    const tokens = Array.from({ length: 9 }, (_, i) => alike(i));
    const cache = new TokenCache();
    cache.recordVerified(tokens[0]!, keys, 0, 1_000);
    cache.recordVerified(tokens[1]!, otherKeys, 0, undefined);
    for (const t of tokens.slice(2, 8)) cache.recordVerified(t, keys, 0, undefined);
    expect(tokens.map((t) => cache.verifiedBefore(t, keys, 1))).toEqual([true, false, ...Array(6).fill(true), false]);
    expect(tokens.map((t) => cache.verifiedBefore(t, keys, 1_000))).toEqual([false, false, ...Array(6).fill(true), false]);
    expect(cache.verifiedBefore(tokens[1]!, otherKeys, 1_000)).toBe(true);
    // A token recorded under one entry key is not the one next to it: a sibling with the same start is verified.
    expect(cache.verifiedBefore(alike(9), keys, 1)).toBe(false);
  });
  it("compares at most the 16 newest records of a chain: an older one under a crowded entry key is verified again, never trusted less", () => {
    const start = randomBytes(6).toString("base64url");
    const tokens = Array.from(
      { length: 20 },
      (_, i) =>
        `eyJhbGciOiJFUzI1NiJ9.${Buffer.from(`{"sub":"user-${i}"}`).toString("base64url")}.${start}${randomBytes(58).toString("base64url")}`,
    );
    const cache = new TokenCache();
    for (const t of tokens) cache.recordVerified(t, keys, 0, undefined);
    expect(tokens.map((t) => cache.verifiedBefore(t, keys, 1))).toEqual([...Array(4).fill(false), ...Array(16).fill(true)]);
  });
  it("keeps the newest records once its slots are full, the oldest overwritten first, and keeps them while it grows", () => {
    // A doorkeeper of 100 slots: the first allocation (64) grows once, to its bound.
    const cache = new TokenCache(DOORKEEPER_SHARE * 100 * SLOT_BYTES);
    const tokens = Array.from({ length: 130 }, (_, i) => tokenOf(i));
    for (const t of tokens.slice(0, 64)) cache.recordVerified(t, keys, 0, undefined);
    expect(cache.bytes).toBe(64 * SLOT_BYTES);
    for (const t of tokens.slice(64)) cache.recordVerified(t, keys, 0, undefined);
    expect(cache.bytes).toBe(100 * SLOT_BYTES);
    expect(tokens.map((t) => cache.verifiedBefore(t, keys, 1))).toEqual([...Array(30).fill(false), ...Array(100).fill(true)]);
  });
  it("records nothing with a bound of 0 bytes", () => {
    const cache = new TokenCache(0);
    const token = tokenOf(1);
    cache.recordVerified(token, keys, 0, undefined);
    expect(cache.verifiedBefore(token, keys, 1)).toBe(false);
    expect(cache.bytes).toBe(0);
  });
  it("holds at most an eighth of the bound in measured heap and array buffers, the oldest records going first", () => {
    const bound = 8 * 1024 * 1024;
    const tokens = Array.from({ length: 20_000 }, (_, i) => tokenOf(i));
    const { bytes: held, value: cache } = memoryHeldBy(() => {
      const c = new TokenCache(bound);
      for (const t of tokens) c.recordVerified(Buffer.from(t).toString(), keys, 0, undefined);
      return c;
    });
    expect(cache.verifiedBefore(tokens.at(-1)!, keys, 1)).toBe(true);
    expect(cache.verifiedBefore(tokens[0]!, keys, 1)).toBe(false);
    expect(cache.bytes).toBeLessThanOrEqual(bound / 8);
    expect(held).toBeLessThanOrEqual(cache.bytes);
  });
  it("counts at least the memory its records hold (heap and array buffers), and allocates at most twice the slots they need", () => {
    const tokens = Array.from({ length: 5_000 }, (_, i) => tokenOf(i));
    const { bytes: held, value: cache } = memoryHeldBy(() => {
      const c = new TokenCache(64 * 1024 * 1024);
      for (const t of tokens) c.recordVerified(Buffer.from(t).toString(), keys, 0, undefined);
      return c;
    });
    expect(tokens.every((t) => cache.verifiedBefore(t, keys, 1))).toBe(true);
    expect(cache.bytes).toBeGreaterThanOrEqual(held);
    // Slots grow by doubling (64, 128, …): 5,000 records take 8,192, and nothing is allocated per record.
    expect(cache.bytes).toBe(8_192 * SLOT_BYTES);
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
  it("keeps no client's long JOSE header: 1024 tokens of 15 and 60 KiB headers under a cached token's signature hold under 4 MiB", () => {
    const { token } = sign("ES256", "P-256");
    const [, p, s] = token.split(".") as [string, string, string];
    const cache = new TokenCache();
    cache.set(verdict(token), 0, undefined);
    // Under the token size cap (16 KiB) and over it: the one decodeJwt would read, and the one it refuses unread.
    const paddings = ["x".repeat(15 * 1024), "x".repeat(60 * 1024)];
    const { bytes } = heapHeldBy(() => {
      // Each is looked up before it is decoded (so before its size is checked): a miss under a cached
      // signature looks for the other ECDSA spelling, which reads the header's alg.
      for (let i = 0; i < 1024; i++) {
        const header = Buffer.from(`{"alg":"ES256","n":${i},"pad":"${paddings[i % 2]}"}`).toString("base64url");
        expect(cache.get(`${header}.${p}.${s}`, configA, 1)).toBeUndefined();
      }
    });
    expect(bytes).toBeLessThan(4 * 1024 * 1024);
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
      // ES256 headers decodeJwt refuses: neither spelling of such a token ever verifies.
      `${Buffer.from('{"alg":"ES256","typ":"dpop+jwt"}').toString("base64url")}.${p}.${s}`,
      `${Buffer.from('{"alg":"ES256","crit":["b64"]}').toString("base64url")}.${p}.${s}`,
    ]) {
      expect(otherEcdsaSpelling(t), t).toBeUndefined();
    }
  });
});
