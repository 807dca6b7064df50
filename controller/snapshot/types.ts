/**
 * The snapshot: what compile() produces and check() reads. Plain data, deep-frozen once built;
 * a request holds one snapshot for its whole life. Key material that must be fetched (remote JWKS)
 * is not here: providers name a JwksSource and the key store holds its keys.
 */
import type { CompiledOidc } from "../features/oidc/compile.ts";
import type { JwksSource } from "../keys/types.ts";

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
  /**
   * Lower-case headers an allow here removes from the client's request unless it sets them: those
   * of every policy governing a route to the same upstream (managed-headers.ts), sorted.
   */
  readonly managedHeaders: readonly string[];
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
  /** `value` is the pattern as written (RE2); `regex` matches the whole path. */
  | { readonly type: "RegularExpression"; readonly value: string; readonly regex: RegExp };

export type ValueMatch =
  /** `name` is lower-case for headers (`:method` and `:path` are the request's method and path), exact for query parameters. */
  | { readonly type: "Exact"; readonly name: string; readonly value: string }
  | { readonly type: "Suffix"; readonly name: string; readonly value: string }
  | { readonly type: "RegularExpression"; readonly name: string; readonly value: string; readonly regex: RegExp };

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
  readonly apiKey: CompiledApiKey | undefined;
  readonly basicAuth: CompiledBasicAuth | undefined;
  readonly jwt: CompiledJwt | undefined;
  readonly oidc: CompiledOidc | undefined;
  readonly authorization: CompiledAuthorization | undefined;
  readonly cors: CompiledCors | undefined;
  /** Lower-case names of every header this policy may set upstream; a client's own copies are always removed. */
  readonly managedHeaders: readonly string[];
}

/** An htpasswd entry: `{SHA}` (SHA-1, base64) or bcrypt (`$2y$`/`$2b$`/`$2a$`). */
export type HtpasswdHash = { readonly kind: "sha1"; readonly digest: string } | { readonly kind: "bcrypt"; readonly hash: string };

export interface CompiledBasicAuth {
  /** Username → hash (null prototype: any username is a safe key). */
  readonly users: Readonly<Record<string, HtpasswdHash>>;
  readonly usernames: readonly string[];
  /**
   * What a username not in the table is compared against, so that it costs what a known one does
   * (no username oracle): a bcrypt hash (matching no password) of the table's highest cost, or a
   * `{SHA}` digest when the table has no bcrypt entry.
   */
  readonly unknownUser: HtpasswdHash;
  /** Lower-case header that carries the authenticated username upstream. */
  readonly forwardUsernameHeader: string | undefined;
}

export interface CompiledAuthorization {
  /** What a request gets when no rule matches (Deny unless the policy says otherwise). */
  readonly defaultAction: "Allow" | "Deny";
  /** In order; the first rule whose operation and principal both match decides. */
  readonly rules: readonly CompiledRule[];
}

export interface CompiledRule {
  /** The rule's name, or "rule N". */
  readonly name: string;
  readonly action: "Allow" | "Deny";
  /** Upper-case methods the rule applies to; undefined: any. */
  readonly methods: readonly string[] | undefined;
  readonly path: (PathMatch & { readonly invert: boolean }) | undefined;
  /** Every principal field set must match (AND); within one field any value may. */
  readonly principal: CompiledPrincipal;
}

export interface CompiledPrincipal {
  /** Client networks, as "address/prefix" strings parsed once into a matcher. */
  readonly clientCIDRs: { readonly cidrs: readonly string[]; readonly contains: (address: string) => boolean } | undefined;
  readonly jwt:
    | {
        readonly provider: string;
        readonly claims: readonly {
          readonly claim: readonly string[];
          readonly valueType: "String" | "StringArray";
          readonly values: readonly string[];
        }[];
        readonly scopes: readonly string[];
      }
    | undefined;
  /** Lower-case header name → accepted values. */
  readonly headers: readonly { readonly name: string; readonly values: readonly string[] }[] | undefined;
  /** A CEL expression compiled once; evaluated over request, jwt, apiKey, basicAuth and source. */
  readonly cel: { readonly source: string; readonly evaluate: (context: Record<string, unknown>) => unknown } | undefined;
}

export interface CompiledCors {
  /** Origins matched exactly, case-sensitively (as Envoy's exact string matcher). */
  readonly origins: readonly string[];
  /** Wildcard origins as anchored patterns, each `*` standing for any text ("*" alone: every origin). */
  readonly originPatterns: readonly RegExp[];
  /** Header values as configured, ", "-joined; "*" means the preflight's own request is echoed; undefined when not set. */
  readonly allowMethods: string | undefined;
  readonly allowHeaders: string | undefined;
  readonly exposeHeaders: string | undefined;
  /** Whole seconds, as a header value. */
  readonly maxAgeSeconds: string | undefined;
  readonly allowCredentials: boolean;
}

export interface CompiledApiKey {
  /** In `extractFrom` order; the first source present in a request is the one used. */
  readonly sources: readonly CredentialSource[];
  /**
   * SHA-256 (base64url) of each key → its client id. Lookups compare digests, never keys. A Map:
   * object keys are internalized strings, and interning 100,000 digests (and every request's)
   * cost more than the hashing.
   */
  readonly clientByDigest: ReadonlyMap<string, string>;
  /** Client ids, sorted, for the readable summary. */
  readonly clientIDs: readonly string[];
  /** Lower-case header that carries the matched client id upstream. */
  readonly forwardClientIDHeader: string | undefined;
  readonly sanitize: boolean;
  /**
   * Per client id: the `portcullis.io/*` labels and annotations of its Secret (for authorization
   * rules) and the headers its `portcullis.io/header.<name>` annotations forward upstream.
   */
  readonly clients: Readonly<
    Record<string, { readonly metadata: Readonly<Record<string, string>>; readonly headers: Readonly<Record<string, string>> }>
  >;
}

export interface CompiledJwt {
  /** A request without any token passes (a present but invalid token still fails). */
  readonly optional: boolean;
  readonly providers: readonly CompiledJwtProvider[];
}

export interface CompiledJwtProvider {
  readonly name: string;
  /** Required `iss`; undefined accepts any issuer. */
  readonly issuer: string | undefined;
  /** Accepted `aud` values; empty accepts any audience. */
  readonly audiences: readonly string[];
  readonly jwks: JwksSource;
  readonly claimToHeaders: readonly { readonly header: string; readonly claim: readonly string[] }[];
  /** Where tokens for this provider are read from (default: Authorization Bearer, then access_token). */
  readonly sources: readonly CredentialSource[];
}
