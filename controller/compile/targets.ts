/**
 * Resolves a policy's targetRef / targetRefs / targetSelectors to the Gateways, ListenerSets,
 * listeners, HTTPRoutes, GRPCRoutes and route rules it applies to. Missing targets are reported, never skipped silently.
 */
import { distance } from "fastest-levenshtein";
import { GATEWAY_API_GROUP } from "../api/gatewayapi.ts";
import { keyOf, labelSelectorParses, LabelSelectorSchema, selectorMatches, type ObjectMeta } from "../api/meta.ts";
import type { Gateway, ListenerSet, Resources, Route } from "../api/resources.ts";
import { isListenerSetKind, type RefusedListenerSet } from "./attachments.ts";
import {
  TargetSelectorNamespacesSchema,
  type PolicyTargetRef,
  type PolicyTargetSelector,
  type SecurityPolicySpec,
  type TargetSelectorNamespaces,
} from "../api/securitypolicy.ts";
import { grantCheck, type GrantCheck } from "./references.ts";

/**
 * Most specific first: a rule-level policy replaces a route-level one, and so on. A listener is a
 * Gateway's or a ListenerSet's (sectionName); a ListenerSet-wide policy sits between a listener of
 * that set and the parent Gateway, as in Envoy Gateway.
 */
export const LEVELS = ["rule", "route", "listener", "listenerset", "gateway"] as const;
export type TargetLevel = (typeof LEVELS)[number];

export type Target =
  | {
      readonly kind: "Gateway";
      readonly level: "gateway" | "listener";
      readonly key: string;
      readonly gateway: Gateway;
      readonly sectionName: string | undefined;
    }
  | {
      readonly kind: "ListenerSet";
      readonly level: "listenerset" | "listener";
      readonly key: string;
      readonly listenerSet: ListenerSet;
      readonly sectionName: string | undefined;
    }
  | {
      readonly kind: Route["kind"];
      readonly level: "route" | "rule";
      readonly key: string;
      readonly route: Route;
      readonly sectionName: string | undefined;
    };

/** A target the policy names that does not exist; reported as TargetNotFound with this ref. */
/** A target that does not exist, or whose listeners serve no request here (a ListenerSet its Gateway refuses). */
export interface MissingTarget {
  readonly ref: {
    readonly group: string;
    readonly kind: string;
    /** The object's (a targetSelector finds objects of other namespaces than the policy's). */
    readonly namespace: string;
    readonly name: string;
    readonly sectionName?: string | undefined;
  };
  readonly message: string;
  /** The route, when it exists and only the rule `sectionName` names does not (reported on its parents). */
  readonly route?: Route | undefined;
}

export const gatewayTargetKey = (gateway: string, listener?: string): string =>
  listener === undefined ? `Gateway ${gateway}` : `Gateway ${gateway}/${listener}`;
export const listenerSetTargetKey = (listenerSet: string, listener?: string): string =>
  listener === undefined ? `ListenerSet ${listenerSet}` : `ListenerSet ${listenerSet}/${listener}`;
export const routeTargetKey = (kind: Route["kind"], route: string, rule?: string): string =>
  rule === undefined ? `${kind} ${route}` : `${kind} ${route}/${rule}`;

/** The route kinds a policy may target (a rule of one by sectionName). */
const ROUTE_KINDS: ReadonlySet<string> = new Set<Route["kind"]>(["HTTPRoute", "GRPCRoute"]);

export interface TargetResolution {
  readonly targets: readonly Target[];
  readonly missing: readonly MissingTarget[];
  /** Targets of a kind Portcullis cannot enforce (TCPRoute, ...): the policy is Invalid. */
  readonly unsupported: readonly string[];
}

/** Gateways by "namespace/name" and routes by "Kind namespace/name", built once per compile. */
export interface TargetIndex {
  readonly resources: Resources;
  readonly gateways: ReadonlyMap<string, Gateway>;
  readonly routes: ReadonlyMap<string, Route>;
  readonly servedGateways: ReadonlyMap<string, Gateway>;
  readonly listenerSets: ReadonlyMap<string, ListenerSet>;
  /** ListenerSets a served Gateway takes listeners from: a policy on another one governs nothing here. */
  readonly attachedListenerSets: ReadonlyMap<string, ListenerSet>;
  /** ListenerSets a served Gateway refuses: a policy on one is reported TargetNotFound, saying why. */
  readonly refusedListenerSets: ReadonlyMap<string, RefusedListenerSet>;
  /** Namespace → its labels; a namespace without a Namespace object has none (and matches no selector). */
  readonly namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>;
  readonly granted: GrantCheck;
}

