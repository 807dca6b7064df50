/**
 * The paths an upstream that matches its routes in any ASCII letter case runs a request's path as
 * (DESIGN §0): Express's router (its `case sensitive routing` is off by default) and ASP.NET Core's
 * endpoint routing take `/ADMIN/x` for their `/admin` route, where Envoy's route match, which
 * Envoy Gateway leaves case-sensitive, takes `/ADMIN/x` by an open `PathPrefix /` rule, and an
 * authorization rule's operation path (Envoy's rbac path matcher, case-sensitive too) on
 * `/admin` does not take it; and the paths such routers run a path as without a suffix (a format
 * extension, a trailing slash), which Envoy's match does not drop. The values such a path is read
 * as are the routes' and authorization rules' path values, and the paths a rule's CEL expression
 * over the path writes (CompiledCel.pathValues): `request.path == '/admin'` does not hold for
 * `/ADMIN` nor for `/admin.json`, which such upstreams run as `/admin`.
 */
import { RE2JS } from "re2js";
import { authorization } from "../features/authorization/index.ts";
import { compiledOf } from "../features/feature.ts";
import type { Re2 } from "../lib/regex.ts";
import { entryListsOf } from "../snapshot/route-index.ts";
import type { PathMatch, Snapshot } from "../snapshot/types.ts";

/** The most paths caseReadings adds to a request's: each is a reading of the request, decided in full. */
export const MAX_CASE_READINGS = 16;

/** What withCaseReadings answers past MAX_CASE_READINGS paths (no request has no path). */
export const TOO_MANY_PATHS: readonly string[] = Object.freeze([]);

/**
 * Whether `path` (a plain path: its own only reading) may read as another route path in another
 * letter case: it has an ASCII upper-case letter, or a path of `snapshot` (casePathsOf) has one.
 * The usual request then builds no list.
 */
export const mayReadInOtherCase = (snapshot: Snapshot, path: string): boolean => casePathsOf(snapshot).upper || UPPER.test(path);

/** Why a request with more than MAX_CASE_READINGS such paths is refused. */
export const TOO_MANY_CASE_READINGS = `the path reads as more than ${MAX_CASE_READINGS} route paths in another letter case`;

/** What withCaseReadings answers when a route's pattern matches a path only in a letter case it cannot spell. */
export const UNSPELT_PATHS: readonly string[] = Object.freeze([]);

/** Why such a request is refused (the client is not told which route). */
export const UNSPELT_CASE_READING = "the path's letter case is ambiguous: send it spelt as the application spells it";

/** A RegularExpression path value, compiled as Envoy matches it and in any letter case. */
interface CasePattern {
  readonly value: string;
  readonly regex: Re2;
  readonly anyCase: Re2;
  /** The literal text every match starts with (RE2's prefix; "" when none), and its ASCII lower case. */
  readonly start: string;
  readonly lowerStart: string;
}

/** An Exact or PathPrefix value with its ASCII lower-case form and its place in the snapshot's order. */
interface CaseValue {
  readonly match: PathMatch;
  readonly lower: string;
  readonly order: number;
}

/**
 * The Exact and PathPrefix values of a snapshot's route matches, authorization rules' operation
 * paths and rules' CEL expressions over the path (addCelPath), by their ASCII lower-case form, and
 * the RegularExpression values of the first two.
 */
interface CasePaths {
  readonly byLower: ReadonlyMap<string, readonly CaseValue[]>;
  /** The lengths of the lower-case forms, ascending, each once: the only lengths a value that begins a path can have. */
  readonly lengths: readonly number[];
  readonly patterns: readonly CasePattern[];
  /**
   * Whether a value or pattern has an ASCII upper-case letter (a request path in lower case may
   * then read as it); a pattern's escapes (`\S`, `\pL`) count, which only costs the shortcut.
   */
  readonly upper: boolean;
}

const pathsBySnapshot = new WeakMap<Snapshot, CasePaths>();

