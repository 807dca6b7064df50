/** A query parameter's values as Envoy's filters read them and as the upstreams that read a query otherwise do. */
import { phpMayRename, phpRenamedParam } from "../snapshot/query-readings.ts";

/**
 * Whether some reading finds other parameters in `query` (the text after the "?") than a form's
 * decoding: it holds a ";", starts with "?" or has a name PHP may rename, which includes any "+".
 */
export function readOtherwise(query: string): boolean {
  return query.includes(";") || query.startsWith("?") || phpMayRename(query);
}

/**
 * The values of the named parameter as Envoy's api_key_auth and jwt_authn filters read them
 * (Http::Utility::QueryParamsMulti::parseAndDecodeQueryString, of which they take the first): the
 * query split at "&" only, names and values percent-decoded, and nothing else: "+" stays "+", a
 * leading "?" is part of the first name. A form's decoding (URLSearchParams) once neither a "+" nor a
 * leading "?" is left for it to read otherwise; decoded bytes are read as UTF-8, as everywhere else.
 */
export function envoyParams(query: string, name: string): string[] {
  return new URLSearchParams(`&${query.replaceAll("+", "%2B")}`).getAll(name);
}

/**
 * `values` (the form's reading of the named parameter) and then, once each, the values only another
 * reading finds: Envoy's (`envoy`), the query split at ";" too, and PHP's renamed name. A function of
 * its own: a closure in `params` would allocate its context on every call, a query or not.
 */
export function withOtherReadings(values: string[], envoy: readonly string[], query: string, name: string): readonly string[] {
  const added: string[] = [];
  const add = (value: string) => {
    if (!values.includes(value) && !added.includes(value)) added.push(value);
  };
  for (const value of envoy) add(value);
  if (query.includes(";")) for (const value of new URLSearchParams(query.replaceAll(";", "&")).getAll(name)) add(value);
  const php = phpRenamedParam(query, name);
  if (php !== undefined) add(php);
  return added.length === 0 ? values : [...values, ...added];
}
