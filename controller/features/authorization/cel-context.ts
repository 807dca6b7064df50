/**
 * What CEL expressions of authorization rules evaluate over, built as Envoy builds it: the variables
 * of `principal.cel` (Envoy Gateway's request, identities and source) and Envoy's attributes for a
 * rule's `cel` (the request attributes and jwt_authn's metadata), each in one route reading; and how
 * an expression's result, or failure, decides a rule (fail closed). Kept apart from check.ts, which
 * orders the rules, so that the shape CEL sees is stated in one place.
 */
import type { NormalizedRequest } from "../../authz/request.ts";
import { mayHoldInvalidUtf8 } from "../../lib/bytes.ts";
import { foldedName, queryParamsIn, type QueryReading } from "../../snapshot/query-readings.ts";
import type { RouteReading } from "../../snapshot/route-index.ts";
import type { IdentityAttributes } from "../feature.ts";
import { asciiLowerCase, HEADER_ATTRIBUTES, type CompiledCel } from "./cel.ts";
import type { CompiledRule } from "./compile.ts";
import { headerIn } from "./line-readings.ts";

/**
 * Whether `cel` is true over `variables`. An expression that cannot be evaluated (a missing header
 * or claim, a variable over its size) or gives no boolean never lets a request through: it does
 * not match in an Allow rule and does match in a Deny rule. So it is with an expression that reads
 * a request value holding bytes that may not be UTF-8 (readsInvalidUtf8): Envoy's CEL compares
 * and measures the bytes, cel-js the text they read as.
 */
export function celMatches(rule: CompiledRule, cel: CompiledCel, variables: Record<string, unknown>): boolean {
  if (readsInvalidUtf8(cel, variables.request as Record<string, unknown>)) return rule.action === "Deny";
  let result: unknown;
  try {
    result = cel.evaluate(variables);
  } catch {
    return rule.action === "Deny";
  }
  return typeof result === "boolean" ? result : rule.action === "Deny";
}

/**
 * celMatches over `principal.cel`'s variables (principalVariablesOf, which hold the Host's last
 * reading) on every reading of the Host when the expression may read `request.host`: `hosts`, the
 * request's readings when it has several (hostReadings: Envoy's virtual host's, without a trailing
 * dot, the text before a ":" that is no port, as nginx and most servers take it). An Allow rule's
 * expression matches only when it does on each, a Deny rule's when it does on any.
 */
export function principalCelMatches(
  rule: CompiledRule,
  cel: CompiledCel,
  variables: Record<string, unknown>,
  hosts: readonly string[] | undefined,
): boolean {
  if (hosts === undefined || cel.requestFields?.has("host") === false) return celMatches(rule, cel, variables);
  const request = variables.request as Record<string, unknown>;
  const anyHost = rule.action === "Deny";
  for (const host of hosts) if (celMatches(rule, cel, { ...variables, request: { ...request, host } }) === anyHost) return anyHost;
  return !anyHost;
}

/**
 * Whether a field of `request` the expression reads holds U+FFFD (mayHoldInvalidUtf8), the text
 * of bytes that are not UTF-8: `"\xff" == "\uFFFD"` holds for the text, not for Envoy's bytes,
 * and `size()`, `<` and `matches()` read them otherwise too. A header map counts by its values.
 */
function readsInvalidUtf8(cel: CompiledCel, request: Record<string, unknown>): boolean {
  const read = (value: unknown): boolean =>
    typeof value === "string"
      ? mayHoldInvalidUtf8(value)
      : value instanceof Map
        ? [...value.values()].some(read)
        : value !== null && typeof value === "object" && !(value instanceof Date) && Object.values(value).some(read);
  if (cel.requestFields === undefined) return read(request);
  for (const field of cel.requestFields) if (Object.hasOwn(request, field) && read(request[field])) return true;
  return false;
}

/**
 * Every header by lower-case name, in `reading`, as the map CEL reads: looked up whatever the
 * letter case of the name written (`request.headers['X-Tenant']`), as Envoy's CEL header map looks
 * a name up lower-cased (ASCII letters only). cel-js reads a Map through its `get` and `has`.
 */
function headersIn(request: NormalizedRequest, reading: RouteReading): Map<string, string> {
  const headers = new Map<string, string>();
  for (const name of Object.keys(request.source.headers)) {
    const v = headerIn(request, name, reading);
    if (v !== undefined) headers.set(name, v);
  }
  headers.set("host", request.authority);
  return lookedUpAs(headers, asciiLowerCase);
}

