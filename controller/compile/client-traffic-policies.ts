/**
 * Where Envoy finds the client address otherwise than Portcullis was told to. Envoy Gateway programs
 * each listener's client address detection from the ClientTrafficPolicy that applies to it
 * (`clientIPDetection`; none: the peer), while `clientCIDRs`, `clientIPGeoLocations` and
 * `source.address` are decided on the address the flags (`--xff-trusted-hops`,
 * `--xff-trusted-cidrs`, `--xff-peer-not-appended`, `--client-ip-header`) find: on a listener where
 * the two differ, a rule on the client address would be decided on another address than Envoy's (the
 * proxy in front, which an Allow rule for the proxies' network lets through). Which policy applies
 * where follows Envoy Gateway v1.9.0's ProcessClientTrafficPolicies
 * (internal/gatewayapi/clienttrafficpolicy.go): oldest first; a policy naming a listener
 * (`sectionName`) before those naming the whole Gateway, which take only the listeners no such
 * policy took; the first to take a listener or Gateway keeps it (a later one is Conflicted); one
 * naming a plain HTTP listener that shares its port with another is refused and applies nowhere;
 * targets are Gateways and ListenerSets of the policy's own namespace (targetRef, targetRefs) or
 * selected (targetSelectors, in the namespaces their `namespaces` takes, another than the policy's
 * with a ReferenceGrant from ClientTrafficPolicy); a ListenerSet-wide policy takes its listeners
 * before a Gateway-wide one.
 */
import { GATEWAY_API_GROUP } from "../api/gatewayapi.ts";
import { keyOf, selectorMatches, sortedByAge } from "../api/meta.ts";
import type { Gateway, ListenerSet, Resources } from "../api/resources.ts";
import type { ClientAddressOptions } from "../authz/client-address.ts";
import type { CompiledPolicy } from "../snapshot/types.ts";
import { listenerLabel, type GatewayListener } from "./attachments.ts";
import type { PolicyTargetSelector } from "../api/securitypolicy.ts";
import { grantCheck, type GrantCheck } from "./references.ts";
import { lenientTargets, namespaceSelected } from "./targets.ts";

/**
 * The client address settings a ClientTrafficPolicy's `clientIPDetection` stands for (absent:
 * Envoy's default, the peer); undefined when it cannot be read.
 */
export function clientAddressOptionsOfDetection(detection: unknown): ClientAddressOptions | undefined {
  if (detection === undefined) return PEER;
  if (typeof detection !== "object" || detection === null) return undefined;
  const d = detection as {
    xForwardedFor?: { numTrustedHops?: unknown; trustedCIDRs?: unknown; disableXForwardedForAppend?: unknown };
    customHeader?: { name?: unknown };
  };
  if (typeof d.customHeader?.name === "string")
    return { trustedHops: 0, trustedCidrs: [], customHeader: d.customHeader.name.toLowerCase() };
  const xff = d.xForwardedFor;
  return {
    trustedHops: typeof xff?.numTrustedHops === "number" ? xff.numTrustedHops : 0,
    trustedCidrs: Array.isArray(xff?.trustedCIDRs) ? xff.trustedCIDRs.map(String) : [],
    peerNotAppended: xff?.disableXForwardedForAppend === true,
  };
}

/** Envoy's default: the peer. */
const PEER: ClientAddressOptions = { trustedHops: 0, trustedCidrs: [] };

/** The settings as the flags that give them ("--xff-trusted-hops 0" for the peer, Envoy's default). */
export function clientAddressFlags(s: ClientAddressOptions): string {
  if (s.customHeader !== undefined) return `--client-ip-header ${s.customHeader}`;
  const rule = s.trustedCidrs.length > 0 ? `--xff-trusted-cidrs ${s.trustedCidrs.join(",")}` : `--xff-trusted-hops ${s.trustedHops}`;
  return s.peerNotAppended === true ? `${rule} --xff-peer-not-appended` : rule;
}

