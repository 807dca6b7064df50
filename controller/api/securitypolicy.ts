/**
 * SecurityPolicy (gateway.envoyproxy.io/v1alpha1): the schema Portcullis validates a policy's spec
 * against. Every field of the Envoy Gateway API is accepted; fields Portcullis reads are typed
 * strictly, so a typo is an error on the policy instead of a silently ignored (and so open) rule.
 */
import { z } from "zod";
import { LabelSelectorSchema } from "./meta.ts";

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

/** Gateway API SecretObjectReference. */
export const SecretRefSchema = z
  .object({
    group: z.string().optional(),
    kind: z.string().optional(),
    name: z.string().min(1),
    namespace: z.string().min(1).optional(),
  })
  .strict();
export type SecretRef = z.infer<typeof SecretRefSchema>;

/** Gateway API Duration: 1 to 4 groups of up to 5 digits with h, m, s or ms. */
export const GatewayDurationSchema = z.string().regex(/^([0-9]{1,5}(h|m|s|ms)){1,4}$/, "not a Gateway API duration such as 300s or 1h30m");

/** Milliseconds of a Gateway API Duration ("1h30m", "300s", "500ms"); the schema checked its form. */
export function parseGatewayDuration(text: string): number {
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  for (const [, n, u] of text.matchAll(/([0-9]+)(ms|h|m|s)/g)) total += Number(n) * unit[u!]!;
  return total;
}

/** Features of the API that Portcullis accepts in a manifest but does not enforce yet. */
export const NOT_YET_ENFORCED = ["oidc", "extAuth", "mergeType"] as const;

/**
 * The spec fields that are not features: what the policy targets, and what is not enforced yet.
 * The features' own fields are added to it by features/index.ts (`SecurityPolicySpecSchema`).
 */
export const SecurityPolicyBaseSchema = z
  .object({
    targetRef: TargetRefSchema.optional(),
    targetRefs: z.array(TargetRefSchema).optional(),
    targetSelectors: z.array(TargetSelectorSchema).optional(),
    oidc: z.unknown().optional(),
    extAuth: z.unknown().optional(),
    mergeType: z.unknown().optional(),
  })
  .strict();
/** A validated spec: its targets and pending fields typed, each feature's field read by the feature. */
export type SecurityPolicySpec = z.infer<typeof SecurityPolicyBaseSchema> & { readonly [field: string]: unknown };

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
