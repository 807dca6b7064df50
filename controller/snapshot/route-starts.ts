/**
 * The entries of a virtual host a path can be matched by, found by the literal text every path an
 * entry's path match takes begins with (its start), so a lookup tests only those (issue 17): a
 * virtual host of 10,000 RegularExpression routes cost a lookup 10,000 regular expression tests
 * (about 6.5 ms), once per path reading of the request. The start of an Exact or PathPrefix match
 * is its value; of a RegularExpression match, RE2's literal prefix (re2js `re2().prefix`, what
 * RE2 itself searches for before it runs the pattern) past a leading `^` (fullMatchStart): it stops
 * at the first instruction that is not one rune matched as itself alone, so an alternation, a
 * class, a case-folded rune (`(?i)`) or an anchor other than that `^` ends it, and a pattern that
 * starts with one has no start ("").
 * Every path a match takes begins with its start (an Exact value is the path, a PathPrefix value
 * begins it, RE2 matches only text that begins with its prefix), so an entry whose start does not
 * begin the path cannot match it, and leaving it out changes no lookup's answer: route-index.ts
 * tests the entries left, in their order, and takes the first that matches in full. At 10,000
 * patterns on one host a lookup went from about 4.9 ms to 0.4 µs (BENCHMARKS.md "Route lookup at
 * 10,000 RegularExpression routes on one host"); built in 10-17 ms, about 1 MiB held.
 */
import { listsBeginning, type PrefixTable, prefixTableOf } from "../lib/prefix-table.ts";
import { fullMatchStart } from "../lib/regex.ts";
import type { RouteEntry } from "./types.ts";

/** One virtual host's entries by their start: positions in its entry list, ascending. */
export interface RouteStarts {
  /** The positions of the entries with a start, by it. */
  readonly started: PrefixTable<number>;
  /** The positions of the entries without a start (PathPrefix "/", `^…`, `(?i)…`, `.*`): tried on every path. */
  readonly unstarted: readonly number[];
}

/**
 * Below this many entries a virtual host is tried entry by entry: an index would cost more than it
 * saves, and the usual host (10,000 hosts of a route or two) holds no index at all.
 */
export const MIN_INDEXED_ENTRIES = 8;

/** The literal text every path `entry`'s path match takes begins with; "" when none. */
export function startOf(entry: RouteEntry): string {
  const path = entry.match.path;
  return path.type === "RegularExpression" ? fullMatchStart(path.value, path.regex) : path.value;
}

/** RouteStarts of `entries` (a virtual host's, in its order). */
export function routeStartsOf(entries: readonly RouteEntry[]): RouteStarts {
  const starts = entries.map(startOf);
  const positions = starts.map((_, i) => i);
  return {
    started: prefixTableOf(
      positions.filter((i) => starts[i] !== ""),
      (i) => starts[i]!,
    ),
    unstarted: positions.filter((i) => starts[i] === ""),
  };
}

const startsByEntries = new WeakMap<readonly RouteEntry[], RouteStarts>();

/**
 * RouteStarts of a virtual host's entry list (a list of an immutable snapshot's route index), built
 * once; undefined below MIN_INDEXED_ENTRIES entries (tried one by one).
 */
export function routeStartsFor(entries: readonly RouteEntry[]): RouteStarts | undefined {
  if (entries.length < MIN_INDEXED_ENTRIES) return undefined;
  let starts = startsByEntries.get(entries);
  if (starts === undefined) startsByEntries.set(entries, (starts = routeStartsOf(entries)));
  return starts;
}

/**
 * The lists of positions (each ascending) of the entries whose start begins `path`, the unstarted
 * first: one lookup per length a start has. Their union, in ascending order, holds every entry
 * that may match `path`.
 */
export function candidateListsFor(starts: RouteStarts, path: string): readonly (readonly number[])[] {
  const found = listsBeginning(starts.started, path);
  if (found === undefined) return starts.unstarted.length === 0 ? NO_LISTS : [starts.unstarted];
  if (starts.unstarted.length > 0) found.unshift(starts.unstarted);
  return found;
}

const NO_LISTS: readonly (readonly number[])[] = Object.freeze([]);

/**
 * The first position of `lists` (candidateListsFor), in ascending order over all of them, for which
 * `holds` is true; -1 when none. Each list is ascending and no position is in two lists (an entry
 * has one start), so this is a merge that stops at the first position that holds.
 */
export function firstHolding(lists: readonly (readonly number[])[], holds: (position: number) => boolean): number {
  if (lists.length === 0) return -1;
  if (lists.length === 1) {
    const only = lists[0]!;
    for (let i = 0; i < only.length; i++) if (holds(only[i]!)) return only[i]!;
    return -1;
  }
  const at = new Array<number>(lists.length).fill(0);
  for (;;) {
    let next = -1;
    let from = -1;
    for (let k = 0; k < lists.length; k++) {
      const list = lists[k]!;
      if (at[k]! < list.length && (next === -1 || list[at[k]!]! < next)) {
        next = list[at[k]!]!;
        from = k;
      }
    }
    if (from === -1) return -1;
    at[from]!++;
    if (holds(next)) return next;
  }
}
