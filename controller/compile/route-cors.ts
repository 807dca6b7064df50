/**
 * A route rule's Gateway API `CORS` filter (HTTPCORSFilter), enforced as Envoy Gateway v1.9.0 does:
 * translated like a SecurityPolicy's `cors` (internal/gatewayapi/filters.go processCORSFilter) and
 * taking precedence over it on that rule (internal/xds/translator/cors.go patchRoute). Behind Envoy
 * Gateway its Envoy answers the rule's preflights itself; behind nginx, Caddy or a plain Envoy only
 * Portcullis can, and an allowed origin's response headers must come from the filter, not from a
 * policy's `cors` that Envoy Gateway would not apply there.
 */
import { z } from "zod";
import type { HTTPRouteRule } from "../api/gatewayapi.ts";
import type { ConfiguredFeature } from "../features/feature.ts";
import { compileCors } from "../features/cors/compile.ts";
import { cors } from "../features/cors/index.ts";
import { fail } from "../lib/result.ts";
import type { CompiledPolicy } from "../snapshot/types.ts";

/** Gateway API v1.6.1 HTTPCORSFilter; `maxAge` in whole seconds. */
const HTTPCORSFilterSchema = z.object({
  allowOrigins: z.array(z.string()).optional(),
  allowCredentials: z.boolean().optional(),
  allowMethods: z.array(z.string()).optional(),
  allowHeaders: z.array(z.string()).optional(),
  exposeHeaders: z.array(z.string()).optional(),
  maxAge: z.number().int().min(0).optional(),
});

/**
 * The rule's effective policy with its CORS filter in place of the policy's `cors`: undefined
 * `policy` (no SecurityPolicy) gives a policy of the filter alone, marked `routeFilterOnly`; an
 * invalid policy stays as it is (denied). Without a CORS filter, `policy` itself. A filter that
 * cannot be compiled makes the rule's policy invalid (denied), naming the filter (`label`: the
 * rule as decisions name it).
 */
export function withRouteCors(policy: CompiledPolicy | undefined, rule: HTTPRouteRule, label: string): CompiledPolicy | undefined {
  const filter = corsFilterOf(rule);
  if (filter === undefined || policy?.invalid !== undefined) return policy;
  // The policy's other fields (its id, managed headers, where its references came from) stay.
  const base = policy ?? { id: `HTTPRoute ${label} (CORS filter)`, managedHeaders: [], routeFilterOnly: true as const };
  const parsed = HTTPCORSFilterSchema.safeParse(filter);
  // Envoy Gateway translates an absent maxAge as 0 seconds (a cluster's CRD defaults it to 5).
  const compiled = parsed.success
    ? compileCors({ ...parsed.data, maxAge: `${parsed.data.maxAge ?? 0}s` })
    : fail(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  if (!compiled.ok) return { ...base, invalid: `the HTTPRoute CORS filter of ${label}: ${compiled.error.join("; ")}`, features: [] };
  const routeCors: ConfiguredFeature = { feature: cors, compiled: compiled.value };
  // cors is the first phase (features/index.ts): the filter's takes its place, the other features follow.
  return { ...base, invalid: undefined, features: [routeCors, ...(policy?.features ?? []).filter((f) => f.feature !== cors)] };
}

/** The `cors` of the rule's last CORS filter (Envoy Gateway keeps the last), or undefined. */
function corsFilterOf(rule: HTTPRouteRule): unknown {
  const filters = (rule as { filters?: unknown }).filters;
  if (!Array.isArray(filters)) return undefined;
  let found: unknown;
  for (const f of filters) if (typeof f === "object" && f !== null && f.type === "CORS" && f.cors != null) found = f.cors;
  return found;
}
