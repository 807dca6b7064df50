/**
 * The authorization phase (controller/features/authorization/check.ts): rules over jwt claims and
 * scopes, client CIDRs and headers, first match wins; Envoy Gateway's rule-level `cel` and
 * `clientIPGeoLocations`.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { clientAddressDetection } from "../../../controller/authz/client-address.ts";
import { geoIPDatabaseOf } from "../../../controller/geoip/database.ts";
import type { AuthzRequest } from "../../../controller/authz/request.ts";
import { utf8Bytes } from "../../../controller/lib/bytes.ts";
import { MAX_HEADER_LINES } from "../../../controller/snapshot/route-index.ts";
import { gatewayWithRoute, policiesOnRules, securityPolicy } from "../../support/manifests.ts";
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

describe("a rule's cel reads each attribute as Envoy defines it", () => {
  /** Allowed by a policy whose one Allow rule is `cel`, on a route that takes every host under example.com. */
  const allowedBy = async (cel: string, request: Partial<AuthzRequest> & { path: string }) => {
    const own = decider(
      `${gatewayWithRoute('"*.example.com"', { p: "/p" })}---\n${securityPolicy("p", { authorization: { rules: [{ action: "Allow", cel }] } }, "p")}`,
    );
    return (await own({ host: "api.example.com", ...request })).allowed;
  };
  it("request.path is the path with its query (Envoy's :path); url_path is without it; query is the text after ?", async () => {
    expect(await allowedBy("request.path == '/p/x?a=1&b'", { path: "/p/x?a=1&b" })).toBe(true);
    expect(await allowedBy("request.path == '/p/x'", { path: "/p/x?a=1" })).toBe(false);
    expect(await allowedBy("request.url_path == '/p/x' && request.query == 'a=1&b'", { path: "/p/x?a=1&b" })).toBe(true);
    expect(await allowedBy("request.query == ''", { path: "/p/x" })).toBe(true);
  });
  it("request.path and url_path are the normalised path, decided on each reading of it (an encoded slash)", async () => {
    expect(await allowedBy("request.url_path == '/p/a/b'", { path: "/p/./a//b" })).toBe(true);
    // Envoy keeps %2F; an upstream decoding it runs /p/a/b: a rule allowing only the encoded form is not enough.
    expect(await allowedBy("request.url_path == '/p/a%2Fb'", { path: "/p/a%2Fb" })).toBe(false);
    expect(await allowedBy("request.url_path in ['/p/a%2Fb', '/p/a/b']", { path: "/p/a%2Fb" })).toBe(true);
  });
  it("request.host is the Host as sent (port and letter case kept), read as UTF-8 like every other value", async () => {
    expect(await allowedBy("request.host == 'API.example.com:8443'", { host: "API.example.com:8443", path: "/p" })).toBe(true);
    expect(
      await allowedBy("request.host == 'café.example.com' && request.headers[':authority'] == 'café.example.com'", {
        host: utf8Bytes("café.example.com"),
        path: "/p",
        byteStrings: true,
      }),
    ).toBe(true);
  });
  it("request.method and scheme; referer, useragent and id only when their header is sent", async () => {
    expect(await allowedBy("request.method == 'POST' && request.scheme == 'https'", { method: "POST", scheme: "https", path: "/p" })).toBe(
      true,
    );
    expect(await allowedBy("!has(request.referer) && !has(request.useragent) && !has(request.id)", { path: "/p" })).toBe(true);
    const headers = { referer: "https://a.example.com/", "user-agent": "curl/8", "x-request-id": "r1" };
    expect(
      await allowedBy("request.referer == 'https://a.example.com/' && request.useragent == 'curl/8' && request.id == 'r1'", {
        path: "/p",
        headers,
      }),
    ).toBe(true);
  });
  it("request.headers looks a name up whatever its letter case, as Envoy lower-cases it; its keys are lower-case", async () => {
    const headers = { "x-tenant": "a" };
    expect(await allowedBy("request.headers['X-Tenant'] == 'a' && 'X-TENANT' in request.headers", { path: "/p", headers })).toBe(true);
    expect(
      await allowedBy("request.headers.exists(k, k == 'x-tenant') && !request.headers.exists(k, k == 'X-Tenant')", { path: "/p", headers }),
    ).toBe(true);
    expect(await allowedBy("request.headers['X-Other'] == 'a'", { path: "/p", headers })).toBe(false);
  });
  it("principal.cel's request.headers too", async () => {
    const own = decider(
      onePolicy("pc", `authorization: {rules: [{action: Allow, principal: {cel: "request.headers['X-Tenant'] == 'a'"}}]}`),
    );
    expect((await own({ path: "/pc", headers: { "x-tenant": "a" } })).allowed).toBe(true);
  });
  it("a header value read from valid UTF-8 bytes compares as its text", async () => {
    expect(
      await allowedBy("request.headers['x-name'] == 'é'", { path: "/p", headers: { "x-name": utf8Bytes("é") }, byteStrings: true }),
    ).toBe(true);
  });
});

