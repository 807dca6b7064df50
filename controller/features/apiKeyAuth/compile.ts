/** Compiles `apiKeyAuth`: the credential Secrets become a digest index of client ids. */
import { extAuth, isHookUp } from "../extAuth/index.ts";
import { z } from "zod";
import { compareCodeUnits, PORTCULLIS_ANNOTATION_PREFIX, SecretRefSchema, type ObjectMeta } from "../../api/meta.ts";
import type { Secret } from "../../api/resources.ts";
import { upstreamHeaderName } from "../../lib/headers.ts";
import { ok, problem, type Result } from "../../lib/result.ts";
import { sortInPlace } from "../../lib/sort.ts";
import { deepFreeze } from "../../snapshot/freeze.ts";
import type { CredentialSource } from "../../snapshot/types.ts";
import type { CompileContext } from "../feature.ts";
import { ClientsByDigest } from "./digest-table.ts";

export { apiKeyDigest } from "./digest-table.ts";

const ExtractFromSchema = z
  .object({
    headers: z.array(z.string().min(1)).optional(),
    params: z.array(z.string().min(1)).optional(),
    cookies: z.array(z.string().min(1)).optional(),
  })
  .strict();

/** Envoy Gateway's APIKeyAuth (api/v1alpha1/api_key_auth_types.go). */
export const APIKeyAuthSchema = z
  .object({
    credentialRefs: z.array(SecretRefSchema).min(1),
    extractFrom: z.array(ExtractFromSchema).min(1),
    forwardClientIDHeader: z.string().min(1).optional(),
    sanitize: z.boolean().optional(),
  })
  .strict();
export type APIKeyAuthSpec = z.infer<typeof APIKeyAuthSchema>;

export interface CompiledApiKey {
  /** In `extractFrom` order; the first source present in a request is the one used. */
  readonly sources: readonly CredentialSource[];
  /**
   * SHA-256 (base64url) of each key → its client id. Lookups compare digests, never keys. A Map:
   * object keys are internalized strings, and interning 100,000 digests (and every request's)
   * cost more than the hashing. Its digests are computed at its first read (digest-table.ts).
   */
  readonly clientByDigest: ReadonlyMap<string, string>;
  /** Client ids, sorted, for the readable summary. */
  readonly clientIDs: readonly string[];
  /** Every header a pass may set upstream: forwardClientIDHeader and the clients' `portcullis.io/header.*` ones, gathered once per Secret. */
  readonly headersSet: readonly string[];
  /** Lower-case header that carries the matched client id upstream. */
  readonly forwardClientIDHeader: string | undefined;
  /** Portcullis removes the key from what goes upstream (`sanitize`). */
  readonly sanitize: boolean;
  /**
   * `sanitize` in a policy whose extAuth is the hook-up: the proxy's own apiKeyAuth filter (Envoy
   * Gateway's, after extAuth) removes the key once it has read it, so Portcullis' answer leaves it
   * in place; removed there, that filter would find no key and refuse every request.
   */
  readonly sanitizedByProxy: boolean;
  /**
   * Per client id: the `portcullis.io/*` labels and annotations of its Secret (for authorization
   * rules) and the headers its `portcullis.io/header.<name>` annotations forward upstream.
   */
  readonly clients: Readonly<
    Record<string, { readonly metadata: Readonly<Record<string, string>>; readonly headers: Readonly<Record<string, string>> }>
  >;
}

/** Kubernetes' own limit on a Secret's data; a manifest folder is held to the same. */
export const MAX_SECRET_BYTES = 1024 * 1024;
/** Kubernetes' rule for Secret data keys, which are the client ids (so they are safe header values). */
const SECRET_KEY = /^[-._a-zA-Z0-9]{1,253}$/;

/** keyFlaws: a key no HTTP header or cookie can carry, whitespace at either end (trimmed by every parser) or a control character. */
const UNPRESENTABLE = 1;
/** keyFlaws: U+FFFD, which stands for bytes of the Secret that are not UTF-8. */
const NOT_UTF8 = 2;

/**
 * The flaws of a non-empty key (UNPRESENTABLE | NOT_UTF8), in one pass over its characters: at
 * 100,000 keys two regular expression searches per key cost more than the walk.
 */
function keyFlaws(key: string): number {
  const first = key.charCodeAt(0);
  const last = key.charCodeAt(key.length - 1);
  let flaws = first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09 ? UNPRESENTABLE : 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) flaws |= UNPRESENTABLE;
    else if (c === 0xfffd) flaws |= NOT_UTF8;
  }
  return flaws;
}

