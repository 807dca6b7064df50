/**
 * The contract every SecurityPolicy feature meets (DESIGN §4): one module per spec field, holding
 * its schema, its compile, the headers it may set upstream, its request phase and its summary.
 * `features/index.ts` lists them; the policy compiler, the anti-spoofing lists, check()'s phases
 * and the snapshot summary loop over that list, so adding a feature is one folder and one line.
 */
import type { z } from "zod";
import type { SecurityPolicySpec } from "../api/securitypolicy.ts";
import type { CheckContext } from "../authz/context.ts";
import type { Decision } from "../authz/decision.ts";
import type { MaybePromise } from "../authz/maybe-async.ts";
import type { NormalizedRequest } from "../authz/request.ts";
import type { References } from "../compile/references.ts";
import type { GeoIPDatabase } from "../geoip/database.ts";
import type { SelfService } from "./extAuth/types.ts";
import type { JwksSource } from "../keys/types.ts";
import type { Ok, Problems, Result } from "../lib/result.ts";

export interface Feature<Spec = unknown, Compiled = unknown> {
  /** The SecurityPolicy spec field, as Envoy Gateway names it: "apiKeyAuth", "jwt", "extAuth", … */
  readonly field: string;
  /** How Envoy Gateway's status messages name the feature ("APIKeyAuth", "JWT"): the prefix of its problems. */
  readonly label: string;
  /**
   * Where the phase runs: the order of the feature's HTTP filter in Envoy Gateway v1.9.0
   * (internal/xds/translator/httpfilters.go: cors 3, csrf 4, extAuth 6, apiKeyAuth 7, basicAuth 8,
   * oauth2 9, jwt 10, geoip 300, rbac 301). Phases run in ascending order; the list is kept in it.
   */
  readonly order: number;
  /** The field's schema; the SecurityPolicy spec schema is assembled from the features' schemas. */
  readonly schema: z.ZodType<Spec>;
  /**
   * The spec as check() reads it, with warnings for what can never work; or every problem found
   * (field-relative, "providers[0].issuer: …", without the feature's name: the caller prefixes it).
   * Pure: no network, clock or environment.
   */
  compile(spec: Spec, context: CompileContext): Result<Compiled, Problems>;
  /**
   * Lower-case names of every header a Pass of this configuration may set upstream. An allow removes
   * the client's own copies of them on every route around the policy (compile/managed-headers.ts), so
   * a header missing here could be spoofed by a client.
   */
  upstreamHeaders(compiled: Compiled): readonly string[];
  /** The remote key sets the key store must hold while this configuration is served (jwt's remoteJWKS). */
  keySources?(compiled: Compiled): readonly JwksSource[];
  /**
   * Set when the phase decides on request headers other phases may set (authorization's header rules
   * and CEL). check() then also decides it without the client's own copies of headers a policy
   * around the route sets that no phase set, which the allow removes (the upstream never sees them),
   * and the phase passes only if both pass: a client's `x-user-id` never stands in for the one an
   * optional jwt or an extAuth service did not set.
   */
  readonly readsIdentityHeaders?: true;
  /**
   * Whether the phase may decide on the client address (CheckContext.clientAddress): compile
   * reports a policy whose listener's ClientTrafficPolicy finds it otherwise than the flags
   * (compile/client-traffic-policies.ts). Absent: never.
   */
  readsClientAddress?(compiled: Compiled): boolean;
  /** A readable, deterministic rendering for golden files and the admin snapshot view; names credentials, never their values. */
  summary(compiled: Compiled): unknown;
  /**
   * The request phase: pass (with what it adds: an identity, headers, response headers) or end the
   * request with a Decision (a denial, a CORS preflight answer, a redirect). Synchronous unless it
   * must wait (a key set being fetched, bcrypt, a call to another service). `passed` holds what the
   * phases before it passed on, in order; `where` is the route rule and policy, for the Decision.
   */
  check(
    compiled: Compiled,
    request: NormalizedRequest,
    where: Where,
    passed: readonly Pass[],
    ctx: CheckContext,
  ): MaybePromise<PhaseResult>;
}

/**
 * A part of a spec that names other objects (Secrets, ConfigMaps, Services, Backends), as Envoy
 * Gateway v1.9.0's securityPolicyOwners splits a merged policy: each part's references are resolved
 * from the namespace of the policy the part comes from. `extAuth.contextExtensions[<name>]` is the
 * context extension of that name.
 */
export type ReferencePart =
  | "basicAuth.users"
  | "apiKeyAuth.credentialRefs"
  | "jwt.providers"
  | "extAuth.backendRefs"
  | `extAuth.contextExtensions[${string}]`
  | "oidc.provider.backendRefs"
  | "oidc.clientIDRef"
  | "oidc.clientSecret";

