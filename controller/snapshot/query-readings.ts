/**
 * The readings of a query an upstream may act on (DESIGN §0): Envoy's route match, the last value,
 * a split at ";" as well, percent-decoding, PHP's names. What route matching, `principal.cel`'s
 * `request.query` and credentials read from the query (authz/request.ts) are decided on.
 */

/**
 * One way to read a query for a route's query match. Envoy's route match takes the first value of
 * a name in the query split at "&", names and values as sent; upstreams such as PHP and Express act
 * on the last value of a repeated name, Rack 2 and Python before 3.9.2 split the query at ";" as
 * well, nearly every upstream percent-decodes names and values ("+" a space), and PHP renames what
 * its variable names cannot hold.
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
  /** What the reading is, for the audit log. */
  readonly name: string;
}

/** Envoy's reading (the route the proxy takes). */
export const ENVOY_QUERY: QueryReading = {
  value: "first",
  semicolons: false,
  decoded: false,
  phpNames: false,
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
  name: "PHP's (the last value of a name in the query split at &, percent-decoded, with '.', ' ' and an unmatched '[' in a name read as '_')",
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
          name: `the ${value} value of a name in the query split at ${semicolons ? "& and ;" : "&"}${decoded ? ", percent-decoded" : ""}`,
        })),
    ),
  ),
  PHP_QUERY,
];

/** The reading PHP's is where no name changes as PHP registers it. */
const DECODED_LAST = OTHER_QUERY_READINGS.find((r) => r.decoded && !r.phpNames && !r.semicolons && r.value === "last")!;

/**
 * Whether `reading` may read `rawQuery` otherwise than another of OTHER_QUERY_READINGS does, known
 * from the text alone: false for PHP's reading of a query where no name changes (phpMayRename).
 */
export function readsOwnWay(reading: QueryReading, rawQuery: string): boolean {
  return !reading.phpNames || phpMayRename(rawQuery);
}

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
 * is not a space); a name without "=" has the empty value; undefined when the name is absent.
 */
export function paramIn(rawQuery: string | undefined, name: string, reading: QueryReading): string | undefined {
  return rawQuery === undefined ? undefined : queryParamsIn(rawQuery, reading).get(name);
}

/**
 * The last query each reading parsed: a lookup tries every entry of a virtual host, and a query
 * parsed for each entry's match would cost entries × query length per request (a client chooses
 * the query's length).
 */
const lastParsed = new Map<QueryReading, { readonly rawQuery: string; readonly values: ReadonlyMap<string, string> }>();

/**
 * Each name of `rawQuery` (what follows "?", as sent) in `reading` with its value there (paramIn):
 * what a route's query match and `principal.cel`'s `request.query` read. The map returned is shared
 * until the next call: not to be changed.
 */
export function queryParamsIn(rawQuery: string, reading: QueryReading): ReadonlyMap<string, string> {
  if (!readsOwnWay(reading, rawQuery)) return queryParamsIn(rawQuery, DECODED_LAST);
  const last = lastParsed.get(reading);
  if (last?.rawQuery === rawQuery) return last.values;
  const values = new Map<string, string>();
  const add = (name: string, value: string) => {
    if (reading.value === "last" || !values.has(name)) values.set(name, value);
  };
  if (reading.phpNames) {
    for (const [name, value] of new URLSearchParams(rawQuery)) {
      const variable = phpVariable(name);
      // An array is no string value: a later scalar of the name replaces it, as it replaces a scalar.
      if (variable?.array === true) values.delete(variable.name);
      else if (variable !== undefined) add(variable.name, value);
    }
  } else if (reading.decoded) {
    for (const [name, value] of new URLSearchParams(reading.semicolons ? rawQuery.replaceAll(";", "&") : rawQuery)) add(name, value);
  } else {
    for (const pair of rawQuery.split(reading.semicolons ? PAIR_SEPARATORS : "&")) {
      const eq = pair.indexOf("=");
      add(eq === -1 ? pair : pair.slice(0, eq), eq === -1 ? "" : pair.slice(eq + 1));
    }
  }
  lastParsed.set(reading, { rawQuery, values });
  return values;
}

const PAIR_SEPARATORS = /[&;]/;

/** A query parameter as PHP registers it: a string under `name`, or an array (`name[...]`). */
interface PhpVariable {
  readonly name: string;
  readonly array: boolean;
}

/**
 * The variable PHP 8 registers for the decoded query parameter name `decoded` (main/php_variables.c,
 * php_register_variable_ex): the name ends at a NUL, leading spaces are dropped, '.' and ' ' become
 * '_'; a '[' with a ']' after it makes the name before it an array; a '[' without one becomes '_',
 * and so do every '.', ' ' and '[' after it. Undefined when PHP registers nothing (an empty name).
 */
function phpVariable(decoded: string): PhpVariable | undefined {
  const nul = decoded.indexOf("\u0000");
  const name = (nul === -1 ? decoded : decoded.slice(0, nul)).replace(/^ +/, "");
  const bracket = name.indexOf("[");
  const base = (bracket === -1 ? name : name.slice(0, bracket)).replace(/[. ]/g, "_");
  if (base === "") return undefined;
  if (bracket === -1) return { name: base, array: false };
  if (name.indexOf("]", bracket) !== -1) return { name: base, array: true };
  return { name: `${base}_${name.slice(bracket + 1).replace(/[. []/g, "_")}`, array: false };
}
