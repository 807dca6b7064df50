/** The Cookie header read as most servers read it and as Envoy's filters read it (DESIGN §0: every reading is decided). */
import { phpVariable } from "../snapshot/query-readings.ts";

/**
 * The Cookie header's pairs by name: on every reading, by lower-case name (ASP.NET Core reads cookie
 * names in any letter case), and as Envoy reads them, by name as sent (undefined: as on every reading,
 * every name then being in lower case already).
 */
export interface CookieReadings {
  readonly every: ReadonlyMap<string, string[]>;
  readonly envoy: ReadonlyMap<string, string[]> | undefined;
}

const NO_COOKIES: CookieReadings = Object.freeze({ every: new Map<string, string[]>(), envoy: undefined });

/**
 * The Cookie header read two ways: each pair's name and value trimmed, the name in any letter case
 * (a pair holding "," also as its pieces split there: addCommaPieces)
 * (most servers; ASP.NET Core's cookie names are case-insensitive) and, where PHP registers it as
 * another variable, under that name too (phpVariable: `access.token`, `access token` and
 * `access_token[x]` are its access_token; PHP 8.1.11 and later no longer percent-decode cookie
 * names, so `%2E` is not read as "."), and as Envoy reads it
 * (envoyCookie, names case-sensitive). `every` holds both readings' values under the lower-case
 * name, `envoy` Envoy's only under the name as sent, and is built only once a pair reads otherwise
 * there (a name with an upper-case letter, a tab before it or a space after it, a value with spaces
 * around it or in double quotes).
 */
export function parseCookies(header: string | undefined): CookieReadings {
  // Most checks carry no Cookie header and still ask (asEnvoyReads): nothing to allocate for them.
  if (header === undefined || header === "") return NO_COOKIES;
  const every = new Map<string, string[]>();
  let envoy: Map<string, string[]> | undefined;
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    const [envoyName, envoyValue] = envoyCookie(part, eq);
    const folded = name.toLowerCase();
    // PHP registers a cookie's name as a variable too ($_COOKIE): `access.token` is its access_token.
    const php = phpVariable(name)?.name.toLowerCase();
    const renamed = php !== undefined && php !== folded ? php : undefined;
    const comma = part.includes(",");
    const same = envoyName === name && envoyValue === value && folded === name && renamed === undefined && !comma;
    if (!same && envoy === undefined) envoy = new Map([...every].map(([n, values]) => [n, [...values]]));
    // Every occurrence is kept: servers disagree on which duplicate wins, so a credential cookie
    // sent twice (in any letter case) is refused (API keys) or has every copy verified (JWT), never half-read.
    if (name !== "") addCookie(every, folded, value);
    if (renamed !== undefined) addCookie(every, renamed, value);
    if (envoyName !== "" && (envoyName !== name || envoyValue !== value)) addCookie(every, envoyName.toLowerCase(), envoyValue);
    if (envoy !== undefined && envoyName !== "") addCookie(envoy, envoyName, envoyValue);
    if (comma) addCommaPieces(every, part);
  }
  return { every, envoy };
}

/**
 * The pieces of a pair holding "," as a parser that splits the Cookie header at "," too reads them
 * (Rack before 2.2, RFC 2965 parsers: Tomcat's legacy cookie processor, Jetty's RFC 2965 mode):
 * `theme=dark,apikey=k` is the cookies theme (`dark`) and apikey (`k`) there. Each piece with a
 * name is added to `every`, name in lower case, name and value trimmed.
 */
function addCommaPieces(every: Map<string, string[]>, part: string): void {
  for (const piece of part.split(",")) {
    const eq = piece.indexOf("=");
    if (eq === -1) continue;
    const name = piece.slice(0, eq).trim();
    if (name !== "") addCookie(every, name.toLowerCase(), piece.slice(eq + 1).trim());
  }
}

function addCookie(map: Map<string, string[]>, name: string, value: string): void {
  const values = map.get(name);
  if (values === undefined) map.set(name, [value]);
  else values.push(value);
}

/**
 * A pair of the Cookie header (the text between two ";", with its "=" at `eq`) as Envoy reads it
 * (Http::Utility's cookie parser, which api_key_auth and jwt_authn use): the name from its first
 * character that is not a space to the "=" (a tab before it or a space after it stays), the value
 * everything after the "=", without the double quotes around it.
 */
function envoyCookie(part: string, eq: number): [name: string, value: string] {
  let from = 0;
  while (from < eq && part.charCodeAt(from) === 32) from++;
  const value = part.slice(eq + 1);
  return [part.slice(from, eq), value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value];
}
