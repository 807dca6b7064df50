/**
 * Client address: clientCIDRs rules decide on the address Envoy would determine (use_remote_address,
 * Envoy Gateway's numTrustedHops and trustedCIDRs). /lan: Deny 192.168.1.0/24, default Allow;
 * /office: Allow 10.0.0.0/8, default Deny. On the HTTP ports the last X-Forwarded-For entry is the
 * peer Envoy appended.
 */
import type { EnvoyAddress } from "../../../controller/api/ext-authz.ts";
import { clientAddressDetection, type ClientAddressOptions } from "../../../controller/authz/client-address.ts";
import { toAuthzRequest } from "../../../controller/server/grpc.ts";
import { listenerSetWithRoute } from "../../support/manifests.ts";
import { decider } from "../../support/world.ts";
import type { Ctx } from "../context.ts";
import { fromDecision, type Case, type Expected, type Outcome } from "../outcome.ts";
import { manifests } from "../world.ts";

const OPEN: Expected = { status: 200, code: "allowed" };
const LAN_DENIED: Expected = { status: 403, code: "authz_denied", reason: "denied by authorization rule deny-lan" };
const NOT_OFFICE: Expected = { status: 403, code: "authz_denied", reason: "no authorization rule allows the request" };

const MAPPED =
  "an IPv4-mapped IPv6 address was read as the IPv4 address it maps, where Envoy's CidrRange and IP matcher read it as IPv6, outside every IPv4 CIDR: it passed an IPv4 allow-list, and as a trusted proxy's entry it was skipped, so the client's own entry to its left became the address; trusted proxies are now matched as Envoy matches them, and a rule reads such an address both ways (an Allow rule needs both inside, a Deny rule either)";

function c(id: string, title: string, expect: Expected, run: (ctx: Ctx) => Promise<Outcome>, fixed?: string): Case {
  return { id: `client-address.${id}`, title, expect, run, ...(fixed === undefined ? {} : { fixed }) };
}

/** GET `path` with this X-Forwarded-For (and gRPC's stated peer, other headers), decided with `options` for the trusted proxies. */
function behind(
  options: Partial<ClientAddressOptions>,
  path: string,
  xff: string | undefined,
  clientAddress?: string,
  others: Readonly<Record<string, string | string[]>> = {},
) {
  return async (ctx: Ctx): Promise<Outcome> => {
    const d = decider(manifests(ctx.keys, ctx.op), {
      clientAddress: clientAddressDetection({ trustedHops: 0, trustedCidrs: [], ...options }),
    });
    const headers = { ...others, ...(xff === undefined ? {} : { "x-forwarded-for": xff }) };
    return fromDecision(await d({ path, headers, clientAddress }), ctx.decider.result.snapshot.managedHeaders);
  };
}

/** The peer as the gRPC port reads Envoy's `attributes.source` address. */
const statedPeer = (address: EnvoyAddress): string | undefined => toAuthzRequest({ attributes: { source: { address } } }).clientAddress;

const NOT_IP_PEER =
  "the gRPC port read only a socket address from `attributes.source`: a pipe or an internal listener's address read as no peer stated, so the last X-Forwarded-For entry was taken for Envoy's append of the peer, and the client's own entry became its address; Envoy appends only an IP peer (Http::Utility::appendXff), and such a peer is now stated as no address: every entry is a received one, and the peer itself is undetermined";

/** Envoy Gateway's restrict-ip-access page: one proxy in front of Envoy, on the world's Gateway apps/gw. */
const ONE_HOP_CTP = `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: enable-client-ip-detection, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  clientIPDetection: {xForwardedFor: {numTrustedHops: 1}}
`;

/**
 * Envoy Gateway v1.9.0: a ClientTrafficPolicy of infra selecting apps/gw (`namespaces: {from: All}`),
 * which a ReferenceGrant in apps allows, trusting one hop.
 */
const INFRA_GRANT = `---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: infra-ctp, namespace: apps}
spec:
  from: [{group: gateway.envoyproxy.io, kind: ClientTrafficPolicy, namespace: infra}]
  to: [{group: gateway.networking.k8s.io, kind: Gateway}]
`;
const INFRA_ONE_HOP_CTP = `${INFRA_GRANT}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: edge, namespace: infra}
spec:
  targetSelectors: [{group: gateway.networking.k8s.io, kind: Gateway, namespaces: {from: All}}]
  clientIPDetection: {xForwardedFor: {numTrustedHops: 1}}
`;

