/**
 * RE2 syntax (what Envoy runs, as Envoy Gateway validates it with Go's regexp/syntax) written as a
 * JavaScript pattern for V8's linear-time engine, with RE2's meaning. That engine has no `u` flag,
 * so it reads UTF-16 code units where RE2 reads code points: every set of characters (`.`, a class,
 * `\D`, a literal outside the BMP) is written out as a class of BMP characters or one of surrogate
 * pairs, so that a character such as U+1F600 is one character, as in RE2. What JavaScript reads
 * otherwise is written out too: RE2's `\s` is `[\t\n\f\r ]` (no \v, no Unicode spaces), its `.`
 * excludes only `\n` (JavaScript's also excludes `\r`, U+2028 and U+2029), `\A` and `\z` are
 * anchors (JavaScript reads the letters), `[]a]` holds `]`, `\Q…\E` is literal, `(?i)` and `(?s)`
 * apply to the rest of their group. Syntax RE2 refuses is refused, never read another way (`\y`,
 * `\1`, lookarounds); syntax RE2 accepts that cannot be written so (`\pL`, `(?m)`, case folding of
 * non-ASCII letters) is refused as unsupported.
 */
import { fail, ok, type Result } from "./result.ts";

/** Why a pattern is not translated; `validRe2` when RE2 accepts it (Envoy runs it) and only Portcullis cannot. */
export interface RegexProblem {
  readonly reason: string;
  readonly validRe2: boolean;
}

/** RE2's largest repetition count. */
export const MAX_COUNT = 1000;
const MAX_CODE_POINT = 0x10ffff;

/** A set of code points: sorted, disjoint, non-adjacent inclusive ranges. */
type CharSet = readonly (readonly [number, number])[];

const invalid = (reason: string): RegexProblem => ({ reason: `is not valid RE2: ${reason}`, validRe2: false });
const unsupported = (reason: string): RegexProblem => ({ reason: `uses RE2 syntax Portcullis cannot run: ${reason}`, validRe2: true });

class Refusal extends Error {
  readonly problem: RegexProblem;
  constructor(problem: RegexProblem) {
    super(problem.reason);
    this.problem = problem;
  }
}

interface Flags {
  /** `(?i)`: case-insensitive. */
  readonly caseless: boolean;
  /** `(?s)`: `.` also matches `\n`. */
  readonly dotAll: boolean;
}

/**
 * `pattern` (RE2 syntax) as an unanchored JavaScript pattern (no flags; counted repetition kept)
 * that matches exactly the strings RE2 matches, read as code points; or why it cannot be.
 */
export function translateRe2(pattern: string): Result<string, RegexProblem> {
  try {
    return ok(new Translator(pattern).run());
  } catch (e) {
    if (e instanceof Refusal) return fail(e.problem);
    throw e;
  }
}

class Translator {
  readonly #src: string;
  #i = 0;
  #out = "";
  /** Where in #out the last atom starts (a repetition applies to it); undefined where no atom precedes. */
  #atomAt: number | undefined;
  /** Whether the last item was a repetition (RE2 refuses `a**`). */
  #repeated = false;

  constructor(src: string) {
    this.#src = src;
  }

