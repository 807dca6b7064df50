/**
 * Collects what compile learns about each policy at each ancestor (applied, conflicted, overridden,
 * merged, its target not found or not attached) while it resolves targets and precedence, and then
 * gives each policy its status: one entry per ancestor, sorted, at most MAX_ANCESTORS of them as
 * Envoy Gateway truncates them. The conditions each entry holds are made in conditions.ts, the
 * ancestor refs in ancestor-refs.ts.
 */
import { GATEWAY_API_GROUP, type ParentRef } from "../api/gatewayapi.ts";
import { compareCodeUnits, keyOf } from "../api/meta.ts";
import type { Gateway, ListenerSet, Route } from "../api/resources.ts";
import { SECURITY_POLICY_GROUP } from "../api/securitypolicy.ts";
import { ancestorKey, MAX_ANCESTORS, type AncestorRef, type AncestorStatus, type Condition, type PolicyStatus } from "../api/status.ts";
import { gatewayRef, listenerSetRef } from "./ancestor-refs.ts";
import { isListenerSetKind, type RefusedListenerSet } from "./attachments.ts";
import { conditionsFor, deprecationOf, type AncestorFacts } from "./conditions.ts";
import type { CompiledPolicy } from "../snapshot/types.ts";
import { sortInPlace } from "../lib/sort.ts";
import type { AnalysedPolicy } from "./policy.ts";
import type { Target } from "./targets.ts";

type FactSet = "conflictsWith" | "overriddenBy" | "mergedInto" | "mergedFrom" | "invalidUses" | "clientAddressUnknown";

function addTo(f: AncestorFacts, set: FactSet, value: string): void {
  (f[set] ??= new Set()).add(value);
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
  readonly #refusedListenerSets: ReadonlyMap<string, RefusedListenerSet>;
  readonly #detached: ReadonlyMap<ParentRef, string>;
  /** Each route's ancestors, worked out once: a route policy's are asked for when it is applied and again for its status. */
  readonly #ancestorsOfRoute = new Map<Route, readonly TargetAncestor[]>();
  /** Gateway id → sectionName → that ancestor (its ref is copied into each policy's facts, #at). */
  readonly #gatewayAncestors = new Map<string, Map<string | undefined, Omit<TargetAncestor, "via">>>();

  /**
   * `listenerSets`: those a served Gateway takes listeners from, `refusedListenerSets` those it
   * refuses; `detached`: the parentRefs of routes that attach to no listener there, with why.
   */
  constructor(
    served: ReadonlyMap<string, Gateway>,
    listenerSets: ReadonlyMap<string, ListenerSet>,
    refusedListenerSets: ReadonlyMap<string, RefusedListenerSet>,
    detached: ReadonlyMap<ParentRef, string>,
  ) {
    this.#served = served;
    this.#listenerSets = listenerSets;
    this.#refusedListenerSets = refusedListenerSets;
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
      // A refused ListenerSet is an ancestor too: the route's policy is reported not attached there (detached).
      const listenerSet = isListenerSetKind(parentRef.group, parentRef.kind)
        ? (this.#listenerSets.get(id) ?? this.#refusedListenerSets.get(id)?.listenerSet)
        : undefined;
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

  /** The policy reads the client address on a listener where it cannot be determined (`why`: RouteEntry.clientAddressUnknown). */
  clientAddressUnknown(policy: AnalysedPolicy, ref: AncestorRef, why: string): void {
    addTo(this.#at(policy, ref), "clientAddressUnknown", why);
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
                namespace: missing.ref.namespace,
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
          clientAddressUnknown: undefined,
        }),
      );
    return f;
  }
}

function ancestor(ref: AncestorRef, via: TargetAncestor["via"]): TargetAncestor {
  return { ref, key: ancestorKey(ref), via };
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
