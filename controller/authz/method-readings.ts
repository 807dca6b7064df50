/** The methods an upstream may run a request's method as (DESIGN §0: every reading is decided). */
import { withoutOws } from "../lib/field-values.ts";
import type { NormalizedRequest } from "./request.ts";

/**
 * Every method an upstream may run `method` as, the method itself first. Envoy matches methods
 * exactly, but Django and Werkzeug (Flask) upper-case the method (`get` runs the GET view; Caddy
 * and Go pass such a method on), and Express, Go's ServeMux, Rails, Flask and Spring run a GET
 * handler for a HEAD request that has no HEAD handler of its own: a method is also decided
 * upper-cased, and a HEAD also as GET. Then, once each, the readings of each method in
 * `overrides` (methodOverrides), which the request asks the upstream to run it as.
 */
export function methodReadings(method: string, overrides: readonly string[] = NO_OVERRIDES): readonly string[] {
  const own = ownReadings(method);
  if (overrides.length === 0) return own;
  const every = [...own];
  for (const override of overrides) for (const m of ownReadings(override)) if (!every.includes(m)) every.push(m);
  return every;
}

function ownReadings(method: string): readonly string[] {
  const only = ONLY_READING.get(method);
  if (only !== undefined) return only;
  const upper = method.toUpperCase();
  if (upper === "HEAD") return upper === method ? HEAD_READINGS : [method, ...HEAD_READINGS];
  return upper !== method ? [method, upper] : [method];
}
const HEAD_READINGS: readonly string[] = Object.freeze(["HEAD", "GET"]);
/** The usual methods' one reading, each built once and found before any case is folded. */
const ONLY_READING: ReadonlyMap<string, readonly string[]> = new Map(
  ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].map((m) => [m, Object.freeze([m])]),
);
const NO_OVERRIDES: readonly string[] = Object.freeze([]);

/** The most methods methodOverrides answers: each is a reading of the request, decided in full. */
export const MAX_METHOD_OVERRIDES = 8;

/** The headers through which a client asks an upstream to run a POST as another method. */
export const OVERRIDE_HEADERS = ["x-http-method-override", "x-http-method", "x-method-override"] as const;

/** Why a request with more than MAX_METHOD_OVERRIDES methods in methodOverrides is refused. */
export const TOO_MANY_OVERRIDES = `the request asks for more than ${MAX_METHOD_OVERRIDES} methods to be run as (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override, _method)`;

/**
 * The methods `request`, a POST (its method in any letter case), asks an upstream to run it as
 * instead, once each, none for any other method (every middleware below overrides a POST only):
 * the header X-HTTP-Method-Override (ASP.NET Core's UseHttpMethodOverride, Express's
 * method-override, Rack::MethodOverride, Symfony and Laravel, gorilla/handlers), X-HTTP-Method
 * and X-Method-Override (other middlewares' names for it), each line, the lines joined with ","
 * (ASP.NET Core reads them so) and each piece between commas (Express takes the first), without
 * HTTP's optional whitespace; and the query parameter `_method` in every reading of the query
 * (Spring's HiddenHttpMethodFilter, Symfony, Laravel and gorilla read it from the query too). An
 * empty value is none, as for those middlewares. Undefined past MAX_METHOD_OVERRIDES methods. A
 * `_method` in a form body is not seen: the check carries no body.
 */
export function methodOverrides(request: NormalizedRequest): readonly string[] | undefined {
  const method = request.method;
  if (method !== "POST" && (method.length !== 4 || method.toUpperCase() !== "POST")) return NO_OVERRIDES;
  return overridesOfPost(request);
}

/**
 * methodOverrides of a POST. A function of its own: `add` closes over `found`, so V8 allocates the
 * context holding it (48 B) on entry to the function that declares it, before any early return:
 * in methodOverrides itself every check paid for it, a GET too.
 */
function overridesOfPost(request: NormalizedRequest): readonly string[] | undefined {
  let found: string[] | undefined;
  const add = (value: string) => {
    const m = withoutOws(value);
    if (m !== "" && !(found ??= []).includes(m)) found.push(m);
  };
  for (const name of OVERRIDE_HEADERS) {
    const lines = request.headerLineCount(name);
    for (let i = 0; i < lines; i++) {
      const line = request.headerLineAt(name, i);
      add(line);
      if (line.includes(",")) for (const piece of line.split(",")) add(piece);
    }
    if (lines > 1) add(Array.from({ length: lines }, (_, i) => withoutOws(request.headerLineAt(name, i))).join(","));
  }
  if (request.rawQuery !== undefined) for (const value of request.params("_method")) add(value);
  if (found === undefined) return NO_OVERRIDES;
  return found.length > MAX_METHOD_OVERRIDES ? undefined : found;
}
