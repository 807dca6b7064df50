/**
 * compile(resources, options) → { snapshot, statuses, problems }: pure and deterministic. No I/O,
 * clock, environment or logging; every problem becomes a condition on its policy (or, for objects
 * that are not policies, an entry in `problems` for the caller to log). compileInSlices runs the
 * same steps and only adds pauses between them.
 */
import { compareCodeUnits, keyOf, sortedByAge } from "../api/meta.ts";
import type { Resources } from "../api/resources.ts";
import type { PolicyStatus } from "../api/status.ts";
import type { SelfService } from "../features/extAuth/types.ts";
import type { GeoIPDatabase } from "../geoip/database.ts";
import { deepFreeze } from "../snapshot/freeze.ts";
import type { CompiledPolicy, PolicyOrigin, Snapshot } from "../snapshot/types.ts";
import type { SecurityPolicy } from "../api/resources.ts";
import type { HTTPRouteRule, Listener } from "../api/gatewayapi.ts";
import { attachRoutes, listenerLabel, takesRoutesOfOtherNamespaces, type Attachment } from "./attachments.ts";
import { labelSelectorLines } from "./folder-labels.ts";
import { withRouteCors } from "./route-cors.ts";
import { scopeManagedHeaders } from "./managed-headers.ts";
import { analysePolicy, compileMerged, type AnalysedPolicy } from "./policy.ts";
import { claimsOfAttachment, decideWinners, listenerOverrides, mergeParent, policyOrigin, type Claim } from "./precedence.ts";
import { remoteJwksOf } from "./remote-jwks.ts";
import { firstFailure, pendingEntry } from "./rule-entries.ts";
import { unreadListenerSetListeners, unreadRoutesEntry } from "./unread-routes.ts";
import { createReferences, type ReferencedObjects, type References } from "./references.ts";
import {
  buildRouteIndex,
  headersMatchedByLine,
  compileRuleMatches,
  corsPreflightMatch,
  createMatchCompiler,
  type PendingEntry,
  type RankedMatch,
} from "./routes.ts";
import { indexTargets, type TargetIndex } from "./targets.ts";
import { listenerRef, overriddenAt } from "./ancestor-refs.ts";
import { StatusCollector } from "./status.ts";
import type { Failure } from "../lib/result.ts";
import type { ClientAddressOptions } from "../authz/client-address.ts";
import {
  clientAddressMismatch,
  gatewaysKeepingSlashes,
  gatewaysTakingProxyProtocol,
  readsClientAddress,
} from "./client-traffic-policies.ts";

export interface CompileOptions {
  /** Written into every ancestor status entry Portcullis owns. */
  readonly controllerName: string;
  /** GatewayClass names whose Gateways are served; empty serves every Gateway. */
  readonly gatewayClasses: readonly string[];
  /** The `--geoip-database` files, in flag order (read before compiling; none: `clientIPGeoLocations` is Invalid). */
  readonly geoipDatabases?: readonly GeoIPDatabase[];
  /** `--self-service`: this Portcullis' own Service, an extAuth naming which is the hook-up (never called); absent: none. */
  readonly selfService?: SelfService;
  /**
   * The only namespaces `resources` were read from (`--watch-namespaces`); absent or empty: every
   * namespace. A listener that takes routes of other namespaces may then serve routes not in
   * `resources`, each a further reading of its requests (RouteEntry.unread).
   */
  readonly watchNamespaces?: readonly string[];
  /**
   * The client address flags decisions are made with (Kubernetes mode): a route entry on a listener
   * where Envoy Gateway's ClientTrafficPolicy finds the client address otherwise gets
   * RouteEntry.clientAddressUnknown, and a policy that reads the address a Warning there. Absent:
   * not compared (a manifest folder whose ClientTrafficPolicy the flags contradict is refused whole
   * before it is compiled, sources/client-traffic-policies.ts).
   */
  readonly clientAddress?: ClientAddressOptions;
  /**
   * GatewayClass controllerNames Envoy Gateway runs under besides `gateway.envoyproxy.io/…`
   * (`--envoy-gateway-controller-name`): their Gateways without a ClientTrafficPolicy are on Envoy's
   * default, the peer, where clientAddress is compared.
   */
  readonly envoyGatewayControllers?: readonly string[];
  /** True when `resources` come from a manifest folder, which keeps no labels: each label selector there is reported in `problems`. */
  readonly fromManifestFolder?: boolean;
}