export function indexTargets(
  resources: Resources,
  servedGateways: ReadonlyMap<string, Gateway>,
  attachedListenerSets: ReadonlyMap<string, ListenerSet>,
  refusedListenerSets: ReadonlyMap<string, RefusedListenerSet>,
): TargetIndex {
  return {
    resources,
    gateways: new Map(resources.gateways.map((g) => [keyOf(g.metadata), g])),
    routes: new Map([...resources.httpRoutes, ...resources.grpcRoutes].map((r) => [`${r.kind} ${keyOf(r.metadata)}`, r])),
    servedGateways,
    listenerSets: new Map(resources.listenerSets.map((l) => [keyOf(l.metadata), l])),
    attachedListenerSets,
    refusedListenerSets,
    namespaceLabels: new Map(resources.namespaces.map((n) => [n.metadata.name, n.metadata.labels ?? {}])),
    granted: grantCheck(resources),
  };
}

/** An object a policy names by a targetRef (in its own namespace) or finds with a targetSelector. */
interface NamedTarget {
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly sectionName?: string | undefined;
}

/** The targets of a policy in namespace `ns`. */
export function resolveTargets(
  ns: string,
  spec: Pick<SecurityPolicySpec, "targetRef" | "targetRefs" | "targetSelectors">,
  index: TargetIndex,
): TargetResolution {
  const { servedGateways } = index;
  const named: NamedTarget[] = [];
  if (spec.targetRef) named.push({ ...spec.targetRef, namespace: ns });
  const targetRefs = spec.targetRefs ?? [];
  for (let i = 0; i < targetRefs.length; i++) named.push({ ...targetRefs[i]!, namespace: ns });
  for (const selector of spec.targetSelectors ?? []) named.push(...selectedBy(selector, ns, index));
  const targets = new Map<string, Target>();
  const missing: MissingTarget[] = [];
  const unsupported: string[] = [];
  for (let i = 0; i < named.length; i++) {
    const ref = named[i]!;
    const id = `${ref.namespace}/${ref.name}`;
    const section = ref.sectionName;
    if (isListenerSetKind(ref.group, ref.kind)) {
      const listenerSet = index.listenerSets.get(id);
      if (listenerSet === undefined) {
        missing.push({
          ref,
          message: `ListenerSet ${id} not found${didYouMean(ref.name, namesIn(index.listenerSets.keys(), `${ref.namespace}/`))}`,
        });
      } else if (section !== undefined && !listenerSet.spec.listeners.some((l) => l.name === section)) {
        missing.push({
          ref,
          message: `ListenerSet ${id} has no listener named ${section}${didYouMean(
            section,
            listenerSet.spec.listeners.map((l) => l.name),
          )}`,
        });
      } else if (index.attachedListenerSets.has(id)) {
        const key = listenerSetTargetKey(id, section);
        targets.set(key, {
          kind: "ListenerSet",
          level: section === undefined ? "listenerset" : "listener",
          key,
          listenerSet,
          sectionName: section,
        });
      } else {
        const refused = index.refusedListenerSets.get(id);
        if (refused !== undefined) missing.push({ ref, message: `ListenerSet ${id} serves no request: ${refused.why}` });
      }
      continue;
    }
    if (ref.group !== GATEWAY_API_GROUP || (ref.kind !== "Gateway" && !ROUTE_KINDS.has(ref.kind))) {
      unsupported.push(`${ref.kind}${ref.group ? `.${ref.group}` : ""} ${id}`);
      continue;
    }
    if (ref.kind === "Gateway") {
      const gateway = index.gateways.get(id);
      if (gateway === undefined) {
        missing.push({
          ref,
          message: `Gateway ${id} not found${didYouMean(ref.name, namesIn(index.gateways.keys(), `${ref.namespace}/`))}`,
        });
      } else if (section !== undefined && !gateway.spec.listeners.some((l) => l.name === section)) {
        missing.push({
          ref,
          message: `Gateway ${id} has no listener named ${section}${didYouMean(
            section,
            gateway.spec.listeners.map((l) => l.name),
          )}`,
        });
      } else if (servedGateways.has(id)) {
        const key = gatewayTargetKey(id, section);
        targets.set(key, { kind: "Gateway", level: section === undefined ? "gateway" : "listener", key, gateway, sectionName: section });
      }
      continue;
    }
    const route = index.routes.get(`${ref.kind} ${id}`);
    if (route === undefined) {
      missing.push({
        ref,
        message: `${ref.kind} ${id} not found${didYouMean(ref.name, namesIn(index.routes.keys(), `${ref.kind} ${ref.namespace}/`))}`,
      });
    } else if (section !== undefined && !route.spec.rules.some((r) => r.name === section)) {
      const ruleNames = route.spec.rules.flatMap((r) => (r.name === undefined ? [] : [r.name]));
      missing.push({ ref, message: `${ref.kind} ${id} has no rule named ${section}${didYouMean(section, ruleNames)}`, route });
    } else {
      const key = routeTargetKey(route.kind, id, section);
      targets.set(key, { kind: route.kind, level: section === undefined ? "route" : "rule", key, route, sectionName: section });
    }
  }
  return { targets: [...targets.values()], missing, unsupported };
}

