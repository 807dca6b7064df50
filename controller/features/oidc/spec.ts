/**
 * The `oidc` field of a SecurityPolicy spec, as Envoy Gateway v1.9.0 defines it
 * (api/v1alpha1/oidc_types.go): the OpenID provider, the client, and how the browser session is
 * kept. The provider's backendRefs/backendSettings (how the provider is reached) are checked as
 * for a remote JWKS (features/jwt/compile.ts), with the same refusals.
 */
import { z } from "zod";
import { BackendRefSchema, ClusterSettingsSchema } from "../../api/cluster-settings.ts";
import { GatewayDurationSchema, SecretRefSchema } from "../../api/meta.ts";

const ProviderSchema = z
  .object({
    issuer: z.string().min(1),
    authorizationEndpoint: z.string().min(1).optional(),
    tokenEndpoint: z.string().min(1).optional(),
    endSessionEndpoint: z.string().min(1).optional(),
    backendRef: z.unknown().optional(),
    backendRefs: z.array(BackendRefSchema).max(16).optional(),
    backendSettings: ClusterSettingsSchema.optional(),
  })
  .strict()
  .refine((p) => p.backendRef === undefined, { message: "BackendRefs must be used, backendRef is not supported." })
  .refine((p) => p.backendSettings?.retry?.perRetry?.timeout === undefined, { message: "Retry timeout is not supported." })
  .refine((p) => p.backendSettings?.retry?.retryOn?.httpStatusCodes === undefined, { message: "HTTPStatusCodes is not supported." });

/** Envoy Gateway's StringMatch: Exact (the default), Prefix, Suffix or RegularExpression over a header value. */
const DenyRedirectHeaderSchema = z
  .object({
    name: z.string().min(1),
    type: z.enum(["Exact", "Prefix", "Suffix", "RegularExpression"]).default("Exact"),
    value: z.string().min(1).max(1024),
  })
  .strict();

export const OIDCSchema = z
  .object({
    provider: ProviderSchema,
    clientID: z.string().min(1).optional(),
    clientIDRef: SecretRefSchema.optional(),
    clientSecret: SecretRefSchema,
    cookieNames: z
      .object({ accessToken: z.string().min(1).optional(), idToken: z.string().min(1).optional() })
      .strict()
      .optional(),
    cookieConfig: z
      .object({ sameSite: z.enum(["Lax", "Strict", "None"]).optional() })
      .strict()
      .optional(),
    cookieDomain: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "not a lower-case DNS domain")
      .optional(),
    scopes: z.array(z.string().min(1)).optional(),
    resources: z.array(z.string().min(1)).optional(),
    redirectURL: z.string().min(1).optional(),
    denyRedirect: z
      .object({ headers: z.array(DenyRedirectHeaderSchema).min(1).max(16) })
      .strict()
      .optional(),
    logoutPath: z.string().min(1).optional(),
    forwardAccessToken: z.boolean().optional(),
    forwardIDToken: z
      .object({
        header: z
          .string()
          .min(1)
          .max(256)
          .regex(/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/, "not a valid HTTP header name")
          .refine((h) => h.toLowerCase() !== "host", "header cannot be the Host header"),
      })
      .strict()
      .optional(),
    defaultTokenTTL: GatewayDurationSchema.optional(),
    refreshToken: z.boolean().optional(),
    defaultRefreshTokenTTL: GatewayDurationSchema.optional(),
    csrfTokenTTL: GatewayDurationSchema.optional(),
    disableTokenEncryption: z.boolean().optional(),
    passThroughAuthHeader: z.boolean().optional(),
  })
  .strict()
  .refine((o) => (o.clientID === undefined) !== (o.clientIDRef === undefined), {
    message: "only one of clientID or clientIDRef must be set",
  })
  .refine((o) => !(o.forwardAccessToken === true && o.forwardIDToken?.header.toLowerCase() === "authorization"), {
    message: "forwardAccessToken cannot be true when forwardIDToken.header is Authorization",
  });
export type OIDCSpec = z.infer<typeof OIDCSchema>;