/**
 * Envoy Gateway's controllerName prefix (its default is `gateway.envoyproxy.io/gatewayclass-controller`):
 * a Gateway of such a class is programmed by it, ClientTrafficPolicy or none.
 */
const ENVOY_GATEWAY_CONTROLLER = "gateway.envoyproxy.io/";

/** Whether a GatewayClass `controllerName` is Envoy Gateway's: its prefix, or one of `others` (`--envoy-gateway-controller-name`). */
const isEnvoyGatewayController = (controllerName: string, others: readonly string[]): boolean =>
  controllerName.startsWith(ENVOY_GATEWAY_CONTROLLER) || others.includes(controllerName);

/** What clientAddressMismatch compares each listener's detection with, and where it looks. */
export interface ClientAddressComparison {
  /** The client address flags Portcullis decides with. */
  readonly flags: ClientAddressOptions;
  /** `--watch-namespaces` (empty: every namespace is read). */
  readonly watchNamespaces?: readonly string[];
  /**
   * GatewayClass controllerNames Envoy Gateway runs under besides those starting with
   * `gateway.envoyproxy.io/` (its EnvoyGateway configuration's `gateway.controllerName`).
   */
  readonly envoyGatewayControllers?: readonly string[];
}

/** What finds the client address on one listener: a ClientTrafficPolicy ("namespace/name") and its detection, or Envoy's default. */
interface ListenerDetection {
  readonly policy: string | undefined;
  /** undefined: the policy's clientIPDetection cannot be read. */
  readonly options: ClientAddressOptions | undefined;
}

/**
 * For a listener of `listeners` (or one standing for those of ListenerSets not read), why the client
 * address cannot be determined there, when Envoy may find it otherwise than `flags` do: the
 * ClientTrafficPolicy and the flags to start Portcullis with; undefined when they agree. A listener
 * is compared with every detection Envoy may use for it: its own, and, for a plain HTTP listener,
 * those of the other HTTP listeners of its Gateway on its port (Envoy serves them with one
 * connection manager). Listeners of Gateways that no ClientTrafficPolicy targets and whose class is
 * not Envoy Gateway's (by its controllerName, isEnvoyGatewayController) are left to the flags
 * (another proxy, which only the flags describe); a
 * ListenerSet's listeners are compared with their own policy's detection (on the listener or the
 * ListenerSet), their Gateway's and the peer (Envoy Gateway v1.9.0 refuses one for a shared port
 * and may apply the next). Answers are kept per Gateway and listener.
 */
