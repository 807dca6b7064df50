/** Turns what compile learned about each policy into per-ancestor conditions. */
import { GATEWAY_API_GROUP, type ParentRef } from "../api/gatewayapi.ts";
import { compareCodeUnits, keyOf } from "../api/meta.ts";
import type { Gateway, ListenerSet, Route } from "../api/resources.ts";
import { SECURITY_POLICY_GROUP } from "../api/securitypolicy.ts";
import { ancestorKey, MAX_ANCESTORS, type AncestorRef, type AncestorStatus, type Condition, type PolicyStatus } from "../api/status.ts";
import { isListenerSetKind, type Attachment } from "./attachments.ts";
import type { CompiledPolicy } from "../snapshot/types.ts";
import { sortInPlace } from "../lib/sort.ts";
import type { AnalysedPolicy } from "./policy.ts";
import type { Target } from "./targets.ts";

/**
 * What happened to one policy at one ancestor. The sets are created when a first member is added
 * (addTo): at 10,000 policies most facts never hold one, and five empty Sets each cost memory and time.
 */
interface AncestorFacts {
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
}

type FactSet = "conflictsWith" | "overriddenBy" | "mergedInto" | "mergedFrom" | "invalidUses";

function addTo(f: AncestorFacts, set: FactSet, value: string): void {
  (f[set] ??= new Set()).add(value);
}

/** A fact set's members, sorted and joined with ", " (or `separator`). */
function listed(set: Set<string> | undefined, separator = ", "): string {
  return set === undefined ? "" : [...set].sort().join(separator);
}

/** An ancestor a target is reported under; for a route target, the route and its parentRef naming it. */
interface TargetAncestor {
  readonly ref: AncestorRef;
  /** ancestorKey(ref). */
  readonly key: string;
  readonly via: { readonly route: Route; readonly parentRef: ParentRef } | undefined;
}

export class StatusCollector {
  readonly #facts = new Map<string, Map<string, AncestorFacts>>();
  readonly #served: ReadonlyMap<string, Gateway>;
  readonly #listenerSets: ReadonlyMap<string, ListenerSet>;
  readonly #detached: ReadonlyMap<ParentRef, string>;
  /** Each route's ancestors, worked out once: a route policy's are asked for when it is applied and again for its status. */
  readonly #ancestorsOfRoute = new Map<Route, readonly TargetAncestor[]>();
  /** Gateway id → sectionName → that ancestor (its ref is copied into each policy's facts, #at). */
  readonly #gatewayAncestors = new Map<string, Map<string | undefined, Omit<TargetAncestor, "via">>>();

  /**
   * `listenerSets`: those a served Gateway takes listeners from; `detached`: the parentRefs of
   * routes that attach to no listener there, with why.
   */
  constructor(
    served: ReadonlyMap<string, Gateway>,
    listenerSets: ReadonlyMap<string, ListenerSet>,
    detached: ReadonlyMap<ParentRef, string>,
  ) {
    this.#served = served;
    this.#listenerSets = listenerSets;
    this.#detached = detached;
  }

  /** The Gateways and ListenerSets (with section) a target is reported under. */
  ancestorsOf(target: Target): readonly TargetAncestor[] {
    if (target.kind === "Gateway") return [ancestor(gatewayRef(keyOf(target.gateway.metadata), target.sectionName), undefined)];
    if (target.kind === "ListenerSet") return [ancestor(listenerSetRef(target.listenerSet, target.sectionName), undefined)];
    return this.#routeAncestors(target.route);
  }

  /** A route's parents, as Envoy Gateway reports a route policy: the Gateway, or the ListenerSet, its parentRef names. */
  #routeAncestors(route: Route): readonly TargetAncestor[] {
    const known = this.#ancestorsOfRoute.get(route);
    if (known !== undefined) return known;
    const found: TargetAncestor[] = [];
    const { parentRefs } = route.spec;
    for (let i = 0; i < parentRefs.length; i++) {
      const parentRef = parentRefs[i]!;
      const id = `${parentRef.namespace ?? route.metadata.namespace}/${parentRef.name}`;
      const listenerSet = isListenerSetKind(parentRef.group, parentRef.kind) ? this.#listenerSets.get(id) : undefined;
      const via = { route, parentRef };
      if (listenerSet !== undefined) found.push(ancestor(listenerSetRef(listenerSet, parentRef.sectionName), via));
      else if (
        (parentRef.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP &&
        (parentRef.kind ?? "Gateway") === "Gateway" &&
        this.#served.has(id)
      ) {
        const { ref, key } = this.#gatewayAncestor(id, parentRef.sectionName);
        found.push({ ref, key, via });
      }
    }
    this.#ancestorsOfRoute.set(route, found);
    return found;
  }

