/**
 * The authorization phase (controller/features/authorization/check.ts): rules over jwt claims and
 * scopes, client CIDRs and headers, first match wins; Envoy Gateway's rule-level `cel` and
 * `clientIPGeoLocations`.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { clientAddressDetection } from "../../../controller/authz/client-address.ts";
import { geoIPDatabaseOf } from "../../../controller/geoip/database.ts";
import { policiesOnRules } from "../../support/manifests.ts";
import { writeMmdb } from "../../support/mmdb.ts";
import { jwksOf, mint, signingKey, type SigningKey } from "../../support/tokens.ts";
import { decider, type Decider } from "../../support/world.ts";

const ISSUER = "https://idp.example.com";

/** A world of one policy on rule `name` (path /`name`) with `features`. */
const onePolicy = (name: string, features: string) => policiesOnRules("api.example.com", { [name]: { path: `/${name}`, features } });

const world = (jwks: string) =>
  policiesOnRules("api.example.com", {
    public: {
      path: "/public",
      features: "authorization: {defaultAction: Deny, rules: [{action: Allow, cel: \"request.path.startsWith('/public/open')\"}]}",
    },
    team: {
      path: "/team",
      features:
        "authorization: {rules: [{action: Allow, principal: {headers: [{name: x-team, values: [team-a]}]}, cel: \"request.method == 'POST'\"}]}",
    },
    tenant: {
      path: "/tenant",
      features:
        "authorization: {defaultAction: Allow, rules: [{name: other-tenants, action: Deny, cel: \"request.headers['x-tenant'] != 'team-a'\"}]}",
    },
    claims: {
      path: "/claims",
      features: `
jwt: {providers: [{name: idp, issuer: "${ISSUER}", localJWKS: {type: Inline, inline: '${jwks}'}}]}
authorization:
  rules: [{action: Allow, cel: "'admin' in metadata.filter_metadata['envoy.filters.http.jwt_authn']['idp'].scope && request.query == 'v=1'"}]
`,
    },
    roles: {
      path: "/roles",
      features: `
jwt:
  providers: [{name: idp, issuer: ${ISSUER}, localJWKS: {inline: '${jwks}'}, claimToHeaders: [{claim: sub, header: x-user-id}]}]
authorization:
  rules:
    - name: block-debug
      action: Deny
      principal: {headers: [{name: X-Debug, values: ["1"]}]}
    - name: admins
      action: Allow
      operation: {path: {type: PathPrefix, value: /roles/admin}}
      principal: {jwt: {provider: idp, claims: [{name: roles, valueType: StringArray, values: [admin]}]}}
    - name: readers
      action: Allow
      operation: {methods: [GET], path: {type: PathPrefix, value: /roles/admin, invert: true}}
      principal: {jwt: {provider: idp, scopes: [read]}}
    - name: office
      action: Allow
      principal: {clientCIDRs: ["10.1.0.0/16", "2001:db8::/32"]}
    - name: cel-bad-field
      action: Deny
      principal: {cel: 'jwt.claims.nope == "x"'}
`,
    },
    us: {
      path: "/us",
      features: "authorization: {rules: [{action: Allow, principal: {clientIPGeoLocations: [{country: us}, {asn: 64500}]}}]}",
    },
    "not-gb": {
      path: "/not-gb",
      features:
        "authorization: {defaultAction: Allow, rules: [{name: no-gb, action: Deny, principal: {clientIPGeoLocations: [{country: GB}]}}]}",
    },
    anonymous: {
      path: "/anonymous",
      features:
        "authorization: {defaultAction: Allow, rules: [{name: no-vpn, action: Deny, principal: {clientIPGeoLocations: [{anonymous: {isVPN: true}}]}}]}",
    },
  });

const databases = [
  geoIPDatabaseOf(
    "country.mmdb",
    writeMmdb({
      databaseType: "GeoLite2-Country",
      networks: [
        { network: "50.114.0.0/16", data: { country: { iso_code: "US" } } },
        { network: "81.2.69.0/24", data: { country: { iso_code: "GB" } } },
      ],
    }),
  ),
  geoIPDatabaseOf(
    "asn.mmdb",
    writeMmdb({ databaseType: "GeoLite2-ASN", networks: [{ network: "192.0.2.0/24", data: { autonomous_system_number: 64500 } }] }),
  ),
  geoIPDatabaseOf(
    "anonymous.mmdb",
    writeMmdb({
      databaseType: "GeoIP2-Anonymous-IP",
      networks: [{ network: "81.2.69.128/25", data: { is_anonymous: true, is_anonymous_vpn: true } }],
    }),
  ),
];