  run(): string {
    // Per open group: the flags outside it and where it starts in #out.
    const groups: { outer: Flags; at: number }[] = [];
    let flags: Flags = { caseless: false, dotAll: false };
    while (this.#i < this.#src.length) {
      const c = this.#src[this.#i]!;
      if (c === "(") {
        const inner = this.#groupFlags(flags);
        if (inner.opens) {
          groups.push({ outer: flags, at: this.#out.length });
          this.#out += "(?:";
          this.#atomAt = undefined;
        } else {
          // `(?i)` holds until its enclosing group ends; no atom precedes what follows it.
          this.#atomAt = undefined;
        }
        this.#repeated = false;
        flags = inner.flags;
      } else if (c === ")") {
        const group = groups.pop();
        if (group === undefined) throw new Refusal(invalid(`unexpected ) at ${this.#i}`));
        this.#i += 1;
        this.#out += ")";
        this.#atomAt = group.at;
        this.#repeated = false;
        flags = group.outer;
      } else if (c === "|") {
        this.#i += 1;
        this.#out += "|";
        this.#atomAt = undefined;
        this.#repeated = false;
      } else if (c === "*" || c === "+" || c === "?" || (c === "{" && this.#count() !== undefined)) {
        this.#repetition();
      } else {
        this.#atom(flags);
      }
    }
    if (groups.length > 0) throw new Refusal(invalid("missing )"));
    return this.#out;
  }

  /**
   * At `(`: `(`, `(?:`, `(?P<name>` and `(?<name>` open a group with the same flags (captures
   * change no match), `(?flags:` one with new flags, and `(?flags)` opens none.
   */
  #groupFlags(flags: Flags): { opens: boolean; flags: Flags } {
    const rest = this.#src.slice(this.#i);
    if (!rest.startsWith("(?")) {
      this.#i += 1;
      return { opens: true, flags };
    }
    const named = /^\(\?P?<[A-Za-z0-9_]+>/.exec(rest);
    if (named !== null) {
      this.#i += named[0].length;
      return { opens: true, flags };
    }
    const flagged = /^\(\?([A-Za-z-]*)([:)])/.exec(rest);
    if (flagged === null) throw new Refusal(invalid(`unknown group syntax ${JSON.stringify(rest.slice(0, 4))}`));
    this.#i += flagged[0].length;
    const inner = flagged[1] === "" && flagged[2] === ":" ? flags : applyFlags(flags, flagged[1]!);
    return { opens: flagged[2] === ":", flags: inner };
  }

  /** `{n}`, `{n,}`, `{n,m}` at the current position, or undefined when `{` is a literal there (as in RE2). */
  #count(): { min: number; max: number | undefined; length: number } | undefined {
    const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(this.#src.slice(this.#i));
    if (m === null) return undefined;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === "" ? undefined : Number(m[3]);
    return { min, max, length: m[0].length };
  }

  #repetition(): void {
    if (this.#atomAt === undefined || this.#repeated) {
      throw new Refusal(invalid(`${this.#repeated ? "nested" : "missing argument to"} repetition operator at ${this.#i}`));
    }
    const count = this.#count();
    let op: string;
    if (count !== undefined) {
      if (
        count.min > MAX_COUNT ||
        (count.max !== undefined && count.max > MAX_COUNT) ||
        (count.max !== undefined && count.max < count.min)
      ) {
        throw new Refusal(invalid(`invalid repeat count ${this.#src.slice(this.#i, this.#i + count.length)}`));
      }
      op = this.#src.slice(this.#i, this.#i + count.length);
      this.#i += count.length;
    } else {
      op = this.#src[this.#i]!;
      this.#i += 1;
    }
    // Laziness changes which match is found, never whether one is: dropped.
    if (this.#src[this.#i] === "?") this.#i += 1;
    const atom = this.#out.slice(this.#atomAt);
    // An assertion (^, $, \b) is repeated as a group: JavaScript refuses `^*`.
    if (/^(?:\^|\$|\\[bB])$/.test(atom)) this.#out = `${this.#out.slice(0, this.#atomAt)}(?:${atom})`;
    this.#out += op;
    this.#repeated = true;
  }

  /** One atom: a literal, `.`, a class, an escape or an anchor. */
  #atom(flags: Flags): void {
    const c = this.#src[this.#i]!;
    const at = this.#out.length;
    if (c === "^" || c === "$") {
      this.#i += 1;
      this.#emit(at, c);
    } else if (c === ".") {
      this.#i += 1;
      this.#emit(at, setPattern(flags.dotAll ? ANY : ANY_BUT_NEWLINE));
    } else if (c === "[") {
      this.#emit(at, setPattern(this.#class(flags)));
    } else if (c === "\\") {
      this.#escape(flags, at);
    } else {
      const cp = this.#src.codePointAt(this.#i)!;
      this.#i += cp > 0xffff ? 2 : 1;
      this.#emit(at, literal(cp, flags));
    }
  }

  #emit(at: number, text: string): void {
    this.#out += text;
    this.#atomAt = at;
    this.#repeated = false;
  }

  #escape(flags: Flags, at: number): void {
    const next = this.#src[this.#i + 1];
    if (next === undefined) throw new Refusal(invalid("trailing \\"));
    if (next === "A") {
      this.#i += 2;
      return this.#emit(at, "^");
    }
    if (next === "z") {
      this.#i += 2;
      return this.#emit(at, "$");
    }
    if (next === "b" || next === "B") {
      this.#i += 2;
      return this.#emit(at, `\\${next}`);
    }
    if (next === "Q") {
      const end = this.#src.indexOf("\\E", this.#i + 2);
      const text = this.#src.slice(this.#i + 2, end === -1 ? undefined : end);
      this.#i = end === -1 ? this.#src.length : end + 2;
      for (const ch of text) this.#emit(this.#out.length, literal(ch.codePointAt(0)!, flags));
      return;
    }
    if (next === "E") {
      // A \E without \Q is ignored by RE2.
      this.#i += 2;
      return;
    }
    this.#emit(at, setPattern(this.#escapedSet(flags)));
  }

