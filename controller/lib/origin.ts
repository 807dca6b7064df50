/** Origins as Envoy Gateway spells them in `cors.allowOrigins` and `csrf.additionalOrigins`. */

/**
 * Envoy Gateway's Origin pattern (api/v1alpha1/cors_types.go): "*", or scheme://host[:port] where
 * the host is "*", a name, or "*." and a name. Written without nested repetition so that it runs in
 * linear time (the CRD's own spelling backtracks exponentially on a long invalid host).
 */
export const ORIGIN = /^(?:\*|[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:\*|(?:\*\.)?[\w-]+(?:\.[\w-]+)*)(?::\d{1,5})?)$/;

/** A wildcard origin as the full-match expression Envoy Gateway builds: metacharacters literal, `*` any text. */
export function originPattern(origin: string): RegExp {
  return new RegExp(`^${origin.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
}
