/**
 * Route regular expressions (HTTPRoute RegularExpression path, header and query matches). Envoy
 * runs them on RE2, in time linear in the input; V8's default engine backtracks, so a route such
 * as `/(a+)+$` would let any client stall every check with one long path (ReDoS). They are
 * compiled for V8's linear-time engine instead (the `l` flag), which, like RE2, has no
 * backreferences or lookarounds: such a pattern does not compile, and its match is not served.
 */
import { setFlagsFromString } from "node:v8";
import { fail, ok, type Result } from "./result.ts";

// Recognises the `l` flag; it changes no other regular expression.
setFlagsFromString("--enable-experimental-regexp-engine");
// A regular expression compiled without the flag (CEL's matches(), see cel.ts) that backtracks
// more than this is run again on the linear-time engine, when that engine accepts the pattern.
setFlagsFromString("--enable-experimental-regexp-engine-on-excessive-backtracks");
setFlagsFromString("--regexp-backtracks-before-fallback=10000");

/** RE2's largest repetition count; a pattern with a larger one is refused, as RE2 refuses it. */
const MAX_COUNT = 1000;
/** Counted repetition is expanded; a pattern that would grow beyond this is refused instead. */
const MAX_EXPANDED_LENGTH = 64 * 1024;

/**
 * A RegExp matching the whole value (Gateway API semantics), or why it cannot be built. The
 * pattern must compile on its own first: otherwise `a)|(.*` would escape the anchoring group
 * and match everything.
 */
export function fullMatchRegex(written: string): Result<RegExp, string> {
  const linear = linearPattern(written);
  return linear.ok ? ok(new RegExp(`^(?:${linear.value})$`, "l")) : linear;
}

/**
 * The pattern as the linear-time engine accepts it (RE2's `(?i)` and counted
 * repetition written out), or why it cannot run there. Unanchored, as CEL's `matches()` searches.
 */
export function linearPattern(written: string): Result<string, string> {
  const source = withInlineCaseFlag(written);
  try {
    new RegExp(source);
  } catch {
    return fail("does not compile");
  }
  const linear = expandCounts(source);
  try {
    new RegExp(linear, "l");
    return ok(linear);
  } catch {
    return fail("cannot run in linear time (no backreferences or lookarounds, as in RE2)");
  }
}

/**
 * RE2's case-insensitive flag, which V8's linear engine has neither inline nor as the `i` flag:
 * `(?i)` makes the rest of its group (or pattern) case-insensitive, `(?i:x)` just `x`; Envoy Gateway
 * writes one into GRPCRoute method patterns. Such text is written out with both cases of every
 * ASCII letter: `(?i)get[a-c]` is `[gG][eE][tT][a-cA-C]`. Escapes keep their case.
 */
function withInlineCaseFlag(source: string): string {
  if (!source.includes("(?i")) return source;
  const [out, end] = foldGroup(source, 0, false);
  // An unmatched ")" ends the walk; the rest is kept, so the pattern still fails to compile.
  return out + source.slice(end);
}

/** The text from `i` to the end of the current group (the index of its ")", or the end). */
function foldGroup(source: string, start: number, caseless: boolean): [string, number] {
  let out = "";
  let i = start;
  while (i < source.length && source[i] !== ")") {
    const c = source[i]!;
    if (c === "\\") {
      const end = escapeEnd(source, i);
      out += source.slice(i, end);
      i = end;
    } else if (c === "[") {
      const end = safeClassEnd(source, i);
      out += caseless ? classBothCases(source.slice(i, end)) : source.slice(i, end);
      i = end;
    } else if (source.startsWith("(?i)", i)) {
      caseless = true;
      i += 4;
    } else if (c === "(") {
      const scoped = source.startsWith("(?i:", i);
      const head = scoped ? "(?:" : groupHead(source, i);
      const [inner, end] = foldGroup(source, i + (scoped ? 4 : head.length), caseless || scoped);
      out += head + inner + (end < source.length ? ")" : "");
      i = end + 1;
    } else {
      out += caseless && isAsciiLetter(c) ? `[${c}${swapCase(c)}]` : c;
      i += 1;
    }
  }
  return [out, i];
}

/** The opening of the group at `i`: "(", "(?:", a lookaround, or a named group with its name. */
function groupHead(source: string, i: number): string {
  const named = /^\(\?P?<(?![=!])[^>]*>/.exec(source.slice(i));
  if (named !== null) return named[0];
  return /^\(\?(?::|=|!|<=|<!)/.exec(source.slice(i))?.[0] ?? "(";
}

const swapCase = (c: string) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());
const isAsciiLetter = (c: string | undefined) => c !== undefined && /^[A-Za-z]$/.test(c);

/** A character class with the other case of each ASCII letter and letter range added. */
function classBothCases(cls: string): string {
  const extra: string[] = [];
  const body = cls.slice(cls[1] === "^" ? 2 : 1, -1);
  for (let i = 0; i < body.length; ) {
    if (body[i] === "\\") {
      i = escapeEnd(body, i);
      continue;
    }
    const c = body[i]!;
    if (
      body[i + 1] === "-" &&
      isAsciiLetter(c) &&
      isAsciiLetter(body[i + 2]) &&
      (c === c.toLowerCase()) === (body[i + 2] === body[i + 2]!.toLowerCase())
    ) {
      extra.push(`${swapCase(c)}-${swapCase(body[i + 2]!)}`);
      i += 3;
      continue;
    }
    if (isAsciiLetter(c)) extra.push(swapCase(c));
    i += 1;
  }
  return `${cls.slice(0, -1)}${extra.join("")}]`;
}

/** Where the escape starting at `i` ends (never before `i + 2`, never after the text). */
function escapeEnd(source: string, i: number): number {
  const next = source[i + 1];
  const through = (close: string) => (source.indexOf(close, i) === -1 ? source.length : source.indexOf(close, i) + 1);
  if (next === "x") return Math.min(i + 4, source.length);
  if (next === "u") return source[i + 2] === "{" ? through("}") : Math.min(i + 6, source.length);
  if (next === "c") return Math.min(i + 3, source.length);
  if ((next === "p" || next === "P") && source[i + 2] === "{") return through("}");
  if (next === "k" && source[i + 2] === "<") return through(">");
  return Math.min(i + 2, source.length);
}

/** Where the class starting at `i` ends; the end of the text for an unterminated one (which then fails to compile). */
function safeClassEnd(source: string, i: number): number {
  let j = i + 1;
  while (j < source.length && source[j] !== "]") j += source[j] === "\\" ? 2 : 1;
  return Math.min(j + 1, source.length);
}

/**
 * The pattern with every counted repetition (`x{n}`, `x{n,}`, `x{n,m}`, on a character, escape,
 * class or group) written out as plain repetition: `x{2,4}` is `xx(?:x(?:x)?)?`, `x{2,}` is
 * `xx(?:x)*`. The linear engine refuses counts whose product exceeds 16; RE2 allows up to 1000,
 * and so, written out, does Portcullis. Named groups are not duplicated (their names would clash)
 * and counts above 1000 are kept, so such patterns are refused. `source` must be a valid pattern.
 */
export function expandCounts(source: string): string {
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
