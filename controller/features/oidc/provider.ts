/**
 * The OpenID providers Portcullis talks to, as openid-client Configurations: one discovery document
 * per issuer (`<issuer>/.well-known/openid-configuration`), fetched when a policy first needs it and
 * kept across snapshots, with the policy's explicit endpoints taking precedence over discovered ones
 * (as Envoy Gateway's buildOIDCProvider). The document is always read, even when both endpoints are
 * given, for its `jwks_uri`: every ID token's signature is verified against the provider's keys.
 *
 * Every provider call (discovery, code exchange, refresh, key fetch, revocation) is bounded by
 * `timeoutMs` (or backendSettings' requestTimeout), retries included, runs while other requests are
 * answered, and reaches the provider as the policy's `backendRefs`/`backendSettings` say (endpoints,
 * private CA, SNI, connect deadline, `retry` as keys/retry.ts), through the same HTTP client as a
 * remote JWKS fetch (keys/fetch-jwks.ts). Discovery is kept per issuer and
 * connection, so two policies reaching one issuer differently never share a document. A failed discovery is retried no sooner than
 * RETRY_AFTER_MS later; until then the policy's logins fail closed (oidc_unavailable).
 */
import * as client from "openid-client";
import type { Logger } from "pino";
import { type Agent, fetch } from "undici";
import { connectionDispatcher, networkFailure, networkReason } from "../../keys/fetch-jwks.ts";
import { withRetries } from "../../keys/retry.ts";
import type { JwksConnection, JwksRetry } from "../../keys/types.ts";
import type { CompiledOidc } from "./compile.ts";

/** Bound of each provider call unless told otherwise: Envoy Gateway's own discovery timeout. */
export const PROVIDER_TIMEOUT_MS = 5000;
/** Wait after a failed discovery before the next attempt, so a provider outage is not hammered. */
export const RETRY_AFTER_MS = 5000;
/** How long a discovery document is used before it is fetched again. */
export const DISCOVERY_TTL_MS = 3_600_000;

export interface OidcProviders {
  /** The Configuration for this policy's provider and client; rejects (with a reason fit for the log) when the provider cannot be reached. */
  configuration(oidc: CompiledOidc): Promise<client.Configuration>;
  /**
   * Keeps the HTTP clients and discovery documents of `providers` (those the published snapshot
   * names) and closes or drops the others, so policy churn never accumulates them.
   */
  retain(providers: readonly CompiledOidc["provider"][]): void;
}

/** Discovery documents are kept per issuer and way of reaching it. */
function discoveryKey(issuer: string, connection: JwksConnection): string {
  return `${issuer} ${JSON.stringify(connection)}`;
}