  /** A served Gateway (or its listener) as an ancestor, made once for all the routes whose parentRefs name it. */
  #gatewayAncestor(id: string, sectionName: string | undefined): Omit<TargetAncestor, "via"> {
    let ofGateway = this.#gatewayAncestors.get(id);
    if (ofGateway === undefined) this.#gatewayAncestors.set(id, (ofGateway = new Map()));
    let made = ofGateway.get(sectionName);
    if (made === undefined) ofGateway.set(sectionName, (made = ancestor(gatewayRef(id, sectionName), undefined)));
    return made;
  }

  /** The policy won `target`: it is enforced at each ancestor the target is attached to. */
  applied(policy: AnalysedPolicy, target: Target): void {
    const ancestors = this.ancestorsOf(target);
    for (let i = 0; i < ancestors.length; i++) {
      const { ref, key, via } = ancestors[i]!;
      const f = this.#at(policy, ref, key);
      const why = via === undefined ? undefined : this.#detached.get(via.parentRef);
      if (why === undefined) f.applied = true;
      else
        f.detached = `${via!.route.kind} ${keyOf(via!.route.metadata)} is not attached to ${ref.kind} ${ref.namespace}/${ref.name} (${why}), so this policy is not enforced there`;
    }
  }

  conflicted(policy: AnalysedPolicy, target: Target, winner: string): void {
    for (const { ref, key } of this.ancestorsOf(target)) addTo(this.#at(policy, ref, key), "conflictsWith", winner);
  }

  overridden(policy: AnalysedPolicy, ref: AncestorRef, by: string): void {
    addTo(this.#at(policy, ref), "overriddenBy", by);
  }

  /**
   * A policy with mergeType enforces `compiled` on a route reached through `routeRef` (its route's
   * parentRef) and `listenerRef` (the listener): merged into `parent` (at `parentRef`), or its own
   * when no parent policy governs that listener. As in Envoy Gateway, a merge is reported `Merged`
   * on the listener and on the parent, and an invalid result makes the policy Invalid there.
   */
  enforced(
    child: AnalysedPolicy,
    compiled: CompiledPolicy,
    at: { readonly routeRef: AncestorRef; readonly listenerRef: AncestorRef },
    parent: { readonly policy: AnalysedPolicy; readonly ref: AncestorRef } | undefined,
  ): void {
    const refs = parent === undefined ? [at.routeRef] : [at.routeRef, at.listenerRef];
    for (const ref of refs) {
      const f = this.#at(child, ref);
      if (compiled.invalid === undefined) f.validUse = true;
      else addTo(f, "invalidUses", compiled.invalid);
    }
    if (parent === undefined || compiled.invalid !== undefined) return;
    addTo(this.#at(child, at.listenerRef), "mergedInto", parent.policy.compiled.id);
    addTo(this.#at(parent.policy, parent.ref), "mergedFrom", child.compiled.id);
  }

  /** The policy's status, once every fact about every policy has been recorded. */
  statusOf(policy: AnalysedPolicy, controllerName: string): PolicyStatus {
    for (const missing of policy.missing) {
      // A rule the route does not have is reported on the route's parents, as Envoy Gateway does.
      const refs =
        missing.route !== undefined
          ? this.#routeAncestors(missing.route).map((a) => a.ref)
          : [
              {
                group: missing.ref.group,
                kind: missing.ref.kind,
                namespace: policy.source.metadata.namespace,
                name: missing.ref.name,
                sectionName: missing.ref.sectionName,
              },
            ];
      for (const ref of refs) this.#at(policy, ref).notFound = missing.message;
    }
    for (let t = 0; t < policy.targets.length; t++) {
      const ancestors = this.ancestorsOf(policy.targets[t]!);
      for (let i = 0; i < ancestors.length; i++) this.#at(policy, ancestors[i]!.ref, ancestors[i]!.key);
    }
    if (!this.#facts.has(policy.compiled.id) && policy.compiled.invalid !== undefined) {
      // Nothing to report the problem against: report it against the policy itself rather than say nothing.
      const { namespace, name } = policy.source.metadata;
      this.#at(policy, { group: SECURITY_POLICY_GROUP, kind: "SecurityPolicy", namespace, name });
    }
    const facts = this.#facts.get(policy.compiled.id) ?? new Map<string, AncestorFacts>();
    const generation = policy.source.metadata.generation;
    const deprecated = deprecationOf(policy.source.spec);
    const ancestors = sortInPlace([...facts.keys()], compareCodeUnits).map((key) => {
      const f = facts.get(key)!;
      return { ancestorRef: f.ref, controllerName, conditions: conditionsFor(policy, f, generation, deprecated) };
    });
    return { namespace: policy.source.metadata.namespace, name: policy.source.metadata.name, ancestors: truncated(ancestors, generation) };
  }

  #at(policy: AnalysedPolicy, ref: AncestorRef, key = ancestorKey(ref)): AncestorFacts {
    let facts = this.#facts.get(policy.compiled.id);
    if (facts === undefined) this.#facts.set(policy.compiled.id, (facts = new Map()));
    let f = facts.get(key);
    if (f === undefined)
      facts.set(
        key,
        (f = {
          // A copy: a route's ancestor refs are shared by every policy of the route, each status holds its own.
          ref: { ...ref },
          applied: false,
          conflictsWith: undefined,
          overriddenBy: undefined,
          notFound: undefined,
          detached: undefined,
          mergedInto: undefined,
          mergedFrom: undefined,
          validUse: false,
          invalidUses: undefined,
        }),
      );
    return f;
  }
}

function ancestor(ref: AncestorRef, via: TargetAncestor["via"]): TargetAncestor {
  return { ref, key: ancestorKey(ref), via };
}

/** Where a policy overridden on a rule reached through `attachment` reports it: its target's ancestor on that path. */
export function overriddenAt(target: Target, attachment: Attachment): AncestorRef {
  if (target.kind === "Gateway") return gatewayRef(keyOf(attachment.gateway.metadata), target.sectionName);
  if (target.kind === "ListenerSet") return listenerSetRef(target.listenerSet, target.sectionName);
  const section = attachment.parentRef.sectionName;
  return attachment.listenerSet === undefined
    ? gatewayRef(keyOf(attachment.gateway.metadata), section)
    : listenerSetRef(attachment.listenerSet, section);
}

/** The listener an attachment goes through, as an ancestor (a Gateway's or a ListenerSet's, with its name as sectionName). */
export function listenerRef(attachment: Attachment): AncestorRef {
  const name = attachment.listener.name;
  return attachment.listenerSet === undefined
    ? gatewayRef(keyOf(attachment.gateway.metadata), name)
    : listenerSetRef(attachment.listenerSet, name);
}

export function listenerSetRef(ls: ListenerSet, sectionName: string | undefined): AncestorRef {
  const ref = { group: GATEWAY_API_GROUP, kind: "ListenerSet", namespace: ls.metadata.namespace, name: ls.metadata.name };
  return sectionName === undefined ? ref : { ...ref, sectionName };
}

export function gatewayRef(id: string, sectionName: string | undefined): AncestorRef {
  const [namespace, name] = id.split("/") as [string, string];
  return sectionName === undefined
    ? { group: GATEWAY_API_GROUP, kind: "Gateway", namespace, name }
    : { group: GATEWAY_API_GROUP, kind: "Gateway", namespace, name, sectionName };
}

/** `deprecated`: deprecationOf the policy's spec. */
function conditionsFor(
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
    return [accepted("False", "Invalid", invalid)].concat(overridden, warningConditions(deprecated, [], observedGeneration));
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
    warningConditions(deprecated, policy.warnings, observedGeneration),
  );
}

const NO_CONDITIONS: readonly Condition[] = Object.freeze([]);

/** The Warning condition for deprecated fields and credentials no request can present, if there is any. */
function warningConditions(
  deprecated: string | undefined,
  unusable: readonly string[],
  observedGeneration: number | undefined,
): readonly Condition[] {
  // Most policies have neither: no condition and nothing built.
  if (deprecated === undefined && unusable.length === 0) return NO_CONDITIONS;
  const reasons: [Condition["reason"], string][] = [];
  if (deprecated !== undefined) reasons.push(["DeprecatedField", deprecated]);
  if (unusable.length > 0) reasons.push(["UnusableCredentials", unusable.join("; ")]);
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

/**
 * At most MAX_ANCESTORS entries, keeping the ones that matter as Envoy Gateway does
 * (TruncatePolicyAncestors in internal/gatewayapi/status/policy.go): not Accepted first, then
 * Overridden, then the rest, each by namespace and name; the last one kept says, with an
 * `Aggregated` condition, that others were left out.
 */
function truncated(ancestors: AncestorStatus[], observedGeneration: number | undefined): AncestorStatus[] {
  if (ancestors.length <= MAX_ANCESTORS) return ancestors;
  const has = (a: AncestorStatus, type: Condition["type"], status: Condition["status"]) =>
    a.conditions.some((c) => c.type === type && c.status === status);
  const rank = (a: AncestorStatus) => (has(a, "Accepted", "False") ? 0 : has(a, "Overridden", "True") ? 1 : 2);
  const kept = [...ancestors]
    .sort(
      (a, b) =>
        rank(a) - rank(b) ||
        a.ancestorRef.namespace.localeCompare(b.ancestorRef.namespace) ||
        a.ancestorRef.name.localeCompare(b.ancestorRef.name) ||
        ancestorKey(a.ancestorRef).localeCompare(ancestorKey(b.ancestorRef)),
    )
    .slice(0, MAX_ANCESTORS);
  const last = kept[MAX_ANCESTORS - 1]!;
  const aggregated: Condition = {
    type: "Aggregated",
    status: "True",
    reason: "Aggregated",
    observedGeneration,
    message: `${ancestors.length - MAX_ANCESTORS} more ancestors are not listed: a status holds at most ${MAX_ANCESTORS}, and those where the policy is not accepted or is overridden are listed first`,
  };
  kept[MAX_ANCESTORS - 1] = { ...last, conditions: [...last.conditions, aggregated] };
  return kept;
}
