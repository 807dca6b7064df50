/** apiKeyAuth: API keys from Secrets, checked as Envoy's api_key_auth filter does. */
import { describeSource } from "../../snapshot/summary.ts";
import { defineFeature } from "../feature.ts";
import { checkApiKey } from "./check.ts";
import { APIKeyAuthSchema, compileApiKey, type APIKeyAuthSpec, type CompiledApiKey } from "./compile.ts";

export const apiKeyAuth = defineFeature<APIKeyAuthSpec, CompiledApiKey>({
  field: "apiKeyAuth",
  label: "APIKeyAuth",
  order: 7,
  schema: APIKeyAuthSchema,
  compile: compileApiKey,
  upstreamHeaders: (config) => config.headersSet,
  summary: (config) => ({
    from: config.sources.map(describeSource),
    // A copy: policies naming the same Secret share one list, and a YAML rendering would print it as an alias.
    clients: [...config.clientIDs],
    ...(config.forwardClientIDHeader === undefined ? {} : { forwardClientIDHeader: config.forwardClientIDHeader }),
    sanitize: config.sanitizedByProxy ? "by the proxy, after the check (extAuth hook-up)" : config.sanitize,
  }),
  check: (config, request, where, _passed, ctx) => checkApiKey(config, request, where, ctx.memo, ctx.trace),
});
