/**
 * SecurityPolicy (gateway.envoyproxy.io/v1alpha1): the schema Portcullis validates a policy's spec
 * against. Every field of the Envoy Gateway API is accepted; fields Portcullis reads are typed
 * strictly, so a typo is an error on the policy instead of a silently ignored (and so open) rule.
 */
import { z } from "zod";
import { ExtAuthSchema } from "../features/ext-auth/schema.ts";
import { OIDCSchema } from "../features/oidc/spec.ts";
import { GatewayDurationSchema, LabelSelectorSchema, SecretRefSchema } from "./meta.ts";

export const SECURITY_POLICY_GROUP = "gateway.envoyproxy.io";
export const SECURITY_POLICY_VERSION = "v1alpha1";

const TargetRefSchema = z
  .object({
    group: z.string(),
    kind: z.string().min(1),
    name: z.string().min(1),
    sectionName: z.string().min(1).optional(),
  })
  .strict();
export type PolicyTargetRef = z.infer<typeof TargetRefSchema>;

/**
 * Where a target selector looks (Envoy Gateway's TargetSelectorNamespaces): the policy's own
 * namespace (Same, the default), every namespace (All) or those whose labels match `selector`.
 * A target outside the policy's namespace also needs a ReferenceGrant from the SecurityPolicy.
 */
export const TargetSelectorNamespacesSchema = z
  .object({ from: z.enum(["Same", "All", "Selector"]).default("Same"), selector: LabelSelectorSchema.strict().optional() })
  .strict()
  .refine((n) => n.from !== "Selector" || n.selector !== undefined, { message: "selector must be specified when from is Selector" });
export type TargetSelectorNamespaces = z.infer<typeof TargetSelectorNamespacesSchema>;

/** A Kubernetes label selector plus the kind (and group) it selects, and in which namespaces. */
const TargetSelectorSchema = LabelSelectorSchema.extend({
  group: z.string().optional(),
  kind: z.string().min(1),
  namespaces: TargetSelectorNamespacesSchema.optional(),
}).strict();
export type PolicyTargetSelector = z.infer<typeof TargetSelectorSchema>;

export type SecretRef = z.infer<typeof SecretRefSchema>;

const ExtractFromSchema = z
  .object({
    headers: z.array(z.string().min(1)).optional(),
    params: z.array(z.string().min(1)).optional(),
    cookies: z.array(z.string().min(1)).optional(),
  })
  .strict();

const APIKeyAuthSchema = z
  .object({
    credentialRefs: z.array(SecretRefSchema).min(1),
    extractFrom: z.array(ExtractFromSchema).min(1),
    forwardClientIDHeader: z.string().min(1).optional(),
    sanitize: z.boolean().optional(),
  })
  .strict();
export type APIKeyAuthSpec = z.infer<typeof APIKeyAuthSchema>;

const RemoteJWKSSchema = z
  .object({
    uri: z.string().min(1).max(253),
    cacheDuration: GatewayDurationSchema.optional(),
    backendRef: z.unknown().optional(),
    backendRefs: z.array(z.unknown()).optional(),
    backendSettings: z.unknown().optional(),
  })
  .strict();

const LocalJWKSSchema = z
  .object({
    type: z.enum(["Inline", "ValueRef"]).default("Inline"),
    inline: z.string().optional(),
    valueRef: z
      .object({ group: z.string(), kind: z.string(), name: z.string().min(1) })
      .strict()
      .optional(),
  })
  .strict();

