/**
 * The conditions of one policy at one ancestor, made from what compile learned there (AncestorFacts):
 * `Accepted` (True, or False with `TargetNotFound`, `Invalid` or `Conflicted`), `Overridden`, `Merged`
 * and the `Warning` for deprecated fields and unusable credentials, in Envoy Gateway's types, reasons
 * and, where Portcullis says the same thing, its words (internal/gatewayapi/status/policy.go,
 * internal/gatewayapi/securitypolicy.go). The StatusCollector (status.ts) records the facts and lists the ancestors.
 */
import type { AncestorRef, Condition } from "../api/status.ts";
import type { AnalysedPolicy } from "./policy.ts";

/**
 * What happened to one policy at one ancestor. The sets are created when a first member is added
 * (addTo in status.ts): at 10,000 policies most facts never hold one, and five empty Sets each cost memory and time.
 */
export interface AncestorFacts {
  readonly ref: AncestorRef;
  applied: boolean;
  conflictsWith: Set<string> | undefined;
  overriddenBy: Set<string> | undefined;
  notFound: string | undefined;
  /** Why a target route is not attached to this ancestor, when none of the policy's targets is enforced there. */
  detached: string | undefined;
  /** A policy with mergeType: the parent policies it merged into here. */
  mergedInto: Set<string> | undefined;
  /** A parent policy: the route policies merged into it here. */
  mergedFrom: Set<string> | undefined;
  /** A policy with mergeType: whether what it enforces here (merged or its own) is valid, and why not. */
  validUse: boolean;
  invalidUses: Set<string> | undefined;
  /** Why the client address its rules read cannot be determined on listeners here (a ClientTrafficPolicy the flags contradict). */
  clientAddressUnknown: Set<string> | undefined;
}

/** A fact set's members, sorted and joined with ", " (or `separator`). */
function listed(set: Set<string> | undefined, separator = ", "): string {
  return set === undefined ? "" : [...set].sort().join(separator);
}

/**
 * The conditions of `policy` at the ancestor `f` describes, `Accepted` first (a False one alone when
 * the target is not found there, or the policy is Conflicted there), each carrying
 * `observedGeneration`. `deprecated`: deprecationOf the policy's spec.
 */
export function conditionsFor(
  policy: AnalysedPolicy,
  f: AncestorFacts,
  observedGeneration: number | undefined,
  deprecated: string | undefined,
): Condition[] {
  const accepted = (status: "True" | "False", reason: Condition["reason"], message: string): Condition => ({
    type: "Accepted",
    status,
    reason,
    message,
    observedGeneration,
  });
  // Envoy Gateway reports Overridden beside Accepted, whether or not the policy is valid.
  const overridden: readonly Condition[] =
    f.overriddenBy === undefined
      ? NO_CONDITIONS
      : [
          {
            type: "Overridden",
            status: "True",
            reason: "Overridden",
            message: `more specific SecurityPolicies replace this one on some listeners or routes: ${listed(f.overriddenBy)}`,
            observedGeneration,
          },
        ];
  const merged: Condition[] = [];
  if (f.mergedInto !== undefined)
    merged.push({
      type: "Merged",
      status: "True",
      reason: "Merged",
      message: `merged with SecurityPolicy ${listed(f.mergedInto)}: this policy's fields are merged over its spec (mergeType), and the result applies here`,
      observedGeneration,
    });
  if (f.mergedFrom !== undefined)
    merged.push({
      type: "Merged",
      status: "True",
      reason: "Merged",
      message: `SecurityPolicies with mergeType merge into this one on some routes: ${listed(f.mergedFrom)}`,
      observedGeneration,
    });
  if (f.notFound !== undefined) return [accepted("False", "TargetNotFound", f.notFound)];
  const invalid = invalidAt(policy, f);
  if (invalid !== undefined)
    return [accepted("False", "Invalid", invalid)].concat(overridden, warningConditions(deprecated, [], undefined, observedGeneration));
  // A listener where a route policy merged, below the ancestor its route names: reported Merged only, as Envoy Gateway does.
  if (!f.applied && f.mergedInto !== undefined) return merged;
  if (!f.applied && f.detached !== undefined) return [accepted("False", "TargetNotFound", f.detached)];
  if (!f.applied) {
    const winners = listed(f.conflictsWith);
    return [
      accepted(
        "False",
        "Conflicted",
        `SecurityPolicy ${winners} targets the same object at the same level and takes precedence (older, or as old and first by namespace/name); this policy is not applied there`,
      ),
    ];
  }
  // concat, not spreads: a spread iterates (and allocates) even over the empty lists most policies have.
  return [accepted("True", "Accepted", "Policy has been accepted.")].concat(
    merged,
    overridden,
    warningConditions(deprecated, policy.warnings, f.clientAddressUnknown, observedGeneration),
  );
}