export function clientAddressMismatch(
  resources: Pick<Resources, "clientTrafficPolicies" | "gatewayClasses" | "namespaces" | "referenceGrants">,
  listeners: readonly GatewayListener[],
  { flags, watchNamespaces = [], envoyGatewayControllers = [] }: ClientAddressComparison,
): (l: GatewayListener) => string | undefined {
  const { gateways, listenerSets, reach } = servedScope(resources, listeners);
  const { bySection, byListenerSet, byGateway } = resolve(resources.clientTrafficPolicies, gateways, listenerSets, reach);
  const unseen = unseenPolicies(resources.referenceGrants, gateways, listenerSets, watchNamespaces);
  const envoyGatewayClasses = new Set(
    resources.gatewayClasses
      .filter((c) => isEnvoyGatewayController(c.spec.controllerName, envoyGatewayControllers))
      .map((c) => c.metadata.name),
  );
  const detectionsOf = (l: GatewayListener): ListenerDetection[] => {
    const id = keyOf(l.gateway.metadata);
    const whole = byGateway.get(id);
    const set = l.listenerSet === undefined ? undefined : keyOf(l.listenerSet.metadata);
    const own = set === undefined ? undefined : (bySection.get(id)?.get(`${set}/${l.listener.name}`) ?? byListenerSet.get(set));
    const hidden = unseen.get(id) ?? (set === undefined ? undefined : unseen.get(set));
    if (hidden !== undefined) return [hidden];
    const programmed =
      whole !== undefined || own !== undefined || bySection.has(id) || envoyGatewayClasses.has(l.gateway.spec.gatewayClassName);
    if (!programmed) return [];
    const ofGateway = whole ?? DEFAULT;
    // Envoy Gateway refuses a policy on listeners sharing a port with others' and may then apply the next: each is a candidate.
    if (l.listenerSet !== undefined) return own === undefined ? [ofGateway, DEFAULT] : [own, ofGateway, DEFAULT];
    return [bySection.get(id)?.get(l.listener.name) ?? ofGateway];
  };
  const told = clientAddressFlags(flags);
  const known = new Map<string, string | undefined>();
  return (l) => {
    const key = `${keyOf(l.gateway.metadata)}\0${listenerLabel(l)}`;
    if (known.has(key)) return known.get(key);
    const sharing =
      l.listener.protocol === "HTTPS"
        ? [l]
        : [
            l,
            ...listeners.filter(
              (o) =>
                o.gateway === l.gateway &&
                o.listener !== l.listener &&
                o.listener.port === l.listener.port &&
                o.listener.protocol !== "HTTPS",
            ),
          ];
    let problem: string | undefined;
    for (const d of sharing.flatMap(detectionsOf)) {
      const wanted = d.options === undefined ? undefined : clientAddressFlags(d.options);
      if (wanted === told) continue;
      const by = d.policy === undefined ? "no ClientTrafficPolicy applies (Envoy's default, the peer)" : `ClientTrafficPolicy ${d.policy}`;
      problem =
        wanted === undefined
          ? `${by}: its clientIPDetection cannot be read`
          : `${by}: Envoy finds the client address otherwise than Portcullis, which runs with ${told}; start it with ${wanted}`;
      break;
    }
    known.set(key, problem);
    return problem;
  };
}

const DEFAULT: ListenerDetection = { policy: undefined, options: PEER };

/** The served Gateways and ListenerSets (by id) a ClientTrafficPolicy may target, and what its selectors reach. */
function servedScope(
  resources: Pick<Resources, "namespaces" | "referenceGrants">,
  listeners: readonly GatewayListener[],
): {
  gateways: Map<string, Gateway>;
  listenerSets: Map<string, { readonly set: ListenerSet; readonly gateway: string }>;
  reach: SelectorReach;
} {
  const gateways = new Map<string, Gateway>();
  const listenerSets = new Map<string, { readonly set: ListenerSet; readonly gateway: string }>();
  for (const l of listeners) {
    gateways.set(keyOf(l.gateway.metadata), l.gateway);
    if (l.listenerSet !== undefined)
      listenerSets.set(keyOf(l.listenerSet.metadata), { set: l.listenerSet, gateway: keyOf(l.gateway.metadata) });
  }
  const reach: SelectorReach = {
    namespaceLabels: new Map(resources.namespaces.map((n) => [n.metadata.name, n.metadata.labels ?? {}])),
    granted: grantCheck(resources, "ClientTrafficPolicy"),
  };
  return { gateways, listenerSets, reach };
}

/**
 * Served Gateways (by id, sorted) on a listener of which Envoy may route a path with adjacent
 * slashes as written: a ClientTrafficPolicy naming or selecting the Gateway, or a ListenerSet of it,
 * sets `path.disableMergeSlashes: true` (Envoy Gateway's default merges them, as Portcullis reads
 * every path), or a `path` that cannot be read. Wider than Envoy Gateway's choice of policy (one it
 * refuses or finds Conflicted counts too): a Gateway wrongly listed only has such paths refused.
 */
export function gatewaysKeepingSlashes(
  resources: Pick<Resources, "clientTrafficPolicies" | "namespaces" | "referenceGrants">,
  listeners: readonly GatewayListener[],
  watchNamespaces: readonly string[] = [],
): readonly string[] {
  return gatewaysWhere(resources, listeners, keepsSlashes, watchNamespaces);
}

