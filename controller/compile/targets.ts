/**
 * Resolves a policy's targetRef / targetRefs / targetSelectors to the Gateways, listeners,
 * HTTPRoutes, GRPCRoutes and route rules it applies to. Missing targets are reported, never skipped silently.
 */
import { GATEWAY_API_GROUP } from "../api/gatewayapi.ts";
import { keyOf, selectorMatches } from "../api/meta.ts";
import type { Gateway, Resources, Route, SecurityPolicy } from "../api/resources.ts";
import type { PolicyTargetRef, SecurityPolicySpec } from "../api/securitypolicy.ts";

/** Most specific first: a rule-level policy replaces a route-level one, and so on. */
export const LEVELS = ["rule", "route", "listener", "gateway"] as const;
export type TargetLevel = (typeof LEVELS)[number];

export type Target =
  | { readonly kind: "Gateway"; readonly level: "gateway" | "listener"; readonly key: string; readonly gateway: Gateway; readonly sectionName: string | undefined }
  | { readonly kind: Route["kind"]; readonly level: "route" | "rule"; readonly key: string; readonly route: Route; readonly sectionName: string | undefined };

/** A target the policy names that does not exist; reported as TargetNotFound with this ref. */
export interface MissingTarget {
  readonly ref: { readonly group: string; readonly kind: string; readonly name: string; readonly sectionName?: string | undefined };
  readonly message: string;
}

export const gatewayTargetKey = (gateway: string, listener?: string): string =>
  listener === undefined ? `Gateway ${gateway}` : `Gateway ${gateway}/${listener}`;
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
}

export function indexTargets(resources: Resources, servedGateways: ReadonlyMap<string, Gateway>): TargetIndex {
  return {
    resources,
    gateways: new Map(resources.gateways.map((g) => [keyOf(g.metadata), g])),
    routes: new Map([...resources.httpRoutes, ...resources.grpcRoutes].map((r) => [`${r.kind} ${keyOf(r.metadata)}`, r])),
    servedGateways,
  };
}

export function resolveTargets(
  policy: SecurityPolicy,
  spec: Pick<SecurityPolicySpec, "targetRef" | "targetRefs" | "targetSelectors">,
  index: TargetIndex,
): TargetResolution {
  const { resources, servedGateways } = index;
  const ns = policy.metadata.namespace;
  const refs: PolicyTargetRef[] = [...(spec.targetRef ? [spec.targetRef] : []), ...(spec.targetRefs ?? [])];
  for (const selector of spec.targetSelectors ?? []) {
    if ((selector.group ?? GATEWAY_API_GROUP) !== GATEWAY_API_GROUP) continue;
    const pool = selector.kind === "Gateway" ? resources.gateways
      : selector.kind === "HTTPRoute" ? resources.httpRoutes
      : selector.kind === "GRPCRoute" ? resources.grpcRoutes
      : [];
    for (const o of pool) {
      if (o.metadata.namespace === ns && selectorMatches(selector, o.metadata.labels)) {
        refs.push({ group: GATEWAY_API_GROUP, kind: selector.kind, name: o.metadata.name });
      }
    }
  }
  const targets = new Map<string, Target>();
  const missing: MissingTarget[] = [];
  const unsupported: string[] = [];
  for (const ref of refs) {
    const id = `${ns}/${ref.name}`;
    const section = ref.sectionName;
    if (ref.group !== GATEWAY_API_GROUP || (ref.kind !== "Gateway" && !ROUTE_KINDS.has(ref.kind))) {
      unsupported.push(`${ref.kind}${ref.group ? `.${ref.group}` : ""} ${id}`);
      continue;
    }
    if (ref.kind === "Gateway") {
      const gateway = index.gateways.get(id);
      if (gateway === undefined) {
        missing.push({ ref, message: `Gateway ${id} not found` });
      } else if (section !== undefined && !gateway.spec.listeners.some((l) => l.name === section)) {
        missing.push({ ref, message: `Gateway ${id} has no listener named ${section}` });
      } else if (servedGateways.has(id)) {
        const key = gatewayTargetKey(id, section);
        targets.set(key, { kind: "Gateway", level: section === undefined ? "gateway" : "listener", key, gateway, sectionName: section });
      }
      continue;
    }
    const route = index.routes.get(`${ref.kind} ${id}`);
    if (route === undefined) {
      missing.push({ ref, message: `${ref.kind} ${id} not found` });
    } else if (section !== undefined && !route.spec.rules.some((r) => r.name === section)) {
      missing.push({ ref, message: `${ref.kind} ${id} has no rule named ${section}` });
    } else {
      const key = routeTargetKey(route.kind, id, section);
      targets.set(key, { kind: route.kind, level: section === undefined ? "route" : "rule", key, route, sectionName: section });
    }
  }
  return { targets: [...targets.values()], missing, unsupported };
}

/**
 * The target refs of a spec that failed validation, read leniently, so that the Invalid condition
 * is still reported against the objects the author meant.
 */
export function lenientTargetRefs(spec: unknown): PolicyTargetRef[] {
  if (typeof spec !== "object" || spec === null) return [];
  const s = spec as { targetRef?: unknown; targetRefs?: unknown };
  const candidates = [s.targetRef, ...(Array.isArray(s.targetRefs) ? s.targetRefs : [])];
  return candidates.flatMap((c) => {
    if (typeof c !== "object" || c === null) return [];
    const r = c as Record<string, unknown>;
    if (typeof r.kind !== "string" || typeof r.name !== "string") return [];
    const ref: PolicyTargetRef = { group: typeof r.group === "string" ? r.group : GATEWAY_API_GROUP, kind: r.kind, name: r.name };
    return typeof r.sectionName === "string" ? [{ ...ref, sectionName: r.sectionName }] : [ref];
  });
}
