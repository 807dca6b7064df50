/** The methods an upstream may run a request's method as (DESIGN §0: every reading is decided). */

/**
 * Every method an upstream may run `method` as, the method itself first. Envoy matches methods
 * exactly, but Django and Werkzeug (Flask) upper-case the method (`get` runs the GET view; Caddy
 * and Go pass such a method on), and Express, Go's ServeMux, Rails, Flask and Spring run a GET
 * handler for a HEAD request that has no HEAD handler of its own: a method is also decided
 * upper-cased, and a HEAD also as GET.
 */
export function methodReadings(method: string): readonly string[] {
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
