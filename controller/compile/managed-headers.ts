/**
 * Which client headers an allow removes, per route entry (the anti-spoofing lists). A header a
 * policy may set upstream (`x-user-id`) is Portcullis' to set on every route of the same Gateway
 * and on every route to the same upstream, with a policy or without: an upstream reached there,
 * or one it passes the request on to, must be able to trust it. Routes of other Gateways to other
 * upstreams keep it, so a tenant's policy cannot strip headers that other tenants' upstreams read.
 * Upstreams are a rule's `backendRefs`; a rule whose backendRefs cannot be read might reach any
 * upstream and removes every header any policy may set.
 */
import type { PendingEntry } from "./routes.ts";

const NONE: readonly string[] = Object.freeze([]);

/**
 * Widens each entry's `managedHeaders` in place to its Gateway's and upstreams' scope, and returns
 * every header any policy governing a route may set (for requests no route matches). Each entry
 * starts with its own policy's headers. Linear in the entries and the headers of their upstreams:
 * the entries of one Gateway share one array unless an upstream adds headers from another Gateway.
 * Yields every `itemsPerStep` entries, so a sliced compile can pause there.
 */
export function* scopeManagedHeaders(pending: readonly PendingEntry[], itemsPerStep: number): Generator<void, readonly string[], void> {
  const byScope = new Map<string, Set<string>>();
  const all = new Set<string>();
  const add = (key: string, headers: readonly string[]) => {
    let set = byScope.get(key);
    if (set === undefined) byScope.set(key, (set = new Set()));
    for (let i = 0; i < headers.length; i++) set.add(headers[i]!);
  };
  const scopeOfRule = new Map<unknown, Scope>();
  const gatewayKeys = new Map<string, string>();
  // Sized once: a list grown by push reallocates, and a cold compile's every allocation costs its young-generation GC.
  const scopes: Scope[] = new Array(pending.length);
  // Consecutive entries (the matches and rules of one route) mostly add the same policy's headers to the same scope: once is enough.
  let addedOwn: readonly string[] | undefined;
  let addedTo: Scope | undefined;
  // Index loops in this generator: V8 does not optimize it fully, and each step of a for…of there allocates (30,000 entries).
  for (let i = 0; i < pending.length; i++) {
    const scope = scopeOf(pending[i]!, scopeOfRule, gatewayKeys);
    const own = pending[i]!.entry.managedHeaders;
    if (own.length > 0 && (own !== addedOwn || !sameScope(scope, addedTo))) {
      add(scope.gateway, own);
      const keys = scope.backends?.keys ?? NONE;
      for (let k = 0; k < keys.length; k++) add(keys[k]!, own);
      for (let h = 0; h < own.length; h++) all.add(own[h]!);
      addedOwn = own;
      addedTo = scope;
    }
    scopes[i] = scope;
    if ((i + 1) % itemsPerStep === 0) yield;
  }
  const allList = all.size === 0 ? NONE : [...all].sort();
  /** The list of each Gateway, shared by every scope that adds nothing to it. */
  const gatewayLists = new Map<string, readonly string[]>();
  const listOf = (gateway: string, backends: readonly string[]): readonly string[] => {
    const base = byScope.get(gateway) ?? new Set<string>();
    const extra = new Set<string>();
    for (const key of backends) for (const h of byScope.get(key) ?? []) if (!base.has(h)) extra.add(h);
    if (extra.size === 0) {
      let shared = gatewayLists.get(gateway);
      if (shared === undefined) gatewayLists.set(gateway, (shared = base.size === 0 ? NONE : [...base].sort()));
      return shared;
    }
    return [...base, ...extra].sort();
  };
  /** The list of each distinct scope (a Gateway, then the id of its upstreams), built once. */
  const lists = new Map<string, Map<string, readonly string[]>>();
  let previous: { readonly scope: Scope; readonly list: readonly string[] } | undefined;
  for (let i = 0; i < pending.length; i++) {
    const scope = scopes[i]!;
    const { gateway, backends } = scope;
    let list = allList;
    if (previous !== undefined && sameScope(scope, previous.scope)) list = previous.list;
    else if (backends !== undefined) {
      let ofGateway = lists.get(gateway);
      if (ofGateway === undefined) lists.set(gateway, (ofGateway = new Map()));
      let shared = ofGateway.get(backends.id);
      if (shared === undefined) ofGateway.set(backends.id, (shared = listOf(gateway, backends.keys)));
      list = shared;
    }
    if (previous?.list !== list) previous = { scope, list };
    pending[i]!.entry.managedHeaders = list;
    if ((i + 1) % itemsPerStep === 0) yield;
  }
  return allList;
}

/** The scope keys of a rule's backendRefs, and `id` naming that combination. */
interface RuleBackends {
  readonly keys: readonly string[];
  readonly id: string;
}

/** An entry's Gateway as a scope key, and its rule's backends; `backends` undefined when they cannot be read. */
interface Scope {
  /** The Gateway's id ("namespace/name"). */
  readonly gatewayId: string;
  readonly gateway: string;
  readonly backends: RuleBackends | undefined;
}

/**
 * The entry's scope, one object per rule (`memo`, by rule object) for all its entries on the same
 * Gateway; `gatewayKeys`: each Gateway's scope key, made once.
 */
function scopeOf(p: PendingEntry, memo: Map<unknown, Scope>, gatewayKeys: Map<string, string>): Scope {
  const rule = p.route.spec.rules[p.order[0]];
  const known = memo.get(rule);
  if (known?.gatewayId === p.entry.gateway) return known;
  let gateway = gatewayKeys.get(p.entry.gateway);
  if (gateway === undefined) gatewayKeys.set(p.entry.gateway, (gateway = `gateway ${p.entry.gateway}`));
  const scope = {
    gatewayId: p.entry.gateway,
    gateway,
    backends: known === undefined ? backendsOf(p) : known.backends,
  };
  memo.set(rule, scope);
  return scope;
}

/** Whether two scopes are the same Gateway and upstreams. */
function sameScope(a: Scope, b: Scope | undefined): boolean {
  return a === b || (b !== undefined && a.gatewayId === b.gatewayId && a.backends?.id === b.backends?.id);
}

/** The backends of the entry's rule as scope keys; undefined when they cannot be read. */
function backendsOf(p: PendingEntry): RuleBackends | undefined {
  const refs = (p.route.spec.rules[p.order[0]] as { backendRefs?: unknown } | undefined)?.backendRefs;
  if (refs === undefined) return { keys: [], id: "" };
  if (!Array.isArray(refs)) return undefined;
  // Sized once, not grown by push (a first push reserves 17 elements): one list per rule, 30,000 at 10,000 routes.
  const keys: string[] = new Array(refs.length);
  for (let i = 0; i < refs.length; i++) {
    const ref: unknown = refs[i];
    if (typeof ref !== "object" || ref === null) return undefined;
    const { group, kind, namespace, name } = ref as Record<string, unknown>;
    if (typeof name !== "string" || !optionalString(group) || !optionalString(kind) || !optionalString(namespace)) return undefined;
    keys[i] =
      `backend ${(group as string | undefined) ?? ""}/${(kind as string | undefined) ?? "Service"}/${(namespace as string | undefined) ?? p.route.metadata.namespace}/${name}`;
  }
  return { keys, id: keys.join("\n") };
}

const optionalString = (v: unknown): boolean => v === undefined || typeof v === "string";
