/**
 * The SecurityPolicy features Portcullis enforces, in phase order (Envoy Gateway's HTTP filter
 * order, `Feature.order`). A policy's features are compiled in this order (a later one may read an
 * earlier one's result: authorization reads jwt's provider names) and check() runs their phases in
 * it. Adding a feature is its folder and one line here.
 */
import type { z } from "zod";
import { SecurityPolicyBaseSchema, type SecurityPolicySpec } from "../api/securitypolicy.ts";
import { apiKeyAuth } from "./apiKeyAuth/index.ts";
import { authorization } from "./authorization/index.ts";
import { basicAuth } from "./basicAuth/index.ts";
import { cors } from "./cors/index.ts";
import { csrf } from "./csrf/index.ts";
import { extAuth } from "./extAuth/index.ts";
import type { Feature } from "./feature.ts";
import { jwt } from "./jwt/index.ts";
import { oidc } from "./oidc/index.ts";

export const FEATURES: readonly Feature[] = [cors, csrf, extAuth, apiKeyAuth, basicAuth, oidc, jwt, authorization];

/**
 * The SecurityPolicy spec: targets and pending fields (api/securitypolicy.ts) plus each feature's
 * field, still strict (an unknown field is an error). Typed as the base: a feature reads its own field.
 */
export const SecurityPolicySpecSchema: z.ZodType<SecurityPolicySpec> = SecurityPolicyBaseSchema.extend(
  Object.fromEntries(FEATURES.map((f) => [f.field, f.schema.optional()])),
);
