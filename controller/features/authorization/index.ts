/** authorization: rules over the request and the identities the phases before it passed (Envoy's rbac filter). */
import { defineFeature } from "../feature.ts";
import { checkAuthorization } from "./check.ts";
import { principalReadsClientAddress } from "./principal-match.ts";
import { AuthorizationSchema, compileAuthorization, type AuthorizationSpec, type CompiledAuthorization } from "./compile.ts";
import { describeRule } from "./describe.ts";

export const authorization = defineFeature<AuthorizationSpec, CompiledAuthorization>({
  field: "authorization",
  label: "Authorization",
  order: 301,
  schema: AuthorizationSchema,
  compile: compileAuthorization,
  upstreamHeaders: () => [],
  summary: (config) => ({ defaultAction: config.defaultAction, rules: config.rules.map(describeRule) }),
  check: checkAuthorization,
  readsIdentityHeaders: true,
  readsClientAddress: (config) => config.rules.some((r) => r.principal !== undefined && principalReadsClientAddress(r.principal)),
});
