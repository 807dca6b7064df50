/**
 * The path values a request's path is read as in another ASCII letter case or without a suffix
 * (path-case-readings.ts): the Exact, PathPrefix and RegularExpression values of the routes of the
 * virtual hosts a request may select, and of the authorization rules (operation paths, and the
 * paths and patterns a rule's CEL expression over the path writes: CompiledCel.pathValues and
 * pathPatterns) of the policies
 * governing those routes, built per virtual host before a snapshot answers checks, and looked up by
 * the lengths their lower-case forms and literal starts have.
 */
import { RE2JS } from "re2js";
import { authorization } from "../features/authorization/index.ts";
import { compiledOf } from "../features/feature.ts";
import { listsBeginning, type PrefixTable, prefixTableOf } from "../lib/prefix-table.ts";
import { fullMatchStart, type Re2 } from "../lib/regex.ts";
import { entryListsOf, type HostReadings, hostAt, hostCount, portCovers, type RouteScope, tablesInScope } from "../snapshot/route-index.ts";
import type { CompiledPolicy, PathMatch, RouteEntry, Snapshot, VirtualHosts } from "../snapshot/types.ts";
import type { CelTextPath } from "../features/authorization/cel-paths.ts";
import { selectVirtualHost } from "../snapshot/virtual-hosts.ts";

/**
 * Whether `path` (a plain path: its own only reading) of a request to `request`'s Host in `scope`
 * may read as another route path in another letter case: it has an ASCII upper-case letter, or a
 * value that can decide it (casePathsFor) has one. The usual request then builds no list, and
 * looks up no virtual host unless a value of the snapshot has an upper-case letter. Index loops:
 * no closure nor list on every request.
 */
export function mayReadInOtherCase(snapshot: Snapshot, request: HostReadings, scope: RouteScope, path: string): boolean {
  if (UPPER.test(path)) return true;
  const known = snapshotPathsOf(snapshot);
  if (!known.upper) return false;
  const tables = tablesInScope(snapshot.routes, scope);
  if (tables === undefined) return false;
  for (let t = 0; t < tables.length; t++) {
    if (!portCovers(tables[t]!, scope.port)) continue;
    for (let h = 0; h < hostCount(request); h++) if (hostPathsOf(known, tables[t]!.vhosts, hostAt(request, h))?.upper === true) return true;
  }
  return false;
}

/** A RegularExpression path value, compiled as Envoy matches it and in any letter case. */
export interface CasePattern {
  readonly value: string;
  readonly regex: Re2;
  readonly anyCase: Re2;
  /** The literal text every match starts with (RE2's prefix; "" when none), and its ASCII lower case. */
  readonly start: string;
  readonly lowerStart: string;
  /** The text a CEL expression compares the path with, as written, where the pattern stands for one (CelTextPath.text). */
  readonly text: string | undefined;
}

/** An Exact or PathPrefix value with its ASCII lower-case form and its place in its CasePaths' order. */
export interface CaseValue {
  readonly match: PathMatch;
  readonly lower: string;
  readonly order: number;
}

/** A RegularExpression value in its CasePaths' order. */
export interface OrderedPattern {
  readonly pattern: CasePattern;
  readonly order: number;
}

/**
 * The Exact and PathPrefix values of one virtual host's route matches, or of one policy's
 * authorization rules' operation paths and CEL expressions over the path (celPathValues), by their
 * ASCII lower-case form, and their RegularExpression values, by the ASCII lower case of their
 * literal start.
 */
export interface CasePaths {
  /** The Exact and PathPrefix values by their lower-case form. */
  readonly values: PrefixTable<CaseValue>;
  /** Every pattern, in order: what a path that is not all ASCII is tried on (patternsFor). */
  readonly patterns: readonly OrderedPattern[];
  /** The patterns with a literal start all in ASCII, by its lower case (CasePattern.lowerStart). */
  readonly started: PrefixTable<OrderedPattern>;
  /** The patterns without a literal start, or with one that is not all ASCII: tried on every path. */
  readonly unstarted: readonly OrderedPattern[];
  /**
   * Whether a value or pattern has an ASCII upper-case letter (a request path in lower case may
   * then read as it); a pattern's escapes (`\S`, `\pL`) count, which only costs the shortcut.
   */
  readonly upper: boolean;
}

/**
 * The path values a request's readings are looked up in (casePathsFor): those of the virtual hosts
 * it may select and of the policies governing their entries, each CasePaths once.
 */
export type CaseValues = readonly CasePaths[];

/** The path values of one virtual host's entries (an entry list of the route index). */
interface HostPaths {
  /** Its entries' own match paths first, then each policy's among them that has an operation path, once each. */
  readonly paths: CaseValues;
  /** Whether one of `paths` has an ASCII upper-case letter (CasePaths.upper). */
  readonly upper: boolean;
}

/** A snapshot's path values: per virtual host, and whether any has an upper-case letter. */
interface SnapshotPaths {
  /** The values of the virtual host whose entries are `entries` (a list of the snapshot's route index), built once. */
  hostPaths(entries: readonly RouteEntry[]): HostPaths;
  readonly upper: boolean;
}

