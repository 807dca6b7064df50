/**
 * The readings of a query an upstream may act on (DESIGN §0): Envoy's route match, the last value,
 * a split at ";" as well, percent-decoding, PHP's names, the pairs Go and Java servlets drop, names
 * in any letter case (ASP.NET Core). What
 * route matching, `principal.cel`'s `request.query` and credentials read from the query
 * (authz/request.ts) are decided on.
 */

/**
 * One way to read a query for a route's query match. Envoy's route match takes the first value of
 * a name in the query split at "&", names and values as sent; upstreams such as PHP and Express act
 * on the last value of a repeated name, Rack 2 and Python before 3.9.2 split the query at ";" as
 * well, nearly every upstream percent-decodes names and values ("+" a space), PHP renames what
 * its variable names cannot hold, and Go and Java servlets drop pairs they cannot read (so the
 * first value they act on may be neither Envoy's first nor the last).
 */
export interface QueryReading {
  /** Which value of a repeated name is read. */
  readonly value: "first" | "last";
  /** Whether ";" separates pairs as "&" does. */
  readonly semicolons: boolean;
  /** Whether names and values are percent-decoded as a form is (WHATWG application/x-www-form-urlencoded). */
  readonly decoded: boolean;
  /** Whether decoded names are read as PHP registers them (phpVariable): `tenant.id` is `tenant_id`. */
  readonly phpNames: boolean;
  /**
   * The pairs (split at "&") the reading drops before it reads any value, as its upstream does:
   * none; those with an invalid percent-escape ("%" without two hex digits after it: Tomcat's
   * request parameters); those too that hold a ";" (Go's net/url since Go 1.17); those after the
   * first PHP_MAX_INPUT_VARS that are not empty (PHP's default max_input_vars).
   */
  readonly drops: "none" | "invalid escapes" | "invalid escapes and ;" | "past max_input_vars";
  /** Whether names that differ only in letter case are one name (ASP.NET Core's query collection). */
  readonly foldedNames: boolean;
  /** What the reading is, for the audit log. */
  readonly name: string;
}

/** Envoy's reading (the route the proxy takes). */
export const ENVOY_QUERY: QueryReading = {
  value: "first",
  semicolons: false,
  decoded: false,
  phpNames: false,
  drops: "none",
  foldedNames: false,
  name: "Envoy's (first value, split at &, as sent)",
};

/**
 * PHP's reading ($_GET, and Symfony and Laravel, which read it): the query split at "&", names and
 * values percent-decoded, the last value of a name, names as PHP registers them (phpVariable).
 */
const PHP_QUERY: QueryReading = {
  value: "last",
  semicolons: false,
  decoded: true,
  phpNames: true,
  drops: "none",
  foldedNames: false,
  name: "PHP's (the last value of a name in the query split at &, percent-decoded, with '.', ' ' and an unmatched '[' in a name read as '_')",
};

/** PHP's default max_input_vars: the pairs of a query PHP reads (it stops at the next, with a warning). */
export const PHP_MAX_INPUT_VARS = 1000;

/** PHP's reading as PHP's default configuration reads a query of more pairs than max_input_vars. */
const PHP_LIMITED_QUERY: QueryReading = {
  ...PHP_QUERY,
  drops: "past max_input_vars",
  name: `PHP's of the first ${PHP_MAX_INPUT_VARS} pairs (max_input_vars: the last value of a name, percent-decoded, with '.', ' ' and an unmatched '[' in a name read as '_')`,
};

/** The readings an upstream may act on besides Envoy's (DESIGN §0). */
export const OTHER_QUERY_READINGS: readonly QueryReading[] = [
  ...[false, true].flatMap((decoded) =>
    [false, true].flatMap((semicolons) =>
      (["first", "last"] as const)
        .filter((value) => decoded || semicolons || value === "last")
        .map((value) => ({
          value,
          semicolons,
          decoded,
          phpNames: false,
          drops: "none" as const,
          foldedNames: false,
          name: `the ${value} value of a name in the query split at ${semicolons ? "& and ;" : "&"}${decoded ? ", percent-decoded" : ""}`,
        })),
    ),
  ),
  PHP_QUERY,
  PHP_LIMITED_QUERY,
  ...(["invalid escapes", "invalid escapes and ;"] as const).map(
    (drops): QueryReading => ({
      value: "first",
      semicolons: false,
      decoded: true,
      phpNames: false,
      drops,
      foldedNames: false,
      name: `${drops === "invalid escapes" ? "Java servlets'" : "Go's"} (the first value of a name in the query split at &, percent-decoded, pairs with ${drops === "invalid escapes" ? "an invalid percent-escape" : "an invalid percent-escape or a ';'"} dropped)`,
    }),
  ),
  {
    value: "first",
    semicolons: false,
    decoded: true,
    phpNames: false,
    drops: "none",
    foldedNames: true,
    name: "ASP.NET Core's (the first value of a name in any letter case, in the query split at &, percent-decoded)",
  },
];

