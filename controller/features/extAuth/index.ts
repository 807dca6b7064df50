/**
 * extAuth: an external authorization service asked about each request as Envoy's ext_authz
 * filter asks it, at that filter's place (Envoy Gateway's order 6: after cors, before apiKeyAuth,
 * basicAuth and jwt, which then read the request as the service left it).
 */
import { defineFeature } from "../feature.ts";
import { checkExtAuth, checkHookUp, HOOK_UP } from "./check.ts";
import { compileExtAuth, isHookUp } from "./compile.ts";
import { ExtAuthSchema, type ExtAuthSpec } from "./schema.ts";
import type { ExtAuthConfig } from "./types.ts";

/** Other features ask it of the policy's compiled extAuth: behind the hook-up, the proxy's own filters run first. */
export { isHookUp };

export const extAuth = defineFeature<ExtAuthSpec, ExtAuthConfig>({
  field: "extAuth",
  label: "ExtAuth",
  order: 6,
  schema: ExtAuthSchema,
  compile: (spec, context) => compileExtAuth(spec, context.ownerOf, context.refs, context.selfService),
  // A gRPC service may set any header; only an HTTP service's `headersToBackend` are known beforehand.
  upstreamHeaders: (config) => config.headersToBackend,
  summary: (config) =>
    "hookUp" in config
      ? // Its headersToBackend show in the routes' "removes" lists.
        `${HOOK_UP}, ${config.protocol}: ${config.hookUp.join(", ")}`
      : {
          [config.protocol]: config.service.names,
          endpoints: config.service.endpoints.map((e) => `${e.host}:${e.port}${e.weight === 1 ? "" : ` weight ${e.weight}`}`),
          ...(config.service.tls === undefined ? {} : { tls: true }),
          ...(config.pathPrefix === "" ? {} : { path: config.pathPrefix }),
          ...(config.pathOverride === undefined ? {} : { pathOverride: config.pathOverride }),
          ...(config.headersToExtAuth === undefined ? {} : { headersToExtAuth: config.headersToExtAuth }),
          ...(config.headersToBackend.length === 0 ? {} : { headersToBackend: config.headersToBackend }),
          ...(config.maxRequestBytes === undefined ? {} : { maxRequestBytes: config.maxRequestBytes }),
          timeoutMs: config.timeoutMs,
          failOpen: config.failOpen,
          statusOnError: config.statusOnError,
          // Values may come from Secrets: only their names are shown.
          ...(Object.keys(config.contextExtensions).length === 0
            ? {}
            : { contextExtensions: Object.keys(config.contextExtensions).sort() }),
          ...(config.includeRouteMetadata ? { includeRouteMetadata: true } : {}),
          ...(config.recomputeRoute ? { recomputeRoute: true } : {}),
        },
  check: (config, request, where, _passed, ctx) =>
    "hookUp" in config ? checkHookUp(config, ctx) : checkExtAuth(config, request, where, ctx),
});