/** `map`, its `get` and `has` (what cel-js reads a Map through) looking a key up as `fold` makes it. */
function lookedUpAs(map: Map<string, string>, fold: (key: string) => string): Map<string, string> {
  const get = map.get.bind(map);
  const has = map.has.bind(map);
  map.get = (key) => get(fold(key));
  map.has = (key) => has(fold(key));
  return map;
}

/**
 * The query's parameters in `reading` as `request.query`: a reading of names in any letter case
 * (ASP.NET Core's) looks a name up in any case, as paramIn does; every other as written.
 */
function queryIn(rawQuery: string | undefined, reading: QueryReading): Record<string, string> | Map<string, string> {
  if (rawQuery === undefined) return {};
  const params = queryParamsIn(rawQuery, reading);
  return reading.foldedNames ? lookedUpAs(new Map(params), foldedName) : Object.fromEntries(params);
}

/** The variables of `principal.cel`. Absent identities are empty maps, so `has()` works on them. */
export function principalVariablesOf(
  request: NormalizedRequest,
  who: IdentityAttributes,
  clientAddress: string | undefined,
  reading: RouteReading,
): Record<string, unknown> {
  const headers = headersIn(request, reading);
  return {
    request: { method: request.method, host: request.host, path: request.path, headers, query: queryIn(request.rawQuery, reading.query) },
    jwt: who.jwt === undefined ? {} : { provider: who.jwt.provider, claims: who.jwt.claims },
    apiKey: who.apiKey === undefined ? {} : { client: who.apiKey.client, metadata: who.apiKey.metadata },
    basicAuth: who.basicAuth === undefined ? {} : { username: who.basicAuth.username },
    source: { address: clientAddress ?? "" },
  };
}

const JWT_AUTHN = "envoy.filters.http.jwt_authn";

/**
 * Envoy's attributes as a rule's `cel` sees them (cel.ts, ENVOY_ATTRIBUTES). Headers by lower-case
 * name, repeated lines joined with "," as Envoy joins them, and the pseudo-headers Envoy's header
 * map holds (`:authority`, `:path`, `:method`, `:scheme`); referer, useragent and id only when
 * their header is there (Envoy leaves them absent); the verified JWT payload under jwt_authn's
 * metadata as jwt_authn writes it (`jwtPayload`, jwtAuthnPayload).
 */
export function envoyAttributesOf(
  request: NormalizedRequest,
  who: IdentityAttributes,
  jwtPayload: Readonly<Record<string, unknown>> | undefined,
  now: number,
  reading: RouteReading,
): Record<string, unknown> {
  const headers = headersIn(request, reading);
  const query = request.rawQuery;
  const path = query === undefined ? request.path : `${request.path}?${query}`;
  headers.set(":authority", request.authority);
  headers.set(":path", path);
  headers.set(":method", request.method);
  headers.set(":scheme", request.source.scheme);
  const attributes: Record<string, unknown> = {
    path,
    url_path: request.path,
    host: request.authority,
    scheme: request.source.scheme,
    method: request.method,
    headers,
    query: query ?? "",
    time: new Date(now),
  };
  for (const attribute in HEADER_ATTRIBUTES) {
    const value = headers.get(HEADER_ATTRIBUTES[attribute]!);
    if (value !== undefined) attributes[attribute] = value;
  }
  const jwt = who.jwt;
  const payload = jwt === undefined ? {} : { [JWT_AUTHN]: { [jwt.provider]: jwtPayload! } };
  return { request: attributes, metadata: { filter_metadata: payload } };
}

/** The claims Envoy Gateway has jwt_authn split at spaces in its metadata (normalize_payload_in_metadata.space_delimited_claims). */
const SPACE_DELIMITED_CLAIMS = ["scope", "scp"] as const;

/**
 * A verified JWT payload as jwt_authn writes it into its metadata, which Envoy Gateway's
 * `principal.jwt` matchers and a rule's `cel` read: each top-level claim of SPACE_DELIMITED_CLAIMS
 * holding a string becomes the list of its space-separated words, empty words dropped (a string
 * with no word stays as it is, as Envoy leaves it); every other claim as the token wrote it.
 * `claims` itself when there is nothing to split.
 */
export function jwtAuthnPayload(claims: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  let out: Record<string, unknown> | undefined;
  for (const name of SPACE_DELIMITED_CLAIMS) {
    const value = Object.hasOwn(claims, name) ? claims[name] : undefined;
    if (typeof value !== "string") continue;
    const words = value.split(" ").filter((w) => w !== "");
    if (words.length === 0) continue;
    out ??= { ...claims };
    out[name] = words;
  }
  return out ?? claims;
}
