/**
 * The readings of a request besides Envoy's (RouteReading): the query read as upstreams read it, and
 * each line (or list element) of a repeated header, alone or one line per header. Apart from
 * route-index.ts, which looks routes up on a reading, as the list of readings a request has; the
 * authorization rules are decided on the same readings (features/authorization/line-readings.ts).
 */
import { withoutOws } from "../lib/field-values.ts";
import { ENVOY_QUERY, OTHER_QUERY_READINGS } from "./query-readings.ts";
import type { RouteReading, RouteRequest } from "./route-index.ts";

/** The index of the line of header `name` that a line reading (not "joined") reads. */
export const lineIndexIn = (reading: number | ReadonlyMap<string, number>, name: string): number =>
  typeof reading === "number" ? reading : (reading.get(name) ?? 0);

/**
 * Line `index` of a header as a reading reads it: the last where the header has fewer lines (each
 * header is read at once: index 0 reads every header's first line, the greatest index every one's
 * last), without the spaces and tabs around it, as a codec trims a line and a recipient a list's
 * element (`user, admin` is `user` and `admin`); undefined when the header is absent.
 */
export function lineAt(lines: readonly string[], index: number): string | undefined {
  return lines.length === 0 ? undefined : withoutOws(lines[Math.min(index, lines.length - 1)]!);
}

/** The query's other readings, each header read as Envoy joins it. */
const OTHER_QUERY_JOINED: readonly RouteReading[] = OTHER_QUERY_READINGS.map((query) => ({ query, header: "joined", name: query.name }));

/** readingsBesidesEnvoys by the most lines of a header, built once for each count. */
const otherReadingsByLines: (readonly RouteReading[])[] = [];

/**
 * Every reading besides Envoy's of a request whose headers have at most `lines` lines each (1: none
 * is repeated or holds ","), in order: the query's other readings with the header joined, then each
 * line index with each query reading (an upstream may read both its own way). Authorization rules
 * are decided on the same readings (features/authorization/check.ts).
 */
export function readingsBesidesEnvoys(lines: number): readonly RouteReading[] {
  if (lines <= 1) return OTHER_QUERY_JOINED;
  return (otherReadingsByLines[lines] ??= [
    ...OTHER_QUERY_JOINED,
    ...Array.from({ length: lines }, (_, index) => {
      const line = index === 0 ? "the first line" : index === lines - 1 ? "the last line" : `line ${index + 1}`;
      const name = `${line} (or list element) of a header`;
      return [ENVOY_QUERY, ...OTHER_QUERY_READINGS].map((query) => ({
        query,
        header: index,
        name: query === ENVOY_QUERY ? name : `${name}, ${query.name}`,
      }));
    }).flat(),
  ]);
}

/**
 * readingsBesidesEnvoys(`lines`), and where two or more of the named headers have several lines,
 * a reading for each choice of one line per header (their product, which check() bounds by
 * MAX_HEADER_LINES): a route matching two headers is picked by an upstream that takes the first
 * line of one and the last of the other, which no same-index reading reads.
 */
export function lineReadingsOf(request: RouteRequest, names: readonly string[], lines: number): readonly RouteReading[] {
  const repeated: string[] = [];
  const counts: number[] = [];
  for (let i = 0; i < names.length; i++) {
    const count = request.headerLines(names[i]!).length;
    if (count < 2) continue;
    repeated.push(names[i]!);
    counts.push(count);
  }
  if (repeated.length < 2) return readingsBesidesEnvoys(lines);
  const readings: RouteReading[] = [...readingsBesidesEnvoys(1)];
  const choice = counts.map(() => 0);
  for (;;) {
    const header = new Map(repeated.map((name, i) => [name, choice[i]!]));
    const name = `lines ${choice.map((c) => c + 1).join(", ")} (or list elements) of ${repeated.length} headers`;
    for (const query of [ENVOY_QUERY, ...OTHER_QUERY_READINGS])
      readings.push({ query, header, name: query === ENVOY_QUERY ? name : `${name}, ${query.name}` });
    // The next choice, the last header's line first (an odometer); done once every header's wraps.
    let h = choice.length - 1;
    while (h >= 0 && ++choice[h]! === counts[h]!) choice[h--] = 0;
    if (h < 0) return readings;
  }
}

/** The most lines one of the named headers has, at least 1 (a loop: a closure here would allocate its context on every request). */
export function mostLinesOf(request: RouteRequest, names: readonly string[]): number {
  let most = 1;
  for (let i = 0; i < names.length; i++) most = Math.max(most, request.headerLines(names[i]!).length);
  return most;
}