export function compileApiKey(spec: APIKeyAuthSpec, { ownerOf, refs, compiled }: CompileContext): Result<CompiledApiKey> {
  const sources: CredentialSource[] = [];
  for (const from of spec.extractFrom) {
    for (const h of from.headers ?? []) sources.push({ in: "header", name: h.toLowerCase(), prefix: undefined });
    for (const p of from.params ?? []) sources.push({ in: "param", name: p });
    for (const c of from.cookies ?? []) sources.push({ in: "cookie", name: c });
  }
  if (sources.length === 0) return problem("extractFrom names no header, param or cookie");
  if (spec.sanitize === true && sources.some((s) => s.in === "param")) {
    // Envoy's HTTP ext_authz protocol cannot rewrite the query string: refusing beats leaking the key.
    return problem(
      "sanitize cannot remove a key sent as a query parameter over the HTTP ext_authz protocol; read the key from a header or cookie",
    );
  }
  let forwardClientIDHeader: string | undefined;
  if (spec.forwardClientIDHeader !== undefined) {
    const h = upstreamHeaderName(spec.forwardClientIDHeader, "forwardClientIDHeader");
    if (!h.ok) return h;
    forwardClientIDHeader = h.value;
  }
  const namespace = ownerOf("apiKeyAuth.credentialRefs").namespace;
  // Resolved one at a time, as they are read: a problem in one stops before the next is looked up.
  const resolved = function* () {
    for (const ref of spec.credentialRefs) yield refs.secret(namespace, ref);
  };
  const only = spec.credentialRefs.length === 1 ? refs.secret(namespace, spec.credentialRefs[0]!) : undefined;
  const table = only?.ok === true ? keyTableOfSecret(only.value) : keyTableOf(only === undefined ? resolved() : [only]);
  if (!table.ok) return table;
  const { clientByDigest, clients, clientIDs, headers } = table.value;
  const sanitizedByProxy = spec.sanitize === true && isHookUp(compiled(extAuth));
  return ok(
    {
      sources,
      clientByDigest,
      clientIDs,
      headersSet:
        forwardClientIDHeader === undefined || headers.includes(forwardClientIDHeader) ? headers : [forwardClientIDHeader].concat(headers),
      forwardClientIDHeader,
      sanitize: spec.sanitize === true && !sanitizedByProxy,
      sanitizedByProxy,
      clients,
    },
    table.warnings,
  );
}

/** The clients of a policy's credential Secrets: its CompiledApiKey's tables, and the headers their annotations set. */
interface KeyTable extends Pick<CompiledApiKey, "clientByDigest" | "clients" | "clientIDs"> {
  readonly headers: readonly string[];
}

/**
 * The key table of a policy with one credential Secret, built once per Secret object: sources never
 * change an object they handed over (a change brings a new one), so a rebuild after an unrelated
 * change does not digest its keys again (100,000 at 10,000 policies), and policies naming the same
 * Secret share the table.
 */
const keyTableBySecret = new WeakMap<Secret, Result<KeyTable>>();

function keyTableOfSecret(secret: Secret): Result<KeyTable> {
  let table = keyTableBySecret.get(secret);
  if (table === undefined) keyTableBySecret.set(secret, (table = keyTableOf([ok(secret)])));
  return table;
}

/** The key table of the credential Secrets, in credentialRefs order, or the first problem met. */
function keyTableOf(secrets: Iterable<Result<Secret, string>>): Result<KeyTable> {
  // Each served key → its client id: two clients with the same key are found by the keys themselves, the digests wait for a read.
  const clientByKey = new Map<string, string>();
  const warnings: string[] = [];
  // Membership in `clients` stands for the set of client ids: one table per key instead of two.
  const clients: Record<string, CompiledApiKey["clients"][string]> = Object.create(null);
  const headers = new Set<string>();
  let clientIDs: string[] = [];
  let secretsRead = 0;
  for (const secret of secrets) {
    secretsRead++;
    if (!secret.ok) return problem(`credentialRefs: ${secret.error}`);
    const where = `Secret ${secret.value.metadata.namespace}/${secret.value.metadata.name}`;
    const described = clientDescription(secret.value.metadata, where);
    if (!described.ok) return described;
    const data = secret.value.data;
    const ids = Object.keys(data);
    if (secretBytesAbove(data, MAX_SECRET_BYTES, ids))
      return problem(`${where} holds more than ${MAX_SECRET_BYTES} bytes (the Kubernetes limit)`);
    sortInPlace(ids, compareCodeUnits);
    // The first Secret's ids are distinct, and its sorted list becomes clientIDs (no second list at 100,000 keys).
    const first = secretsRead === 1;
    let served = 0;
    for (let i = 0; i < ids.length; i++) {
      const clientID = ids[i]!;
      // Envoy Gateway semantics: a client id present in several Secrets keeps its first key.
      if (!first && clientID in clients) continue;
      if (!SECRET_KEY.test(clientID))
        return problem(`${where}: client id ${JSON.stringify(clientID)} is not a valid Secret data key ([-._a-zA-Z0-9]+)`);
      const key = data[clientID]!;
      if (key.length === 0) return problem(`${where}: client ${clientID} has an empty key`);
      const flaws = keyFlaws(key);
      if ((flaws & UNPRESENTABLE) !== 0)
        warnings.push(
          `${where}: the key of client ${clientID} ${unpresentable(key)}; no header or cookie can carry it, so this client can never authenticate`,
        );
      if ((flaws & NOT_UTF8) !== 0) {
        // The Secret's bytes were read as UTF-8 and U+FFFD stands for bytes that are not: other invalid bytes presented would read the same.
        warnings.push(
          `${where}: the key of client ${clientID} is not valid UTF-8, so it is not served and this client can never authenticate`,
        );
        continue;
      }
      const other = clientByKey.get(key);
      if (other !== undefined) {
        return problem(`${where}: clients ${other} and ${clientID} share the same key, so the client id would be ambiguous`);
      }
      clientByKey.set(key, clientID);
      clients[clientID] = described.value;
      if (!first) clientIDs.push(clientID);
      served++;
    }
    if (first) clientIDs = served === ids.length ? ids : ids.filter((id) => id in clients);
    if (served > 0) for (const h in described.value.headers) headers.add(h);
  }
  // Each Secret's ids come sorted: one Secret's list is sorted already.
  if (secretsRead > 1) clientIDs.sort();
  if (clientIDs.length === 0) return problem("credentialRefs hold no keys");
  // Frozen here, as the snapshot will be: its freeze then stops at the table instead of walking every client of it.
  return ok(
    {
      clientByDigest: new ClientsByDigest(clientByKey),
      clients: Object.freeze(clients),
      clientIDs: Object.freeze(clientIDs),
      headers: Object.freeze([...headers]),
    },
    warnings,
  );
}