/**
 * GET `path` with this X-Forwarded-For, in Kubernetes mode (reading `watchNamespaces`, all without):
 * the world beside `ctp` (ONE_HOP_CTP), compiled against the flags on the peer.
 */
function contradicted(path: string, xff: string, ctp = ONE_HOP_CTP, watchNamespaces?: string[]) {
  return async (ctx: Ctx): Promise<Outcome> => {
    const options = { clientAddress: { trustedHops: 0, trustedCidrs: [] }, ...(watchNamespaces === undefined ? {} : { watchNamespaces }) };
    const d = decider(`${manifests(ctx.keys, ctx.op)}${ctp}`, {}, options);
    return fromDecision(await d({ path, headers: { "x-forwarded-for": xff } }), ctx.decider.result.snapshot.managedHeaders);
  };
}

/**
 * Envoy Gateway v1.9.0's ClientTrafficPolicy on a ListenerSet: gw takes the ListenerSet ext (port
 * 8081), whose route's policy allows 10.0.0.0/8 only, and the policy trusts one hop there; the
 * flags are on the peer. GET /office on 8081 with this X-Forwarded-For.
 */
function onListenerSet(xff: string) {
  return async (ctx: Ctx): Promise<Outcome> => {
    const world = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec:
  gatewayClassName: eg
  allowedListeners: {namespaces: {from: Same}}
  listeners: [{name: http, protocol: HTTP, port: 80}]
---
${listenerSetWithRoute("office", "/office")}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: office, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: office}]
  authorization: {rules: [{name: office, action: Allow, principal: {clientCIDRs: [10.0.0.0/8]}}]}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: ext-hops, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: ListenerSet, name: ext}]
  clientIPDetection: {xForwardedFor: {numTrustedHops: 1}}