/** The reading PHP's is where no name changes as PHP registers it. */
const DECODED_LAST = OTHER_QUERY_READINGS.find((r) => r.decoded && !r.phpNames && !r.semicolons && r.value === "last")!;
/** The reading a reading that drops pairs, or folds names, is where it drops none and no name has an upper-case letter. */
const DECODED_FIRST = OTHER_QUERY_READINGS.find(
  (r) => r.decoded && r.drops === "none" && !r.semicolons && !r.foldedNames && r.value === "first",
)!;

/**
 * The reading of OTHER_QUERY_READINGS that reads `rawQuery` as `reading` does, known from the text
 * alone: PHP's reads a query where no name changes (phpMayRename) as the decoded last value does,
 * and one of at most PHP_MAX_INPUT_VARS pairs as it does under no limit; a reading that drops
 * pairs reads one where it drops none (dropsSome) as the decoded first value does; else `reading`
 * itself.
 */
function sameAs(reading: QueryReading, rawQuery: string): QueryReading {
  if (reading.drops === "past max_input_vars") return pastPhpLimit(rawQuery) ? reading : sameAs(PHP_QUERY, rawQuery);
  if (reading.phpNames) return phpMayRename(rawQuery) ? reading : DECODED_LAST;
  if (reading.drops !== "none") return dropsSome(reading, rawQuery) ? reading : DECODED_FIRST;
  if (reading.foldedNames) return mayHoldUpperCase(rawQuery) ? reading : DECODED_FIRST;
  return reading;
}

/**
 * Whether `rawQuery`, from index `from` on, holds an ASCII upper-case letter outside a
 * percent-escape's hex digits, or an escape of one (%41 to %5A), or any character or escaped byte
 * past ASCII (which may be a letter in upper case): only then may a name fold to another (a loop:
 * no copy).
 */
export function mayHoldUpperCase(rawQuery: string, from = 0): boolean {
  for (let i = from; i < rawQuery.length; i++) {
    const c = rawQuery.charCodeAt(i);
    if (c === 37 && hexValue(rawQuery.charCodeAt(i + 1)) >= 0 && hexValue(rawQuery.charCodeAt(i + 2)) >= 0) {
      const byte = hexValue(rawQuery.charCodeAt(i + 1)) * 16 + hexValue(rawQuery.charCodeAt(i + 2));
      if ((byte >= 65 && byte <= 90) || byte >= 128) return true;
      i += 2;
    } else if ((c >= 65 && c <= 90) || c >= 128) return true;
  }
  return false;
}

/** The value of a hex digit's character code; -1 for any other character (NaN past the end included). */
const hexValue = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);

/** Whether `rawQuery` has more pairs that are not empty (PHP skips "&&") than PHP_MAX_INPUT_VARS. */
function pastPhpLimit(rawQuery: string): boolean {
  // Each pair after the first takes at least two characters ("&a"): a short query has too few to count.
  if (rawQuery.length <= 2 * PHP_MAX_INPUT_VARS) return false;
  // Counted in place: a long query (a client's choice) is not split on every request.
  let pairs = 0;
  for (let from = 0; from <= rawQuery.length; ) {
    const end = rawQuery.indexOf("&", from);
    const to = end === -1 ? rawQuery.length : end;
    if (to > from && ++pairs > PHP_MAX_INPUT_VARS) return true;
    from = to + 1;
  }
  return false;
}

/** The pairs PHP tokenises `rawQuery` into: split at "&", empty ones skipped. */
const phpPairs = (rawQuery: string): string[] => rawQuery.split("&").filter((pair) => pair !== "");

/**
 * Whether `reading` may read `rawQuery` otherwise than another of OTHER_QUERY_READINGS does (sameAs),
 * for a lookup of names of which some have an upper-case letter (`namesInUpperCase`) or none: a
 * reading of names in any letter case finds `userId` under `userid`, whatever case the query holds.
 */
export function readsOwnWay(reading: QueryReading, rawQuery: string, namesInUpperCase: boolean): boolean {
  return (reading.foldedNames && namesInUpperCase) || sameAs(reading, rawQuery) === reading;
}

