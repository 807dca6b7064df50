/**
 * What check() and the features' phases read besides the snapshot and the request: state kept
 * across requests and the operator's choices. A feature that needs something more at request time
 * (an HTTP client, a cookie key) adds one optional member here.
 */
import type { Passwords } from "../features/basicAuth/check.ts";
import type { ExtAuthTransport } from "../features/extAuth/client.ts";
import type { OidcProviders } from "../features/oidc/provider.ts";
import type { KeyStore } from "../keys/types.ts";
import type { CheckMemo } from "./check-memo.ts";
import type { ClientAddressDetection } from "./client-address.ts";
import type { Trace } from "./trace.ts";

export interface CheckContext {
  /** jwt's key sets (remote JWKS fetched and cached outside the snapshot). */
  readonly keys: Pick<KeyStore, "resolve" | "stateOf">;
  /** What this snapshot's checks remember: verified tokens and passwords, API-key identities, allow decisions and their renderings. */
  readonly memo: CheckMemo;
  /** basicAuth's failed attempts and bcrypt workers (shared across snapshots; verified passwords are in the memo). */
  readonly passwords: Passwords;
  /** Epoch milliseconds. */
  readonly now: () => number;
  /** What a request that matches no route gets. */
  readonly onNoRoute: "deny" | "allow";
  /** What a request whose route rule no SecurityPolicy governs gets: Envoy Gateway's `allow`, or `deny` (403 `policy_missing`). */
  readonly onNoPolicy?: "allow" | "deny";
  /** How the client address for `clientCIDRs` rules and CEL's `source.address` is determined. */
  readonly clientAddress: ClientAddressDetection;
  /** extAuth's connections to external authorization services; without it every call fails (statusOnError, or failOpen). */
  readonly extAuth?: ExtAuthTransport;
  /** oidc's OpenID providers; absent: every oidc request is refused (403 oidc_unavailable). */
  readonly oidc?: OidcProviders | undefined;
  /** A number in [0, 1): csrf's shadow-mode draw (Math.random unless a test fixes it). */
  readonly random?: () => number;
  /**
   * Set only when the decision is to be explained (`check --explain`, the admin page, debug logs):
   * check() and each feature's phase note what they read and found. Undefined on the hot path.
   */
  readonly trace?: Trace | undefined;
}
