/**
 * The snapshot: what compile() produces and check() reads. Plain data, deep-frozen once built;
 * a request holds one snapshot for its whole life. Key material that must be fetched (remote JWKS)
 * is not here: providers name a JwksSource and the key store holds its keys.
 */
import type { ConfiguredFeature } from "../features/feature.ts";
import type { JwksSource } from "../keys/types.ts";
import type { Re2 } from "../lib/regex.ts";

export interface Snapshot {
  /** Route lookup tables; see route-index.ts. */
  readonly routes: RouteIndex;
  /** Every compiled policy that is effective for at least one route rule, by "namespace/name". */
  readonly policies: Readonly<Record<string, CompiledPolicy>>;
  /** The remote JWKS the key store must hold for this snapshot (deduplicated by URI). */
  readonly remoteJwks: readonly JwksSource[];
  /**
   * Lower-case names of every header a policy governing some route may set upstream: what an
   * allowed request that matches no route (`--on-no-route allow`) removes, its upstream unknown.
   */
  readonly managedHeaders: readonly string[];
  /**
   * Lower-case names, sorted, of the headers some route's header match reads line by line
   * (route-index.ts matchReadsByLine): each line and list element of one is a route reading of the
   * whole request, so check() refuses (431) a request where one has more than MAX_HEADER_LINES.
   * Other headers' lines are never route readings, however many (an authorization rule counts the
   * headers it reads itself, features/authorization/check.ts).
   */
  readonly headersMatchedByLine: readonly string[];
  /**
   * Served Gateways ("namespace/name", sorted) where Envoy may route a path with adjacent slashes
   * unmerged (a ClientTrafficPolicy's `path.disableMergeSlashes`; compile/client-traffic-policies.ts
   * gatewaysKeepingSlashes): check() refuses such a path there, as it decides on merged paths only.
   * Absent: none.
   */
  readonly slashesKeptOn?: readonly string[];
}

export interface RouteIndex {
  /**
   * Per served Gateway ("namespace/name"), its route tables in ascending port order. Envoy builds
   * one route table per listener port (the HTTP listeners sharing a port share it; an HTTPS
   * listener has its own), so a request is matched only against the tables of its port.
   */
  readonly byGateway: Readonly<Record<string, readonly PortRoutes[]>>;
}

/** One route table of one listener port of one Gateway. */
export interface PortRoutes {
  /** The listeners' `port` (the Gateway's, not the container port Envoy Gateway may bind instead). */
  readonly port: number;
  /**
   * The HTTPS listener whose own table this is (Envoy picks it by SNI, which Portcullis does not
   * see, so each HTTPS table of the port is a reading); undefined: the table the port's HTTP
   * listeners share.
   */
  readonly tlsListener: string | undefined;
  /** Set on the table of the routes of namespaces not read on this listener (RouteEntry.unread), beside the port's table of routes read. */
  readonly unreadOn?: string;
  /**
   * Set when a listener of the table's Gateway may take the PROXY protocol
   * (compile/client-traffic-policies.ts gatewaysTakingProxyProtocol): Envoy then states the port
   * the PROXY header names as the destination, so a request this table routes may state any port.
   */
  readonly anyStatedPort?: true;
  readonly vhosts: VirtualHosts;
}

/** Envoy-style virtual hosts: a request's host selects one bucket, exact before wildcard before any. */
export interface VirtualHosts {
  /** Lower-case host name → entries, in match precedence order. */
  readonly exact: Readonly<Record<string, readonly RouteEntry[]>>;
  /** Wildcard suffix (".example.com" for "*.example.com") → entries; the longest suffix wins. */
  readonly wildcard: Readonly<Record<string, readonly RouteEntry[]>>;
  /** Longest wildcard suffix length in `wildcard`, so a lookup tries no more labels than it needs. */
  readonly wildcardMaxLabels: number;
  /** Entries of routes that accept any host. */
  readonly any: readonly RouteEntry[];
}