/**
 * A parameter name as a reading of names in any letter case compares it (QueryReading.foldedNames):
 * two names have one folded name exactly where .NET's StringComparer.OrdinalIgnoreCase (ASP.NET
 * Core's query collection; .NET 5+ on ICU) finds them equal, which compares each character's simple
 * upper-case mapping (UnicodeData.txt: one character for one, "ß" stays "ß") but keeps "ı" (U+0131)
 * and "ſ" (U+017F). An ASCII letter folds to lower case (a name in lower-case ASCII is its own folded
 * name: only an upper-case letter, raw or percent-encoded, or a character past ASCII makes another,
 * mayHoldUpperCase), any other character to that mapping (no character past ASCII maps into ASCII).
 * Not toLowerCase: that reads the Kelvin sign (U+212A) as "k", which .NET tells apart, and keeps
 * "ς" and "σ" apart, which .NET does not.
 */
export function foldedName(name: string): string {
  if (!BEYOND_ASCII.test(name)) return name.toLowerCase();
  let folded = "";
  for (const c of name) folded += c.charCodeAt(0) < 0x80 ? c.toLowerCase() : simpleUpperCase(c);
  return folded;
}

const BEYOND_ASCII = /[^\0-\x7f]/;

/**
 * The simple upper-case mapping of the one character `c` past ASCII, as .NET's ordinal casing
 * holds it. toUpperCase applies the full mapping (SpecialCasing.txt), which turns a few characters
 * into several ("ß" into "SS"); their simple mapping is the character itself, but for the Greek
 * small letters with ypogegrammeni, whose simple mapping is their title-case letter (U+1F80 to
 * U+1FAF: 8 on; U+1FB3, U+1FC3 and U+1FF3: 9 on).
 */
function simpleUpperCase(c: string): string {
  const code = c.codePointAt(0)!;
  if (code === 0x131 || code === 0x17f) return c;
  const upper = c.toUpperCase();
  if (String.fromCodePoint(upper.codePointAt(0)!) === upper) return upper;
  if (code >= 0x1f80 && code <= 0x1faf) return (code & 8) === 0 ? String.fromCodePoint(code + 8) : c;
  return code === 0x1fb3 || code === 0x1fc3 || code === 0x1ff3 ? String.fromCodePoint(code + 9) : c;
}

/** Whether `reading` drops a pair of `rawQuery` (a look at the text: nothing is parsed for the usual query). */
function dropsSome(reading: QueryReading, rawQuery: string): boolean {
  return INVALID_ESCAPE.test(rawQuery) || (reading.drops === "invalid escapes and ;" && rawQuery.includes(";"));
}

/** A "%" without two hex digits after it: Go's url.QueryUnescape refuses the text, Tomcat its parameter. */
const INVALID_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

/**
 * Whether PHP may register a name of `rawQuery` otherwise than it is decoded (phpVariable changes
 * only a name holding '.', ' ' or '+', '[' or a NUL, raw or percent-encoded). A look at the text, so
 * that the usual query is not parsed once more for PHP's reading.
 */
export function phpMayRename(rawQuery: string): boolean {
  return PHP_RENAMED.test(rawQuery);
}

