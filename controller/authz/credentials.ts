/** Reading credentials from the places a policy names: headers (with a prefix), query params, cookies. */
import { withoutOws } from "../lib/field-values.ts";
import type { CredentialSource } from "../snapshot/types.ts";
import type { NormalizedRequest } from "./request.ts";

/**
 * Every value a source yields as Envoy reads it, in order; empty when absent. A header yields one
 * value per line: the whole line (an empty or whitespace-only line too, as the empty token), or with a `prefix`, as Envoy's jwt_authn extractor
 * (`extractor.cc`): the prefix found anywhere in the line, case-sensitively and spelt exactly
 * (a line without it holds no token), then everything from the first base64url or "." character
 * after it to the end of the line; a line holding the prefix and no such character yields the
 * whole line (which then fails to verify). A query parameter or a cookie may repeat, and an empty one
 * is a token too, as for Envoy (its query parser stores `""` for `a=` and for a bare `a`, its cookie
 * parser keeps `a=`, and the extractor takes whatever value it finds, which then fails as malformed).
 * One value is answered as itself (Credentials).
 */
export function readCredential(request: NormalizedRequest, source: CredentialSource): Credentials {
  switch (source.in) {
    case "header":
      return headerTokens(request, source.name, source.prefix, envoyToken);
    case "param":
      return request.params(source.name);
    case "cookie":
      return request.cookies(source.name);
  }
}

/**
 * The tokens other readers take from a header's lines where Envoy takes none or another (empty
 * for a query parameter or a cookie, and for a line that begins with the prefix as configured):
 * the prefix matched in any letter case (an auth scheme is case-insensitive, RFC 9110 §11.1) and
 * with any whitespace where it has a space (Python's `str.split()`, used by Django REST framework
 * and Flask-JWT-Extended, reads `Bearer<TAB><t>`), then the token as Envoy cuts it. Envoy never
 * verifies these; a token the upstream may still read must not pass unverified.
 */
export function readCredentialOtherwise(request: NormalizedRequest, source: CredentialSource): Credentials {
  return source.in === "header" ? headerTokens(request, source.name, source.prefix, tokenOtherwise) : NONE;
}

/**
 * The values a source yields, in order: one value as itself (a string, the empty token "" too), none
 * or several as a list. The usual request holds one token, and a list of it was built on every check.
 * Read it with `typeof credentials === "string"`, never with `.length` or `[i]` on the union.
 */
export type Credentials = string | readonly string[];

const NONE: readonly string[] = Object.freeze([]);

/** What `read` yields from each line (withoutOws) of header `name`, in order (Credentials). */
function headerTokens(
  request: NormalizedRequest,
  name: string,
  prefix: string | undefined,
  read: (line: string, prefix: string | undefined) => string | undefined,
): Credentials {
  // An index loop over the lines, as an iterator (or a list of the one line) would be allocated on every
  // request; a list only from a second value on, built with both (an empty one grown by push reserves 17 slots).
  const lines = request.headerLineCount(name);
  let first: string | undefined;
  let several: string[] | undefined;
  for (let i = 0; i < lines; i++) {
    const credential = read(withoutOws(request.headerLineAt(name, i)), prefix);
    if (credential === undefined) continue;
    if (first === undefined) first = credential;
    else if (several === undefined) several = [first, credential];
    else several.push(credential);
  }
  return several ?? first ?? NONE;
}

/** The token Envoy takes from one header line (withoutOws), as readCredential describes; undefined for none. */
function envoyToken(line: string, prefix: string | undefined): string | undefined {
  // Without a prefix every line is a token, an empty one too (Envoy then refuses it as malformed, optional jwt or not).
  if (prefix === undefined || prefix === "") return line;
  // Most lines begin with the prefix: startsWith does not scan the whole token as indexOf would on a miss.
  const at = line.startsWith(prefix) ? 0 : line.indexOf(prefix);
  return at === -1 ? undefined : tokenAfter(line, at + prefix.length);
}

/** The token another reader takes from one header line where Envoy takes none or another, as readCredentialOtherwise describes. */
function tokenOtherwise(line: string, prefix: string | undefined): string | undefined {
  if (prefix === undefined || prefix === "" || line.startsWith(prefix)) return undefined;
  const at = foldForPrefix(line).indexOf(foldForPrefix(prefix));
  if (at === -1) return undefined;
  const token = tokenAfter(line, at + prefix.length);
  return token === envoyToken(line, prefix) ? undefined : token;
}

/** From the first base64url or "." character of `line` at or after `from` to the end; the whole line when there is none. */
function tokenAfter(line: string, from: number): string {
  // A loop: no copy of a token-sized string.
  for (let i = from; i < line.length; i++) {
    const c = line.charCodeAt(i);
    // A-Z, a-z, 0-9, "_", ".", "-"
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 45) return line.slice(i);
  }
  return line;
}

/** Lower case, every whitespace character a space: one character for one, so indexes carry over. */
const foldForPrefix = (text: string) => text.toLowerCase().replace(/\s/g, " ");

/**
 * The Cookie header without the named cookies, each removed whatever the letter case of its name (an
 * upstream may read names in any case: ASP.NET Core does), and without a pair holding "," any piece
 * of which names one (`theme=dark,apikey=k`: a parser splitting at "," too, Rack before 2.2 or an
 * RFC 2965 one, reads the cookie apikey there); undefined when nothing remains.
 */
export function cookieHeaderWithout(header: string | undefined, names: ReadonlySet<string>): string | undefined {
  const folded = new Set<string>();
  for (const name of names) folded.add(name.toLowerCase());
  const removed = (p: string) => folded.has(nameOfPair(p));
  const kept = (header ?? "")
    .split(";")
    .map((p) => p.trim())
    .filter((p) => p !== "" && !removed(p) && !(p.includes(",") && p.split(",").some(removed)));
  return kept.length === 0 ? undefined : kept.join("; ");
}

/** A cookie pair's name, trimmed and in lower case ("" without "="). */
const nameOfPair = (pair: string): string =>
  pair
    .slice(0, Math.max(0, pair.indexOf("=")))
    .trim()
    .toLowerCase();