export interface CompileResult {
  readonly snapshot: Snapshot;
  /** One entry per SecurityPolicy, in namespace/name order. */
  readonly statuses: readonly PolicyStatus[];
  /** Problems of objects that are not policies (a route that cannot attach, a bad route regex). */
  readonly problems: readonly string[];
  /** The Secrets and ConfigMaps the policies reference (whether or not they exist). */
  readonly references: ReferencedObjects;
}

export function compile(resources: Resources, options: CompileOptions): CompileResult {
  const steps = compileSteps(resources, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * The same compile, giving the event loop a turn whenever it has run for `sliceMs`: at 10,000
 * policies a compile takes about a second, and the thread running it is the one answering checks
 * (from the previous snapshot meanwhile).
 */
export function compileInSlices(resources: Resources, options: CompileOptions, sliceMs = 10): Promise<CompileResult> {
  return inSlices(compileSteps(resources, options), sliceMs);
}

/**
 * The Secrets, ConfigMaps, Services and Backends the SecurityPolicies reference (compile's
 * `references`), found by the first steps of compile alone: the routes attached, the targets
 * indexed and each policy analysed, no route index built. How the Kubernetes source learns which of
 * them to list before the first compile (runtime/pipeline.ts), so that one compile is enough. A
 * policy merged into a parent (mergeType) may reference more, which only compile finds.
 */
export function referencesInSlices(resources: Resources, options: CompileOptions, sliceMs = 10): Promise<ReferencedObjects> {
  return inSlices(referenceSteps(resources, options), sliceMs);
}

function* referenceSteps(resources: Resources, options: CompileOptions): Generator<void, ReferencedObjects, void> {
  const refs = createReferences(resources);
  const { servedGateways, attachedListenerSets, refusedListenerSets } = attachRoutes(resources, options.gatewayClasses, {
    unlabelledNamespaces: options.fromManifestFolder === true,
  });
  const targets = indexTargets(resources, servedGateways, attachedListenerSets, refusedListenerSets);
  yield* analysePolicies(resources, targets, refs, inputsOf(options));
  return refs.used();
}

/** Runs `steps` to the end, giving the event loop a turn whenever they have run for `sliceMs`. */
async function inSlices<T>(steps: Generator<void, T, void>, sliceMs: number): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}

/** Work items between two places where compile may pause (each a few hundred microseconds at most). */
const ITEMS_PER_STEP = 64;

/** compile() as steps: it yields between chunks of its longest loops and changes nothing while paused. */
function* compileSteps(resources: Resources, options: CompileOptions): Generator<void, CompileResult, void> {
  const refs = createReferences(resources);
  const {
    attachments,
    listeners,
    servedGateways,
    attachedListenerSets,
    refusedListenerSets,
    problems: attachProblems,
    detached,
  } = attachRoutes(resources, options.gatewayClasses, { unlabelledNamespaces: options.fromManifestFolder === true });
  const problems = [...attachProblems, ...(options.fromManifestFolder === true ? labelSelectorLines(resources) : [])];
  const targets = indexTargets(resources, servedGateways, attachedListenerSets, refusedListenerSets);
  const { clientAddress } = options;
  const clientAddressUnknownOn =
    clientAddress === undefined
      ? () => undefined
      : clientAddressMismatch(resources, listeners, {
          flags: clientAddress,
          watchNamespaces: options.watchNamespaces,
          envoyGatewayControllers: options.envoyGatewayControllers,
        });
  const inputs = inputsOf(options);
  const policies = yield* analysePolicies(resources, targets, refs, inputs);
  const { winners, conflicts } = decideWinners(policies);

  const status = new StatusCollector(servedGateways, attachedListenerSets, refusedListenerSets, detached);
  winners.forEach((claim) => status.applied(claim.policy, claim.target));
  for (const { claim, winner } of conflicts) status.conflicted(claim.policy, claim.target, winner);
  for (const { shadowed, by } of listenerOverrides(winners)) {
    for (const { ref } of status.ancestorsOf(shadowed.target)) status.overridden(shadowed.policy, ref, by.policy.compiled.id);
  }

  // A route policy with mergeType, merged into each parent policy it meets, once per pair.
  const mergedPolicies = new Map<string, CompiledPolicy>();
  const enforcedPolicy = (winner: Claim, parent: Claim | undefined, attachment: Attachment): CompiledPolicy => {
    const child = winner.policy;
    if (child.spec?.mergeType === undefined) return child.compiled;
    let compiled = child.compiled;
    if (parent !== undefined) {
      const key = `${child.compiled.id}\0${parent.policy.compiled.id}`;
      compiled = mergedPolicies.get(key) ?? compileMerged(child, parent.policy, refs, inputs);
      mergedPolicies.set(key, compiled);
    }
    const at = { routeRef: overriddenAt(winner.target, attachment), listenerRef: listenerRef(attachment) };
    status.enforced(
      child,
      compiled,
      at,
      parent === undefined ? undefined : { policy: parent.policy, ref: overriddenAt(parent.target, attachment) },
    );
    return compiled;
  };

  const pending: PendingEntry[] = [];
  const compileMatch = createMatchCompiler();
  const effective = new Map<string, CompiledPolicy>();
  let lastEffective: CompiledPolicy | undefined;
  const listenerClaims = new Map<Listener, readonly Claim[]>();
  // Plain loops and no closure per attachment or rule: at 10,000 routes these bodies run 30,000 times in a cold process.
  for (let i = 0; i < attachments.length; i++) {
    if (i % ITEMS_PER_STEP === 0) yield;
    const attachment = attachments[i]!;
    const route = attachment.route;
    const routeId = keyOf(route.metadata);
    const gatewayId = keyOf(attachment.gateway.metadata);
    const claimsFor = claimsOfAttachment(attachment, winners, listenerClaims);
    const listener = listenerLabel(attachment);
    const tlsListener = attachment.listener.protocol === "HTTPS" ? listener : undefined;
    const clientAddressUnknown = clientAddressUnknownOn(attachment);
    // The rules without a rule-level claim share one list of claims, so one origin (an object less per entry to keep and freeze).
    let originOf: { readonly claims: readonly Claim[]; readonly origin: PolicyOrigin } | undefined;
    const rules = route.spec.rules;
    for (let ruleIndex = 0; ruleIndex < rules.length; ruleIndex++) {
      const rule = rules[ruleIndex]!;
      const claims = claimsFor(rule.name);
      const winner = claims[0];
      const shadowed = claims.length > 1 ? claims.slice(1) : NO_CLAIMS;
      const parent = winner === undefined ? undefined : mergeParent(winner, shadowed);
      const policy = winner === undefined ? undefined : enforcedPolicy(winner, parent, attachment);
      if (winner !== undefined && originOf?.claims !== claims) originOf = { claims, origin: policyOrigin(winner, shadowed, parent) };
      const origin = winner === undefined ? undefined : originOf!.origin;
      // The rules of a route mostly share a policy: one entry in `effective` is enough.
      if (policy !== undefined && policy !== lastEffective) effective.set(policy.id, (lastEffective = policy));
      for (let l = 0; l < shadowed.length; l++) {
        const loser = shadowed[l]!;
        if (loser.policy === winner!.policy || loser === parent) continue;
        status.overridden(loser.policy, overriddenAt(loser.target, attachment), winner!.policy.compiled.id);
      }
      if (clientAddressUnknown !== undefined && policy !== undefined && readsClientAddress(policy))
        status.clientAddressUnknown(winner!.policy, overriddenAt(winner!.target, attachment), clientAddressUnknown);
      const label = `${route.kind === "GRPCRoute" ? "GRPCRoute " : ""}${routeId} ${rule.name === undefined ? `rule ${ruleIndex}` : `rule ${rule.name}`}`;
      const matches = compileRuleMatches(route, ruleIndex, compileMatch);
      // Envoy Gateway drops a rule with a match it cannot translate, all its matches with it.
      const failed = firstFailure(matches);
      if (failed !== -1) {
        const { error } = matches[failed] as Failure<string>;
        problems.push(`${route.kind} ${routeId} rule ${ruleIndex} match ${failed}: ${error}; this rule is not served, as in Envoy Gateway`);
        continue;
      }
      const rulePolicy = route.kind === "HTTPRoute" ? withRouteCors(policy, rule as HTTPRouteRule, label) : policy;
      const at = {
        attachment,
        gatewayId,
        listener,
        tlsListener,
        routeId,
        label,
        policy: rulePolicy,
        origin,
        ruleIndex,
        clientAddressUnknown,
      };
      for (let matchIndex = 0; matchIndex < matches.length; matchIndex++) {
        const { value } = matches[matchIndex] as { readonly value: RankedMatch };
        pending.push(pendingEntry(at, value, matchIndex, 0));
        const preflight = route.kind === "HTTPRoute" ? corsPreflightMatch(rule as HTTPRouteRule, value) : undefined;
        if (preflight !== undefined) pending.push(pendingEntry(at, preflight, matchIndex, 1));
      }
    }
  }

  if ((options.watchNamespaces ?? []).length > 0) {
    for (const l of [...listeners.filter(takesRoutesOfOtherNamespaces), ...unreadListenerSetListeners(listeners)]) {
      const entry = unreadRoutesEntry(l, winners, clientAddressUnknownOn(l));
      if (entry.entry.policy !== undefined) effective.set(entry.entry.policy.id, entry.entry.policy);
      pending.push(entry);
    }
  }

  const policiesById: Record<string, CompiledPolicy> = Object.create(null);
  for (const id of [...effective.keys()].sort(compareCodeUnits)) policiesById[id] = effective.get(id)!;
  const managedHeaders = yield* scopeManagedHeaders(pending, ITEMS_PER_STEP);
  const snapshot: Snapshot = {
    routes: buildRouteIndex(pending, new Set(gatewaysTakingProxyProtocol(resources, listeners, options.watchNamespaces))),
    policies: policiesById,
    remoteJwks: remoteJwksOf(policiesById),
    managedHeaders,
    headersMatchedByLine: headersMatchedByLine(pending),
  };
  const slashesKeptOn = gatewaysKeepingSlashes(resources, listeners, options.watchNamespaces);
  if (slashesKeptOn.length > 0) Object.assign(snapshot, { slashesKeptOn });
  yield;
  // Frozen a policy and a host's entries at a time; what is left for the last call is small.
  const tables = Object.values(snapshot.routes.byGateway).flatMap((ports) => ports.map((p) => p.vhosts));
  const parts = [...Object.values(policiesById), ...tables.flatMap((v) => Object.values(v.exact))];
  for (let i = 0; i < parts.length; i++) {
    deepFreeze(parts[i]);
    if (i % ITEMS_PER_STEP === 0) yield;
  }
  deepFreeze(snapshot);
  yield;
  // In the order of resources.securityPolicies, which toResources sorts by namespace/name: the sort then only confirms it.
  const analysedBySource = new Map<SecurityPolicy, AnalysedPolicy>();
  for (let i = 0; i < policies.length; i++) analysedBySource.set(policies[i]!.source, policies[i]!);
  const statuses: PolicyStatus[] = [];
  for (let i = 0; i < resources.securityPolicies.length; i++) {
    statuses.push(status.statusOf(analysedBySource.get(resources.securityPolicies[i]!)!, options.controllerName));
    if (statuses.length % ITEMS_PER_STEP === 0) yield;
  }
  statuses.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  yield;
  return {
    snapshot,
    statuses: deepFreeze(statuses),
    problems: [...new Set(problems)],
    references: refs.used(),
  };
}

const NO_CLAIMS: readonly Claim[] = Object.freeze([]);

const inputsOf = (options: CompileOptions) => ({ geoipDatabases: options.geoipDatabases ?? [], selfService: options.selfService });

/** Every SecurityPolicy analysed, oldest first; the references each resolves are recorded in `refs`. */
function* analysePolicies(
  resources: Resources,
  targets: TargetIndex,
  refs: References,
  inputs: ReturnType<typeof inputsOf>,
): Generator<void, AnalysedPolicy[], void> {
  // Index loops in these generators: V8 does not optimize them fully, and each step of a for…of there allocates (30,000 rules).
  const policies: AnalysedPolicy[] = [];
  const byAge = sortedByAge(resources.securityPolicies);
  for (let i = 0; i < byAge.length; i++) {
    policies.push(analysePolicy(byAge[i]!, targets, refs, inputs));
    if (policies.length % ITEMS_PER_STEP === 0) yield;
  }
  return policies;
}
