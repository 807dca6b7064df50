/**
 * The remote JWKS a snapshot's policies use (Snapshot.remoteJwks), which the key store fetches.
 * Apart from index.ts: it reads compiled policies only, after the route index is built.
 */
import type { JwksSource } from "../keys/types.ts";
import type { CompiledPolicy } from "../snapshot/types.ts";

/** Remote JWKS in use, one per cache key (the key store merges their durations). */
export function remoteJwksOf(policies: Readonly<Record<string, CompiledPolicy>>): JwksSource[] {
  const byKey = new Map<string, JwksSource>();
  for (const id in policies) {
    const { features } = policies[id]!;
    for (let i = 0; i < features.length; i++) {
      const f = features[i]!;
      // Most features hold no keys: nothing to list.
      if (f.feature.keySources === undefined) continue;
      for (const s of f.feature.keySources(f.compiled)) {
        if (s.kind !== "remote") continue;
        const seen = byKey.get(s.cacheKey);
        if (seen === undefined || (seen.kind === "remote" && s.cacheDurationMs < seen.cacheDurationMs)) byKey.set(s.cacheKey, s);
      }
    }
  }
  return [...byKey.keys()].sort().map((key) => byKey.get(key)!);
}