/**
 * The objects a targetSelector finds, as Envoy Gateway selects them: its kind, its labels, in the
 * namespaces `namespaces` allows (the policy's own by default); one in another namespace only
 * with a ReferenceGrant there.
 */
function selectedBy(selector: PolicyTargetSelector, policyNamespace: string, index: TargetIndex): NamedTarget[] {
  const group = selector.group ?? GATEWAY_API_GROUP;
  const { gateways, httpRoutes, grpcRoutes, listenerSets } = index.resources;
  const pool: readonly { readonly metadata: ObjectMeta }[] = isListenerSetKind(group, selector.kind)
    ? listenerSets
    : group !== GATEWAY_API_GROUP
      ? []
      : selector.kind === "Gateway"
        ? gateways
        : selector.kind === "HTTPRoute"
          ? httpRoutes
          : selector.kind === "GRPCRoute"
            ? grpcRoutes
            : [];
  return pool
    .filter(({ metadata: m }) => {
      if (
        !namespaceSelected(selector.namespaces, policyNamespace, m.namespace, index.namespaceLabels) ||
        !selectorMatches(selector, m.labels)
      )
        return false;
      return (
        m.namespace === policyNamespace ||
        index.granted(policyNamespace, { group, kind: selector.kind, namespace: m.namespace, name: m.name })
      );
    })
    .map(({ metadata: m }) => ({ group, kind: selector.kind, namespace: m.namespace, name: m.name }));
}

/** Whether a targetSelector's `namespaces` (Envoy Gateway's TargetSelectorNamespaces; absent: Same) takes `namespace`; `namespaceLabels`: namespace → labels. */
export function namespaceSelected(
  namespaces: TargetSelectorNamespaces | undefined,
  policyNamespace: string,
  namespace: string,
  namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>,
): boolean {
  switch (namespaces?.from ?? "Same") {
    case "Same":
      return namespace === policyNamespace;
    case "All":
      return true;
    case "Selector": {
      // Envoy Gateway (targetSelectorNamespacesMatch) takes no namespace without labels, whatever the selector.
      const labels = namespaceLabels.get(namespace);
      return labels !== undefined && Object.keys(labels).length > 0 && selectorMatches(namespaces!.selector!, labels);
    }
  }
}

/**
 * Every Gateway, ListenerSet and route in `namespace`, at their widest level: what a policy whose
 * targets cannot be read at all could have governed (its targetRefs can name only objects of its
 * own namespace). An invalid policy is applied there, so it denies rather than leaves them open.
 */
export function everyTargetIn(namespace: string, index: TargetIndex): TargetResolution {
  const refs: PolicyTargetRef[] = [
    ...index.resources.gateways
      .filter((g) => g.metadata.namespace === namespace)
      .map((g) => ({ group: GATEWAY_API_GROUP, kind: "Gateway", name: g.metadata.name })),
    ...[...index.resources.httpRoutes, ...index.resources.grpcRoutes]
      .filter((r) => r.metadata.namespace === namespace)
      .map((r) => ({ group: GATEWAY_API_GROUP, kind: r.kind, name: r.metadata.name })),
    ...index.resources.listenerSets
      .filter((l) => l.metadata.namespace === namespace)
      .map((l) => ({ group: GATEWAY_API_GROUP, kind: "ListenerSet", name: l.metadata.name })),
  ];
  return resolveTargets(namespace, { targetRefs: refs }, index);
}

