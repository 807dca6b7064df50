/** The SecurityPolicy status Portcullis writes: Gateway API PolicyAncestorStatus entries. */

/** At most this many ancestors per policy (Gateway API limit). */
export const MAX_ANCESTORS = 16;

export interface Condition {
  /**
   * `Warning` (True) as Envoy Gateway's: the policy uses a deprecated field (`DeprecatedField`), or
   * something in it can never work (`UnusableCredentials`); both at once: `Warnings`.
   * `Merged` (True): a route policy with mergeType merged into a parent policy (on both).
   */
  readonly type: "Accepted" | "Overridden" | "Merged" | "Aggregated" | "Warning";
  readonly status: "True" | "False";
  readonly reason:
    | "Accepted"
    | "Invalid"
    | "Conflicted"
    | "TargetNotFound"
    | "Overridden"
    | "Merged"
    | "Aggregated"
    | "UnusableCredentials"
    | "DeprecatedField"
    | "ClientAddressUnknown"
    | "Warnings";
  readonly message: string;
  readonly observedGeneration?: number | undefined;
  /** Stamped by the status writer only, when the condition's status changes. */
  readonly lastTransitionTime?: string | undefined;
}

export interface AncestorRef {
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly sectionName?: string | undefined;
}

export interface AncestorStatus {
  readonly ancestorRef: AncestorRef;
  readonly controllerName: string;
  readonly conditions: readonly Condition[];
}

/** Every ancestor entry Portcullis owns on one policy; an empty list removes them all. */
export interface PolicyStatus {
  readonly namespace: string;
  readonly name: string;
  readonly ancestors: readonly AncestorStatus[];
}

export function ancestorKey(ref: AncestorRef): string {
  return `${ref.kind} ${ref.namespace}/${ref.name}${ref.sectionName === undefined ? "" : `/${ref.sectionName}`}`;
}