  /** An escape that stands for a set of characters (one character for a literal escape), read from `\`. */
  #escapedSet(flags: Flags): CharSet {
    const perl = this.#perlClass(flags);
    if (perl !== undefined) return perl;
    return charSet(this.#escapedChar(), flags);
  }

  /** `\d \D \s \S \w \W` at the current `\`, folded under (?i) as RE2 folds them, or undefined. */
  #perlClass(flags: Flags): CharSet | undefined {
    const name = this.#src[this.#i + 1]!;
    const base = PERL_CLASSES[name.toLowerCase()];
    if (base === undefined || !"dswDSW".includes(name)) return undefined;
    this.#i += 2;
    const folded = flags.caseless ? fold(base) : base;
    return name === name.toUpperCase() ? complement(folded) : folded;
  }

  /** The code point a literal escape stands for, at the current `\`. */
  #escapedChar(): number {
    const src = this.#src;
    const next = src[this.#i + 1]!;
    if (next === "p" || next === "P") {
      const name = /^\\[pP](?:\{[^}]*\}|.)/.exec(src.slice(this.#i))?.[0] ?? src.slice(this.#i, this.#i + 2);
      throw new Refusal(unsupported(`Unicode class ${name}`));
    }
    if (next === "C") throw new Refusal(invalid("\\C (any byte) is not supported by Envoy Gateway's validation"));
    const simple = SIMPLE_ESCAPES[next];
    if (simple !== undefined) {
      this.#i += 2;
      return simple;
    }
    if (next === "x") {
      const m = /^\\x(?:\{([0-9A-Fa-f]{1,8})\}|([0-9A-Fa-f]{2}))/.exec(src.slice(this.#i));
      const cp = m === null ? NaN : parseInt(m[1] ?? m[2]!, 16);
      if (m === null || cp > MAX_CODE_POINT) throw new Refusal(invalid(`invalid escape ${src.slice(this.#i, this.#i + 4)}`));
      this.#i += m[0].length;
      return cp;
    }
    // Octal: \0 and up to two more digits, or \1-\7 followed by at least one (a lone \1 is a backreference).
    const octal = /^\\(?:0[0-7]{0,2}|[1-7][0-7]{1,2})/.exec(src.slice(this.#i));
    if (octal !== null) {
      this.#i += octal[0].length;
      return parseInt(octal[0].slice(1), 8);
    }
    const cp = src.codePointAt(this.#i + 1)!;
    // Punctuation escapes itself; a letter, digit or non-ASCII character RE2 does not know is an error.
    if (cp < 0x80 && !/[A-Za-z0-9]/.test(next)) {
      this.#i += 2;
      return cp;
    }
    throw new Refusal(invalid(`invalid escape \\${String.fromCodePoint(cp)}`));
  }

  /** A bracketed class at `[`: its set, negated and folded as RE2 reads it. */
  #class(flags: Flags): CharSet {
    const src = this.#src;
    const start = this.#i;
    this.#i += 1;
    const negated = src[this.#i] === "^";
    if (negated) this.#i += 1;
    let set: CharSet = [];
    let first = true;
    for (;;) {
      const c = src[this.#i];
      if (c === undefined) throw new Refusal(invalid(`missing ] in ${src.slice(start)}`));
      // `]` first in a class is a member, as in RE2.
      if (c === "]" && !first) break;
      first = false;
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(src.slice(this.#i));
      if (posix !== null) {
        const members = POSIX_CLASSES[posix[2]!];
        if (members === undefined) throw new Refusal(invalid(`invalid character class range ${posix[0]}`));
        this.#i += posix[0].length;
        const folded = flags.caseless ? fold(members) : members;
        set = union(set, posix[1] === "^" ? complement(folded) : folded);
        continue;
      }
      if (c === "\\") {
        const perl = this.#perlClass(flags);
        if (perl !== undefined) {
          set = union(set, perl);
          continue;
        }
      }
      const lo = this.#classChar();
      if (src[this.#i] === "-" && src[this.#i + 1] !== "]" && src[this.#i + 1] !== undefined) {
        this.#i += 1;
        const hi = this.#classChar();
        if (hi < lo) throw new Refusal(invalid(`invalid character class range ${String.fromCodePoint(lo)}-${String.fromCodePoint(hi)}`));
        set = union(set, flags.caseless ? fold([[lo, hi]]) : [[lo, hi]]);
      } else {
        set = union(set, charSet(lo, flags));
      }
    }
    this.#i += 1;
    return negated ? complement(set) : set;
  }

  /** One character of a class (a literal or a literal escape). */
  #classChar(): number {
    if (this.#src[this.#i] === "\\") return this.#escapedChar();
    const cp = this.#src.codePointAt(this.#i)!;
    this.#i += cp > 0xffff ? 2 : 1;
    return cp;
  }
}

/** Flags after `(?flags` text such as "i", "is", "-i", "U": (?m) is refused (its anchors need lookbehind), (?U) changes no match. */
function applyFlags(flags: Flags, text: string): Flags {
  let { caseless, dotAll } = flags;
  let on = true;
  let sawMinus = false;
  if (text === "" || text.endsWith("-")) throw new Refusal(invalid(`missing flags in (?${text}`));
  for (const f of text) {
    if (f === "-") {
      if (sawMinus) throw new Refusal(invalid(`invalid flags (?${text}`));
      sawMinus = true;
      on = false;
    } else if (f === "i") caseless = on;
    else if (f === "s") dotAll = on;
    else if (f === "m") throw new Refusal(unsupported("the multi-line flag (?m)"));
    else if (f !== "U") throw new Refusal(invalid(`invalid flag ${f} in (?${text}`));
  }
  return { caseless, dotAll };
}

const ANY: CharSet = [[0, MAX_CODE_POINT]];
const ANY_BUT_NEWLINE: CharSet = [
  [0, 9],
  [11, MAX_CODE_POINT],
];
const range = (a: string, b: string): [number, number] => [a.charCodeAt(0), b.charCodeAt(0)];
const DIGITS: CharSet = [range("0", "9")];
const WORD: CharSet = [range("0", "9"), range("A", "Z"), range("_", "_"), range("a", "z")];
/** RE2's \s: tab, newline, form feed, carriage return, space (not \v). */
const SPACE: CharSet = [
  [9, 10],
  [12, 13],
  [32, 32],
];
const PERL_CLASSES: Readonly<Record<string, CharSet>> = { d: DIGITS, s: SPACE, w: WORD };
const POSIX_CLASSES: Readonly<Record<string, CharSet>> = {
  alnum: [range("0", "9"), range("A", "Z"), range("a", "z")],
  alpha: [range("A", "Z"), range("a", "z")],
  ascii: [[0, 0x7f]],
  blank: [
    [9, 9],
    [32, 32],
  ],
  cntrl: [
    [0, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: DIGITS,
  graph: [[0x21, 0x7e]],
  lower: [range("a", "z")],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [9, 13],
    [32, 32],
  ],
  upper: [range("A", "Z")],
  word: WORD,
  xdigit: [range("0", "9"), range("A", "F"), range("a", "f")],
};
const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };

/** Characters outside ASCII that case-fold onto ASCII letters in RE2 (Unicode simple folding): K (Kelvin) ~ k, ſ ~ s. */
const KELVIN = 0x212a;
const LONG_S = 0x17f;

/** One character as a set: with its other cases under (?i). */
function charSet(cp: number, flags: Flags): CharSet {
  return flags.caseless ? fold([[cp, cp]]) : [[cp, cp]];
}

/**
 * The set with every character's case variants, as RE2's (?i) folds: ASCII letters (k and s also
 * take K and ſ). A set with a cased letter beyond ASCII is refused: its folding is not written out.
 */
function fold(set: CharSet): CharSet {
  let out: CharSet = set;
  for (const [lo, hi] of set) {
    const upper = intersect(lo, hi, 0x41, 0x5a);
    const lower = intersect(lo, hi, 0x61, 0x7a);
    if (upper !== undefined) out = union(out, [[upper[0] + 32, upper[1] + 32]]);
    if (lower !== undefined) out = union(out, [[lower[0] - 32, lower[1] - 32]]);
    if (hi >= 0x80 && hasCasedBeyondAscii(lo, hi)) throw new Refusal(unsupported("case-insensitive matching of letters beyond ASCII"));
  }
  const has = (cp: number) => out.some(([lo, hi]) => lo <= cp && cp <= hi);
  if (has(0x6b) || has(0x4b) || has(KELVIN)) out = union(out, [range("K", "K"), range("k", "k"), [KELVIN, KELVIN]]);
  if (has(0x73) || has(0x53) || has(LONG_S)) out = union(out, [range("S", "S"), range("s", "s"), [LONG_S, LONG_S]]);
  return out;
}

/** Whether [lo, hi] holds a character beyond ASCII with another case (K and ſ aside, folded above); ranges over 4096 wide are taken to. */
function hasCasedBeyondAscii(lo: number, hi: number): boolean {
  const from = Math.max(lo, 0x80);
  if (hi - from > 4096) return true;
  for (let cp = from; cp <= hi; cp++) {
    if (cp === KELVIN || cp === LONG_S || (cp >= 0xd800 && cp <= 0xdfff)) continue;
    const c = String.fromCodePoint(cp);
    if (c.toLowerCase() !== c || c.toUpperCase() !== c) return true;
  }
  return false;
}

function intersect(lo: number, hi: number, a: number, b: number): [number, number] | undefined {
  const l = Math.max(lo, a);
  const h = Math.min(hi, b);
  return l <= h ? [l, h] : undefined;
}

function union(a: CharSet, b: CharSet): CharSet {
  const all = [...a, ...b].sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of all) {
    const last = out.at(-1);
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function complement(set: CharSet): CharSet {
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of set) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

/** A code point as a JavaScript pattern atom: itself, escaped, or a surrogate pair in a group; its case variants under (?i). */
function literal(cp: number, flags: Flags): string {
  const set = charSet(cp, flags);
  return set.length === 1 && set[0]![0] === set[0]![1] ? single(cp) : setPattern(set);
}

function single(cp: number): string {
  if (/^[A-Za-z0-9 _,;:'"=<>@#%&~`/!-]$/.test(String.fromCodePoint(cp))) return String.fromCodePoint(cp);
  if (cp > 0xffff) return `(?:${unit(0xd800 + ((cp - 0x10000) >> 10))}${unit(0xdc00 + ((cp - 0x10000) & 0x3ff))})`;
  return unit(cp);
}

/** One UTF-16 code unit, written so that it means itself anywhere in a pattern or class. */
const unit = (u: number) => `\\u${u.toString(16).padStart(4, "0")}`;

/** A UTF-16 code unit as a class member: letters and digits as themselves, anything else escaped. */
const member = (u: number) => (/^[A-Za-z0-9]$/.test(String.fromCharCode(u)) ? String.fromCharCode(u) : unit(u));

/** BMP ranges (surrogates left out) as the inside of a class. */
function bmpMembers(set: CharSet): string {
  const out: string[] = [];
  for (const [lo, hi] of set) {
    for (const [a, b] of [
      [lo, Math.min(hi, 0xd7ff)],
      [Math.max(lo, 0xe000), Math.min(hi, 0xffff)],
    ] as const) {
      if (a <= b) out.push(a === b ? member(a) : `${member(a)}-${member(b)}`);
    }
  }
  return out.join("");
}

/**
 * A set of code points as one JavaScript atom over UTF-16: a class of its BMP characters (written
 * negated when that is shorter; the surrogates never match alone: decoded text holds none), and
 * for characters beyond the BMP, their surrogate pairs. An empty set is `[]`, which matches
 * nothing, as RE2's empty class.
 */
function setPattern(set: CharSet): string {
  const positive = `[${bmpMembers(set)}]`;
  const negative = `[^${bmpMembers(intersectAll(complement(set), [[0, 0xffff]]))}\\ud800-\\udfff]`;
  const cls = negative.length < positive.length ? negative : positive;
  const pairs = set.flatMap(([lo, hi]) => (hi >= 0x10000 ? astralRanges(Math.max(lo, 0x10000), hi) : []));
  if (pairs.length === 0) return cls;
  return `(?:${cls === "[]" ? "" : `${cls}|`}${pairs.join("|")})`;
}

const intersectAll = (set: CharSet, within: CharSet): CharSet => complement(union(complement(set), complement(within)));

/** The surrogate pairs of the code points lo..hi (all beyond the BMP) as alternatives. */
function astralRanges(lo: number, hi: number): string[] {
  const high = (cp: number) => 0xd800 + ((cp - 0x10000) >> 10);
  const low = (cp: number) => 0xdc00 + ((cp - 0x10000) & 0x3ff);
  const span = (a: number, b: number) => (a === b ? unit(a) : `[${unit(a)}-${unit(b)}]`);
  let [hLo, hHi] = [high(lo), high(hi)];
  if (hLo === hHi) return [`${unit(hLo)}${span(low(lo), low(hi))}`];
  const out: string[] = [];
  // Partial runs of low surrogates at either end; whole ones in between.
  if (low(lo) !== 0xdc00) out.push(`${unit(hLo++)}${span(low(lo), 0xdfff)}`);
  const last = low(hi) !== 0xdfff ? `${unit(hHi--)}${span(0xdc00, low(hi))}` : undefined;
  if (hLo <= hHi) out.push(`${span(hLo, hHi)}${span(0xdc00, 0xdfff)}`);
  if (last !== undefined) out.push(last);
  return out;
}