/**
 * The targets of a spec that failed validation, read leniently, so that an invalid policy is
 * applied (denying) to what its author meant, and its Invalid condition reported there. What
 * cannot be read is read wide: a selector's unreadable labels (or labels Kubernetes cannot parse)
 * select every object of its kind, an unreadable `namespaces` every namespace. Undefined when the targets cannot be read at all (no
 * target fields, or one that is not a ref or selector of some kind).
 */
export function lenientTargets(spec: unknown): { targetRefs: PolicyTargetRef[]; targetSelectors: PolicyTargetSelector[] } | undefined {
  if (!isRecord(spec)) return undefined;
  const { targetRef, targetRefs = [], targetSelectors = [] } = spec;
  if (!Array.isArray(targetRefs) || !Array.isArray(targetSelectors)) return undefined;
  const refs = [...(targetRef === undefined ? [] : [targetRef]), ...targetRefs].map(lenientRef);
  const selectors = targetSelectors.map(lenientSelector);
  if (refs.length + selectors.length === 0 || refs.includes(undefined) || selectors.includes(undefined)) return undefined;
  return { targetRefs: refs as PolicyTargetRef[], targetSelectors: selectors as PolicyTargetSelector[] };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function lenientRef(r: unknown): PolicyTargetRef | undefined {
  if (!isRecord(r) || typeof r.kind !== "string" || typeof r.name !== "string") return undefined;
  const ref: PolicyTargetRef = { group: typeof r.group === "string" ? r.group : GATEWAY_API_GROUP, kind: r.kind, name: r.name };
  // An unreadable sectionName widens the ref to the whole object.
  return typeof r.sectionName === "string" ? { ...ref, sectionName: r.sectionName } : ref;
}

function lenientSelector(s: unknown): PolicyTargetSelector | undefined {
  if (!isRecord(s) || typeof s.kind !== "string") return undefined;
  const labels = LabelSelectorSchema.shape.matchLabels.safeParse(s.matchLabels);
  const expressions = LabelSelectorSchema.shape.matchExpressions.safeParse(s.matchExpressions);
  const namespaces = TargetSelectorNamespacesSchema.optional().safeParse(s.namespaces);
  // A selector Kubernetes cannot parse selects nothing (selectorMatches): for an invalid policy, that is unreadable too.
  const read = {
    matchLabels: labels.success ? labels.data : undefined,
    matchExpressions: expressions.success ? expressions.data : undefined,
  };
  const namespacesRead = namespaces.success && (namespaces.data?.selector === undefined || labelSelectorParses(namespaces.data.selector));
  return {
    group: typeof s.group === "string" ? s.group : GATEWAY_API_GROUP,
    kind: s.kind,
    ...(labelSelectorParses(read) ? read : { matchLabels: undefined, matchExpressions: undefined }),
    namespaces: namespacesRead ? namespaces.data : { from: "All" },
  };
}

/** The names of `keys` that start with `prefix` ("namespace/" or "Kind namespace/"), without it. */
function namesIn(keys: Iterable<string>, prefix: string): string[] {
  const names: string[] = [];
  for (const key of keys) if (key.startsWith(prefix)) names.push(key.slice(prefix.length));
  return names;
}

/**
 * ` (did you mean "x"?)` naming the closest of `candidates` when it is a likely typo of `name`: at
 * most 2 edits (Levenshtein: a swap of two letters is 2), and at most half the name's length (so "a"
 * does not suggest "b"). Empty otherwise.
 */
export function didYouMean(name: string, candidates: readonly string[]): string {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const d = distance(name, candidate);
    if (d <= 2 && d * 2 <= name.length && (best === undefined || d < best.distance || (d === best.distance && candidate < best.name)))
      best = { name: candidate, distance: d };
  }
  return best === undefined ? "" : ` (did you mean ${JSON.stringify(best.name)}?)`;
}
