/**
 * Compiles `cors` into what Envoy's cors filter is given by Envoy Gateway v1.9.0
 * (internal/gatewayapi/securitypolicy.go buildCORS, internal/xds/translator/cors.go): origins as
 * case-sensitive exact matchers, or full-match patterns where each `*` stands for any text;
 * methods and headers joined with ", ", or "*" (echo what the preflight asks) when the list holds
 * "*"; expose headers joined as written; max age in whole seconds.
 */
import { z } from "zod";
import { GatewayDurationSchema, parseGatewayDuration } from "../../api/meta.ts";
import { ORIGIN, originPattern, type WildcardOrigin } from "../../lib/origin.ts";
import { fail, ok, type Result } from "../../lib/result.ts";

/** Envoy Gateway's CORS (api/v1alpha1/cors_types.go). */
export const CORSSchema = z
  .object({
    allowOrigins: z.array(z.string().min(1)).optional(),
    allowMethods: z.array(z.string().min(1)).optional(),
    allowHeaders: z.array(z.string().min(1)).optional(),
    exposeHeaders: z.array(z.string().min(1)).optional(),
    maxAge: GatewayDurationSchema.optional(),
    allowCredentials: z.boolean().optional(),
  })
  .strict();
export type CORSSpec = z.infer<typeof CORSSchema>;

export interface CompiledCors {
  /** Origins matched exactly, case-sensitively (as Envoy's exact string matcher). */
  readonly origins: readonly string[];
  /** Wildcard origins, each `*` standing for any text ("*" alone: every origin). */
  readonly originPatterns: readonly WildcardOrigin[];
  /** Header values as configured, ", "-joined; "*" means the preflight's own request is echoed; undefined when not set. */
  readonly allowMethods: string | undefined;
  readonly allowHeaders: string | undefined;
  readonly exposeHeaders: string | undefined;
  /** Whole seconds, as a header value. */
  readonly maxAgeSeconds: string | undefined;
  readonly allowCredentials: boolean;
}

const MAX_ORIGIN_LENGTH = 253;
/** An origin whose host is only a wildcard: it matches every site of its scheme (or every site at all). */
const EVERY_SITE = /^(?:\*|[^:]+:\/\/\*(?::\d+)?)$/;

export function compileCors(spec: CORSSpec): Result<CompiledCors> {
  const origins = spec.allowOrigins ?? [];
  const problems: string[] = [];
  for (const [i, o] of origins.entries()) {
    if (o.length > MAX_ORIGIN_LENGTH || !ORIGIN.test(o)) {
      problems.push(
        `allowOrigins[${i}]: ${JSON.stringify(o.slice(0, 80))} is not an origin such as https://app.example.com, https://*.example.com or *`,
      );
    }
  }
  const everySite = origins.find((o) => EVERY_SITE.test(o));
  if (everySite !== undefined && spec.allowCredentials === true) {
    // Envoy would echo any origin with credentials allowed: every site could read a signed-in user's responses.
    problems.push(`allowCredentials cannot be combined with allowOrigins ${JSON.stringify(everySite)}, which matches every site`);
  }
  if (problems.length > 0) return fail(problems);
  return ok({
    origins: origins.filter((o) => !o.includes("*")),
    originPatterns: origins.filter((o) => o.includes("*")).map(originPattern),
    allowMethods: joinOrEcho(spec.allowMethods),
    allowHeaders: joinOrEcho(spec.allowHeaders),
    exposeHeaders: spec.exposeHeaders === undefined || spec.exposeHeaders.length === 0 ? undefined : spec.exposeHeaders.join(", "),
    maxAgeSeconds: spec.maxAge === undefined ? undefined : String(Math.floor(parseGatewayDuration(spec.maxAge) / 1000)),
    allowCredentials: spec.allowCredentials === true,
  });
}

/** The list as one header value; a list holding "*" is "*" (the preflight's own request is echoed). */
function joinOrEcho(list: readonly string[] | undefined): string | undefined {
  if (list === undefined || list.length === 0) return undefined;
  return list.includes("*") ? "*" : list.join(", ");
}