/** A SecurityPolicy, by namespace and name. */
export interface PolicyRef {
  readonly namespace: string;
  readonly name: string;
}

/** What compile gives a feature besides its spec. */
export interface CompileContext {
  /**
   * The policy `part` comes from: the policy itself; in a merged policy (mergeType), the route
   * policy or the parent policy, as Envoy Gateway decides (compile/merge.ts ownerOf). The part's
   * references are resolved from its namespace, and ReferenceGrants checked for that namespace.
   */
  ownerOf(part: ReferencePart): PolicyRef;
  readonly refs: References;
  /** The `--geoip-database` files, in flag order (what `clientIPGeoLocations` rules are decided with). */
  readonly geoipDatabases: readonly GeoIPDatabase[];
  /** `--self-service`: this Portcullis' own Service, which extAuth recognises as the hook-up; undefined: not given. */
  readonly selfService: SelfService | undefined;
  /** The whole validated spec (for a merged policy, the merged one): what another feature's field says, whether or not it compiles. */
  readonly spec: SecurityPolicySpec;
  /** What a feature earlier in the list compiled for this policy; undefined when it is not configured or did not compile. */
  compiled<C>(feature: Feature<unknown, C>): C | undefined;
}

/** The route rule ("namespace/name rule N") and policy ("namespace/name") a phase decides for. */
export interface Where {
  readonly route: string;
  readonly policy: string;
  /**
   * Why the client address cannot be determined on the route's listener (RouteEntry.clientAddressUnknown):
   * a phase that reads it decides as if it could be any address. Undefined: the flags find it as Envoy does.
   */
  readonly clientAddressUnknown?: string | undefined;
}

/** What authorization rules and CEL expressions can see about the caller; a feature adds its member. */
export interface IdentityAttributes {
  readonly jwt?: { readonly provider: string; readonly claims: Readonly<Record<string, unknown>> };
  readonly apiKey?: { readonly client: string; readonly metadata: Readonly<Record<string, string>> };
  readonly basicAuth?: { readonly username: string };
}

/** What a phase that lets the request on hands to the ones after it and to the allow. */
export interface Pass {
  /** Who was identified ("apiKey alice"), for the audit log; never a credential. */
  readonly principal: string | undefined;
  /** Headers to set on the upstream request; each name is one of the feature's `upstreamHeaders`, or `cookie` rewritten by `sanitize`. */
  readonly headers: Readonly<Record<string, string>>;
  /** Request headers to remove upstream (the credential, with `sanitize`). */
  readonly strip: readonly string[];
  readonly attributes: IdentityAttributes;
  /** Headers for the client's response when the request is allowed (CORS headers, a refreshed session cookie). */
  readonly responseHeaders?: Readonly<Record<string, string>>;
  /**
   * Built from this request's own data (its other cookies, rewritten for `sanitize` or oidc), or from
   * a credential seen for the first time (a token's first sight, jwt/token-cache.ts): check() does
   * not remember the allow made from it, since a client could make a new one per request.
   */
  readonly perRequest?: true;
  /**
   * oidc let the request through without a session because it carries a header a jwt provider reads
   * (passThroughAuthHeader): jwt alone decides it, so jwt must find and verify a token whatever its
   * `optional` or `failOpen` say, or the header would skip the login for anyone.
   */
  readonly leftToJwt?: true;
}

/** A phase passes, or ends the request with its Decision. */
export type PhaseResult = Result<Pass, Decision>;

/** The pass of a phase that adds nothing (a rule that allows, a request without an Origin); check() does not count it. */
export const NOTHING: Ok<Pass> = Object.freeze({
  ok: true,
  value: Object.freeze({ principal: undefined, headers: {}, strip: [], attributes: {} }),
});

/** One feature a policy configures, with its compiled form. */
export interface ConfiguredFeature {
  readonly feature: Feature<unknown, unknown>;
  readonly compiled: unknown;
}

/** What `feature` compiled to among a policy's `features`; undefined when the policy does not configure it. */
export function compiledOf<C>(features: readonly ConfiguredFeature[], feature: Feature<unknown, C>): C | undefined {
  for (const f of features) if (f.feature === feature) return f.compiled as C;
  return undefined;
}

/** Declares a feature, frozen (snapshots hold it and are deep-frozen). */
export function defineFeature<Spec, Compiled>(feature: Feature<Spec, Compiled>): Feature<Spec, Compiled> {
  return Object.freeze(feature);
}
