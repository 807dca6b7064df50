/**
 * The readings of a request the authorization rules are decided on besides Envoy's (DESIGN §0: allow
 * only if every reading allows): which route readings (snapshot/route-index.ts) change what the rules
 * read, which choices of one line of each header the rules read make readings, and a header's value
 * in one reading. Kept apart from check.ts, which decides the rules, because CEL's variables
 * (cel-context.ts) read headers the same way.
 */
import type { NormalizedRequest } from "../../authz/request.ts";
import { readWhole } from "../../authz/header-values.ts";
import { ENVOY_QUERY, OTHER_QUERY_READINGS, queryParamsIn, type QueryReading } from "../../snapshot/query-readings.ts";
import { MAX_HEADER_LINES, type RouteReading } from "../../snapshot/route-index.ts";
import { lineAt, lineIndexIn, readingsBesidesEnvoys } from "../../snapshot/route-readings.ts";
import type { CompiledAuthorization } from "./compile.ts";

/**
 * The route readings besides Envoy's that could change what the rules read: a query reading when a
 * `principal.cel` reads `request.query` and that reading's parameters differ from every reading's
 * before it (Envoy's first: `?role=%61dmin` is `%61dmin` there and `admin` decoded), or it reads
 * names in any letter case and an expression may look a name with an upper-case letter up
 * (`request.query.userId` finds `userid` there alone); each of
 * `lineReadings` (lineReadingsOf), with each such query reading.
 */
export function otherReadings(
  config: CompiledAuthorization,
  request: NormalizedRequest,
  lineReadings: readonly RouteReading[],
): readonly RouteReading[] {
  const rawQuery = config.rules.some((r) => r.principal?.cel !== undefined) ? request.rawQuery : undefined;
  if (rawQuery === undefined) return lineReadings;
  const namesInUpperCase = config.rules.some((r) => r.principal?.cel?.queryNamesInUpperCase === true);
  const others: QueryReading[] = [];
  // Each reading's map stays as parsed here: it is parsed again only for another query.
  const seen = [queryParamsIn(rawQuery, ENVOY_QUERY)];
  for (const reading of OTHER_QUERY_READINGS) {
    const params = queryParamsIn(rawQuery, reading);
    if (!(reading.foldedNames && namesInUpperCase) && seen.some((s) => sameParams(s, params))) continue;
    seen.push(params);
    others.push(reading);
  }
  return [
    ...readingsBesidesEnvoys(1).filter((r) => others.includes(r.query)),
    ...lineReadings.flatMap((line) => [
      line,
      ...others.map((query) => ({ query, header: line.header, name: `${line.name}, ${query.name}` })),
    ]),
  ];
}

function sameParams(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  // One map for two readings (PHP's where no name changes): nothing to compare.
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [name, value] of a) if (b.get(name) !== value) return false;
  return true;
}

const NO_READINGS: readonly RouteReading[] = Object.freeze([]);

/** The one line reading where no header a CEL expression names has several lines: header matches read each line (principal-match.ts headerMismatch). */
const ANY_LINE: readonly RouteReading[] = Object.freeze([
  { query: ENVOY_QUERY, header: new Map<string, number>(), name: "any line (or list element) of each header" },
]);

/**
 * The line readings of `request` for the rules (Envoy's query reading; otherReadings adds the
 * others): none when no header they read has several lines (or list elements, linesUpstreamMayRead);
 * else a reading for each choice of one line of each header a CEL expression names
 * (CompiledAuthorization.headersNamedByCel), where a header match takes any line of its header
 * (principal-match.ts headerMismatch) and an expression reading headers by unknown keys every choice of every
 * header (rule-facts.ts Facts.celMatches). undefined when a header the rules read has more than MAX_HEADER_LINES lines,
 * or the headers CEL names have more choices than that: the request is refused (431) rather than
 * decided on each. Loops over the request's own values: nothing is allocated for the usual request.
 */