const pathsBySnapshot = new WeakMap<Snapshot, SnapshotPaths>();

/**
 * Builds the path values the case and suffix readings look up in (casePathsFor) for `snapshot`
 * before it answers checks, every virtual host's: built lazily, the first check after a publish
 * paid for it (bench/path-readings.ts, BENCHMARKS.md: 10,000 PathPrefix routes on 10,000 hosts
 * about 25 ms and 5 MiB; 10,000 RegularExpression paths, each compiled again without case, about
 * 0.4-0.6 s).
 */
export function prepareCaseReadings(snapshot: Snapshot): void {
  snapshotPathsOf(snapshot);
}

/**
 * The values of every virtual host of `snapshot`, each keyed by its entry list: a request is
 * decided on the entries of the virtual hosts it selects and on their policies, whatever path it
 * is read as (its Host, Gateway and port stay), so the values of another host, or of a policy that
 * governs none of these entries, cannot decide it. A policy's values are built once however many
 * virtual hosts it governs; a pattern is compiled once however many hosts and policies hold it.
 */
function snapshotPathsOf(snapshot: Snapshot): SnapshotPaths {
  let found = pathsBySnapshot.get(snapshot);
  if (found === undefined) {
    const compiled = new Map<string, CasePattern>();
    const byPolicy = new Map<CompiledPolicy, CasePaths | undefined>();
    const policyPaths = (policy: CompiledPolicy): CasePaths | undefined => {
      if (byPolicy.has(policy)) return byPolicy.get(policy);
      const rules = compiledOf(policy.features, authorization)?.rules ?? [];
      const paths = rules.flatMap((rule) => [
        ...(rule.path === undefined ? [] : [rule.path]),
        ...[rule.cel, rule.principal?.cel].flatMap((cel) => [
          ...(cel?.pathValues ?? []).flatMap(celPathValues),
          ...(cel?.pathPatterns ?? []),
        ]),
      ]);
      const built = paths.length === 0 ? undefined : casePathsOf(paths, compiled);
      byPolicy.set(policy, built);
      return built;
    };
    const byHost = new Map<readonly RouteEntry[], HostPaths>();
    const hostPaths = (entries: readonly RouteEntry[]): HostPaths => {
      let host = byHost.get(entries);
      if (host === undefined) {
        const paths = [
          casePathsOf(
            entries.map((e) => e.match.path),
            compiled,
          ),
        ];
        for (const policy of new Set(entries.flatMap((e) => (e.policy === undefined ? [] : [e.policy])))) {
          const own = policyPaths(policy);
          if (own !== undefined) paths.push(own);
        }
        byHost.set(entries, (host = { paths, upper: paths.some((p) => p.upper) }));
      }
      return host;
    };
    // Every list a virtual host selection can answer (selectVirtualHost: exact, wildcard, catch-all), each built now.
    let upper = false;
    for (const entries of entryListsOf(snapshot.routes)) upper = hostPaths(entries).upper || upper;
    found = { hostPaths, upper };
    pathsBySnapshot.set(snapshot, found);
  }
  return found;
}

/** CasePaths of `matches` (in order, each value once); a pattern already compiled (`compiled`) is not compiled again. */
function casePathsOf(matches: readonly PathMatch[], compiled: Map<string, CasePattern>): CasePaths {
  const values = new Map<string, PathMatch>();
  const patterns = new Map<string, CasePattern>();
  for (const path of matches) {
    if (path.type !== "RegularExpression") values.set(`${path.type} ${path.value}`, path);
    else if (!patterns.has(path.value)) {
      let pattern = compiled.get(path.value);
      if (pattern === undefined) compiled.set(path.value, (pattern = casePattern(path.value, path.regex, (path as CelTextPath).text)));
      patterns.set(path.value, pattern);
    }
  }
  const caseValues = [...values.values()].map((match, order): CaseValue => ({ match, lower: asciiLowerCase(match.value), order }));
  const upper = caseValues.some((v) => v.lower !== v.match.value) || [...patterns.keys()].some((value) => UPPER.test(value));
  const table = prefixTableOf(caseValues, (v) => v.lower);
  // Most virtual hosts have no pattern: they share the empty lists (at 10,000 hosts, a Map and three arrays each).
  if (patterns.size === 0) return { values: table, patterns: NONE, started: NO_PATTERNS, unstarted: NONE, upper };
  const ordered = [...patterns.values()].map((pattern, order): OrderedPattern => ({ pattern, order }));
  const started: OrderedPattern[] = [];
  const unstarted: OrderedPattern[] = [];
  for (const p of ordered) (p.pattern.start !== "" && ASCII.test(p.pattern.start) ? started : unstarted).push(p);
  return {
    values: table,
    patterns: ordered,
    started: prefixTableOf(started, (p) => p.pattern.lowerStart),
    unstarted,
    upper,
  };
}