describe("request.query: a rule's cel reads Envoy's text, principal.cel is decided on every reading of the query", () => {
  /** The decision on GET /q`query` under `rules` (defaultAction `defaultAction`). */
  const under = (defaultAction: string, rules: string, query: string) =>
    decider(onePolicy("q", `authorization: {defaultAction: ${defaultAction}, rules: [${rules}]}`))({ path: `/q${query}` });
  it("a rule's cel reads the query as sent, never decoded, as Envoy's CEL cuts it from :path", async () => {
    const rule = `{action: Allow, cel: "request.query == 'role=%61dmin&tag=c++&x=1;y=2'"}`;
    expect((await under("Deny", rule, "?role=%61dmin&tag=c++&x=1;y=2")).allowed).toBe(true);
  });
  it("principal.cel's Envoy reading is the route match's: first value, split at &, as sent", async () => {
    const rules = `{name: no-cpp, action: Deny, principal: {cel: "request.query.tag == 'c++'"}}`;
    // Decoded as a form, `c++` is `c  `: only the reading as sent (Envoy's, and RFC 3986 decoders') sees c++.
    expect((await under("Allow", rules, "?tag=c++")).message).toBe("denied by authorization rule no-cpp");
    expect((await under("Allow", rules, "?tag=c")).allowed).toBe(true);
  });
  it("principal.cel is decided percent-decoded too, as upstreams read the query", async () => {
    const rules = `{name: no-admin, action: Deny, principal: {cel: "'role' in request.query && request.query.role == 'admin'"}}`;
    expect((await under("Allow", rules, "?role=%61dmin")).message).toBe(
      "denied by authorization rule no-admin (reading the first value of a name in the query split at &, percent-decoded)",
    );
    expect((await under("Allow", rules, "?rol%65=admin")).allowed).toBe(false);
  });
  it("a name encoded around another value: every reading's value decides, not only the decoded first and last", async () => {
    const rules = `{action: Allow, principal: {cel: "request.query.account == 'alice'"}}`;
    // Decoded, account is alice first and last; as sent (Envoy's route match), account is bob.
    expect((await under("Deny", rules, "?%61ccount=alice&account=bob&%61ccount=alice")).allowed).toBe(false);
    expect((await under("Deny", rules, "?account=alice&account=alice")).allowed).toBe(true);
  });
  it("a value that needs an escape must be allowed by each reading: as sent and decoded", async () => {
    const rules = `{action: Allow, principal: {cel: "request.query.email == 'alice@example.com'"}}`;
    expect((await under("Deny", rules, "?email=alice@example.com")).allowed).toBe(true);
    expect((await under("Deny", rules, "?email=alice%40example.com")).allowed).toBe(false);
    const either = `{action: Allow, principal: {cel: "request.query.email in ['alice@example.com', 'alice%40example.com']"}}`;
    expect((await under("Deny", either, "?email=alice%40example.com")).allowed).toBe(true);
  });
  it("a query every reading reads alike is decided once", async () => {
    const own = decider(onePolicy("q", `authorization: {rules: [{action: Allow, principal: {cel: "request.query.a == '1'"}}]}`));
    const explained = await own.explain({ path: "/q?a=1&b=2" });
    expect(explained.decision.allowed).toBe(true);
    expect(JSON.stringify(explained.trace.steps)).not.toContain("otherReadings");
  });
});