let idp: SigningKey;
let d: Decider;
beforeAll(async () => {
  idp = await signingKey("k1");
  d = decider(
    world(jwksOf(idp)),
    { clientAddress: clientAddressDetection({ trustedHops: 0, trustedCidrs: [] }) },
    { geoipDatabases: databases },
  );
});

const from = (address: string | undefined, path: string, headers: Record<string, string> = {}) =>
  d({ path, headers: address === undefined ? headers : { ...headers, "x-forwarded-for": address } });

describe("a rule's cel (Envoy's attributes)", () => {
  it("a rule with only cel matches when the expression is true", async () => {
    expect((await d({ path: "/public/open/doc" })).allowed).toBe(true);
    expect((await d({ path: "/public/closed" })).code).toBe("authz_denied");
  });
  it("with a principal, both must match", async () => {
    expect((await d({ method: "POST", path: "/team", headers: { "x-team": "team-a" } })).allowed).toBe(true);
    expect((await d({ method: "GET", path: "/team", headers: { "x-team": "team-a" } })).allowed).toBe(false);
    expect((await d({ method: "POST", path: "/team", headers: { "x-team": "team-b" } })).allowed).toBe(false);
  });
  it("an expression over a header the request lacks matches a Deny rule (Envoy would skip the rule and allow)", async () => {
    expect((await d({ path: "/tenant", headers: { "x-tenant": "team-a" } })).allowed).toBe(true);
    expect((await d({ path: "/tenant", headers: { "x-tenant": "team-b" } })).message).toBe("denied by authorization rule other-tenants");
    expect((await d({ path: "/tenant" })).message).toBe("denied by authorization rule other-tenants");
  });
  it("sees Envoy's pseudo-headers among the headers", async () => {
    const own = decider(
      onePolicy(
        "p",
        "authorization: {rules: [{action: Allow, cel: \"request.headers[':path'] == '/p/x?a=1' && request.headers[':authority'] == 'api.example.com' && request.headers[':method'] == 'GET'\"}]}",
      ),
    );
    expect((await own({ path: "/p/x?a=1" })).allowed).toBe(true);
    expect((await own({ path: "/p/x?a=2" })).allowed).toBe(false);
  });
  it("sees repeated header lines joined with ',' as Envoy does", async () => {
    expect((await d({ path: "/tenant", headers: { "x-tenant": ["team-a", "team-a"] } })).allowed).toBe(false);
  });
  it("reads the verified JWT payload from jwt_authn's metadata, scope split at spaces, and the query as text", async () => {
    const admin = await mint(idp, { iss: ISSUER, scope: "read admin" });
    const reader = await mint(idp, { iss: ISSUER, scope: "read" });
    expect((await d({ path: "/claims?v=1", headers: { authorization: `Bearer ${admin}` } })).allowed).toBe(true);
    expect((await d({ path: "/claims?v=2", headers: { authorization: `Bearer ${admin}` } })).allowed).toBe(false);
    expect((await d({ path: "/claims?v=1", headers: { authorization: `Bearer ${reader}` } })).allowed).toBe(false);
  });
});

describe("principal.headers", () => {
  it("reads a repeated header as its lines joined with ',', as Envoy's RBAC header matcher does", async () => {
    const own = decider(
      onePolicy(
        "tiers",
        "authorization: {defaultAction: Allow, rules: [{name: no-gold-silver, action: Deny, principal: {headers: [{name: x-tier, values: ['gold,silver']}]}}]}",
      ),
    );
    expect((await own({ path: "/tiers", headers: { "x-tier": ["gold", "silver"] } })).message).toBe(
      "denied by authorization rule no-gold-silver",
    );
    expect((await own({ path: "/tiers", headers: { "x-tier": "gold,silver" } })).allowed).toBe(false);
    expect((await own({ path: "/tiers", headers: { "x-tier": "gold, silver" } })).allowed).toBe(true);
  });
});

