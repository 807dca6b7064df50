/** cors: preflights answered and actual requests' response headers, as Envoy's cors filter does. */
import { defineFeature } from "../feature.ts";
import { checkCors } from "./check.ts";
import { compileCors, CORSSchema, type CompiledCors, type CORSSpec } from "./compile.ts";

export const cors = defineFeature<CORSSpec, CompiledCors>({
  field: "cors",
  label: "CORS",
  order: 3,
  schema: CORSSchema,
  compile: compileCors,
  upstreamHeaders: () => [],
  summary: (c) => ({
    allowOrigins: [...c.origins, ...c.originPatterns.map((p) => p.written)],
    ...(c.allowMethods === undefined ? {} : { allowMethods: c.allowMethods }),
    ...(c.allowHeaders === undefined ? {} : { allowHeaders: c.allowHeaders }),
    ...(c.exposeHeaders === undefined ? {} : { exposeHeaders: c.exposeHeaders }),
    ...(c.maxAgeSeconds === undefined ? {} : { maxAgeSeconds: c.maxAgeSeconds }),
    allowCredentials: c.allowCredentials,
  }),
  check: checkCors,
});