describe("values that are not UTF-8 (Envoy compares bytes, the text reads them as U+FFFD)", () => {
  /** The decision on GET /b with `headers` (bytes one per character) under `rules`, default Deny. */
  const under = (rules: string, headers: Record<string, string>) =>
    decider(onePolicy("b", `authorization: {defaultAction: Deny, rules: [${rules}]}`))({ path: "/b", headers, byteStrings: true });
  const REPLACEMENT_ALLOW = `{name: replacement, action: Allow, cel: "request.headers['x-name'] == '\\uFFFD'"}`;
  it("a cel Allow rule reading a value that holds bytes that are not UTF-8 does not match (`\\xff` is not U+FFFD to Envoy)", async () => {
    expect((await under(REPLACEMENT_ALLOW, { "x-name": "\xff" })).message).toBe("no authorization rule allows the request");
    expect((await under(REPLACEMENT_ALLOW, { "x-name": utf8Bytes("\uFFFD") })).message).toBe("no authorization rule allows the request");
  });
  it("a cel Deny rule reading such a value matches, whatever it compares", async () => {
    const rules = `{name: no-admin, action: Deny, cel: "request.headers['x-role'] == 'admin'"}, {action: Allow, cel: "true"}`;
    expect((await under(rules, { "x-role": "\xfe" })).message).toBe("denied by authorization rule no-admin");
    expect((await under(rules, { "x-role": "user" })).allowed).toBe(true);
  });
  it("an expression that reads no such value is decided as usual (the value of a field it does not name)", async () => {
    expect((await under(`{action: Allow, cel: "request.url_path == '/b'"}`, { "x-name": "\xff" })).allowed).toBe(true);
  });
  it("a principal.headers Allow value holding U+FFFD does not match such a value; a Deny one does", async () => {
    const allow = `{action: Allow, principal: {headers: [{name: x-team, values: ["\uFFFD"]}]}}`;
    expect((await under(allow, { "x-team": "\xff" })).allowed).toBe(false);
    const deny = `{name: odd-team, action: Deny, principal: {headers: [{name: x-team, values: ["\uFFFD"]}]}}, {action: Allow, cel: "true"}`;
    expect((await under(deny, { "x-team": "\xff" })).message).toBe("denied by authorization rule odd-team");
    expect((await under(deny, { "x-team": "x" })).allowed).toBe(true);
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

  const noAdmin = () =>
    decider(
      onePolicy(
        "roles",
        "authorization: {defaultAction: Allow, rules: [{name: no-admin, action: Deny, principal: {headers: [{name: x-role, values: [admin]}]}}]}",
      ),
    );
  it("denies on a Deny rule that a line between the first and the last matches (a wrong allow: lines user,admin and user read only user and user as lines)", async () => {
    expect((await noAdmin()({ path: "/roles", headers: { "x-role": ["user", "admin", "user"] } })).message).toBe(
      "denied by authorization rule no-admin (reading any line (or list element) of each header)",
    );
  });
  it("reads a list element without the spaces around it (a wrong allow: x-role: user, admin read ' admin', which no value equals)", async () => {
    expect((await noAdmin()({ path: "/roles", headers: { "x-role": ["user", " admin"] } })).message).toBe(
      "denied by authorization rule no-admin (reading any line (or list element) of each header)",
    );
  });
  const twoHeaders = (action: "Allow" | "Deny") =>
    decider(
      onePolicy(
        "roles",
        `authorization: {defaultAction: ${action === "Deny" ? "Allow" : "Deny"}, rules: [{name: red-admin, action: ${action}, principal: {headers: [{name: x-role, values: [admin]}, {name: x-team, values: [red]}]}}]}`,
      ),
    );
  it("denies on a Deny rule on two headers whose values are elements at different positions (a wrong allow: a line reading took the same index in every header)", async () => {
    const d = twoHeaders("Deny");
    expect((await d({ path: "/roles", headers: { "x-role": ["admin", "user"], "x-team": ["blue", "red"] } })).message).toBe(
      "denied by authorization rule red-admin (reading any line (or list element) of each header)",
    );
    expect((await d({ path: "/roles", headers: { "x-role": ["user", "admin"], "x-team": ["red", "blue"] } })).allowed).toBe(false);
    expect((await d({ path: "/roles", headers: { "x-role": ["admin", "user"], "x-team": ["blue", "green"] } })).allowed).toBe(true);
  });
  it("allows by an Allow rule on two headers only when each has one line that meets it (Envoy reads lines joined)", async () => {
    const d = twoHeaders("Allow");
    expect((await d({ path: "/roles", headers: { "x-role": "admin", "x-team": "red" } })).allowed).toBe(true);
    expect((await d({ path: "/roles", headers: { "x-role": ["admin", "user"], "x-team": "red" } })).allowed).toBe(false);
    expect((await d({ path: "/roles", headers: { "x-role": "admin", "x-team": ["red", "blue"] } })).allowed).toBe(false);
  });
  it("reads the lines of the headers the rules name only: a list in another header adds no reading, with a CEL rule too", async () => {
    const browser = { "x-role": "user", accept: ["text/html", "application/json", "*/*"] };
    const matched = await noAdmin().explain({ path: "/roles", headers: browser });
    expect(matched.decision.allowed).toBe(true);
    expect(JSON.stringify(matched.trace.steps)).not.toContain("otherReadings");
    const cel = decider(
      onePolicy(
        "roles",
        `authorization: {defaultAction: Allow, rules: [{action: Deny, principal: {cel: "request.headers['x-role'] == 'admin'"}}]}`,
      ),
    );
    expect(JSON.stringify((await cel.explain({ path: "/roles", headers: browser })).trace.steps)).not.toContain("otherReadings");
    const bound = decider(
      onePolicy(
        "roles",
        `authorization: {defaultAction: Allow, rules: [{action: Deny, principal: {cel: "cel.bind(h, request.headers, h['x-role'] == 'admin')"}}]}`,
      ),
    );
    expect(JSON.stringify((await bound.explain({ path: "/roles", headers: browser })).trace.steps)).toContain("otherReadings");
  });
  it(`refuses (431) a request whose header a rule reads has more than ${MAX_HEADER_LINES} lines or list elements; another header's count is not the rules' concern`, async () => {
    const over = Array.from({ length: MAX_HEADER_LINES + 1 }, (_, i) => `r${i}`);
    const json = Array.from({ length: 71 }, (_, i) => `"k${i}":${i}`);
    const refused = await noAdmin()({ path: "/roles", headers: { "x-role": over } });
    expect(refused).toMatchObject({ status: 431, code: "request_invalid", route: "apps/api rule roles" });
    expect(refused.message).not.toContain("x-role");
    expect(await noAdmin()({ path: "/roles", headers: { "x-role": "user", "x-client-metadata": json } })).toMatchObject({ status: 200 });
    expect((await noAdmin()({ path: "/roles", headers: { "x-role": "admin", "x-client-metadata": json } })).code).toBe("authz_denied");
  });
  it(`with a CEL rule, refuses (431) a request whose headers it names have more than ${MAX_HEADER_LINES} choices of one line each; a header it does not name is not counted`, async () => {
    const json = Array.from({ length: 71 }, (_, i) => `"k${i}":${i}`);
    const elements = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    const d = decider(
      onePolicy(
        "cel",
        `authorization: {defaultAction: Allow, rules: [{action: Deny, principal: {cel: "request.headers['x-role'] == 'admin' && request.headers['x-team'] == 'red'"}}]}`,
      ),
    );
    expect((await d({ path: "/cel", headers: { "x-role": "user", "x-client-metadata": json } })).status).toBe(200);
    expect(await d({ path: "/cel", headers: { "x-role": elements("r", 9), "x-team": elements("t", 8) } })).toMatchObject({
      status: 431,
      code: "request_invalid",
    });
    expect((await d({ path: "/cel", headers: { "x-role": elements("r", 8), "x-team": elements("t", 8) } })).status).toBe(200);
    expect((await d({ path: "/cel", headers: { "x-role": elements("r", MAX_HEADER_LINES + 1) } })).status).toBe(431);
  });
  it(`with a CEL rule reading headers by unknown keys, refuses (431) a request of more than ${MAX_HEADER_LINES} choices of one line of every header only where the rule is evaluated`, async () => {
    const d = decider(
      onePolicy(
        "bound",
        `authorization: {defaultAction: Allow, rules: [{action: Deny, operation: {path: {value: /bound/admin}}, principal: {cel: "cel.bind(h, request.headers, h['x-role'] == 'admin')"}}]}`,
      ),
    );
    const lists = {
      "x-role": "user",
      accept: ["a", "b", "c", "d", "e", "f", "g", "h"],
      "accept-language": ["en", "fr", "de", "it", "es", "nl", "pt", "pl", "ru"],
    };
    expect(await d({ path: "/bound/admin", headers: lists })).toMatchObject({ status: 431, code: "request_invalid" });
    expect((await d({ path: "/bound/home", headers: lists })).status).toBe(200);
    expect((await d({ path: "/bound/admin", headers: { ...lists, "accept-language": "en" } })).status).toBe(200);
    expect((await d({ path: "/bound/admin", headers: { ...lists, "x-role": ["user", "admin"], "accept-language": "en" } })).status).toBe(
      403,
    );
  });
  const celOnTwoHeaders = (action: "Allow" | "Deny", cel: string) =>
    decider(
      onePolicy(
        "roles",
        `authorization: {defaultAction: ${action === "Deny" ? "Allow" : "Deny"}, rules: [{name: r, action: ${action}, ${cel}}]}`,
      ),
    );
  it("denies on a Deny CEL expression over two headers whose values are elements at different positions, principal.cel or the rule's (a wrong allow: a line reading took the same index in every header)", async () => {
    const apart = { "x-role": ["admin", "user"], "x-team": ["blue", "red"] };
    for (const cel of [
      `principal: {cel: "request.headers['x-role'] == 'admin' && request.headers['x-team'] == 'red'"}`,
      `cel: "request.headers['X-Role'] == 'admin' && request.headers['X-TEAM'] == 'red'"`,
      `cel: "cel.bind(h, request.headers, h['x-role'] == 'admin' && h['x-team'] == 'red')"`,
    ]) {
      const d = celOnTwoHeaders("Deny", cel);
      expect((await d({ path: "/roles", headers: apart })).message, cel).toMatch(/^denied by authorization rule r \(reading /);
      expect((await d({ path: "/roles", headers: { "x-role": ["admin", "user"], "x-team": ["blue", "green"] } })).allowed, cel).toBe(true);
    }
  });
  it("reads Envoy's request.useragent as the User-Agent line chosen", async () => {
    const d = celOnTwoHeaders("Deny", `cel: "request.useragent == 'curl' && request.headers['x-team'] == 'red'"`);
    expect((await d({ path: "/roles", headers: { "user-agent": ["curl", "x"], "x-team": ["blue", "red"] } })).allowed).toBe(false);
  });
  it("allows by an Allow CEL expression over two headers only when every choice of one element of each satisfies it", async () => {
    const d = celOnTwoHeaders("Allow", `principal: {cel: "request.headers['x-role'] != 'guest' || request.headers['x-plan'] == 'paid'"}`);
    expect((await d({ path: "/roles", headers: { "x-role": ["guest", "admin"], "x-plan": ["paid", "free"] } })).message).toBe(
      "no authorization rule allows the request (reading lines 1, 2 (or list elements) of 2 headers)",
    );
    expect((await d({ path: "/roles", headers: { "x-role": ["guest", "admin"], "x-plan": "paid" } })).allowed).toBe(true);
    expect((await d({ path: "/roles", headers: { "x-role": ["user", "admin"], "x-plan": ["paid", "free"] } })).allowed).toBe(true);
  });
  it("decides a CEL expression on two headers together with the rule's jwt claims", async () => {
    const own = decider(
      onePolicy(
        "jwt-cel",
        `
jwt: {providers: [{name: idp, issuer: "${ISSUER}", localJWKS: {type: Inline, inline: '${jwksOf(idp)}'}}]}
authorization:
  defaultAction: Allow
  rules:
    - name: red-admin-u
      action: Deny
      principal: {jwt: {provider: idp, claims: [{name: sub, values: [u]}]}, cel: "request.headers['x-role'] == 'admin' && request.headers['x-team'] == 'red'"}
`,
      ),
    );
    const apart = { "x-role": ["admin", "user"], "x-team": ["blue", "red"] };
    const as = async (sub: string) => `Bearer ${await mint(idp, { iss: ISSUER, sub })}`;
    expect((await own({ path: "/jwt-cel", headers: { ...apart, authorization: await as("u") } })).message).toMatch(
      /^denied by authorization rule red-admin-u \(reading /,
    );
    expect((await own({ path: "/jwt-cel", headers: { ...apart, authorization: await as("v") } })).allowed).toBe(true);
  });
  it("decides a CEL expression on two headers together with the rule's client CIDRs", async () => {
    const d = celOnTwoHeaders(
      "Deny",
      `principal: {clientCIDRs: [10.0.0.0/8], cel: "request.headers['x-role'] == 'admin' && request.headers['x-team'] == 'red'"}`,
    );
    const apart = { "x-role": ["admin", "user"], "x-team": ["blue", "red"] };
    expect((await d({ path: "/roles", headers: { ...apart, "x-forwarded-for": "10.1.2.3" } })).allowed).toBe(false);
    expect((await d({ path: "/roles", headers: { ...apart, "x-forwarded-for": "203.0.113.9" } })).allowed).toBe(true);
  });
  it("never allows on an Allow value holding ',' once the ports read its pieces: an upstream may act on one piece (the documented cost)", async () => {
    const own = decider(
      onePolicy(
        "accept",
        "authorization: {defaultAction: Deny, rules: [{name: ab, action: Allow, principal: {headers: [{name: accept, values: ['a, b']}]}}]}",
      ),
    );
    expect((await own({ path: "/accept", headers: { accept: "a, b" } })).allowed).toBe(true);
    expect((await own({ path: "/accept", headers: { accept: ["a", " b"] } })).code).toBe("authz_denied");
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
    // Envoy's IP matcher reads an IPv4-mapped address as IPv6: outside the IPv4 allow-list.
    expect((await d({ path: "/roles/x", headers, clientAddress: "::ffff:10.1.9.9" })).status).toBe(403);
    expect((await d({ path: "/roles/x", headers, clientAddress: "2001:db8::1" })).status).toBe(200);
  });
  it("a CEL expression that cannot be evaluated matches a Deny rule: it never helps a request through", async () => {
    // cel-bad-field reads a claim the token lacks: as a Deny rule it matches, even for an office address.
    const r = await d({ path: "/roles/x", headers: await bearer({}), clientAddress: "192.0.2.1" });
    expect(r.message).toBe("denied by authorization rule cel-bad-field");
  });
});

describe("principal.cel's request.host is decided on every reading of the Host (hostReadings)", () => {
  /** Allowed on a route for every host, under a policy with `rule` and `defaultAction`. */
  const allowed = async (rule: object, defaultAction: "Allow" | "Deny", host: string) => {
    const own = decider(
      `${gatewayWithRoute("", { p: "/p" })}---\n${securityPolicy("p", { authorization: { defaultAction, rules: [rule] } }, "p")}`,
    );
    return (await own({ host, path: "/p" })).allowed;
  };
  it("an Allow rule holds only when it does on each: Envoy's reading keeps a ':' that is no port and a trailing dot", async () => {
    const publicOnly = { action: "Allow", principal: { cel: "request.host == 'public.example.com'" } };
    expect(await allowed(publicOnly, "Deny", "public.example.com")).toBe(true);
    expect(await allowed(publicOnly, "Deny", "Public.Example.COM:8080")).toBe(true);
    expect(await allowed(publicOnly, "Deny", "public.example.com:x")).toBe(false);
    expect(await allowed(publicOnly, "Deny", "public.example.com.")).toBe(false);
  });
  it("a Deny rule applies when it does on any", async () => {
    const noAdmin = { name: "no-admin", action: "Deny", principal: { cel: "request.host.startsWith('admin.example.com:')" } };
    expect(await allowed(noAdmin, "Allow", "admin.example.com:x")).toBe(false);
    expect(await allowed(noAdmin, "Allow", "admin.example.com")).toBe(true);
    const noAdminDot = { name: "no-admin", action: "Deny", principal: { cel: "request.host.endsWith('.com.')" } };
    expect(await allowed(noAdminDot, "Allow", "admin.example.com.")).toBe(false);
  });
});