/** One HTTPRoute or GRPCRoute rule match attached through one Gateway listener, with its effective policy. */
export interface RouteEntry {
  readonly gateway: string;
  /** The listener the route is attached through, and its port. */
  readonly listener: string;
  readonly port: number;
  readonly kind: "HTTPRoute" | "GRPCRoute";
  /** "namespace/name" of the route. */
  readonly route: string;
  /** "namespace/name rule N" (or the rule's name), as shown in decisions and logs; GRPCRoute rules start with "GRPCRoute ". */
  readonly rule: string;
  readonly match: CompiledMatch;
  /** The policy that applies, after precedence; undefined when no policy targets this rule. */
  readonly policy: CompiledPolicy | undefined;
  /** Why `policy` governs this rule (precedence), for decision traces; undefined with no policy. */
  readonly origin: PolicyOrigin | undefined;
  /**
   * Lower-case headers an allow here removes from the client's request unless it sets them: those
   * of every policy governing a route to the same upstream (managed-headers.ts), sorted.
   */
  readonly managedHeaders: readonly string[];
  /**
   * Set on the entry that stands for the routes of namespaces Portcullis does not read
   * (`--watch-namespaces`) on a listener that takes them: it matches every request of the
   * listener's host names, in a table of its own, under the listener's policy. It is only ever a
   * further reading of a request some route read here matches (DESIGN §0), never the only one.
   */
  readonly unread?: true;
  /**
   * Set where Envoy Gateway's ClientTrafficPolicy (or its default, the peer) finds the client address
   * on this listener otherwise than the client address flags (compile/client-traffic-policies.ts):
   * why, and the flags to start with. Rules on the client address then decide as if it could be any
   * address (Where.clientAddressUnknown).
   */
  readonly clientAddressUnknown?: string;
}

/** Where a rule's policy comes from (DESIGN §2 precedence: route rule > route > listener > ListenerSet > Gateway). */
export interface PolicyOrigin {
  /** The level of the target that won: "rule", "route", "listener", "listenerset" or "gateway". */
  readonly level: string;
  /** That target: "HTTPRoute apps/api/admin" (a rule), "Gateway apps/gw/http" (a listener), "Gateway apps/gw". */
  readonly target: string;
  /** The broader policies this one replaces on the rule: "namespace/name (target)". */
  readonly overrides: readonly string[];
  /** Set when a route policy with `mergeType` is merged into the closest broader one. */
  readonly merged: { readonly into: string; readonly at: string; readonly mergeType: string } | undefined;
}

/**
 * A route match as Envoy Gateway hands it to Envoy: a path match plus header and query matches,
 * all of which must hold. An HTTPRoute `method` is the exact header match `:method`; a GRPCRoute
 * method match without a service is the suffix header match `:path`.
 */
export interface CompiledMatch {
  readonly path: PathMatch;
  readonly headers: readonly ValueMatch[];
  readonly queryParams: readonly ValueMatch[];
}

export type PathMatch =
  | { readonly type: "Exact"; readonly value: string }
  /** `value` has no trailing slash ("/" is kept as ""), so "/foo" matches "/foo" and "/foo/x" but not "/foobar". */
  | { readonly type: "PathPrefix"; readonly value: string }
  /** `value` is the pattern as written (RE2); `regex` is it compiled, matched against the whole path. */
  | { readonly type: "RegularExpression"; readonly value: string; readonly regex: Re2 };

export type ValueMatch =
  /** `name` is lower-case for headers (`:method` and `:path` are the request's method and path), exact for query parameters. */
  | { readonly type: "Exact"; readonly name: string; readonly value: string }
  | { readonly type: "Suffix"; readonly name: string; readonly value: string }
  | { readonly type: "RegularExpression"; readonly name: string; readonly value: string; readonly regex: Re2 };

/** Where a credential is read from a request. */
export type CredentialSource =
  /** `name` is lower-case; `prefix` is stripped (and required) when set. */
  | { readonly in: "header"; readonly name: string; readonly prefix: string | undefined }
  | { readonly in: "param"; readonly name: string }
  | { readonly in: "cookie"; readonly name: string };

export interface CompiledPolicy {
  /** "namespace/name" of the SecurityPolicy. */
  readonly id: string;
  /** Why the policy cannot be enforced; when set, every request it governs is denied. */
  readonly invalid: string | undefined;
  /**
   * The features the policy configures, compiled, in phase order (features/index.ts); empty when
   * the policy is invalid. Look one up with `compiledOf` (features/feature.ts).
   */
  readonly features: readonly ConfiguredFeature[];
  /** Lower-case names of every header this policy may set upstream; a client's own copies are always removed. */
  readonly managedHeaders: readonly string[];
  /**
   * A merged policy's reference parts ("extAuth.backendRefs", "extAuth.contextExtensions[name]", …:
   * features/feature.ts ReferencePart) → the policy ("namespace/name") each comes from and whose
   * namespace its references were resolved from. Absent on a policy compiled alone.
   */
  readonly referencesFrom?: Readonly<Record<string, string>>;
  /**
   * Set on the policy of a rule no SecurityPolicy governs that has an HTTPRoute CORS filter
   * (compile/route-cors.ts): only that filter applies, and the rule counts as one without a
   * policy (`--on-no-policy`).
   */
  readonly routeFilterOnly?: true;
}