const PHP_RENAMED = /[\0. +[]|%(?:2e|20|5b|00)/i;

/**
 * The value PHP reads for `name` in `rawQuery` where a name PHP renames (phpVariable) gives it one
 * (`?access.token=t` holds access_token t there), else undefined: nothing is parsed for a query
 * where no name changes. For a credential read from the query (authz/request.ts `params`).
 */
export function phpRenamedParam(rawQuery: string, name: string): string | undefined {
  return phpMayRename(rawQuery) ? queryParamsIn(rawQuery, PHP_QUERY).get(name) : undefined;
}

/**
 * A query parameter's value in `reading` (ENVOY_QUERY: the first value, as Envoy's route match
 * reads it): pairs split at "&" (and ";" when the reading says so) and the first "=", names and
 * values compared as sent unless the reading decodes them (as sent, "a%3Db" is not "a=b" and "+"
 * is not a space), and in any letter case when it folds names (`userId` is found as `USERID`); a
 * name without "=" has the empty value; undefined when the name is absent.
 */
export function paramIn(rawQuery: string | undefined, name: string, reading: QueryReading): string | undefined {
  return rawQuery === undefined ? undefined : queryParamsIn(rawQuery, reading).get(reading.foldedNames ? foldedName(name) : name);
}

/**
 * The last query each reading parsed: a lookup tries every entry of a virtual host, and a query
 * parsed for each entry's match would cost entries × query length per request (a client chooses
 * the query's length).
 */
const lastParsed = new Map<QueryReading, { readonly rawQuery: string; readonly values: ReadonlyMap<string, string> }>();

/**
 * Each name of `rawQuery` (what follows "?", as sent) in `reading` with its value there (paramIn):
 * what a route's query match and `principal.cel`'s `request.query` read. A reading that folds names
 * holds each spelling sent and its foldedName, and is looked up by the foldedName of a name. The map
 * returned is shared until the next call: not to be changed.
 */
export function queryParamsIn(rawQuery: string, reading: QueryReading): ReadonlyMap<string, string> {
  const same = sameAs(reading, rawQuery);
  if (same !== reading) return queryParamsIn(rawQuery, same);
  const last = lastParsed.get(reading);
  if (last?.rawQuery === rawQuery) return last.values;
  const values = parsedQuery(rawQuery, reading);
  lastParsed.set(reading, { rawQuery, values });
  return values;
}

/**
 * queryParamsIn's map, parsed. A function of its own: `add` closes over `values`, so V8 allocates
 * the context holding it on entry to the function that declares it: in queryParamsIn that was on
 * every call, the usual one answered from lastParsed too (every route query match, on every request).
 */
function parsedQuery(rawQuery: string, reading: QueryReading): Map<string, string> {
  const values = new Map<string, string>();
  const add = (name: string, value: string) => {
    if (reading.value === "last" || !values.has(name)) values.set(name, value);
  };
  if (reading.phpNames) {
    const read = reading.drops === "past max_input_vars" ? phpPairs(rawQuery).slice(0, PHP_MAX_INPUT_VARS).join("&") : rawQuery;
    for (const [name, value] of new URLSearchParams(read)) {
      const variable = phpVariable(name);
      // An array is no string value: a later scalar of the name replaces it, as it replaces a scalar.
      if (variable?.array === true) values.delete(variable.name);
      else if (variable !== undefined) add(variable.name, value);
    }
  } else if (reading.drops !== "none") {
    const kept = rawQuery
      .split("&")
      .filter((pair) => !INVALID_ESCAPE.test(pair) && (reading.drops === "invalid escapes" || !pair.includes(";")));
    for (const [name, value] of new URLSearchParams(kept.join("&"))) add(name, value);
  } else if (reading.foldedNames) {
    // One name in any letter case: its first value under every spelling sent and in lower case.
    const first = new Map<string, string>();
    const spellings: string[] = [];
    for (const [name, value] of new URLSearchParams(rawQuery)) {
      const folded = foldedName(name);
      if (!first.has(folded)) first.set(folded, value);
      spellings.push(name);
    }
    for (const name of spellings) values.set(name, first.get(foldedName(name))!);
    first.forEach((value, folded) => values.set(folded, value));
  } else if (reading.decoded) {
    for (const [name, value] of new URLSearchParams(reading.semicolons ? rawQuery.replaceAll(";", "&") : rawQuery)) add(name, value);
  } else {
    for (const pair of rawQuery.split(reading.semicolons ? PAIR_SEPARATORS : "&")) {
      const eq = pair.indexOf("=");
      add(eq === -1 ? pair : pair.slice(0, eq), eq === -1 ? "" : pair.slice(eq + 1));
    }
  }
  return values;
}

const PAIR_SEPARATORS = /[&;]/;

/** A query parameter as PHP registers it: a string under `name`, or an array (`name[...]`). */
export interface PhpVariable {
  readonly name: string;
  readonly array: boolean;
}

/**
 * The variable PHP 8 registers for the decoded query parameter name `decoded` (main/php_variables.c,
 * php_register_variable_ex): the name ends at a NUL, leading spaces are dropped, '.' and ' ' become
 * '_'; a '[' with a ']' after it makes the name before it an array; a '[' without one becomes '_',
 * and so do every '.', ' ' and '[' after it. Undefined when PHP registers nothing (an empty name).
 */
export function phpVariable(decoded: string): PhpVariable | undefined {
  const nul = decoded.indexOf("\u0000");
  const name = (nul === -1 ? decoded : decoded.slice(0, nul)).replace(/^ +/, "");
  const bracket = name.indexOf("[");
  const base = (bracket === -1 ? name : name.slice(0, bracket)).replace(/[. ]/g, "_");
  if (base === "") return undefined;
  if (bracket === -1) return { name: base, array: false };
  if (name.indexOf("]", bracket) !== -1) return { name: base, array: true };
  return { name: `${base}_${name.slice(bracket + 1).replace(/[. []/g, "_")}`, array: false };
}
