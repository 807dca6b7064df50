/** Origins as Envoy Gateway spells them in `cors.allowOrigins` and `csrf.additionalOrigins`. */
import { builtRe2, type Re2 } from "./regex.ts";

/**
 * Envoy Gateway's Origin pattern (api/v1alpha1/cors_types.go): "*", or scheme://host[:port] where
 * the host is "*", a name, or "*." and a name. Written without nested repetition so that it runs in
 * linear time (the CRD's own spelling backtracks exponentially on a long invalid host).
 */
export const ORIGIN = /^(?:\*|[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:\*|(?:\*\.)?[\w-]+(?:\.[\w-]+)*)(?::\d{1,5})?)$/;

/** A wildcard origin: as written (what summaries show) and as the expression Envoy Gateway matches it with. */
export interface WildcardOrigin {
  readonly written: string;
  /** Envoy Gateway's wildcard2regex (metacharacters quoted, `*` as `.*`), to be matched in full (`testExact`). */
  readonly regex: Re2;
}

/**
 * A wildcard origin with the RE2 expression Envoy Gateway builds for it (lib/regex.ts): `*` takes
 * any character but a newline, and a long Origin header is matched in linear time. `origin`
 * matches ORIGIN, whose characters always make valid RE2.
 */
export function originPattern(origin: string): WildcardOrigin {
  return { written: origin, regex: builtRe2(origin.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")) };
}