export interface OidcProvidersOptions {
  readonly logger: Logger;
  /** Bound of each provider call, in milliseconds (PROVIDER_TIMEOUT_MS). */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

type Discovered =
  | { readonly state: "pending"; readonly promise: Promise<client.ServerMetadata> }
  | { readonly state: "ready"; readonly metadata: client.ServerMetadata; readonly at: number }
  | { readonly state: "failed"; readonly error: Error; readonly at: number };

export function createOidcProviders(options: OidcProvidersOptions): OidcProviders {
  const now = options.now ?? Date.now;
  // openid-client bounds a call in whole seconds; backendSettings' requestTimeout takes precedence.
  const timeoutSeconds = (connection: JwksConnection) =>
    Math.max(1, Math.ceil((connection.requestTimeoutMs ?? options.timeoutMs ?? PROVIDER_TIMEOUT_MS) / 1000));
  const discovered = new Map<string, Discovered>();
  // One HTTP client per way of reaching a provider, closed once no published snapshot reaches one that way (retain).
  const clients = new Map<string, { readonly fetch: client.CustomFetch; readonly dispatcher: Agent }>();
  const fetchVia = (connection: JwksConnection): client.CustomFetch => {
    const key = JSON.stringify(connection);
    let known = clients.get(key);
    if (known === undefined) {
      const dispatcher = connectionDispatcher(connection);
      known = { fetch: retryingFetch(dispatcher, connection.retry), dispatcher };
      clients.set(key, known);
    }
    return known.fetch;
  };
  // Per compiled policy (a snapshot keeps its objects): the client built over the issuer's metadata.
  const configurations = new WeakMap<CompiledOidc, { metadata: client.ServerMetadata; config: client.Configuration }>();

  const discover = (issuer: string, connection: JwksConnection): Promise<client.ServerMetadata> => {
    const key = discoveryKey(issuer, connection);
    const known = discovered.get(key);
    if (known?.state === "pending") return known.promise;
    if (known?.state === "ready" && now() - known.at < DISCOVERY_TTL_MS) return Promise.resolve(known.metadata);
    if (known?.state === "failed" && now() - known.at < RETRY_AFTER_MS) return Promise.reject(known.error);
    const promise = client
      .discovery(new URL(issuer), "portcullis-discovery", undefined, undefined, {
        timeout: timeoutSeconds(connection),
        [client.customFetch]: fetchVia(connection),
        ...(issuer.startsWith("http:") ? { execute: [client.allowInsecureRequests] } : {}),
      })
      .then(
        (config) => {
          const metadata = config.serverMetadata();
          discovered.set(key, { state: "ready", metadata, at: now() });
          return metadata;
        },
        (err: unknown) => {
          const error = new Error(`discovery of ${issuer} failed: ${networkReason(err)}`);
          // A document that was good stays in use while the provider is briefly unreachable.
          if (known?.state === "ready") {
            options.logger.warn({ issuer, err: error.message }, "OIDC discovery failed; the last good document stays in use");
            discovered.set(key, { ...known, at: now() - DISCOVERY_TTL_MS + RETRY_AFTER_MS });
            return known.metadata;
          }
          options.logger.error(
            { issuer, err: error.message },
            "OIDC discovery failed; logins of the policies using this issuer are refused",
          );
          discovered.set(key, { state: "failed", error, at: now() });
          throw error;
        },
      );
    discovered.set(key, { state: "pending", promise });
    return promise;
  };

  return {
    retain(providers) {
      const keep = new Set(providers.map((p) => JSON.stringify(p.connection)));
      for (const [key, known] of clients) {
        if (keep.has(key)) continue;
        clients.delete(key);
        // Graceful: calls in flight finish; one started on it later fails (oidc_unavailable, never an allow).
        void known.dispatcher.close().catch(() => {});
      }
      const documents = new Set(providers.map((p) => discoveryKey(p.issuer, p.connection)));
      for (const key of discovered.keys()) if (!documents.has(key)) discovered.delete(key);
    },

    async configuration(oidc) {
      const metadata = await discover(oidc.provider.issuer, oidc.provider.connection);
      const known = configurations.get(oidc);
      if (known?.metadata === metadata) return known.config;
      const p = oidc.provider;
      const server: client.ServerMetadata = {
        ...metadata,
        ...(p.authorizationEndpoint === undefined ? {} : { authorization_endpoint: p.authorizationEndpoint }),
        ...(p.tokenEndpoint === undefined ? {} : { token_endpoint: p.tokenEndpoint }),
        ...(p.endSessionEndpoint === undefined ? {} : { end_session_endpoint: p.endSessionEndpoint }),
      };
      if (server.authorization_endpoint === undefined || server.token_endpoint === undefined)
        throw new Error(`the provider ${p.issuer} names no authorization_endpoint or token_endpoint`);
      // Envoy's oauth2 filter authenticates to the token endpoint with HTTP Basic (client_secret_basic).
      const config = new client.Configuration(server, oidc.clientId, oidc.clientSecret, client.ClientSecretBasic(oidc.clientSecret));
      config.timeout = timeoutSeconds(p.connection);
      config[client.customFetch] = fetchVia(p.connection);
      if ([server.issuer, server.token_endpoint, server.jwks_uri].some((u) => u?.startsWith("http:"))) client.allowInsecureRequests(config);
      client.enableNonRepudiationChecks(config);
      configurations.set(oidc, { metadata, config });
      return config;
    },
  };
}

/**
 * openid-client's fetch through `dispatcher`, each call retried under `retry` as Envoy retries a
 * provider call (the oauth2 filter's token requests, code exchange and refresh alike, with the
 * body buffered for the retry): a failure `retry.on` names is tried again, within the deadline the
 * call's signal carries. A code the provider already redeemed is refused on the retry
 * (`invalid_grant`): a failed login, never an allow. The last answer (or error) is what the call gets.
 */
function retryingFetch(dispatcher: Agent, retry: JwksRetry | undefined): client.CustomFetch {
  // undici's Response is the Fetch API Response openid-client expects (it checks the type loosely).
  const once = (url: string, init: client.CustomFetchOptions) => fetch(url, { ...init, dispatcher }) as unknown as Promise<Response>;
  if (retry === undefined) return once;
  return async (url, init) => {
    type Outcome = { readonly response: Response } | { readonly error: unknown };
    const attempted = await withRetries<Outcome>(
      retry,
      init.signal ?? new AbortController().signal,
      () =>
        once(url, init).then(
          (response) => ({ outcome: { response }, failure: response.status >= 400 ? response.status : undefined }),
          (error: unknown) => ({ outcome: { error }, failure: networkFailure(error) }),
        ),
      (outcome) => void ("response" in outcome ? outcome.response.body?.cancel().catch(() => {}) : undefined),
    );
    if (attempted.last === undefined) throw init.signal?.reason ?? new Error("aborted");
    const last = attempted.last.outcome;
    if ("error" in last) throw last.error;
    return last.response;
  };
}