/**
 * Builds the path values the case and suffix readings look up in (casePathsOf) for `snapshot`
 * before it answers checks: built lazily, the first check after a publish paid for it (10,000
 * routes: about 30 ms; 10,000 RegularExpression paths, each compiled again without case: about 1 s).
 */
export function prepareCaseReadings(snapshot: Snapshot): void {
  casePathsOf(snapshot);
}

function casePathsOf(snapshot: Snapshot): CasePaths {
  let found = pathsBySnapshot.get(snapshot);
  if (found === undefined) {
    const matches = new Map<string, PathMatch>();
    const patterns = new Map<string, CasePattern>();
    const add = (path: PathMatch) => {
      if (path.type !== "RegularExpression") matches.set(`${path.type} ${path.value}`, path);
      else if (!patterns.has(path.value)) patterns.set(path.value, casePattern(path.value, path.regex));
    };
    for (const entries of entryListsOf(snapshot.routes)) for (const { match } of entries) add(match.path);
    for (const policy of Object.values(snapshot.policies))
      for (const rule of compiledOf(policy.features, authorization)?.rules ?? []) {
        if (rule.path !== undefined) add(rule.path);
        for (const cel of [rule.cel, rule.principal?.cel]) for (const value of cel?.pathValues ?? []) addCelPath(value, add);
      }
    const values = [...matches.values()].map((match, order): CaseValue => ({ match, lower: asciiLowerCase(match.value), order }));
    const byLower = new Map<string, CaseValue[]>();
    for (const v of values) byLower.set(v.lower, [...(byLower.get(v.lower) ?? []), v]);
    found = {
      byLower,
      lengths: [...new Set(values.map((v) => v.lower.length))].sort((a, b) => a - b),
      patterns: [...patterns.values()],
      upper: values.some((v) => v.lower !== v.match.value) || [...patterns.keys()].some((value) => UPPER.test(value)),
    };
    pathsBySnapshot.set(snapshot, found);
  }
  return found;
}

/**
 * A path a rule's CEL expression may compare the request's path with (CompiledCel.pathValues), as
 * both path values it may stand for: an Exact one (`request.path == '/admin'`: `/admin/` and
 * `/admin.json` read as it) and a PathPrefix one (`startsWith('/admin/')`: `/ADMIN/x` reads as
 * `/admin/x`; a PathPrefix value holds no trailing slash).
 */
function addCelPath(value: string, add: (path: PathMatch) => void): void {
  add({ type: "Exact", value });
  const prefix = value.replace(/\/+$/, "");
  if (prefix !== "") add({ type: "PathPrefix", value: prefix });
}

/**
 * `value` compiled once more with RE2's case-insensitive flag. RE2 folds by Unicode simple case
 * folding, a little wider than ASCII (`K` U+212A is `k`, `ſ` U+017F is `s`): such a path then
 * matches in no spelling withCaseReadings tries and is refused, never decided on another rule.
 */
function casePattern(value: string, regex: Re2): CasePattern {
  const start: string = regex.re2().prefix ?? "";
  return { value, regex, anyCase: RE2JS.compile(value, RE2JS.CASE_INSENSITIVE), start, lowerStart: asciiLowerCase(start) };
}

/**
 * A spelling of `path` in other ASCII letter cases that `pattern` matches as Envoy does, or
 * undefined: the path in lower case, in upper case, or with the pattern's literal start spelt as
 * written and the rest as sent, in lower or in upper case.
 */
function spellingFor(pattern: CasePattern, path: string, lower: string): string | undefined {
  const candidates = [lower, asciiUpperCase(path)];
  const { start } = pattern;
  if (start !== "" && lower.startsWith(pattern.lowerStart)) {
    const rest = path.slice(start.length);
    candidates.push(start + rest, start + asciiLowerCase(rest), start + asciiUpperCase(rest));
  }
  return candidates.find((spelt) => pattern.regex.testExact(spelt));
}