/**
 * Served Gateways (by id, sorted) on a listener of which Envoy may take the PROXY protocol: a
 * ClientTrafficPolicy naming or selecting the Gateway, or a ListenerSet of it, sets `proxyProtocol`
 * or `enableProxyProtocol` (not false). Envoy's proxy_protocol listener filter then makes the
 * PROXY header's destination the connection's local address, which the gRPC check states as
 * `attributes.destination`, while Envoy routes by the listener that accepted the connection: the
 * stated port names no listener there. Wider than Envoy Gateway's choice of policy: a Gateway wrongly
 * listed only has every one of its route tables read whatever port is stated.
 */
export function gatewaysTakingProxyProtocol(
  resources: Pick<Resources, "clientTrafficPolicies" | "namespaces" | "referenceGrants">,
  listeners: readonly GatewayListener[],
  watchNamespaces: readonly string[] = [],
): readonly string[] {
  return gatewaysWhere(resources, listeners, takesProxyProtocol, watchNamespaces);
}

/**
 * Served Gateways (by id, sorted) a ClientTrafficPolicy whose spec `holds` names or selects, itself
 * or through a ListenerSet, and those a policy of a namespace not read (`watchNamespaces`) may
 * select (unseenPolicies): what it holds cannot be known.
 */
function gatewaysWhere(
  resources: Pick<Resources, "clientTrafficPolicies" | "namespaces" | "referenceGrants">,
  listeners: readonly GatewayListener[],
  holds: (spec: unknown) => boolean,
  watchNamespaces: readonly string[],
): readonly string[] {
  const policies = resources.clientTrafficPolicies.filter((p) => holds(p.spec));
  if (policies.length === 0 && watchNamespaces.length === 0) return [];
  const { gateways, listenerSets, reach } = servedScope(resources, listeners);
  const out = new Set<string>();
  for (const p of policies) for (const t of targetsOf(p, gateways, listenerSets, reach)) out.add(t.gateway);
  for (const id of unseenPolicies(resources.referenceGrants, gateways, listenerSets, watchNamespaces).keys()) {
    if (gateways.has(id)) out.add(id);
    const set = listenerSets.get(id);
    if (set !== undefined) out.add(set.gateway);
  }
  return [...out].sort();
}

/** Whether a ClientTrafficPolicy spec may give the PROXY protocol: `proxyProtocol` set, or `enableProxyProtocol` anything but false. */
function takesProxyProtocol(spec: unknown): boolean {
  if (typeof spec !== "object" || spec === null) return false;
  const { proxyProtocol, enableProxyProtocol } = spec as { proxyProtocol?: unknown; enableProxyProtocol?: unknown };
  return (proxyProtocol !== undefined && proxyProtocol !== null) || (enableProxyProtocol !== undefined && enableProxyProtocol !== false);
}

/** Whether a ClientTrafficPolicy spec may keep adjacent slashes unmerged: `path.disableMergeSlashes` true, or not a boolean. */
function keepsSlashes(spec: unknown): boolean {
  const path = typeof spec === "object" && spec !== null ? (spec as { path?: unknown }).path : undefined;
  if (path === undefined) return false;
  if (typeof path !== "object" || path === null) return true;
  const disable = (path as { disableMergeSlashes?: unknown }).disableMergeSlashes;
  return disable !== undefined && disable !== false;
}

/**
 * Gateways and ListenerSets (by id) a ClientTrafficPolicy of a namespace not read
 * (`--watch-namespaces`) may select: a ReferenceGrant allows one from there. Its detection cannot be
 * known, so it is one that cannot be read.
 */