const NONE: readonly never[] = Object.freeze([]);
const NO_PATTERNS = prefixTableOf<OrderedPattern>([], (p) => p.pattern.lowerStart);

const NO_VALUES: CaseValues = Object.freeze([]);

/**
 * The path values that can decide a request (DESIGN §0): those of the virtual host each route table
 * in `scope` selects for each reading of its Host, as findRoutes selects them (route-index.ts), and
 * of the policies governing their entries. Another path reading of the request keeps its Host,
 * Gateway and port, so it is decided on these entries alone. No values where the scope's Gateway is
 * not served (the check is refused before any path is decided). Where every value of the snapshot
 * was tried, a path with an upper-case letter or a suffix cost 14-37 ms a check at 10,000
 * RegularExpression routes over 1,000 hosts; 6-10 µs now (BENCHMARKS.md).
 */
export function casePathsFor(snapshot: Snapshot, request: HostReadings, scope: RouteScope): CaseValues {
  const known = snapshotPathsOf(snapshot);
  const tables = tablesInScope(snapshot.routes, scope);
  if (tables === undefined) return NO_VALUES;
  let lone: HostPaths | undefined;
  let every: CasePaths[] | undefined;
  for (let t = 0; t < tables.length; t++) {
    if (!portCovers(tables[t]!, scope.port)) continue;
    for (let h = 0; h < hostCount(request); h++) {
      const host = hostPathsOf(known, tables[t]!.vhosts, hostAt(request, h));
      if (host === undefined || host === lone) continue;
      if (lone === undefined) lone = host;
      else {
        every ??= [...lone.paths];
        for (const paths of host.paths) if (!every.includes(paths)) every.push(paths);
      }
    }
  }
  return every ?? lone?.paths ?? NO_VALUES;
}

/** The values of the virtual host `vhosts` selects for `host`; undefined when it selects none. */
function hostPathsOf(known: SnapshotPaths, vhosts: VirtualHosts, host: string): HostPaths | undefined {
  const entries = selectVirtualHost(vhosts, host);
  return entries === undefined ? undefined : known.hostPaths(entries);
}

/**
 * A path a rule's CEL expression may compare the request's path with (CompiledCel.pathValues), as
 * both path values it may stand for: an Exact one (`request.path == '/admin'`: `/admin/` and
 * `/admin.json` read as it) and a PathPrefix one (`startsWith('/admin/')`: `/ADMIN/x` reads as
 * `/admin/x`; a PathPrefix value holds no trailing slash).
 */
function celPathValues(value: string): PathMatch[] {
  const exact: PathMatch = { type: "Exact", value };
  const prefix = value.replace(/\/+$/, "");
  return prefix === "" ? [exact] : [exact, { type: "PathPrefix", value: prefix }];
}

/**
 * `value` compiled once more with RE2's case-insensitive flag. RE2 folds by Unicode simple case
 * folding, a little wider than ASCII (`K` U+212A is `k`, `ſ` U+017F is `s`): such a path then
 * matches in no spelling withCaseReadings tries and is refused, never decided on another rule.
 */
function casePattern(value: string, regex: Re2, text: string | undefined): CasePattern {
  const start = fullMatchStart(value, regex);
  return { value, regex, anyCase: RE2JS.compile(value, RE2JS.CASE_INSENSITIVE), start, lowerStart: asciiLowerCase(start), text };
}

/**
 * The patterns of `known` that may match `path` (`lower`: its ASCII lower case) in some letter
 * case, in order: where the path is all ASCII, those whose literal start (all ASCII) begins it in
 * ASCII letter case, one lookup per length a start has, and those without such a start; every
 * pattern otherwise. Exact: RE2's prefix is the text every match of the pattern begins with
 * (re2js searches for it before it runs the pattern), and with case folded a match begins with
 * that text in some case, which for an ASCII path and start is an ASCII letter case (RE2 also folds
 * `K` U+212A as `k` and `ſ` U+017F as `s`: a path with such a character is tried on every pattern,
 * a start with one is no start here).
 */
export function patternsFor(known: CasePaths, path: string, lower: string): readonly OrderedPattern[] {
  if (known.patterns.length === 0 || !ASCII.test(path)) return known.patterns;
  const started = listsBeginning(known.started, lower);
  return started === undefined ? known.unstarted : [...known.unstarted, ...started.flat()].sort((a, b) => a.order - b.order);
}

/**
 * The values of `known` whose lower-case form begins `lower` (is it, or a prefix of it), in their
 * order: one lookup per length a value has, where a scan of every value cost a path with a suffix
 * or an upper-case letter 80-280 µs at 10,000 routes of distinct paths (6 µs otherwise).
 */
export function valuesBeginning(known: CasePaths, lower: string): readonly CaseValue[] {
  const found = listsBeginning(known.values, lower);
  if (found === undefined) return NONE;
  return found.length === 1 ? found[0]! : found.flat().sort((a, b) => a.order - b.order);
}

export const asciiLowerCase = (text: string): string => text.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
export const UPPER = /[A-Z]/;
const ASCII = /^[\x00-\x7f]*$/;
