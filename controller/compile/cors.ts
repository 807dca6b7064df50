/** Compiles `cors`: origin matchers and pre-rendered Access-Control-* header values. */
import type { CORSSpec } from "../api/securitypolicy.ts";
import type { CompiledCors } from "../snapshot/types.ts";
import type { FeatureResult } from "./apikey.ts";
import { parseGatewayDuration } from "./jwt.ts";

/** "https://*.example.com" matches one or more labels in place of the star, scheme and port exact. */
function originPattern(origin: string): RegExp {
  const escaped = origin.toLowerCase().replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[a-z0-9-]+(?:\\.[a-z0-9-]+)*");
  return new RegExp(`^${escaped}$`);
}

export function compileCors(spec: CORSSpec): FeatureResult<CompiledCors> {
  const origins = spec.allowOrigins ?? [];
  const anyOrigin = origins.includes("*");
  if (anyOrigin && spec.allowCredentials === true) {
    // Browsers refuse credentials with a wildcard origin; echoing any origin back would hand them out to every site.
    return { ok: false, error: 'cors: allowCredentials cannot be combined with allowOrigins "*"' };
  }
  for (const o of origins) {
    if (o !== "*" && !/^https?:\/\/[^/?#\s]+$/.test(o)) return { ok: false, error: `cors.allowOrigins: ${JSON.stringify(o)} is not an origin such as https://app.example.com` };
  }
  const join = (list: readonly string[] | undefined) => (list === undefined || list.length === 0 ? undefined : list.join(", "));
  return {
    ok: true,
    value: {
      anyOrigin,
      origins: origins.filter((o) => o !== "*" && !o.includes("*")).map((o) => o.toLowerCase()),
      originPatterns: origins.filter((o) => o !== "*" && o.includes("*")).map(originPattern),
      allowMethods: join(spec.allowMethods?.map((m) => m.toUpperCase())),
      allowHeaders: join(spec.allowHeaders),
      exposeHeaders: join(spec.exposeHeaders),
      maxAgeSeconds: spec.maxAge === undefined ? undefined : String(Math.floor(parseGatewayDuration(spec.maxAge) / 1000)),
      allowCredentials: spec.allowCredentials === true,
    },
  };
}