function unseenPolicies(
  grants: Resources["referenceGrants"],
  gateways: ReadonlyMap<string, Gateway>,
  listenerSets: ReadonlyMap<string, { readonly set: ListenerSet; readonly gateway: string }>,
  watchNamespaces: readonly string[],
): Map<string, ListenerDetection> {
  const out = new Map<string, ListenerDetection>();
  if (watchNamespaces.length === 0) return out;
  for (const g of grants) {
    const from = g.spec.from.find(
      (f) => f.group === "gateway.envoyproxy.io" && f.kind === "ClientTrafficPolicy" && !watchNamespaces.includes(f.namespace),
    );
    if (from === undefined) continue;
    const detection = { policy: `of namespace ${from.namespace}, which is not watched (--watch-namespaces)`, options: undefined };
    for (const t of g.spec.to) {
      if (t.group !== GATEWAY_API_GROUP || (t.kind !== "Gateway" && t.kind !== "ListenerSet")) continue;
      const pool = t.kind === "Gateway" ? [...gateways.values()] : [...listenerSets.values()].map((s) => s.set);
      for (const o of pool)
        if (o.metadata.namespace === g.metadata.namespace && (t.name === undefined || t.name === "" || t.name === o.metadata.name))
          out.set(keyOf(o.metadata), detection);
    }
  }
  return out;
}

/**
 * Each Gateway's and ListenerSet's policy for all its listeners, and per Gateway the policies of
 * single listeners (by name; a ListenerSet's as "namespace/set/name").
 */
function resolve(
  policies: Resources["clientTrafficPolicies"],
  gateways: ReadonlyMap<string, Gateway>,
  listenerSets: ReadonlyMap<string, { readonly set: ListenerSet; readonly gateway: string }>,
  reach: SelectorReach,
): {
  bySection: Map<string, Map<string, ListenerDetection>>;
  byListenerSet: Map<string, ListenerDetection>;
  byGateway: Map<string, ListenerDetection>;
} {
  const bySection = new Map<string, Map<string, ListenerDetection>>();
  const byListenerSet = new Map<string, ListenerDetection>();
  const byGateway = new Map<string, ListenerDetection>();
  const targeted = sortedByAge(policies).map((p) => ({ p, targets: targetsOf(p, gateways, listenerSets, reach) }));
  for (const { p, targets } of targeted) {
    const detection = { policy: keyOf(p.metadata), options: clientAddressOptionsOfDetection(clientIPDetectionOf(p.spec)) };
    for (const t of targets) {
      if (t.sectionName === undefined) continue;
      if (t.listenerSet !== undefined) {
        // A ListenerSet's listener: compared with its Gateway's and the peer too (clientAddressMismatch), so a refused one is covered.
        if (!listenerSets.get(t.listenerSet)!.set.spec.listeners.some((l) => l.name === t.sectionName)) continue;
        let sections = bySection.get(t.gateway);
        if (sections === undefined) bySection.set(t.gateway, (sections = new Map()));
        const key = `${t.listenerSet}/${t.sectionName}`;
        if (!sections.has(key)) sections.set(key, detection);
        continue;
      }
      // A sectionName the Gateway does not have is Invalid in Envoy Gateway, and applies nowhere.
      const listeners = gateways.get(t.gateway)!.spec.listeners;
      const listener = listeners.find((l) => l.name === t.sectionName);
      if (listener === undefined) continue;
      let sections = bySection.get(t.gateway);
      if (sections === undefined) bySection.set(t.gateway, (sections = new Map()));
      if (sections.has(t.sectionName)) continue;
      // On a plain HTTP listener sharing its port with another, Envoy Gateway refuses to apply it
      // (validatePortOverlapForClientTrafficPolicy), and the listener, taken, gets no Gateway-wide one either.
      const plainHttp = (l: { protocol?: string | undefined }) => l.protocol !== "HTTPS";
      const shared = plainHttp(listener) && listeners.some((l) => l !== listener && l.port === listener.port && plainHttp(l));
      sections.set(t.sectionName, shared ? DEFAULT : detection);
    }
  }
  for (const { p, targets } of targeted) {
    const detection = { policy: keyOf(p.metadata), options: clientAddressOptionsOfDetection(clientIPDetectionOf(p.spec)) };
    for (const t of targets)
      if (t.sectionName === undefined && t.listenerSet !== undefined && !byListenerSet.has(t.listenerSet))
        byListenerSet.set(t.listenerSet, detection);
  }
  for (const { p, targets } of targeted) {
    const detection = { policy: keyOf(p.metadata), options: clientAddressOptionsOfDetection(clientIPDetectionOf(p.spec)) };
    for (const t of targets)
      if (t.sectionName === undefined && t.listenerSet === undefined && !byGateway.has(t.gateway)) byGateway.set(t.gateway, detection);
  }
  return { bySection, byListenerSet, byGateway };
}

