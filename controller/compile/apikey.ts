/** Compiles `apiKeyAuth`: the credential Secrets become a digest index of client ids. */
import { createHash } from "node:crypto";
import type { APIKeyAuthSpec } from "../api/securitypolicy.ts";
import type { CompiledApiKey, CredentialSource } from "../snapshot/types.ts";
import { upstreamHeaderName } from "./headers.ts";
import type { References } from "./references.ts";

export type FeatureResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** The digest an API key is indexed by; check() computes the same over what a client presents. */
export function apiKeyDigest(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("base64url");
}

export function compileApiKey(spec: APIKeyAuthSpec, namespace: string, refs: References): FeatureResult<CompiledApiKey> {
  const sources: CredentialSource[] = [];
  for (const from of spec.extractFrom) {
    for (const h of from.headers ?? []) sources.push({ in: "header", name: h.toLowerCase(), prefix: undefined });
    for (const p of from.params ?? []) sources.push({ in: "param", name: p });
    for (const c of from.cookies ?? []) sources.push({ in: "cookie", name: c });
  }
  if (sources.length === 0) return { ok: false, error: "apiKeyAuth.extractFrom names no header, param or cookie" };
  if (spec.sanitize === true && sources.some((s) => s.in === "param")) {
    // Envoy's HTTP ext_authz protocol cannot rewrite the query string: refusing beats leaking the key.
    return { ok: false, error: "apiKeyAuth.sanitize cannot remove a key sent as a query parameter over the HTTP ext_authz protocol; read the key from a header or cookie" };
  }
  let forwardClientIDHeader: string | undefined;
  if (spec.forwardClientIDHeader !== undefined) {
    const h = upstreamHeaderName(spec.forwardClientIDHeader, "apiKeyAuth.forwardClientIDHeader");
    if (!h.ok) return h;
    forwardClientIDHeader = h.name;
  }
  const clientByDigest: Record<string, string> = Object.create(null);
  const clientIDs = new Set<string>();
  for (const ref of spec.credentialRefs) {
    const secret = refs.secret(namespace, ref);
    if (!secret.ok) return { ok: false, error: `apiKeyAuth.credentialRefs: ${secret.error}` };
    const where = `Secret ${secret.value.metadata.namespace}/${secret.value.metadata.name}`;
    for (const clientID of Object.keys(secret.value.data).sort()) {
      // Envoy Gateway semantics: a client id present in several Secrets keeps its first key.
      if (clientIDs.has(clientID)) continue;
      const key = secret.value.data[clientID]!;
      if (key.length === 0) return { ok: false, error: `${where}: client ${clientID} has an empty key` };
      const digest = apiKeyDigest(key);
      const other = clientByDigest[digest];
      if (other !== undefined) {
        return { ok: false, error: `${where}: clients ${other} and ${clientID} share the same key, so the client id would be ambiguous` };
      }
      clientByDigest[digest] = clientID;
      clientIDs.add(clientID);
    }
  }
  if (clientIDs.size === 0) return { ok: false, error: "apiKeyAuth.credentialRefs hold no keys" };
  return {
    ok: true,
    value: { sources, clientByDigest, clientIDs: [...clientIDs].sort(), forwardClientIDHeader, sanitize: spec.sanitize === true },
  };
}
