/**
 * The readings of a request the authorization rules are decided on besides Envoy's (DESIGN §0: allow
 * only if every reading allows): which route readings (snapshot/route-index.ts) change what the rules
 * read, how many lines the headers they read have, and a header's value in one reading. Kept apart
 * from check.ts, which decides the rules, because CEL's variables (cel-context.ts) read headers the
 * same way.
 */
import type { NormalizedRequest } from "../../authz/request.ts";
import { ENVOY_QUERY, OTHER_QUERY_READINGS, queryParamsIn, type QueryReading } from "../../snapshot/query-readings.ts";
import { lineAt, lineIndexIn, readingsBesidesEnvoys, type RouteReading } from "../../snapshot/route-index.ts";
import type { CompiledAuthorization } from "./compile.ts";

/**
 * The route readings (snapshot/route-index.ts) besides Envoy's that could change what the rules
 * read: a query reading when a `principal.cel` reads `request.query` and that reading's parameters
 * differ from every reading's before it (Envoy's first: `?role=%61dmin` is `%61dmin` there and
 * `admin` decoded); a header line reading when a rule reads headers and one has several lines.
 */
export function otherReadings(config: CompiledAuthorization, request: NormalizedRequest, lines: number): readonly RouteReading[] {
  const rawQuery = config.rules.some((r) => r.principal?.cel !== undefined) ? request.rawQuery : undefined;
  if (rawQuery === undefined && lines === 1) return NO_READINGS;
  // Without CEL the rules read headers only through their header matches, which one line reading
  // decides over every line at once (check.ts headerMismatch); and no rule reads the query.
  if (config.headersRead !== undefined) return EVERY_LINE;
  const distinct: QueryReading[] = [ENVOY_QUERY];
  if (rawQuery !== undefined) {
    // Each reading's map stays as parsed here: it is parsed again only for another query.
    const seen = [queryParamsIn(rawQuery, ENVOY_QUERY)];
    for (const reading of OTHER_QUERY_READINGS) {
      const params = queryParamsIn(rawQuery, reading);
      if (seen.some((s) => sameParams(s, params))) continue;
      seen.push(params);
      distinct.push(reading);
    }
  }
  return readingsBesidesEnvoys(lines).filter((r) => distinct.includes(r.query));
}

const NO_READINGS: readonly RouteReading[] = Object.freeze([]);

/** The one line reading of rules without CEL: their header matches read each line (check.ts headerMismatch). */
const EVERY_LINE: readonly RouteReading[] = Object.freeze([
  { query: ENVOY_QUERY, header: 0, name: "any line (or list element) of each header" },
]);

function sameParams(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  // One map for two readings (PHP's where no name changes): nothing to compare.
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [name, value] of a) if (b.get(name) !== value) return false;
  return true;
}

/**
 * The most lines (pieces, linesUpstreamMayRead) among the headers the rules read
 * (CompiledAuthorization.headersRead), at least 1: every header when a rule has a CEL expression,
 * else those the header matches name (an Accept of 8 elements adds no reading to rules on x-role).
 * Loops over the request's own values: no array of lines.
 */
export function mostLinesRead(config: CompiledAuthorization, request: NormalizedRequest): number {
  const headers = request.source.headers;
  const read = config.headersRead;
  let most = 1;
  if (read === undefined) {
    for (const name in headers) most = Math.max(most, linesIn(headers[name]));
    return most;
  }
  // An index loop: this runs on every check of a policy with rules, and an iterator would be allocated for each.
  for (let i = 0; i < read.length; i++) if (Object.hasOwn(headers, read[i]!)) most = Math.max(most, linesIn(headers[read[i]!]));
  return most;
}

/** How many lines a header value stands for (an array: its lines; a string or nothing: 1). */
const linesIn = (value: string | readonly string[] | undefined): number => (Array.isArray(value) ? value.length : 1);

/** A header's value in `reading`: its lines joined as Envoy joins them (request.header), or one of them; undefined when absent. */
export function headerIn(request: NormalizedRequest, name: string, reading: RouteReading): string | undefined {
  // Envoy's header map holds the Host as `:authority` and reads `host` as it, whichever way the
  // request reached Portcullis (a gRPC check has no host line; forward-auth's is the proxy's own).
  if (name === "host") return request.authority;
  if (reading.header === "joined") return request.header(name);
  return lineAt(request.headerLines(name), lineIndexIn(reading.header, name));
}
