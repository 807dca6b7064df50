/** Turns what compile learned about each policy into per-ancestor conditions. */
import { GATEWAY_API_GROUP } from "../api/gatewayapi.ts";
import { keyOf } from "../api/meta.ts";
import type { Gateway } from "../api/resources.ts";
import { SECURITY_POLICY_GROUP } from "../api/securitypolicy.ts";
import { ancestorKey, MAX_ANCESTORS, type AncestorRef, type Condition, type PolicyStatus } from "../api/status.ts";
import type { AnalysedPolicy } from "./policy.ts";
import type { Target } from "./targets.ts";

/** What happened to one policy at one ancestor. */
interface AncestorFacts {
  readonly ref: AncestorRef;
  applied: boolean;
  readonly conflictsWith: Set<string>;
  readonly overriddenBy: Set<string>;
  notFound: string | undefined;
}

export class StatusCollector {
  readonly #facts = new Map<string, Map<string, AncestorFacts>>();
  readonly #served: ReadonlyMap<string, Gateway>;

  constructor(served: ReadonlyMap<string, Gateway>) {
    this.#served = served;
  }

  /** The Gateways (with section) a target is reported under. */
  ancestorsOf(target: Target): AncestorRef[] {
    if (target.kind === "Gateway") {
      return [gatewayRef(keyOf(target.gateway.metadata), target.sectionName)];
    }
    const route = target.route;
    return route.spec.parentRefs.flatMap((p) => {
      if ((p.group ?? GATEWAY_API_GROUP) !== GATEWAY_API_GROUP || (p.kind ?? "Gateway") !== "Gateway") return [];
      const id = `${p.namespace ?? route.metadata.namespace}/${p.name}`;
      return this.#served.has(id) ? [gatewayRef(id, p.sectionName)] : [];
    });
  }

  applied(policy: AnalysedPolicy, target: Target): void {
    for (const ref of this.ancestorsOf(target)) this.#at(policy, ref).applied = true;
  }

  conflicted(policy: AnalysedPolicy, target: Target, winner: string): void {
    for (const ref of this.ancestorsOf(target)) this.#at(policy, ref).conflictsWith.add(winner);
  }

  overridden(policy: AnalysedPolicy, ref: AncestorRef, by: string): void {
    this.#at(policy, ref).overriddenBy.add(by);
  }

  /** The policy's status, once every fact about every policy has been recorded. */
  statusOf(policy: AnalysedPolicy, controllerName: string): PolicyStatus {
    for (const missing of policy.missing) {
      const ref = { group: missing.ref.group, kind: missing.ref.kind, namespace: policy.source.metadata.namespace, name: missing.ref.name, sectionName: missing.ref.sectionName };
      this.#at(policy, ref).notFound = missing.message;
    }
    for (const target of policy.targets) for (const ref of this.ancestorsOf(target)) this.#at(policy, ref);
    if (!this.#facts.has(policy.compiled.id) && policy.compiled.invalid !== undefined) {
      // Nothing to report the problem against: report it against the policy itself rather than say nothing.
      const { namespace, name } = policy.source.metadata;
      this.#at(policy, { group: SECURITY_POLICY_GROUP, kind: "SecurityPolicy", namespace, name });
    }
    const facts = this.#facts.get(policy.compiled.id) ?? new Map<string, AncestorFacts>();
    const generation = policy.source.metadata.generation;
    const ancestors = [...facts.keys()].sort().slice(0, MAX_ANCESTORS).map((key) => {
      const f = facts.get(key)!;
      return { ancestorRef: f.ref, controllerName, conditions: conditionsFor(policy, f, generation) };
    });
    return { namespace: policy.source.metadata.namespace, name: policy.source.metadata.name, ancestors };
  }

  #at(policy: AnalysedPolicy, ref: AncestorRef): AncestorFacts {
    let facts = this.#facts.get(policy.compiled.id);
    if (facts === undefined) this.#facts.set(policy.compiled.id, (facts = new Map()));
    const key = ancestorKey(ref);
    let f = facts.get(key);
    if (f === undefined) facts.set(key, (f = { ref, applied: false, conflictsWith: new Set(), overriddenBy: new Set(), notFound: undefined }));
    return f;
  }
}

export function gatewayRef(id: string, sectionName: string | undefined): AncestorRef {
  const [namespace, name] = id.split("/") as [string, string];
  return sectionName === undefined
    ? { group: GATEWAY_API_GROUP, kind: "Gateway", namespace, name }
    : { group: GATEWAY_API_GROUP, kind: "Gateway", namespace, name, sectionName };
}

function conditionsFor(policy: AnalysedPolicy, f: AncestorFacts, observedGeneration: number | undefined): Condition[] {
  const accepted = (status: "True" | "False", reason: Condition["reason"], message: string): Condition => ({
    type: "Accepted", status, reason, message, observedGeneration,
  });
  if (f.notFound !== undefined) return [accepted("False", "TargetNotFound", f.notFound)];
  if (policy.compiled.invalid !== undefined) return [accepted("False", "Invalid", policy.compiled.invalid)];
  if (!f.applied) {
    const winners = [...f.conflictsWith].sort().join(", ");
    return [accepted("False", "Conflicted", `SecurityPolicy ${winners} targets the same object at the same level and takes precedence (older, or as old and first by namespace/name); this policy is not applied there`)];
  }
  const conditions = [accepted("True", "Accepted", "Policy has been accepted.")];
  if (f.overriddenBy.size > 0) {
    const by = [...f.overriddenBy].sort().join(", ");
    conditions.push({ type: "Overridden", status: "True", reason: "Overridden", message: `more specific SecurityPolicies replace this one for some routes: ${by}`, observedGeneration });
  }
  return conditions;
}
