/**
 * The entries standing for routes and ListenerSets of namespaces Portcullis does not read
 * (`--watch-namespaces`, RouteEntry.unread): each a further reading of a listener's requests. Apart
 * from index.ts as a kind of route entry of its own, built only when namespaces are left unread.
 */
import { keyOf } from "../api/meta.ts";
import type { HTTPRoute, ListenerSet } from "../api/resources.ts";
import { listenerLabel, takesListenerSetsOfOtherNamespaces, type Attachment, type GatewayListener } from "./attachments.ts";
import { claimsOfAttachment, policyOrigin, type Claim } from "./precedence.ts";
import { EVERY_REQUEST, type PendingEntry } from "./routes.ts";

/** Stands for any route of a namespace Portcullis does not read: it has one rule, matching every request. */
const UNREAD_ROUTE: HTTPRoute = {
  kind: "HTTPRoute",
  metadata: { namespace: "(a namespace not read)", name: "(any route)" },
  spec: { parentRefs: [], hostnames: [], rules: [{}] },
};

/** Stands for any ListenerSet of a namespace Portcullis does not read. */
const UNREAD_LISTENER_SET: ListenerSet = {
  metadata: { namespace: "(a namespace not read)", name: "(any ListenerSet)" },
  spec: { parentRef: { name: "(any Gateway)" }, listeners: [{ name: "(any listener)", port: 1 }] },
};

/**
 * A listener standing for those of ListenerSets of namespaces not read, on each port of each
 * Gateway that may take them: such a listener, on a port with a table here, may hold any host
 * name (it need not be a port of its own, so on a port without one, no route here matches).
 */
export function unreadListenerSetListeners(listeners: readonly GatewayListener[]): GatewayListener[] {
  const out = new Map<string, GatewayListener>();
  for (const { gateway, listener } of listeners) {
    if (!takesListenerSetsOfOtherNamespaces(gateway)) continue;
    const key = `${keyOf(gateway.metadata)}\0${listener.port}`;
    if (!out.has(key))
      out.set(key, { gateway, listener: { name: "(any listener)", port: listener.port }, listenerSet: UNREAD_LISTENER_SET });
  }
  return [...out.values()];
}

/**
 * The entry of the routes of namespaces not read on listener `l` (RouteEntry.unread): every
 * request to the listener's host names, under the policy a route there would get from the
 * listener, ListenerSet or Gateway (a policy of a namespace not read is not known either).
 */
export function unreadRoutesEntry(
  l: GatewayListener,
  winners: ReadonlyMap<string, Claim>,
  clientAddressUnknown: string | undefined,
): PendingEntry {
  const attachment: Attachment = { ...l, route: UNREAD_ROUTE, parentRef: { name: l.gateway.metadata.name }, hostnames: [] };
  const [winner, ...shadowed] = claimsOfAttachment(attachment, winners)(undefined);
  const hostname = l.listener.hostname?.toLowerCase();
  const policy = winner?.policy.compiled;
  return {
    entry: {
      gateway: keyOf(l.gateway.metadata),
      listener: listenerLabel(l),
      port: l.listener.port,
      kind: "HTTPRoute",
      route: keyOf(UNREAD_ROUTE.metadata),
      rule: `any route of a namespace not read (--watch-namespaces) on listener ${listenerLabel(l)}`,
      match: EVERY_REQUEST,
      policy,
      origin: winner === undefined ? undefined : policyOrigin(winner, shadowed, undefined),
      managedHeaders: policy?.managedHeaders ?? [],
      unread: true,
      ...(clientAddressUnknown === undefined ? {} : { clientAddressUnknown }),
    },
    hostnames: hostname === undefined ? [] : [hostname],
    route: UNREAD_ROUTE,
    pathCount: 0,
    order: [0, 0, 0],
    tlsListener: l.listener.protocol === "HTTPS" ? listenerLabel(l) : undefined,
  };
}
