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
 * policy's headers; entries that end up with equal lists share one array.
 */
export function scopeManagedHeaders(pending: readonly PendingEntry[]): { readonly pending: PendingEntry[]; readonly all: readonly string[] } {
  const byScope = new Map<string, Set<string>>();
  const all = new Set<string>();
  const scopes = pending.map((p) => {
    const keys = scopesOf(p);
    for (const h of p.entry.managedHeaders) {
      all.add(h);
      for (const key of keys ?? []) {
        let set = byScope.get(key);
        if (set === undefined) byScope.set(key, (set = new Set()));
        set.add(h);
      }
    }
    return keys;
  });
  const allList = [...all].sort();
  const interned = new Map<string, readonly string[]>();
  const scoped = pending.map((p, i) => {
    const keys = scopes[i];
    const set = new Set(keys === undefined ? allList : p.entry.managedHeaders);
    for (const key of keys ?? []) for (const h of byScope.get(key) ?? []) set.add(h);
    if (set.size === p.entry.managedHeaders.length) return p;
    const list = [...set].sort();
    const id = list.join("\n");
    let shared = interned.get(id);
    if (shared === undefined) interned.set(id, (shared = list));
    const entry: RouteEntry = { ...p.entry, managedHeaders: shared };
    return { ...p, entry };
  });
  return { pending: scoped, all: allList.length === 0 ? NONE : allList };
}

/** The entry's Gateway and each backend of its rule, as scope keys; undefined when the backends cannot be read. */
function scopesOf(p: PendingEntry): string[] | undefined {
  const keys = [`gateway ${p.entry.gateway}`];
  const refs = (p.route.spec.rules[p.order[0]] as { backendRefs?: unknown } | undefined)?.backendRefs;
  if (refs === undefined) return keys;
  if (!Array.isArray(refs)) return undefined;
  for (const ref of refs) {
    if (typeof ref !== "object" || ref === null) return undefined;
    const { group, kind, namespace, name } = ref as Record<string, unknown>;
    if (typeof name !== "string" || [group, kind, namespace].some((v) => v !== undefined && typeof v !== "string")) return undefined;
    keys.push(`backend ${(group as string | undefined) ?? ""}/${(kind as string | undefined) ?? "Service"}/${(namespace as string | undefined) ?? p.route.metadata.namespace}/${name}`);
  }
  return keys;
}
