/**
 * RE2 regular expressions: HTTPRoute RegularExpression path, header and query matches,
 * authorization paths, OIDC denyRedirect headers, CEL `matches()` and wildcard origins. Envoy runs
 * them on RE2 and Envoy Gateway validates them with Go's regexp/syntax (RE2 syntax); Portcullis
 * runs them on re2js, the JavaScript port of RE2, so a pattern has RE2's syntax and meaning
 * (code points, `\pL`, `(?m)`, `(?i)` folding, at most 1000 repetitions) and matching takes time
 * linear in the input, so no pattern such as `(a+)+$` lets a client stall the decision thread.
 * re2js reads text, where RE2 reads bytes: a value that is not UTF-8 is the caller's to refuse
 * (snapshot/route-match.ts).
 */
import { RE2JS, RE2JSException } from "re2js";
import { fail, ok, type Result } from "./result.ts";

/** A compiled RE2 pattern: `testExact(value)` is a full match (Gateway API, Envoy), `test(value)` a search (CEL). */
export type Re2 = RE2JS;

/**
 * `pattern` (RE2 syntax) compiled, or why RE2 refuses it: "is not valid RE2: " and the library's
 * message, such as "invalid escape sequence: `\y`" or "invalid repeat count: `{1001}`".
 */
export function compileRe2(pattern: string): Result<Re2, string> {
  try {
    return ok(RE2JS.compile(pattern));
  } catch (e) {
    if (e instanceof RE2JSException) return fail(`is not valid RE2: ${e.message.replace(/^error parsing regexp: /, "")}`);
    throw e;
  }
}

/**
 * The number of instructions of the compiled program: the states RE2's automata may hold live at
 * each character of the input, so matching costs at most about input length × this.
 */
export function programSize(re: Re2): number {
  return re.re2().prog.numInst();
}

/** A pattern Portcullis builds itself, valid by construction; throws (a bug, never input) if RE2 refuses it. */
export function builtRe2(pattern: string): Re2 {
  const re = compileRe2(pattern);
  if (!re.ok) throw new Error(`built pattern ${JSON.stringify(pattern)} ${re.error}`);
  return re.value;
}

/**
 * The literal text every text `re` (compiled from `pattern`) matches in full begins with; "" when
 * none. RE2's literal prefix (re2js `re2().prefix`), which stops at the first instruction that is
 * not one rune matched as itself alone (an alternation, a class, a `(?i)`-folded letter, an
 * anchor), read past a leading `^`: it holds where every full match starts, so `^/api/[a-z]+`
 * takes exactly the texts `/api/[a-z]+` takes and begins with `/api/` too (RE2's prefix of it is
 * none: Envoy Gateway users often write the `^`). Not past a `^` a repetition follows (`^*`,
 * `^{2}`): that repeats the anchor. Costs a second compile of such a pattern, once per compiled
 * pattern (about 20 µs).
 */
export function fullMatchStart(pattern: string, re: Re2): string {
  const known = startsByPattern.get(re);
  if (known !== undefined) return known;
  let start: string = re.re2().prefix ?? "";
  if (start === "" && pattern.startsWith("^") && !REPEATED_ANCHOR.test(pattern)) {
    const rest = compileRe2(pattern.slice(1));
    if (rest.ok) start = fullMatchStart(pattern.slice(1), rest.value);
  }
  startsByPattern.set(re, start);
  return start;
}

const startsByPattern = new WeakMap<Re2, string>();
/** A `^` with a repetition operator after it (`{` too, even where it is a literal: only the shortcut is lost). */
const REPEATED_ANCHOR = /^\^[*+?{]/;