const JWTProviderSchema = z
  .object({
    name: z.string().min(1).max(253),
    issuer: z.string().max(253).optional(),
    audiences: z.array(z.string()).max(8).optional(),
    remoteJWKS: RemoteJWKSSchema.optional(),
    localJWKS: LocalJWKSSchema.optional(),
    claimToHeaders: z.array(z.object({ header: z.string().min(1), claim: z.string().min(1) }).strict()).optional(),
    recomputeRoute: z.boolean().optional(),
    extractFrom: z
      .object({
        headers: z.array(z.object({ name: z.string().min(1), valuePrefix: z.string().optional() }).strict()).optional(),
        cookies: z.array(z.string().min(1)).optional(),
        params: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type JWTProviderSpec = z.infer<typeof JWTProviderSchema>;

const JWTSchema = z.object({ optional: z.boolean().optional(), providers: z.array(JWTProviderSchema).min(1).max(4) }).strict();
export type JWTSpec = z.infer<typeof JWTSchema>;

const BasicAuthSchema = z.object({ users: SecretRefSchema, forwardUsernameHeader: z.string().min(1).optional() }).strict();
export type BasicAuthSpec = z.infer<typeof BasicAuthSchema>;

const AuthorizationActionSchema = z.enum(["Allow", "Deny"]);

const PrincipalSchema = z
  .object({
    clientCIDRs: z.array(z.string().min(1)).min(1).optional(),
    jwt: z
      .object({
        provider: z.string().min(1),
        claims: z
          .array(
            z
              .object({
                name: z.string().min(1),
                valueType: z.enum(["String", "StringArray"]).default("String"),
                values: z.array(z.string()).min(1),
              })
              .strict(),
          )
          .min(1)
          .optional(),
        scopes: z.array(z.string().min(1)).min(1).optional(),
      })
      .strict()
      .optional(),
    headers: z
      .array(z.object({ name: z.string().min(1), values: z.array(z.string()).min(1) }).strict())
      .min(1)
      .optional(),
    clientIPGeoLocations: z.unknown().optional(),
    /** Portcullis extension: a CEL expression over request, jwt, apiKey and source (see README). */
    cel: z.string().min(1).optional(),
  })
  .strict();
export type PrincipalSpec = z.infer<typeof PrincipalSchema>;

const AuthorizationSchema = z
  .object({
    defaultAction: AuthorizationActionSchema.optional(),
    rules: z
      .array(
        z
          .object({
            name: z.string().min(1).optional(),
            action: AuthorizationActionSchema,
            operation: z
              .object({
                methods: z.array(z.string().min(1)).min(1).optional(),
                path: z
                  .object({
                    type: z.enum(["Exact", "PathPrefix", "RegularExpression"]).default("PathPrefix"),
                    value: z.string().default("/"),
                    invert: z.boolean().default(false),
                  })
                  .strict()
                  .optional(),
              })
              .strict()
              .optional(),
            principal: PrincipalSchema,
          })
          .strict(),
      )
      .optional(),
  })
  .strict();
export type AuthorizationSpec = z.infer<typeof AuthorizationSchema>;

const CORSSchema = z
  .object({
    allowOrigins: z.array(z.string().min(1)).optional(),
    allowMethods: z.array(z.string().min(1)).optional(),
    allowHeaders: z.array(z.string().min(1)).optional(),
    exposeHeaders: z.array(z.string().min(1)).optional(),
    maxAge: GatewayDurationSchema.optional(),
    allowCredentials: z.boolean().optional(),
  })
  .strict();
export type CORSSpec = z.infer<typeof CORSSchema>;

/** Features of the API that Portcullis accepts in a manifest but does not enforce yet. */
export const NOT_YET_ENFORCED = ["oidc", "extAuth"] as const;

/**
 * How a route policy merges into its closest parent policy (Envoy Gateway's MergeType; see
 * compile/merge.ts). `Replace`, valid for other Envoy Gateway policies, is not for a SecurityPolicy.
 */
const MergeTypeSchema = z.enum(["StrategicMerge", "JSONMerge"], {
  error: "must be StrategicMerge or JSONMerge (Replace is not a valid mergeType for a SecurityPolicy)",
});

export const SecurityPolicySpecSchema = z
  .object({
    targetRef: TargetRefSchema.optional(),
    targetRefs: z.array(TargetRefSchema).optional(),
    targetSelectors: z.array(TargetSelectorSchema).optional(),
    apiKeyAuth: APIKeyAuthSchema.optional(),
    jwt: JWTSchema.optional(),
    basicAuth: BasicAuthSchema.optional(),
    authorization: AuthorizationSchema.optional(),
    cors: CORSSchema.optional(),
    oidc: OIDCSchema.optional(),
    extAuth: ExtAuthSchema.optional(),
    mergeType: MergeTypeSchema.optional(),
  })
  .strict();
export type SecurityPolicySpec = z.infer<typeof SecurityPolicySpecSchema>;

/** Renders zod issues as "spec.jwt.providers[0].issuer: message; ..." for a status condition. */
export function describeIssues(error: z.ZodError, root: string): string {
  // One message per field: after a type mismatch zod may add follow-up issues that only confuse.
  const byPath = new Map<string, string>();
  for (const issue of error.issues) {
    const path = issue.path.reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : `${acc}.${String(part)}`), root);
    if (!byPath.has(path)) byPath.set(path, `${path || "(top level)"}: ${issue.message}`);
  }
  return [...byPath.values()].slice(0, 5).join("; ");
}
