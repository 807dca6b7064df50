/** jwt: bearer tokens verified against providers' key sets, as Envoy's jwt_authn filter does. */
import { describeJwks, describeSource } from "../../snapshot/summary.ts";
import { defineFeature, type Pass } from "../feature.ts";
import { checkJwt } from "./check.ts";
import { compileJwt, JWTSchema, type CompiledJwt, type JWTSpec } from "./compile.ts";

/** The spec oidc reads for passThroughAuthHeader (which headers jwt takes its tokens from). */
export type { JWTSpec };

export const jwt = defineFeature<JWTSpec, CompiledJwt>({
  field: "jwt",
  label: "JWT",
  order: 10,
  schema: JWTSchema,
  compile: compileJwt,
  upstreamHeaders: (config) => config.providers.flatMap((p) => p.claimToHeaders.map((c) => c.header)),
  keySources: (config) => config.providers.map((p) => p.jwks).filter((s) => s.kind === "remote"),
  summary: (config) => ({
    optional: config.optional,
    ...(config.failOpen ? { failOpen: true } : {}),
    providers: config.providers.map((p) => ({
      name: p.name,
      issuer: p.issuer ?? "(any)",
      audiences: p.audiences.length === 0 ? "(any)" : p.audiences,
      jwks: describeJwks(p.jwks),
      from: p.sources.map(describeSource),
      ...(p.claimToHeaders.length === 0 ? {} : { claimToHeaders: p.claimToHeaders.map((c) => `${c.claim.join(".")} -> ${c.header}`) }),
      ...(p.recomputeRoute ? { recomputeRoute: true } : {}),
    })),
  }),
  check: (config, request, where, passed, ctx) => checkJwt(leftToJwt(passed) ? requiredOf(config) : config, request, where, ctx),
});

/** Whether an earlier phase (oidc's passThroughAuthHeader) left the request to jwt. An index loop: no closure on every check. */
function leftToJwt(passed: readonly Pass[]): boolean {
  for (let i = 0; i < passed.length; i++) if (passed[i]!.leftToJwt === true) return true;
  return false;
}

/** Each configuration as a required jwt (neither optional nor failOpen), made once. */
const required = new WeakMap<CompiledJwt, CompiledJwt>();

/**
 * `config` for a request oidc left to jwt (passThroughAuthHeader): Envoy Gateway lets a failOpen
 * jwt pass the refused token after oauth2 skipped the login on the header's presence alone, so any
 * `Authorization: Bearer x` would open a route browsers reach only logged in. Stricter: the token
 * must verify.
 */
function requiredOf(config: CompiledJwt): CompiledJwt {
  if (!config.optional && !config.failOpen) return config;
  let strict = required.get(config);
  if (strict === undefined) required.set(config, (strict = Object.freeze({ ...config, optional: false, failOpen: false })));
  return strict;
}
