/**
 * The paths an upstream that matches its routes in any ASCII letter case runs a request's path as
 * (DESIGN §0): Express's router (its `case sensitive routing` is off by default) and ASP.NET Core's
 * endpoint routing take `/ADMIN/x` for their `/admin` route, where Envoy's route match, which
 * Envoy Gateway leaves case-sensitive, takes `/ADMIN/x` by an open `PathPrefix /` rule, and an
 * authorization rule's operation path (Envoy's rbac path matcher, case-sensitive too) on
 * `/admin` does not take it; and the paths such routers run a path as without a suffix (a format
 * extension, a trailing slash), which Envoy's match does not drop. The values such a path is read
 * as (case-path-values.ts) are the routes' and authorization rules' path values, and the paths a
 * rule's CEL expression over the path writes: `request.path == '/admin'` does not hold for
 * `/ADMIN` nor for `/admin.json`, which such upstreams run as `/admin`.
 */
import {
  asciiLowerCase,
  type CasePaths,
  type CasePattern,
  type CaseValues,
  patternsFor,
  UPPER,
  valuesBeginning,
} from "./case-path-values.ts";
import type { PathMatch } from "../snapshot/types.ts";

/** The most paths caseReadings adds to a request's: each is a reading of the request, decided in full. */
export const MAX_CASE_READINGS = 16;

/** What withCaseReadings answers past MAX_CASE_READINGS paths (no request has no path). */
export const TOO_MANY_PATHS: readonly string[] = Object.freeze([]);

/** Why a request with more than MAX_CASE_READINGS such paths is refused. */
export const TOO_MANY_CASE_READINGS = `the path reads as more than ${MAX_CASE_READINGS} route paths in another letter case`;

/** What withCaseReadings answers when a route's pattern matches a path only in a letter case it cannot spell. */
export const UNSPELT_PATHS: readonly string[] = Object.freeze([]);

/** Why such a request is refused (the client is not told which route). */
export const UNSPELT_CASE_READING = "the path's letter case is ambiguous: send it spelt as the application spells it";

/**
 * A spelling of `path` in other ASCII letter cases that `pattern` matches as Envoy does, or
 * undefined: the path in lower case, in upper case, or with the pattern's literal start spelt as
 * written and the rest as sent, in lower or in upper case, or, for a text a CEL expression compares
 * the path with (CasePattern.text), with its first or last occurrence spelt as written.
 */
function spellingFor(pattern: CasePattern, path: string, lower: string): string | undefined {
  const candidates = [lower, asciiUpperCase(path)];
  const { start } = pattern;
  if (start !== "" && lower.startsWith(pattern.lowerStart)) {
    const rest = path.slice(start.length);
    candidates.push(start + rest, start + asciiLowerCase(rest), start + asciiUpperCase(rest));
  }
  if (pattern.text !== undefined) {
    // The text a CEL expression compares the path with, spelt as written where the path holds it (first or last).
    const { text } = pattern;
    const lowerText = asciiLowerCase(text);
    for (const at of [lower.indexOf(lowerText), lower.lastIndexOf(lowerText)])
      if (at !== -1) candidates.push(path.slice(0, at) + text + path.slice(at + text.length));
  }
  return candidates.find((spelt) => pattern.regex.testExact(spelt));
}

/**
 * Whether `path` may read, to an upstream's router, as a path without the extension of its last
 * segment or without its trailing slash: that segment holds a "." after its first character, or
 * the path ends in "/" (and is not "/"). The usual request then builds no list.
 */
export function mayDropSuffix(path: string): boolean {
  if (path.length > 1 && path.endsWith("/")) return true;
  // From the end, to the last "/": lastIndexOf runs in V8's runtime, not in compiled code (about 500
  // instructions on every request, bench/instructions.ts), this loop a few per character.
  let dot = -1;
  for (let i = path.length - 1; i >= 0; i--) {
    const c = path.charCodeAt(i);
    if (c === SLASH) return dot >= i + 2;
    if (c === DOT && dot === -1) dot = i;
  }
  return dot >= 1;
}
const SLASH = 0x2f;
const DOT = 0x2e;