describe("principal.clientIPGeoLocations", () => {
  it("allows a client located in a listed place (any entry; country without letter case)", async () => {
    expect((await from("50.114.0.1", "/us")).allowed).toBe(true);
    expect((await from("192.0.2.9", "/us")).allowed).toBe(true);
    expect((await from("81.2.69.10", "/us")).code).toBe("authz_denied");
  });
  it("an address in no network of the databases matches no entry: no Allow, and no Deny either (as Envoy)", async () => {
    expect((await from("198.51.100.1", "/us")).allowed).toBe(false);
    expect((await from("198.51.100.1", "/not-gb")).allowed).toBe(true);
  });
  it("denies on a Deny rule, also for the IPv4-mapped form of the address", async () => {
    expect((await from("81.2.69.10", "/not-gb")).message).toBe("denied by authorization rule no-gb");
    expect((await from("::ffff:81.2.69.10", "/not-gb")).message).toBe("denied by authorization rule no-gb");
    expect((await from("50.114.0.1", "/not-gb")).allowed).toBe(true);
  });
  it("an undetermined client address matches a Deny rule and no Allow rule", async () => {
    expect((await from(undefined, "/not-gb")).message).toBe("denied by authorization rule no-gb");
    expect((await from(undefined, "/us")).allowed).toBe(false);
  });
  it("matches the Anonymous IP flags the database lists", async () => {
    expect((await from("81.2.69.200", "/anonymous")).message).toBe("denied by authorization rule no-vpn");
    expect((await from("81.2.69.10", "/anonymous")).allowed).toBe(true);
  });
  it("the policy is Invalid, naming what is missing, when no database answers a field it reads", () => {
    const without = decider(world(jwksOf(idp)), {}, { geoipDatabases: databases.slice(1) });
    expect(without.result.snapshot.policies["apps/us"]?.invalid).toBe(
      "Authorization: clientIPGeoLocations: country needs a Country, City or Enterprise database (--geoip-database); given: asn.mmdb (GeoLite2-ASN); anonymous.mmdb (GeoIP2-Anonymous-IP)",
    );
    expect(without.result.snapshot.policies["apps/anonymous"]?.invalid).toBeUndefined();
  });
});

describe("rules over jwt claims and scopes, client CIDRs and headers", () => {
  const bearer = async (claims: Record<string, unknown>) => ({
    authorization: `Bearer ${await mint(idp, { iss: ISSUER, sub: "u", ...claims })}`,
  });
  it("allows the admin route only to tokens whose roles contain admin", async () => {
    expect((await d({ path: "/roles/admin/users", headers: await bearer({ roles: ["user", "admin"] }) })).status).toBe(200);
    const r = await d({ path: "/roles/admin/users", headers: await bearer({ roles: ["user"], scope: "read" }) });
    // No Allow rule matches; the last rule, a Deny whose CEL reads a missing claim, catches it.
    expect([r.status, r.code, r.message]).toEqual([403, "authz_denied", "denied by authorization rule cel-bad-field"]);
  });
  it("StringArray claims must be arrays: a string claim does not match", async () => {
    expect((await d({ path: "/roles/admin", headers: await bearer({ roles: "admin" }) })).status).toBe(403);
  });
  it("scopes from a space-delimited scope claim or an scp list, methods and inverted paths", async () => {
    expect((await d({ path: "/roles/reports", headers: await bearer({ scope: "read write" }) })).status).toBe(200);
    expect((await d({ path: "/roles/reports", headers: await bearer({ scp: ["read"] }) })).status).toBe(200);
    expect((await d({ path: "/roles/reports", method: "POST", headers: await bearer({ scope: "read" }) })).status).toBe(403);
    expect((await d({ path: "/roles/reports", headers: await bearer({ scope: "write" }) })).status).toBe(403);
  });
  it("the first matching rule wins: a Deny before an Allow", async () => {
    const r = await d({ path: "/roles/admin", headers: { ...(await bearer({ roles: ["admin"] })), "x-debug": "1" } });
    expect([r.status, r.message]).toEqual([403, "denied by authorization rule block-debug"]);
  });
  it("clientCIDRs read X-Forwarded-For from the right, after the trusted hops", async () => {
    const headers = await bearer({});
    expect((await d({ path: "/roles/x", headers: { ...headers, "x-forwarded-for": "203.0.113.9, 10.1.2.3" } })).status).toBe(200);
    expect((await d({ path: "/roles/x", headers: { ...headers, "x-forwarded-for": "10.1.2.3, 203.0.113.9" } })).status).toBe(403);
    const behindLb = decider(world(jwksOf(idp)), { clientAddress: clientAddressDetection({ trustedHops: 1, trustedCidrs: [] }) });
    expect((await behindLb({ path: "/roles/x", headers: { ...headers, "x-forwarded-for": "10.1.2.3, 198.51.100.7" } })).status).toBe(200);
    expect((await d({ path: "/roles/x", headers, clientAddress: "::ffff:10.1.9.9" })).status).toBe(200);
    expect((await d({ path: "/roles/x", headers, clientAddress: "2001:db8::1" })).status).toBe(200);
  });
  it("a CEL expression that cannot be evaluated matches a Deny rule: it never helps a request through", async () => {
    // cel-bad-field reads a claim the token lacks: as a Deny rule it matches, even for an office address.
    const r = await d({ path: "/roles/x", headers: await bearer({}), clientAddress: "192.0.2.1" });
    expect(r.message).toBe("denied by authorization rule cel-bad-field");
  });
});