/**
 * Whether `path` may read, to an upstream's router, as a path without the extension of its last
 * segment or without its trailing slash: that segment holds a "." after its first character, or
 * the path ends in "/" (and is not "/"). The usual request then builds no list.
 */
export function mayDropSuffix(path: string): boolean {
  return (path.length > 1 && path.endsWith("/")) || path.indexOf(".", path.lastIndexOf("/") + 2) !== -1;
}

/**
 * `paths` (a request's path readings) and after them, once each, the paths an upstream's router
 * runs one of them as by dropping a suffix, where a route's or an authorization rule's path value
 * (casePathsOf) takes that path in any ASCII letter case (withCaseReadings then spells it as the
 * value does): Rails routes `/admin.json` as `/admin` (its `(.:format)`), Spring's suffix pattern
 * match `/admin.v2.json` too (everything from the segment's first "."), Express (non-strict
 * routing, its default) and ASP.NET Core route `/admin/` as `/admin`; the path without its
 * trailing slash, without its last segment's extension, or without both. `paths` itself where none
 * is taken so.
 */
export function withSuffixReadings(snapshot: Snapshot, paths: readonly string[]): readonly string[] {
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
      if (takenOnlyWithout(casePathsOf(snapshot), read, path)) (every ??= []).push(read);
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
  return known.patterns.some((pattern) => pattern.anyCase.testExact(read) && !pattern.anyCase.testExact(path));
}

/**
 * The values whose lower-case form begins `lower` (is it, or a prefix of it), in the snapshot's
 * order: one lookup per length a value has, where a scan of every value cost a path with a suffix
 * or an upper-case letter 80-280 µs at 10,000 routes of distinct paths (6 µs otherwise).
 */
function valuesBeginning(known: CasePaths, lower: string): CaseValue[] {
  const found: CaseValue[] = [];
  for (const length of known.lengths) {
    if (length > lower.length) break;
    const values = known.byLower.get(length === lower.length ? lower : lower.slice(0, length));
    if (values !== undefined) found.push(...values);
  }
  return found.length > 1 ? found.sort((a, b) => a.order - b.order) : found;
}

const asciiLowerCase = (text: string): string => text.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
const asciiUpperCase = (text: string): string => text.replace(/[a-z]+/g, (lower) => lower.toUpperCase());
const UPPER = /[A-Z]/;

/**
 * `paths` (a request's path readings, pathReadings) and after them, once each, every path an
 * upstream matching routes in any ASCII letter case runs one of them as: where an Exact value
 * (casePathsOf: a route's or an authorization rule's) equals the path, or a PathPrefix value
 * begins it, in ASCII letter case only, the path with that part spelt as the value spells it
 * (`/ADMIN/x` also reads as `/admin/x` where a route has `PathPrefix /admin`); where a
 * RegularExpression value matches the path only in another
 * letter case, the path spelt so that it matches (spellingFor: `/INTERNAL/keys` also reads as
 * `/internal/keys` where a route has `/internal/[a-z]+`). `paths` itself where none differs;
 * TOO_MANY_PATHS (empty) past MAX_CASE_READINGS such paths; UNSPELT_PATHS (empty) when a pattern
 * matches a path in no spelling spellingFor finds.
 */
export function withCaseReadings(snapshot: Snapshot, paths: readonly string[]): readonly string[] {
  const known = casePathsOf(snapshot);
  let every: string[] | undefined;
  for (const path of paths) {
    if (!known.upper && !UPPER.test(path)) continue;
    const lower = asciiLowerCase(path);
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
    for (const pattern of known.patterns) {
      if (!pattern.anyCase.testExact(path) || pattern.regex.testExact(path)) continue;
      const read = spellingFor(pattern, path, lower);
      if (read === undefined) return UNSPELT_PATHS;
      if (paths.includes(read) || every?.includes(read) === true) continue;
      (every ??= []).push(read);
      if (every.length > MAX_CASE_READINGS) return TOO_MANY_PATHS;
    }
  }
  return every === undefined ? paths : [...paths, ...every];
}
