/**
 * The world of the check() tables (test/authz/check.test.ts, and the apiKeyAuth and jwt check
 * tests): HTTPRoute apps/api with one rule per situation (open, API keys in headers or cookies,
 * required, optional, failOpen and custom-located jwt, both, a broken policy), and fresh signing keys.
 */
import { beforeAll } from "vitest";
import type { VerificationKey } from "../../controller/api/jwks.ts";
import type { KeyStore } from "../../controller/keys/types.ts";
import { jwksOf, mint, signingKey, type SigningKey } from "./tokens.ts";
import { decider, type Decider } from "./world.ts";
import { policiesOnRules, secret } from "./manifests.ts";

export const ISSUER = "https://idp.example.com";

/** The manifests, the provider's keys being `jwks`. */
export const checkWorldText = (jwks: string) => {
  const idp = `{name: idp, issuer: ${ISSUER}, localJWKS: {inline: '${jwks}'}, claimToHeaders: [{claim: sub, header: x-user-id}]}`;
  return policiesOnRules(
    "api.example.com",
    {
      open: { path: "/public" },
      keys: {
        path: "/keys",
        features:
          "apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key, Authorization]}, {params: [api_key]}], forwardClientIDHeader: x-user-id, sanitize: false}",
      },
      cookie: {
        path: "/cookie",
        features:
          "apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key], cookies: [apikey]}], forwardClientIDHeader: x-user-id, sanitize: true}",
      },
      jwt: {
        path: "/jwt",
        features: `
jwt:
  providers:
    - name: idp
      issuer: ${ISSUER}
      audiences: [api]
      localJWKS: {inline: '${jwks}'}
      claimToHeaders:
        - {claim: sub, header: x-user-id}
        - {claim: org.tier, header: x-tier}
        - {claim: level, header: x-level}
        - {claim: admin, header: x-admin}
        - {claim: groups, header: x-groups}
    - {name: other, issuer: https://other.example.com, localJWKS: {inline: '${jwks}'}, claimToHeaders: [{claim: sub, header: x-other-sub}]}
`,
      },
      optional: { path: "/optional", features: `jwt: {optional: true, providers: [${idp}]}` },
      "fail-open": {
        path: "/fail-open",
        features: `
jwt: {failOpen: true, providers: [${idp}]}
authorization:
  defaultAction: Allow
  rules:
    - {name: staff-only, action: Deny, operation: {path: {type: PathPrefix, value: /fail-open/staff}}, principal: {jwt: {provider: idp, claims: [{name: sub, values: [anonymous]}]}}}
`,
      },
      custom: {
        path: "/custom",
        features: `jwt: {providers: [{name: idp, issuer: ${ISSUER}, localJWKS: {inline: '${jwks}'}, extractFrom: {headers: [{name: X-Token, valuePrefix: "Token "}], cookies: [session]}}]}`,
      },
      both: {
        path: "/both",
        features: `
apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key]}], forwardClientIDHeader: x-client-id}
jwt: {providers: [${idp}]}
`,
      },
      broken: { path: "/broken", features: "apiKeyAuth: {credentialRefs: [{name: missing}], extractFrom: [{headers: [X-API-Key]}]}" },
    },
    secret("keys", { alice: "alice-key", bob: "Bearer bob-key" }),
  );
};

export interface CheckWorld {
  d: Decider;
  /** The provider's ES256 key, and its RS256 one (both in its JWKS). */
  idp: SigningKey;
  rsa: SigningKey;
  /** A key with idp's kid that is not in the JWKS. */
  stranger: SigningKey;
  /** A token of idp for audience api and subject u-1, with `extra` claims. */
  good(extra?: Record<string, unknown>): Promise<string>;
}

/** Registers a beforeAll that builds the world; its fields are there once tests run. */
export function useCheckWorld(): CheckWorld {
  const w = {
    good: (extra: Record<string, unknown> = {}) => mint(w.idp, { iss: ISSUER, aud: "api", sub: "u-1", ...extra }),
  } as CheckWorld;
  beforeAll(async () => {
    w.idp = await signingKey("idp-1", "ES256");
    w.rsa = await signingKey("idp-rsa", "RS256");
    w.stranger = await signingKey("idp-1", "ES256");
    w.d = decider(checkWorldText(jwksOf(w.idp, w.rsa)));
  });
  return w;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
/** Every header some policy of this world may set: removed from every allowed request unless set. */
export const MANAGED = ["x-admin", "x-client-id", "x-groups", "x-level", "x-other-sub", "x-tier", "x-user-id"];
export const managedExcept = (...set: string[]) => MANAGED.filter((h) => !set.includes(h));

/** What a counting key store has answered: `resolves` its answers, `verifications` signature checks (reads of a key's KeyObject). */
export interface KeyCounts {
  resolves: number;
  verifications: number;
}

/**
 * A key store for check()'s context that answers as keys/store.ts does: one array per key set and
 * kid (same kid, or keys without one; the whole set for a token without kid), so a cached verdict
 * holds while its set is held. The keys are the provider's own inline ones, or `held()` (a JWKS as
 * last fetched: new objects after each fetch). `firstWaits`: the first answer waits, as a first fetch.
 */
export function countingKeyStore(options: { held?: () => readonly VerificationKey[]; firstWaits?: boolean } = {}): {
  counts: KeyCounts;
  keys: Pick<KeyStore, "resolve" | "stateOf">;
} {
  const counts: KeyCounts = { resolves: 0, verifications: 0 };
  const selections = new WeakMap<readonly VerificationKey[], Map<string | undefined, readonly VerificationKey[]>>();
  const counted = (k: VerificationKey): VerificationKey => ({
    ...k,
    get key() {
      counts.verifications++;
      return k.key;
    },
  });
  const select = (set: readonly VerificationKey[], kid: string | undefined) => {
    let byKid = selections.get(set);
    if (byKid === undefined) selections.set(set, (byKid = new Map()));
    let selection = byKid.get(kid);
    if (selection === undefined)
      byKid.set(kid, (selection = set.filter((k) => kid === undefined || k.kid === kid || k.kid === undefined).map(counted)));
    return selection;
  };
  let fetched = options.firstWaits !== true;
  return {
    counts,
    keys: {
      stateOf: () => "test keys",
      resolve(source, kid) {
        counts.resolves++;
        const set = options.held?.() ?? (source.kind === "local" ? source.keys : []);
        if (fetched) return select(set, kid);
        return new Promise((resolve) => setTimeout(resolve, 5)).then(() => {
          fetched = true;
          return select(set, kid);
        });
      },
    },
  };
}