/**
 * `paths` (a request's path readings) and after them, once each, the paths an upstream's router
 * runs one of them as by dropping a suffix, where a route's or an authorization rule's path value
 * of `values` (casePathsFor: those that can decide the request) takes that path in any ASCII letter case (withCaseReadings then spells it as the
 * value does): Rails routes `/admin.json` as `/admin` (its `(.:format)`), Spring's suffix pattern
 * match `/admin.v2.json` too (everything from the segment's first "."), Express (non-strict
 * routing, its default) and ASP.NET Core route `/admin/` as `/admin`; the path without its
 * trailing slash, without its last segment's extension, or without both. `paths` itself where none
 * is taken so.
 */
export function withSuffixReadings(values: CaseValues, paths: readonly string[]): readonly string[] {
  let every: string[] | undefined;
  for (const path of paths) {
    if (!mayDropSuffix(path)) continue;
    const withoutSlash = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : undefined;
    const base = withoutSlash ?? path;
    const last = base.lastIndexOf("/") + 1;
    const dot = base.indexOf(".", last + 1);
    const withoutFormat = dot === -1 ? undefined : base.slice(0, dot);
    for (const read of [withoutSlash, withoutFormat]) {
      if (read === undefined || read === "" || paths.includes(read) || every?.includes(read) === true) continue;
      if (values.some((known) => takenOnlyWithout(known, read, path))) (every ??= []).push(read);
    }
  }
  return every === undefined ? paths : [...paths, ...every];
}

/**
 * Whether a value of `known` matches `read` and not `path` in any ASCII letter case (a pattern: in
 * any case RE2 folds): only then may the path without its suffix be decided on another rule.
 */
function takenOnlyWithout(known: CasePaths, read: string, path: string): boolean {
  const lowerRead = asciiLowerCase(read);
  const lowerPath = asciiLowerCase(path);
  const takes = (match: PathMatch, value: string, lower: string) =>
    match.type === "Exact" ? lower === value : lower === value || lower.startsWith(`${value}/`);
  for (const { match, lower: value } of valuesBeginning(known, lowerRead))
    if (takes(match, value, lowerRead) && !takes(match, value, lowerPath)) return true;
  return patternsFor(known, read, lowerRead).some(({ pattern }) => pattern.anyCase.testExact(read) && !pattern.anyCase.testExact(path));
}

const asciiUpperCase = (text: string): string => text.replace(/[a-z]+/g, (lower) => lower.toUpperCase());

/**
 * `paths` (a request's path readings, pathReadings) and after them, once each, every path an
 * upstream matching routes in any ASCII letter case runs one of them as: where an Exact value
 * of `values` (casePathsFor: a route's or an authorization rule's that can decide the request) equals the path, or a PathPrefix value
 * begins it, in ASCII letter case only, the path with that part spelt as the value spells it
 * (`/ADMIN/x` also reads as `/admin/x` where a route has `PathPrefix /admin`); where a
 * RegularExpression value matches the path only in another
 * letter case, the path spelt so that it matches (spellingFor: `/INTERNAL/keys` also reads as
 * `/internal/keys` where a route has `/internal/[a-z]+`). `paths` itself where none differs;
 * TOO_MANY_PATHS (empty) past MAX_CASE_READINGS such paths; UNSPELT_PATHS (empty) when a pattern
 * matches a path in no spelling spellingFor finds.
 */
export function withCaseReadings(values: CaseValues, paths: readonly string[]): readonly string[] {
  let every: string[] | undefined;
  for (const path of paths) {
    const lower = asciiLowerCase(path);
    for (const known of values) {
      if (!known.upper && !UPPER.test(path)) continue;
      for (const { match, lower: value } of valuesBeginning(known, lower)) {
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
      for (const { pattern } of patternsFor(known, path, lower)) {
        if (!pattern.anyCase.testExact(path) || pattern.regex.testExact(path)) continue;
        const read = spellingFor(pattern, path, lower);
        if (read === undefined) return UNSPELT_PATHS;
        if (paths.includes(read) || every?.includes(read) === true) continue;
        (every ??= []).push(read);
        if (every.length > MAX_CASE_READINGS) return TOO_MANY_PATHS;
      }
    }
  }
  return every === undefined ? paths : [...paths, ...every];
}
