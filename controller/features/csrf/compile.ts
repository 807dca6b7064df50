/**
 * Compiles `csrf` into what Envoy's csrf filter is given by Envoy Gateway v1.9.0
 * (internal/gatewayapi/securitypolicy.go buildCSRF, internal/xds/translator/csrf.go): each
 * additional origin without its scheme (the filter compares host and port only), as an exact
 * matcher or, with a `*`, a full-match pattern where `*` stands for any text; and the fraction of
 * requests enforced, the complement of `shadowFraction`.
 */
import { z } from "zod";
import { ok, problem, type Result } from "../../lib/result.ts";
import { ORIGIN, originPattern, type WildcardOrigin } from "../../lib/origin.ts";

/** Gateway API Fraction: numerator ≤ denominator, the denominator 100 unless given. */
const FractionSchema = z
  .object({ numerator: z.number().int().min(0), denominator: z.number().int().min(1).default(100) })
  .strict()
  .refine((f) => f.numerator <= f.denominator, { message: "numerator must be less than or equal to denominator" });

/** Envoy Gateway's CSRF (api/v1alpha1/csrf_types.go). */
export const CSRFSchema = z
  .object({
    shadowFraction: FractionSchema.optional(),
    additionalOrigins: z.array(z.string().min(1)).max(16).optional(),
  })
  .strict();
export type CSRFSpec = z.infer<typeof CSRFSchema>;

export interface CompiledCsrf {
  /** Host[:port] of additional origins matched exactly, case-sensitively (Envoy's exact string matcher). */
  readonly origins: readonly string[];
  /** Additional origins with a wildcard, their host[:port] matched whole. */
  readonly originPatterns: readonly WildcardOrigin[];
  /** The share of requests whose failed check is enforced (1 − shadowFraction); the others pass, as in Envoy's shadow mode. */
  readonly enforcedFraction: number;
}

/** The host and optional port of an origin pattern: Envoy Gateway cuts everything up to "://" (a bare "*" stays). */
const hostAndPortOf = (origin: string): string => {
  const at = origin.indexOf("://");
  return at === -1 ? origin : origin.slice(at + 3);
};

export function compileCsrf(spec: CSRFSpec): Result<CompiledCsrf> {
  const origins = spec.additionalOrigins ?? [];
  for (const [i, o] of origins.entries()) {
    if (o.length > 253 || !ORIGIN.test(o)) {
      return problem(
        `additionalOrigins[${i}]: ${JSON.stringify(o.slice(0, 80))} is not an origin such as https://app.example.com, https://*.example.com or *`,
      );
    }
  }
  const hosts = origins.map(hostAndPortOf);
  const shadow = spec.shadowFraction;
  return ok({
    origins: hosts.filter((h) => !h.includes("*")),
    originPatterns: hosts.filter((h) => h.includes("*")).map(originPattern),
    enforcedFraction: shadow === undefined ? 1 : (shadow.denominator - shadow.numerator) / shadow.denominator,
  });
}