/**
 * Whether a Secret's data (keys and values, as UTF-8) holds more than `limit` bytes; `keys`: its
 * keys, when the caller has listed them already (a for…in over a Secret's table lists them again).
 * A UTF-16 code unit is at most 3 UTF-8 bytes, so data whose length in code units is within a third
 * of the limit is counted without encoding (the common case: 100k keys otherwise cost 200k byte
 * counts per compile).
 */
export function secretBytesAbove(data: Readonly<Record<string, string>>, limit: number, keys = Object.keys(data)): boolean {
  let units = 0;
  for (let i = 0; i < keys.length; i++) units += keys[i]!.length + data[keys[i]!]!.length;
  if (units * 3 <= limit) return false;
  let bytes = 0;
  for (let i = 0; i < keys.length; i++) bytes += Buffer.byteLength(keys[i]!) + Buffer.byteLength(data[keys[i]!]!);
  return bytes > limit;
}

/** What is wrong with a key keyFlaws finds UNPRESENTABLE, in words that point at the usual cause. */
function unpresentable(key: string): string {
  if (/\r?\n$/.test(key)) return "ends with a line break (as `kubectl create secret --from-file` stores a file's last line)";
  return /[\x00-\x1f\x7f]/.test(key.trim()) ? "holds a control character" : "begins or ends with whitespace";
}

const HEADER_ANNOTATION = `${PORTCULLIS_ANNOTATION_PREFIX}header.`;

/** The description of clients whose Secret has no `portcullis.io/*` labels or annotations (most), one frozen object for all. */
const UNDESCRIBED: CompiledApiKey["clients"][string] = deepFreeze({ metadata: {}, headers: {} });

/**
 * What a credential Secret says about its clients: `portcullis.io/*` labels and annotations are
 * metadata for authorization rules; `portcullis.io/header.<name>: value` forwards a header.
 */
function clientDescription(meta: ObjectMeta, where: string): Result<CompiledApiKey["clients"][string]> {
  if (!hasPortcullisKey(meta.labels) && !hasPortcullisKey(meta.annotations)) return ok(UNDESCRIBED);
  const metadata: Record<string, string> = {};
  const headers: Record<string, string> = {};
  for (const [key, value] of [...Object.entries(meta.labels ?? {}), ...Object.entries(meta.annotations ?? {})]) {
    if (!key.startsWith(PORTCULLIS_ANNOTATION_PREFIX)) continue;
    if (!key.startsWith(HEADER_ANNOTATION)) {
      metadata[key] = value;
      continue;
    }
    const h = upstreamHeaderName(key.slice(HEADER_ANNOTATION.length), `${where} annotation ${key}`);
    if (!h.ok) return h;
    if (/[\0\r\n]/.test(value)) return problem(`${where} annotation ${key}: the value is not a valid header value`);
    headers[h.value] = value;
  }
  return ok(deepFreeze({ metadata, headers }));
}

function hasPortcullisKey(labelsOrAnnotations: Readonly<Record<string, string>> | undefined): boolean {
  for (const key in labelsOrAnnotations) if (key.startsWith(PORTCULLIS_ANNOTATION_PREFIX)) return true;
  return false;
}