`;
    const d = decider(world, {}, { clientAddress: { trustedHops: 0, trustedCidrs: [] } });
    return fromDecision(
      await d({ path: "/office", port: 8081, headers: { "x-forwarded-for": xff } }),
      ctx.decider.result.snapshot.managedHeaders,
    );
  };
}

export const clientAddressCases: readonly Case[] = [
  c(
    "too-few-entries",
    "trusted hops 1; a client at 192.168.1.1 sent no X-Forwarded-For, so Envoy's append is the only entry (issue 11 situation 5)",
    LAN_DENIED,
    behind({ trustedHops: 1 }, "/lan", "192.168.1.1"),
    "the address was undetermined and the Deny rule did not match (allowed); Envoy falls back to the peer when X-Forwarded-For has too few entries, and so does Portcullis",
  ),
  c(
    "spoofed-left-entry",
    "no trusted hops; the client writes `X-Forwarded-For: 203.0.113.9` from 192.168.1.1",
    LAN_DENIED,
    behind({}, "/lan", "203.0.113.9, 192.168.1.1"),
  ),
  c(
    "spoofed-office",
    "no trusted hops; the client writes `X-Forwarded-For: 10.9.9.9` from 203.0.113.9",
    NOT_OFFICE,
    behind({}, "/office", "10.9.9.9, 203.0.113.9"),
  ),
  c(
    "hops-chosen-entry",
    "trusted hops 1; `10.9.9.9, 192.168.1.1, 10.0.0.2`: the load balancer saw 192.168.1.1",
    LAN_DENIED,
    behind({ trustedHops: 1 }, "/lan", "10.9.9.9, 192.168.1.1, 10.0.0.2"),
  ),
  c(
    "undetermined-deny",
    "no X-Forwarded-For (Envoy's allowed_headers drops it): a Deny rule with clientCIDRs matches",
    LAN_DENIED,
    (ctx) => ctx.check({ path: "/lan" }),
    "an undetermined address matched no rule, so a Deny rule on clientCIDRs was skipped (allowed); it now matches every Deny rule and no Allow rule",
  ),
  c("undetermined-allow", "no X-Forwarded-For: an Allow rule with clientCIDRs does not match", NOT_OFFICE, (ctx) =>
    ctx.check({ path: "/office" }),
  ),
  c(
    "garbage-peer",
    "`X-Forwarded-For: 10.0.0.1, unknown`: the peer is not an address",
    LAN_DENIED,
    behind({}, "/lan", "10.0.0.1, unknown"),
  ),
  c(
    "trusted-cidrs",
    "trusted CIDR 10.0.0.0/8; `198.51.100.1, 192.168.1.1, 10.1.1.1, 10.0.0.2`: the first untrusted entry from the right",
    LAN_DENIED,
    behind({ trustedCidrs: ["10.0.0.0/8"] }, "/lan", "198.51.100.1, 192.168.1.1, 10.1.1.1, 10.0.0.2"),
  ),
  c(
    "trusted-cidrs-untrusted-peer",
    "trusted CIDR 10.0.0.0/8; an untrusted peer 192.168.1.1 claims `10.9.9.9`",
    LAN_DENIED,
    behind({ trustedCidrs: ["10.0.0.0/8"] }, "/lan", "10.9.9.9, 192.168.1.1"),
  ),
  c(
    "trusted-cidrs-ipv6-only",
    "trusted CIDR `::/0` (every IPv6 proxy); an IPv4 client at 203.0.113.9 claims `10.9.9.9` on /office",
    NOT_OFFICE,
    behind({ trustedCidrs: ["::/0"] }, "/office", "10.9.9.9, 203.0.113.9"),
    "an IPv6 CIDR covering ::ffff:0:0/96 (such as ::/0) contained every IPv4 address (node's BlockList reads IPv4 as IPv4-mapped IPv6), so the IPv4 peer was trusted and the client's own entry became its address; an address now matches only CIDRs of its own IP version, as Envoy's CidrRange",
  ),
  c(
    "grpc-source",
    "gRPC: Envoy states the peer 192.168.1.1; the client's X-Forwarded-For says 10.9.9.9",
    LAN_DENIED,
    behind({}, "/lan", "10.9.9.9, 192.168.1.1", "192.168.1.1"),
  ),
  c(
    "grpc-pipe-source",
    "gRPC: Envoy listens on a unix socket (`attributes.source` a pipe), for which it appends no X-Forwarded-For entry; the client sends `X-Forwarded-For: 10.9.9.9` on /office (Allow 10.0.0.0/8)",
    NOT_OFFICE,
    behind({}, "/office", "10.9.9.9", statedPeer({ pipe: { path: "/run/envoy.sock" } })),
    NOT_IP_PEER,
  ),
  c(
    "grpc-internal-listener-source",
    "gRPC: the request came through an Envoy internal listener (`attributes.source` an envoy_internal_address), for which Envoy appends no X-Forwarded-For entry; a client at 192.168.1.1 behind it sends `X-Forwarded-For: 203.0.113.9` on /lan (Deny 192.168.1.0/24)",
    LAN_DENIED,
    behind({}, "/lan", "203.0.113.9", statedPeer({ envoy_internal_address: { server_listener_name: "tunnel" } })),
    NOT_IP_PEER,
  ),
  c("office-allowed", "no trusted hops; the peer 10.1.2.3", OPEN, behind({}, "/office", "10.1.2.3")),
  c(
    "mapped-allow",
    "trusted hops 1; the load balancer wrote the client as `::ffff:10.9.9.9` (IPv4-mapped IPv6) on /office (Allow 10.0.0.0/8)",
    NOT_OFFICE,
    behind({ trustedHops: 1 }, "/office", "::ffff:10.9.9.9, 10.0.0.2"),
    MAPPED,
  ),
  c(
    "mapped-deny",
    "trusted hops 1; the load balancer wrote the client as `::ffff:192.168.1.1` on /lan (Deny 192.168.1.0/24: Envoy's reading, IPv6, is outside it; the IPv4 address it maps is inside)",
    LAN_DENIED,
    behind({ trustedHops: 1 }, "/lan", "::ffff:192.168.1.1, 10.0.0.2"),
  ),
  c(
    "mapped-deny-zone",
    "trusted hops 1; the client written as `::ffff:192.168.1.1%1` (IPv4-mapped IPv6 with a zone index, which Envoy's getaddrinfo parses) on /lan (Deny 192.168.1.0/24)",
    LAN_DENIED,
    behind({ trustedHops: 1 }, "/lan", "::ffff:192.168.1.1%1, 10.0.0.2"),
    "the IPv4 address an IPv4-mapped IPv6 address maps was not found behind a zone index written after a dotted quad (`%1`), so the Deny rule's IPv4 reading was escaped by adding one (`::ffff:c0a8:101%1` was read, `::ffff:192.168.1.1%1` not); the zone is now set aside, as it is no part of the address",
  ),
  c(
    "mapped-trusted-proxy",
    "trusted CIDR 192.168.0.0/16; a client at 192.168.5.5, written `::ffff:192.168.5.5` by the load balancer, claims `10.9.9.9` on /office",
    NOT_OFFICE,
    behind({ trustedCidrs: ["192.168.0.0/16"] }, "/office", "10.9.9.9, ::ffff:192.168.5.5, 192.168.0.2"),
    MAPPED,
  ),
  c(
    "named-zone-entry",
    "trusted CIDR 192.168.0.0/16; a client at 192.168.5.5 (inside it) behind the load balancer 192.168.1.2 writes `X-Forwarded-For: fd00::1%bogus`, on /lan: Envoy's getaddrinfo reads no address with a zone naming an interface it does not have, and falls back to the peer 192.168.1.2 (Deny 192.168.1.0/24)",
    LAN_DENIED,
    behind({ trustedCidrs: ["192.168.0.0/16"] }, "/lan", "fd00::1%bogus, 192.168.5.5, 192.168.1.2"),
    "an IPv6 address with a zone named (`%bogus`, `%eth0`) was an address to Node's isIP whatever the name, where Envoy's getaddrinfo reads one only when Envoy's host has that interface (and, by name, only for a link-local address): the walk stopped at it as the client's address, and the Deny rule on the peer Envoy fell back to was escaped; such an entry is now undetermined",
  ),
  c(
    "empty-entry",
    "trusted hops 2; a client at 10.1.1.1 sends `X-Forwarded-For: 203.0.113.9,` (an empty entry last): Envoy counts the empty entry, so the second from the right is 203.0.113.9, on /office",
    NOT_OFFICE,
    behind({ trustedHops: 2 }, "/office", "203.0.113.9,,10.1.1.1"),
    "empty X-Forwarded-For entries were dropped before counting, so fewer entries than hops fell back to the peer; Envoy splits at every comma, and an empty entry is one (not an address where it is chosen: the peer)",
  ),
  c(
    "no-break-space",
    "trusted hops 1; the chosen entry `10.9.9.9` followed by a no-break space (U+00A0): Envoy trims only spaces and tabs (and \\f, \\v), so it is no address and the peer 203.0.113.9 is the client, on /office",
    NOT_OFFICE,
    behind({ trustedHops: 1 }, "/office", "10.9.9.9\u00a0,203.0.113.9"),
    "entries were trimmed with JavaScript's trim, which also removes the no-break space and other Unicode spaces; an entry is now trimmed of what Envoy trims",
  ),
  c(
    "custom-header",
    "Envoy Gateway's `clientIPDetection.customHeader` (`--client-ip-header x-real-client-ip`): the CDN names the client 192.168.1.1 there, the X-Forwarded-For peer is the CDN (203.0.113.7), on /lan",
    LAN_DENIED,
    behind({ customHeader: "x-real-client-ip" }, "/lan", "203.0.113.7", undefined, { "x-real-client-ip": "192.168.1.1" }),
    "Envoy Gateway's customHeader client detection had no counterpart: clientCIDRs decided on the X-Forwarded-For peer (the CDN), so a Deny rule on the client's own address never matched; `--client-ip-header` reads the address from that header as Envoy does",
  ),
  c(
    "custom-header-missing",
    "`--client-ip-header x-real-client-ip` and no such header: the address cannot be determined (Envoy, failClosed or not, never takes the client's X-Forwarded-For), a Deny rule with clientCIDRs matches",
    LAN_DENIED,
    behind({ customHeader: "x-real-client-ip" }, "/lan", "10.9.9.9, 203.0.113.7"),
  ),
  c(
    "custom-header-two-values",
    "`--client-ip-header x-real-client-ip` sent twice, `10.1.2.3` and `203.0.113.9` (Envoy reads the first line; a proxy may have joined them): no address, no Allow rule matches, on /office",
    NOT_OFFICE,
    behind({ customHeader: "x-real-client-ip" }, "/office", "203.0.113.7", undefined, { "x-real-client-ip": ["10.1.2.3", "203.0.113.9"] }),
  ),
  c(
    "no-append",
    "trusted hops 1 with Envoy Gateway's `disableXForwardedForAppend` (`--xff-peer-not-appended`): the load balancer wrote the client 203.0.113.9 after the client's own `10.9.9.9`, and Envoy appended nothing, on /office",
    NOT_OFFICE,
    behind({ trustedHops: 1, peerNotAppended: true }, "/office", "10.9.9.9, 203.0.113.9"),
    "Envoy Gateway's disableXForwardedForAppend had no counterpart: the last X-Forwarded-For entry was taken for Envoy's append of the peer, so the entry the hops chose was one further left, the client's own; `--xff-peer-not-appended` reads every entry as a received one",
  ),
  c(
    "no-append-no-entry",
    "trusted hops 1, `--xff-peer-not-appended`, no X-Forwarded-For on the HTTP port: Envoy takes its peer, which only gRPC states: undetermined, a Deny rule with clientCIDRs matches",
    LAN_DENIED,
    behind({ trustedHops: 1, peerNotAppended: true }, "/lan", undefined),
  ),
  c(
    "client-traffic-policy-hops-kube",
    "Kubernetes mode, flags on the peer, the Gateway's ClientTrafficPolicy trusts one hop: a client at 203.0.113.9 behind the office proxy 10.1.2.3, on /office",
    {
      status: 403,
      code: "client_address_unknown",
      reason: "the authorization rules read the client address, which cannot be determined on this listener",
    },
    contradicted("/office", "203.0.113.9, 10.1.2.3"),
    "ClientTrafficPolicies were not watched in Kubernetes mode: the flags' peer, the office proxy, passed the Allow rule while Envoy saw 203.0.113.9; a listener whose ClientTrafficPolicy the flags contradict now lets no rule on the client address allow",
  ),
  c(
    "client-traffic-policy-hops-kube-deny-rule",
    "Kubernetes mode, flags on the peer, the Gateway's ClientTrafficPolicy trusts one hop: a client at 192.168.1.1 behind the proxy 203.0.113.7, on /lan (Deny 192.168.1.0/24)",
    {
      status: 403,
      code: "client_address_unknown",
      reason: "the authorization rules read the client address, which cannot be determined on this listener",
    },
    contradicted("/lan", "192.168.1.1, 203.0.113.7"),
    "ClientTrafficPolicies were not watched in Kubernetes mode: the Deny rule was decided on the proxy's address, outside the denied network",
  ),
  c(
    "client-traffic-policy-other-namespace-kube",
    "Kubernetes mode, flags on the peer, a ClientTrafficPolicy of infra selects the Gateway (targetSelectors namespaces From All, a ReferenceGrant in apps) and trusts one hop: a client at 203.0.113.9 behind the office proxy 10.1.2.3, on /office",
    {
      status: 403,
      code: "client_address_unknown",
      reason: "the authorization rules read the client address, which cannot be determined on this listener",
    },
    contradicted("/office", "203.0.113.9, 10.1.2.3", INFRA_ONE_HOP_CTP),
    "a ClientTrafficPolicy's targetSelectors were read in its own namespace only, where Envoy Gateway v1.9.0 follows their namespaces with a ReferenceGrant: the Gateway counted as on the peer, and the office proxy passed the Allow rule while Envoy saw 203.0.113.9",
  ),
  c(
    "client-traffic-policy-unwatched-namespace-kube",
    "Kubernetes mode with --watch-namespaces apps, flags on the peer: a ReferenceGrant in apps lets ClientTrafficPolicies of infra (not read) select the Gateway; a client at 203.0.113.9 behind the office proxy 10.1.2.3, on /office",
    {
      status: 403,
      code: "client_address_unknown",
      reason: "the authorization rules read the client address, which cannot be determined on this listener",
    },
    contradicted("/office", "203.0.113.9, 10.1.2.3", INFRA_GRANT, ["apps"]),
    "a ClientTrafficPolicy of a namespace --watch-namespaces does not read, selecting the Gateway through a ReferenceGrant, was unseen: the Gateway counted as on the peer and the office proxy passed the Allow rule; such a grant now makes the Gateway's detection unknown",
  ),
  c(
    "client-traffic-policy-listener-set-kube",
    "Kubernetes mode, flags on the peer, a ClientTrafficPolicy on the ListenerSet trusts one hop: a client at 203.0.113.9 behind the office proxy 10.1.2.3, on the ListenerSet's /office (Allow 10.0.0.0/8)",
    {
      status: 403,
      code: "client_address_unknown",
      reason: "the authorization rules read the client address, which cannot be determined on this listener",
    },
    onListenerSet("203.0.113.9, 10.1.2.3"),
    "ClientTrafficPolicies targeting a ListenerSet (Envoy Gateway v1.9.0: targetRefs, sectionName, targetSelectors) were not read: its listeners were compared with the Gateway's detection and the peer only, so the flags' peer, the office proxy, passed the Allow rule while Envoy saw 203.0.113.9",
  ),
];
