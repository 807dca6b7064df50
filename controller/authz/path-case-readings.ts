/**
 * The paths an upstream that matches its routes in any ASCII letter case runs a request's path as
 * (DESIGN §0): Express's router (its `case sensitive routing` is off by default) and ASP.NET Core's
 * endpoint routing take `/ADMIN/x` for their `/admin` route, where Envoy's route match, which
 * Envoy Gateway leaves case-sensitive, takes `/ADMIN/x` by an open `PathPrefix /` rule.
 */
import type { PathMatch, RouteIndex } from "../snapshot/types.ts";

/** The most paths caseReadings adds to a request's: each is a reading of the request, decided in full. */
export const MAX_CASE_READINGS = 16;

/** What withCaseReadings answers past MAX_CASE_READINGS paths (no request has no path). */
export const TOO_MANY_PATHS: readonly string[] = Object.freeze([]);

/**
 * Whether `path` (a plain path: its own only reading) may read as another route path in another
 * letter case: it has an ASCII upper-case letter, or a route path of `index` has one. The usual
 * request then builds no list.
 */
export const mayReadInOtherCase = (index: RouteIndex, path: string): boolean => casePathsOf(index).upper || UPPER.test(path);

/** Why a request with more than MAX_CASE_READINGS such paths is refused. */
export const TOO_MANY_CASE_READINGS = `the path reads as more than ${MAX_CASE_READINGS} route paths in another letter case`;

/** The Exact and PathPrefix values of an index's routes, each with its ASCII lower-case form. */
interface CasePaths {
  readonly values: readonly { readonly match: PathMatch; readonly lower: string }[];
  /** Whether a value has an ASCII upper-case letter (a request path in lower case may then read as it). */
  readonly upper: boolean;
}

const pathsByIndex = new WeakMap<RouteIndex, CasePaths>();

function casePathsOf(index: RouteIndex): CasePaths {
  let found = pathsByIndex.get(index);
  if (found === undefined) {
    const matches = new Map<string, PathMatch>();
    for (const tables of Object.values(index.byGateway))
      for (const { vhosts } of tables)
        for (const entries of [...Object.values(vhosts.exact), ...Object.values(vhosts.wildcard), vhosts.any])
          for (const { match } of entries)
            if (match.path.type !== "RegularExpression") matches.set(`${match.path.type} ${match.path.value}`, match.path);
    const values = [...matches.values()].map((match) => ({ match, lower: asciiLowerCase(match.value) }));
    found = { values, upper: values.some((v) => v.lower !== v.match.value) };
    pathsByIndex.set(index, found);
  }
  return found;
}

const asciiLowerCase = (text: string): string => text.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
const UPPER = /[A-Z]/;

/**
 * `paths` (a request's path readings, pathReadings) and after them, once each, every path an
 * upstream matching routes in any ASCII letter case runs one of them as: where a route's Exact
 * value equals the path, or its PathPrefix value begins it, in ASCII letter case only, the path
 * with that part spelt as the route spells it (`/ADMIN/x` also reads as `/admin/x` where a route
 * has `PathPrefix /admin`). `paths` itself where none differs; TOO_MANY_PATHS (empty) past
 * MAX_CASE_READINGS such paths. RegularExpression values are not read so (an upstream's own
 * patterns differ).
 */
export function withCaseReadings(index: RouteIndex, paths: readonly string[]): readonly string[] {
  const known = casePathsOf(index);
  let every: string[] | undefined;
  for (const path of paths) {
    if (!known.upper && !UPPER.test(path)) continue;
    const lower = asciiLowerCase(path);
    for (const { match, lower: value } of known.values) {
      const read =
        match.type === "Exact"
          ? lower === value && path !== match.value
            ? match.value
            : undefined
          : value !== "" && lower.startsWith(value) && !path.startsWith(match.value)
            ? match.value + path.slice(match.value.length)
            : undefined;
      if (read === undefined || paths.includes(read) || every?.includes(read) === true) continue;
      (every ??= []).push(read);
      if (every.length > MAX_CASE_READINGS) return TOO_MANY_PATHS;
    }
  }
  return every === undefined ? paths : [...paths, ...every];
}