const NO_CONDITIONS: readonly Condition[] = Object.freeze([]);

/**
 * The Warning condition for deprecated fields, credentials no request can present and a client
 * address that cannot be determined (`clientAddressUnknown`), if there is any.
 */
function warningConditions(
  deprecated: string | undefined,
  unusable: readonly string[],
  clientAddressUnknown: Set<string> | undefined,
  observedGeneration: number | undefined,
): readonly Condition[] {
  // Most policies have none: no condition and nothing built.
  if (deprecated === undefined && unusable.length === 0 && clientAddressUnknown === undefined) return NO_CONDITIONS;
  const reasons: [Condition["reason"], string][] = [];
  if (deprecated !== undefined) reasons.push(["DeprecatedField", deprecated]);
  if (unusable.length > 0) reasons.push(["UnusableCredentials", unusable.join("; ")]);
  if (clientAddressUnknown !== undefined)
    reasons.push([
      "ClientAddressUnknown",
      `rules on the client address decide as if it could be any address (an Allow rule on it never applies, a Deny rule always does; code client_address_unknown) until Portcullis finds it as Envoy does: ${listed(clientAddressUnknown, "; ")}`,
    ]);
  const reason = reasons.length === 1 ? reasons[0]![0] : "Warnings";
  return [{ type: "Warning", status: "True", reason, message: reasons.map(([, m]) => m).join("; "), observedGeneration }];
}

/**
 * Envoy Gateway's deprecated SecurityPolicy fields the spec uses, in its words
 * (deprecatedFieldsUsedInSecurityPolicy, buildDeprecationWarningMessage): sorted, "; "-joined.
 * Read from the spec as written, so a policy that is invalid for other reasons still hears of them.
 */
export function deprecationOf(spec: unknown): string | undefined {
  const targetRef = member(spec, "targetRef") !== undefined;
  const extAuth = member(spec, "extAuth");
  const grpc = member(member(extAuth, "grpc"), "backendRef") !== undefined;
  const http = member(member(extAuth, "http"), "backendRef") !== undefined;
  // Most policies use none: nothing more to build.
  if (!targetRef && !grpc && !http) return undefined;
  const used: [string, string][] = [];
  if (targetRef) used.push(["spec.targetRef", "spec.targetRefs"]);
  if (grpc) used.push(["spec.extAuth.grpc.backendRef", "spec.extAuth.grpc.backendRefs"]);
  if (http) used.push(["spec.extAuth.http.backendRef", "spec.extAuth.http.backendRefs"]);
  return used
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([field, instead]) => `${field} is deprecated, use ${instead} instead`)
    .join("; ");
}

/** `value[key]` when `value` is an object, else undefined (a spec as written may hold anything). */
function member(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/**
 * Why the policy is invalid at this ancestor, if it is. A policy with mergeType is judged by what
 * it enforces there (each merge, or its own spec where no parent policy is), since a merge can
 * make valid what the policy alone is not, and the reverse; elsewhere by its own spec.
 */
function invalidAt(policy: AnalysedPolicy, f: AncestorFacts): string | undefined {
  if (policy.spec?.mergeType === undefined || (!f.validUse && f.invalidUses === undefined)) return policy.compiled.invalid;
  return f.invalidUses === undefined ? undefined : listed(f.invalidUses, "; ");
}
