/**
 * Route regular expressions (HTTPRoute RegularExpression path, header and query matches). Envoy
 * runs them on RE2, in time linear in the input; V8's default engine backtracks, so a route such
 * as `/(a+)+$` would let any client stall every check with one long path (ReDoS). They are
 * compiled for V8's linear-time engine instead (the `l` flag), which, like RE2, has no
 * backreferences or lookarounds, after translation from RE2's syntax and meaning (re2.ts).
 */
import { setFlagsFromString } from "node:v8";
import { MAX_COUNT, translateRe2, type RegexProblem } from "./re2.ts";
import { fail, ok, type Result } from "./result.ts";

// Recognises the `l` flag; it changes no other regular expression.
setFlagsFromString("--enable-experimental-regexp-engine");
// A regular expression compiled without the flag (CEL's matches(), see cel.ts) that backtracks
// more than this is run again on the linear-time engine, when that engine accepts the pattern.
setFlagsFromString("--enable-experimental-regexp-engine-on-excessive-backtracks");
setFlagsFromString("--regexp-backtracks-before-fallback=10000");

/** Counted repetition is expanded; a pattern that would grow beyond this is refused instead. */
const MAX_EXPANDED_LENGTH = 64 * 1024;

/**
 * A RegExp matching the whole value (Gateway API semantics, Envoy's full match), or why it cannot
 * be built. The pattern is translated on its own first (re2.ts), so `a)|(.*` cannot escape the
 * anchoring group.
 */
export function fullMatchRegex(written: string): Result<RegExp, RegexProblem> {
  const linear = linearPattern(written);
  return linear.ok ? ok(new RegExp(`^(?:${linear.value})$`, "l")) : linear;
}

/**
 * The RE2 pattern as the linear-time engine runs it with RE2's meaning (re2.ts, counted
 * repetition written out), or why it cannot run there. Unanchored, as CEL's `matches()` searches.
 */
export function linearPattern(written: string): Result<string, RegexProblem> {
  const translated = translateRe2(written);
  if (!translated.ok) return translated;
  const linear = expandCounts(translated.value);
  try {
    new RegExp(linear, "l");
    return ok(linear);
  } catch {
    return fail({ reason: "cannot run in linear time (too large once its counted repetition is written out)", validRe2: true });
  }
}

/**
 * The pattern with every counted repetition (`x{n}`, `x{n,}`, `x{n,m}`, on a character, escape,
 * class or group) written out as plain repetition: `x{2,4}` is `xx(?:x(?:x)?)?`, `x{2,}` is
 * `xx(?:x)*`. The linear engine refuses counts whose product exceeds 16; RE2 allows up to 1000,
 * and so, written out, does Portcullis. Named groups are not duplicated (their names would clash)
 * and counts above 1000 are kept, so such patterns are refused. `source` must be a valid pattern.
 */
function expandCounts(source: string): string {
  try {
    return expand(source);
  } catch (e) {
    if (e === TOO_LARGE) return source;
    throw e;
  }
}

const TOO_LARGE = new Error("the written-out pattern would be too large");

function expand(source: string): string {
  let out = "";
  for (let i = 0; i < source.length; ) {
    const end = atomEnd(source, i);
    if (end === undefined) {
      out += source[i];
      i += 1;
      continue;
    }
    let atom = source.slice(i, end);
    const group = /^\((?:\?(?::|=|!|<=|<!|<[^>]+>))?/.exec(atom)?.[0];
    if (group !== undefined) atom = `${group}${expand(atom.slice(group.length, -1))})`;
    i = end;
    const count = /^\{(\d+)(?:(,)(\d*))?\}\??/.exec(source.slice(i));
    if (count === null) {
      out += atom;
      continue;
    }
    i += count[0].length;
    const min = Number(count[1]);
    const max = count[2] === undefined ? min : count[3] === "" ? Infinity : Number(count[3]);
    if ((group !== undefined && group.length > 1 && group !== "(?:") || min > MAX_COUNT || (max !== Infinity && max > MAX_COUNT)) {
      out += atom + count[0];
      continue;
    }
    if (out.length + atom.length * (max === Infinity ? min + 1 : max) * 2 > MAX_EXPANDED_LENGTH) throw TOO_LARGE;
    let optional = "";
    if (max === Infinity) optional = `(?:${atom})*`;
    else for (let k = min; k < max; k++) optional = `(?:${atom}${optional})?`;
    out += atom.repeat(min) + optional;
  }
  return out;
}

/** Where the atom starting at `i` ends (a character, an escape, a class or a group); undefined for syntax. */
function atomEnd(source: string, i: number): number | undefined {
  const c = source[i]!;
  if (c === "\\") {
    const next = source[i + 1];
    if (next === "x" && /^[0-9a-fA-F]{2}/.test(source.slice(i + 2))) return i + 4;
    if (next === "u" && /^[0-9a-fA-F]{4}/.test(source.slice(i + 2))) return i + 6;
    if (next === "c" && /^[a-zA-Z]/.test(source.slice(i + 2))) return i + 3;
    if (next === "k" && source[i + 2] === "<") return source.indexOf(">", i) + 1;
    return i + 2;
  }
  if (c === "[") return classEnd(source, i);
  if (c === "(") {
    let depth = 0;
    for (let j = i; ; ) {
      const d = source[j];
      if (d === "\\") j += 2;
      else if (d === "[") j = classEnd(source, j);
      else {
        if (d === "(") depth += 1;
        if (d === ")" && --depth === 0) return j + 1;
        j += 1;
      }
    }
  }
  return ")|^$*+?{".includes(c) ? undefined : i + 1;
}

function classEnd(source: string, i: number): number {
  let j = i + 1;
  while (source[j] !== "]") j += source[j] === "\\" ? 2 : 1;
  return j + 1;
}