export function lineReadingsOf(config: CompiledAuthorization, request: NormalizedRequest): readonly RouteReading[] | undefined {
  const read = config.headersRead;
  let severalLines = false;
  // An index loop: this runs on every check of a policy with rules, and an iterator would be allocated for each.
  for (let i = 0; i < read.length; i++) {
    const lines = linesIn(request, read[i]!);
    if (lines > MAX_HEADER_LINES) return undefined;
    if (lines > 1) severalLines = true;
  }
  if (!severalLines && config.celReadsAnyHeader) severalLines = someHeaderHasLines(request);
  if (!severalLines) return NO_READINGS;
  if (config.headersNamedByCel.length === 0) return ANY_LINE;
  const choices = lineChoices(request, config.headersNamedByCel);
  if (choices === undefined) return undefined;
  if (choices.length === 1) return ANY_LINE;
  const repeated = choices[0]!.size;
  return choices.map((header, index) => ({
    query: ENVOY_QUERY,
    header,
    name:
      repeated === 1
        ? `${ordinalLine(index, choices.length)} (or list element) of a header`
        : `lines ${[...header.values()].map((i) => i + 1).join(", ")} (or list elements) of ${repeated} headers`,
  }));
}

/** "the first line", "line 2", "the last line": line `index` of `count`. */
const ordinalLine = (index: number, count: number): string =>
  index === 0 ? "the first line" : index === count - 1 ? "the last line" : `line ${index + 1}`;

/** Whether a header read by its lines (not readWhole) has several lines or list elements. */
function someHeaderHasLines(request: NormalizedRequest): boolean {
  for (const name in request.source.headers) if (!readWhole(name) && linesIn(request, name) > 1) return true;
  return false;
}

/**
 * Each choice of one line (or list element) of every header of the request read by its lines, as a
 * header reading (name → line index; a header with one line is not in it): what an expression that
 * reads headers by unknown keys is decided on. undefined when there are more than MAX_HEADER_LINES.
 */
export function everyLineChoice(request: NormalizedRequest): readonly ReadonlyMap<string, number>[] | undefined {
  return lineChoices(
    request,
    Object.keys(request.source.headers).filter((name) => !readWhole(name)),
  );
}

/**
 * Each choice of one line of each of `names` that has several (their line counts multiplied), as a
 * map of the chosen line indexes, the last header's line changing first; one empty map when none
 * has several; undefined when there are more than MAX_HEADER_LINES choices.
 */
function lineChoices(request: NormalizedRequest, names: readonly string[]): ReadonlyMap<string, number>[] | undefined {
  let choices: Map<string, number>[] = [new Map()];
  for (const name of names) {
    const lines = linesIn(request, name);
    if (lines < 2) continue;
    if (choices.length * lines > MAX_HEADER_LINES) return undefined;
    choices = choices.flatMap((choice) => Array.from({ length: lines }, (_, line) => new Map(choice).set(name, line)));
  }
  return choices;
}

/** How many lines (pieces, linesUpstreamMayRead) header `name` has, at least 1: no list of them, nor their text. */
function linesIn(request: NormalizedRequest, name: string): number {
  const headers = request.source.headers;
  const value = Object.hasOwn(headers, name) ? headers[name] : undefined;
  return Array.isArray(value) ? value.length : 1;
}

/**
 * A header's value in `reading`: its lines joined as Envoy joins them (request.header) in Envoy's
 * reading, and in a line reading for a header it does not choose a line of; else the line chosen.
 * undefined when absent.
 */
export function headerIn(request: NormalizedRequest, name: string, reading: RouteReading): string | undefined {
  // Envoy's header map holds the Host as `:authority` and reads `host` as it, whichever way the
  // request reached Portcullis (a gRPC check has no host line; forward-auth's is the proxy's own).
  if (name === "host") return request.authority;
  const header = reading.header;
  if (header === "joined" || (typeof header !== "number" && !header.has(name))) return request.header(name);
  return lineAt(request.headerLines(name), lineIndexIn(header, name));
}
