/**
 * Which client headers an allow removes, per route entry (the anti-spoofing lists). A header a
 * policy may set upstream (`x-user-id`) is Portcullis' to set on every route of the same Gateway
 * and on every route to the same upstream, with a policy or without: an upstream reached there,
 * or one it passes the request on to, must be able to trust it. Routes of other Gateways to other
 * upstreams keep it, so a tenant's policy cannot strip headers that other tenants' upstreams read.
 * Upstreams are a rule's `backendRefs`; a rule whose backendRefs cannot be read might reach any
 * upstream and removes every header any policy may set.
 */
import type { RouteEntry } from "../snapshot/types.ts";
import type { PendingEntry } from "./routes.ts";

const NONE: readonly string[] = Object.freeze([]);

/**
 * Entries with `managedHeaders` widened to their Gateway's and upstreams' scope, and every header any
 * policy governing a route may set (for requests no route matches). Each entry starts with its own
 * policy's headers. Linear in the entries and the headers of their upstreams: the entries of one
 * Gateway share one array unless an upstream adds headers from another Gateway. Yields every
 * `itemsPerStep` entries, so a sliced compile can pause there.
 */
export function* scopeManagedHeaders(
  pending: readonly PendingEntry[],
  itemsPerStep: number,
): Generator<void, { readonly pending: PendingEntry[]; readonly all: readonly string[] }, void> {
  const byScope = new Map<string, Set<string>>();
  const all = new Set<string>();
  const add = (key: string, headers: readonly string[]) => {
    let set = byScope.get(key);
    if (set === undefined) byScope.set(key, (set = new Set()));
    for (const h of headers) set.add(h);
  };
  const scopes: ReturnType<typeof scopesOf>[] = [];
  for (const p of pending) {
    const scope = scopesOf(p);
    const own = p.entry.managedHeaders;
    if (own.length > 0) {
      add(scope.gateway, own);
      for (const key of scope.backends ?? []) add(key, own);
      for (const h of own) all.add(h);
    }
    if (scopes.push(scope) % itemsPerStep === 0) yield;
  }
  const allList = all.size === 0 ? NONE : [...all].sort();
  /** The list of each distinct scope (a Gateway and its upstreams), built once. */
  const lists = new Map<string, readonly string[]>();
  const listOf = (gateway: string, backends: readonly string[]): readonly string[] => {
    const base = byScope.get(gateway) ?? new Set<string>();
    const extra = new Set<string>();
    for (const key of backends) for (const h of byScope.get(key) ?? []) if (!base.has(h)) extra.add(h);
    if (extra.size === 0) {
      // Every scope adding nothing to its Gateway shares the Gateway's own list.
      let shared = lists.get(gateway);
      if (shared === undefined) lists.set(gateway, (shared = base.size === 0 ? NONE : [...base].sort()));
      return shared;
    }
    return [...base, ...extra].sort();
  };
  const scoped: PendingEntry[] = [];
  for (const [i, p] of pending.entries()) {
    const { gateway, backends, id } = scopes[i]!;
    let list = allList;
    if (backends !== undefined) {
      let shared = lists.get(id);
      if (shared === undefined) lists.set(id, (shared = listOf(gateway, backends)));
      list = shared;
    }
    scoped.push(list === p.entry.managedHeaders ? p : { ...p, entry: { ...p.entry, managedHeaders: list } satisfies RouteEntry });
    if (scoped.length % itemsPerStep === 0) yield;
  }
  return { pending: scoped, all: allList };
}

/**
 * The entry's Gateway and each backend of its rule as scope keys, and `id` naming that combination;
 * `backends` undefined when they cannot be read.
 */
function scopesOf(p: PendingEntry): { readonly gateway: string; readonly backends: string[] | undefined; readonly id: string } {
  const gateway = `gateway ${p.entry.gateway}`;
  const unreadable = { gateway, backends: undefined, id: "" };
  const refs = (p.route.spec.rules[p.order[0]] as { backendRefs?: unknown } | undefined)?.backendRefs;
  if (refs === undefined) return { gateway, backends: [], id: gateway };
  if (!Array.isArray(refs)) return unreadable;
  const backends: string[] = [];
  for (const ref of refs) {
    if (typeof ref !== "object" || ref === null) return unreadable;
    const { group, kind, namespace, name } = ref as Record<string, unknown>;
    if (typeof name !== "string" || [group, kind, namespace].some((v) => v !== undefined && typeof v !== "string")) return unreadable;
    backends.push(
      `backend ${(group as string | undefined) ?? ""}/${(kind as string | undefined) ?? "Service"}/${(namespace as string | undefined) ?? p.route.metadata.namespace}/${name}`,
    );
  }
  return { gateway, backends, id: `${gateway}\n${backends.join("\n")}` };
}
