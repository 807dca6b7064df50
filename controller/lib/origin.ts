/** Origins as Envoy Gateway spells them in `cors.allowOrigins` and `csrf.additionalOrigins`. */
import { fullMatchRegex } from "./regex.ts";

/**
 * Envoy Gateway's Origin pattern (api/v1alpha1/cors_types.go): "*", or scheme://host[:port] where
 * the host is "*", a name, or "*." and a name. Written without nested repetition so that it runs in
 * linear time (the CRD's own spelling backtracks exponentially on a long invalid host).
 */
export const ORIGIN = /^(?:\*|[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:\*|(?:\*\.)?[\w-]+(?:\.[\w-]+)*)(?::\d{1,5})?)$/;

/** A wildcard origin: as written (what summaries show) and as the expression Envoy Gateway matches it with. */
export interface WildcardOrigin {
  readonly written: string;
  /** Full match of Envoy Gateway's wildcard2regex: metacharacters quoted, `*` as `.*`. */
  readonly regex: RegExp;
}

/**
 * A wildcard origin with the full-match RE2 expression Envoy Gateway builds for it, run with RE2's
 * meaning on the linear-time engine (lib/regex.ts): `*` takes any character but a newline, and a
 * long Origin header cannot make it backtrack. `origin` matches ORIGIN, whose characters always
 * make valid RE2.
 */
export function originPattern(origin: string): WildcardOrigin {
  const regex = fullMatchRegex(origin.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*"));
  if (!regex.ok) throw new Error(`origin ${JSON.stringify(origin)} ${regex.error.reason}`);
  return { written: origin, regex: regex.value };
}
