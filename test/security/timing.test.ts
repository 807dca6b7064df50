/**
 * API-key timing, proved by structure rather than by a stopwatch. A presented key is hashed
 * (SHA-256) once, and the digest is looked up once in a null-prototype table of digests: no
 * comparison ever touches a stored key, so how long a check takes cannot depend on how many
 * leading characters of a real key the client guessed. These tests instrument the hash function
 * and the table and show that a key differing in its first character, one differing in its last,
 * an unrelated key and the valid key all take the identical path: one hash of the whole presented
 * value, one table read with its digest. (SECURITY.md explains why that is enough.) Both of
 * node:crypto's SHA-256 entry points (createHash and the one-shot hash) are instrumented.
 */
import { createHash as realHash } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { checkApiKey } from "../../controller/features/apiKeyAuth/check.ts";
import { CheckMemo } from "../../controller/authz/check-memo.ts";
import { normalizeRequest } from "../../controller/authz/request.ts";
import { apiKeyAuth } from "../../controller/features/apiKeyAuth/index.ts";
import type { CompiledApiKey } from "../../controller/features/apiKeyAuth/compile.ts";
import { compiledOf } from "../../controller/features/feature.ts";
import { compileText } from "../support/world.ts";
import { makeKeys, manifests } from "./world.ts";

const trace = vi.hoisted(() => ({ hashed: [] as string[], recording: false }));
vi.mock("node:crypto", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:crypto")>();
  const createHash: typeof real.createHash = (algorithm, options) => {
    const hash = real.createHash(algorithm, options);
    const update = hash.update.bind(hash) as (data: string, encoding?: string) => typeof hash;
    hash.update = ((data: string, encoding?: string) => {
      if (trace.recording) trace.hashed.push(`${algorithm}:${data}`);
      return update(data, encoding);
    }) as typeof hash.update;
    return hash;
  };
  // The one-shot form too: hash("sha256", data, encoding).
  const hash = ((algorithm: string, data: string, ...rest: unknown[]) => {
    if (trace.recording) trace.hashed.push(`${algorithm}:${data}`);
    return (real.hash as (...args: unknown[]) => unknown)(algorithm, data, ...rest);
  }) as typeof real.hash;
  return { ...real, createHash, hash, default: { ...real, createHash, hash } };
});

const result = compileText(manifests(makeKeys()));
const config = compiledOf(result.snapshot.policies["apps/keys"]!.features, apiKeyAuth)!;
const digest = (key: string) => realHash("sha256").update(key).digest("base64url");

/** Checks `key` as X-API-Key and returns everything hashed and every table read, in order. */
function traced(key: string): { hashed: string[]; reads: string[]; allowed: boolean } {
  const reads: string[] = [];
  const table = new (class extends Map<string, string> {
    override get(digest: string): string | undefined {
      reads.push(digest);
      return super.get(digest);
    }
  })(config.clientByDigest);
  const instrumented: CompiledApiKey = { ...config, clientByDigest: table };
  const request = normalizeRequest({
    method: "GET",
    scheme: "http",
    host: "api.example.com",
    path: "/keys",
    headers: { "x-api-key": key },
    gateway: undefined,
  });
  trace.hashed = [];
  trace.recording = true;
  try {
    const outcome = checkApiKey(instrumented, request, { route: "r", policy: "p" }, new CheckMemo());
    return { hashed: trace.hashed, reads, allowed: outcome.ok };
  } finally {
    trace.recording = false;
  }
}

describe("API keys are compared by digest only", () => {
  it("the table holds digests of the keys and no key in clear", () => {
    expect([...config.clientByDigest.keys()].sort()).toEqual(
      [digest("alice-key"), digest("bob-key"), digest("clé-ü-key"), digest("dave key"), digest("proto-client-key")].sort(),
    );
    expect(JSON.stringify(result.snapshot)).not.toContain("alice-key");
  });

  it("a key differing in its first character and one differing in its last take the identical path", () => {
    const first = traced("blice-key");
    const last = traced("alice-kez");
    for (const [key, t] of [
      ["blice-key", first],
      ["alice-kez", last],
    ] as const) {
      expect(t.hashed).toEqual([`sha256:${key}`]);
      expect(t.reads).toEqual([digest(key)]);
      expect(t.allowed).toBe(false);
    }
    expect([first.hashed.length, first.reads.length]).toEqual([last.hashed.length, last.reads.length]);
  });

  it("so do an unrelated key and the valid key: one hash of the whole value, one read", () => {
    for (const key of ["zzzzzzzzz", "alice-key", "a", "k".repeat(4096)]) {
      const t = traced(key);
      expect(t.hashed).toEqual([`sha256:${key}`]);
      expect(t.reads).toEqual([digest(key)]);
      expect(t.allowed).toBe(key === "alice-key");
    }
  });

  it("a leading Bearer is cut off before the one hash: the branch depends on the public prefix only", () => {
    for (const key of ["Bearer blice-key", "Bearer alice-kez", "Bearer alice-key"]) {
      const t = traced(key);
      const rest = key.slice("Bearer ".length);
      expect(t.hashed).toEqual([`sha256:${rest}`]);
      expect(t.reads).toEqual([digest(rest)]);
      expect(t.allowed).toBe(rest === "alice-key");
    }
  });
});
