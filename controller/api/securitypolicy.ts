/**
 * SecurityPolicy (gateway.envoyproxy.io/v1alpha1): the schema Portcullis validates a policy's spec
 * against. Every field of the Envoy Gateway API is accepted; fields Portcullis reads are typed
 * strictly, so a typo is an error on the policy instead of a silently ignored (and so open) rule.
 */
import { z } from "zod";
import { LabelSelectorSchema, type SecretRefSchema } from "./meta.ts";

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

/**
 * How a route policy merges into its closest parent policy (Envoy Gateway's MergeType; see
 * compile/merge.ts). `Replace`, valid for other Envoy Gateway policies, is not for a SecurityPolicy.
 */
const MergeTypeSchema = z.enum(["StrategicMerge", "JSONMerge"], {
  error: "must be StrategicMerge or JSONMerge (Replace is not a valid mergeType for a SecurityPolicy)",
});

/**
 * The spec fields that are not features: what the policy targets and how it merges.
 * The features' own fields are added to it by features/index.ts (`SecurityPolicySpecSchema`).
 */
export const SecurityPolicyBaseSchema = z
  .object({
    targetRef: TargetRefSchema.optional(),
    targetRefs: z.array(TargetRefSchema).optional(),
    targetSelectors: z.array(TargetSelectorSchema).optional(),
    mergeType: MergeTypeSchema.optional(),
  })
  .strict();
/** A validated spec: its targets and mergeType typed, each feature's field read by the feature. */
export type SecurityPolicySpec = z.infer<typeof SecurityPolicyBaseSchema> & { readonly [field: string]: unknown };

/** A text field that YAML read as a number or a boolean (`version: 1`, `enabled: true`): say how to write it as text. */
function unquotedHint(issue: z.core.$ZodIssue): string {
  return issue.code === "invalid_type" && issue.expected === "string" && /received (number|boolean)$/.test(issue.message)
    ? " (YAML reads an unquoted number, true or false as such: quote the value)"
    : "";
}

/** Renders zod issues as "spec.jwt.providers[0].issuer: message; ..." for a status condition. */
export function describeIssues(error: z.ZodError, root: string): string {
  // One message per field: after a type mismatch zod may add follow-up issues that only confuse.
  const byPath = new Map<string, string>();
  for (const issue of error.issues) {
    const path = issue.path.reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : `${acc}.${String(part)}`), root);
    if (!byPath.has(path)) byPath.set(path, `${path || "(top level)"}: ${issue.message}${unquotedHint(issue)}`);
  }
  return [...byPath.values()].slice(0, 5).join("; ");
}
