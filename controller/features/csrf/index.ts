/** csrf: mutating requests from another origin refused, as Envoy's csrf filter does. */
import { defineFeature } from "../feature.ts";
import { checkCsrf } from "./check.ts";
import { compileCsrf, CSRFSchema, type CompiledCsrf, type CSRFSpec } from "./compile.ts";

export const csrf = defineFeature<CSRFSpec, CompiledCsrf>({
  field: "csrf",
  label: "CSRF",
  order: 4,
  schema: CSRFSchema,
  compile: compileCsrf,
  upstreamHeaders: () => [],
  summary: (c) => ({
    additionalOrigins: [...c.origins, ...c.originPatterns.map((p) => p.written)],
    ...(c.enforcedFraction === 1 ? {} : { enforcedFraction: c.enforcedFraction }),
  }),
  check: checkCsrf,
});