const clientIPDetectionOf = (spec: unknown): unknown =>
  typeof spec === "object" && spec !== null ? (spec as { clientIPDetection?: unknown }).clientIPDetection : undefined;

/** A policy's target: a served Gateway (by id), or a ListenerSet of one (`listenerSet`, by id); the sectionName of a ref. */
interface PolicyTarget {
  readonly gateway: string;
  readonly listenerSet?: string;
  readonly sectionName: string | undefined;
}

/** What a targetSelector may reach beyond the policy's namespace: Namespace labels (`namespaces.selector`), and ReferenceGrants from ClientTrafficPolicy. */
interface SelectorReach {
  readonly namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>;
  readonly granted: GrantCheck;
}

/**
 * The served Gateways and their ListenerSets the policy names (its own namespace) or selects (the
 * namespaces its selector's `namespaces` takes; another than its own with a ReferenceGrant there).
 */
function targetsOf(
  p: Resources["clientTrafficPolicies"][number],
  gateways: ReadonlyMap<string, Gateway>,
  listenerSets: ReadonlyMap<string, { readonly set: ListenerSet; readonly gateway: string }>,
  reach: SelectorReach,
): PolicyTarget[] {
  const read = lenientTargets(p.spec);
  if (read === undefined) return [];
  const ns = p.metadata.namespace;
  const isGateway = (t: { group?: string | undefined; kind: string }) =>
    (t.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP && t.kind === "Gateway";
  const isListenerSet = (t: { group?: string | undefined; kind: string }) =>
    (t.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP && t.kind === "ListenerSet";
  const out: PolicyTarget[] = [];
  for (const ref of read.targetRefs) {
    const id = `${ns}/${ref.name}`;
    if (isGateway(ref) && gateways.has(id)) out.push({ gateway: id, sectionName: ref.sectionName });
    const set = isListenerSet(ref) ? listenerSets.get(id) : undefined;
    if (set !== undefined) out.push({ gateway: set.gateway, listenerSet: id, sectionName: ref.sectionName });
  }
  const selects = (selector: PolicyTargetSelector, m: Gateway["metadata"]) =>
    namespaceSelected(selector.namespaces, ns, m.namespace, reach.namespaceLabels) &&
    selectorMatches(selector, m.labels) &&
    (m.namespace === ns || reach.granted(ns, { group: GATEWAY_API_GROUP, kind: selector.kind, namespace: m.namespace, name: m.name }));
  for (const selector of read.targetSelectors) {
    if (isGateway(selector))
      for (const [id, g] of gateways) if (selects(selector, g.metadata)) out.push({ gateway: id, sectionName: undefined });
    if (isListenerSet(selector))
      for (const [id, { set, gateway }] of listenerSets)
        if (selects(selector, set.metadata)) out.push({ gateway, listenerSet: id, sectionName: undefined });
  }
  return out;
}

/** Whether a phase of the policy may decide on the client address (Feature.readsClientAddress): only such a policy hears of a mismatch. */
export function readsClientAddress(policy: CompiledPolicy): boolean {
  return policy.features.some((f) => f.feature.readsClientAddress?.(f.compiled) === true);
}
