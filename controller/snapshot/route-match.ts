/**
 * Whether one route match holds on a reading of a request: Gateway API path semantics, header and
 * query value matches compared as Envoy compares bytes. Apart from route-index.ts, which picks the
 * entries to try, as the semantics of a match itself (authorization rules reuse the path match).
 */
import { mayHoldInvalidUtf8 } from "../lib/bytes.ts";
import { paramIn } from "./query-readings.ts";
import type { HeaderReading, RouteReading, RouteRequest } from "./route-index.ts";
import { lineAt, lineIndexIn } from "./route-readings.ts";
import type { CompiledMatch, PathMatch, ValueMatch } from "./types.ts";

/** Gateway API path semantics; PathPrefix matches whole segments ("/foo" is not a prefix of "/foobar"). */
export function pathMatches(p: PathMatch, path: string): boolean {
  return p.type === "Exact"
    ? path === p.value
    : p.type === "PathPrefix"
      ? p.value === "" || path === p.value || (path.startsWith(p.value) && path.charCodeAt(p.value.length) === 47)
      : p.regex.testExact(path);
}

export function matches(match: CompiledMatch, request: RouteRequest, reading: RouteReading): boolean {
  if (!pathMatches(match.path, request.path)) return false;
  // Index loops: most matches have no header or query match, and an iterator would be allocated for each.
  for (let i = 0; i < match.headers.length; i++) {
    const h = match.headers[i]!;
    if (!valueMatches(h, headerOf(request, h.name, reading.header))) return false;
  }
  for (let i = 0; i < match.queryParams.length; i++) {
    const q = match.queryParams[i]!;
    if (!valueMatches(q, paramIn(request.rawQuery, q.name, reading.query))) return false;
  }
  return true;
}

/**
 * A header as a reading reads it (Envoy's route match: `joined`). The pseudo-headers a match may name are the method
 * (an HTTPRoute `method`) and the path with its query (a GRPCRoute method match without service);
 * `host` is `:authority` in Envoy's header map, whichever way the Host reached Portcullis.
 */
export function headerOf(request: RouteRequest, name: string, reading: HeaderReading = "joined"): string | undefined {
  if (name === ":method") return request.method;
  if (name === "host") return request.authority;
  if (name === ":path") return request.rawQuery === undefined ? request.path : `${request.path}?${request.rawQuery}`;
  // Envoy matches a header sent several times on its lines joined with "," (not ", ").
  const lines = request.headerLines(name);
  if (lines.length === 0) return undefined;
  return reading === "joined" ? lines.join(",") : lineAt(lines, lineIndexIn(reading, name));
}

export function valueMatches(m: ValueMatch, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (m.type === "RegularExpression") return mayHoldInvalidUtf8(value) || m.regex.testExact(value);
  return (m.type === "Exact" ? value === m.value : value.endsWith(m.value)) || unreadableBy(m, value);
}

/**
 * Whether Envoy's byte comparison of `m` with `value` cannot be told from the text, when the value
 * holds U+FFFD (mayHoldInvalidUtf8: bytes that are not UTF-8 read that way). RE2 reads the bytes
 * themselves, which `.` and classes do not match. An Exact or Suffix value is compared byte for
 * byte; valid UTF-8 text compares as its bytes do unless the configured value itself holds U+FFFD
 * (`\xff` and U+FFFD read alike, while their bytes differ). Such a match counts as matching, and is
 * then refused (unreadableMatch): the request may have taken this rule or a later one.
 */
export function unreadableBy(m: ValueMatch, value: string): boolean {
  return (m.type === "RegularExpression" || mayHoldInvalidUtf8(m.value)) && mayHoldInvalidUtf8(value);
}
