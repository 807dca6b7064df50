/** The jwt phase through check(): missing, invalid and foreign tokens, providers, claims to headers, optional (Envoy jwt_authn). */
import { beforeAll, describe, expect, it } from "vitest";
import { check } from "../../../controller/authz/check.ts";
import { CheckMemo } from "../../../controller/authz/check-memo.ts";
import { hmacToken, jwksOf, mint, unsignedToken } from "../../support/tokens.ts";
import { decider } from "../../support/world.ts";
import { bearer, checkWorldText, countingKeyStore, ISSUER, MANAGED, managedExcept, useCheckWorld } from "../../support/check-world.ts";
import type { SigningKey } from "../../support/tokens.ts";
import { parseJwks } from "../../../controller/api/jwks.ts";
import type { VerificationKey } from "../../../controller/api/jwks.ts";
import type { Decider } from "../../support/world.ts";

const checkWorld = useCheckWorld();
let d: Decider;
let idp: SigningKey;
let rsa: SigningKey;
let stranger: SigningKey;
beforeAll(() => ({ d, idp, rsa, stranger } = checkWorld));
const good = checkWorld.good;

describe("jwt", () => {
  it("401 with a Bearer challenge naming the request URL when the token is missing", async () => {
    const r = await d({ path: "/jwt/a?x=1" });
    expect([r.status, r.code]).toEqual([401, "jwt_missing"]);
    expect(r.responseHeaders["www-authenticate"]).toBe('Bearer realm="http://api.example.com/jwt/a"');
  });
  it("allows a valid token and maps claims to headers (an array of scalars comma-separated)", async () => {
    const token = await good({ org: { tier: "gold" }, level: 3, admin: true, groups: ["a", "b"] });
    const r = await d({ path: "/jwt", headers: { ...bearer(token), "x-user-id": "spoofed", "x-groups": "admins" } });
    expect(r).toMatchObject({ status: 200, principal: "jwt idp sub=u-1", policy: "apps/jwt" });
    expect(r.upstreamHeaders).toEqual({ "x-user-id": "u-1", "x-tier": "gold", "x-level": "3", "x-admin": "true", "x-groups": "a,b" });
    expect(r.removeHeaders).toEqual(managedExcept("x-user-id", "x-tier", "x-level", "x-admin", "x-groups"));
  });
  it("reads access_token from the query by default", async () => {
    expect((await d({ path: `/jwt?access_token=${await good()}` })).status).toBe(200);
  });
  it("finds no token after a lower-case bearer scheme, as Envoy's extractor matches `Bearer ` exactly", async () => {
    const r = await d({ path: "/jwt", headers: { authorization: `bearer ${await good()}` } });
    expect([r.status, r.code]).toEqual([401, "jwt_missing"]);
  });
  it("verifies RSA keys too", async () => {
    const token = await mint(rsa, { iss: ISSUER, aud: "api", sub: "r" });
    expect((await d({ path: "/jwt", headers: bearer(token) })).status).toBe(200);
  });
  it("picks the provider by issuer", async () => {
    const token = await mint(idp, { iss: "https://other.example.com", sub: "o-1" });
    const r = await d({ path: "/jwt", headers: bearer(token) });
    expect(r.upstreamHeaders).toEqual({ "x-other-sub": "o-1" });
  });
  /** Each refusal's reason code (audit log, metrics) and Envoy's words; the client gets 401 invalid_token for all. */
  const invalid: [string, () => Promise<string>, string, string][] = [
    ["expired beyond the 60 s skew", () => good({ exp: Math.floor(Date.now() / 1000) - 61 }), "jwt_expired", "Jwt is expired"],
    [
      "not valid before a future nbf",
      () => good({ nbf: Math.floor(Date.now() / 1000) + 120 }),
      "jwt_not_yet_valid",
      "Jwt is not yet valid",
    ],
    [
      "from an unknown issuer",
      () => mint(idp, { iss: "https://evil.example.com", aud: "api" }),
      "jwt_unknown_issuer",
      "Jwt issuer is not configured",
    ],
    [
      "signed by another key under the provider's kid",
      () => mint(stranger, { iss: ISSUER, aud: "api" }),
      "jwt_bad_signature",
      "Jwt verification fails",
    ],
    [
      "with an unknown kid",
      () => mint(idp, { iss: ISSUER, aud: "api" }, { kid: "nope" }),
      "jwt_no_key",
      "Jwks doesn't have key to match kid or alg from Jwt",
    ],
    ["unsigned (alg none)", async () => unsignedToken({ iss: ISSUER, aud: "api" }), "jwt_invalid", "is not accepted"],
    [
      "HS256 keyed with the public key",
      async () => hmacToken(JSON.stringify(idp.publicJwk), { iss: ISSUER, aud: "api" }, "idp-1"),
      "jwt_bad_signature",
      "Jwt verification fails",
    ],
    ["malformed", async () => "a.b", "jwt_invalid", "not a compact JWS"],
    ["with a non-numeric exp", () => good({ exp: "tomorrow" }), "jwt_invalid", "exp claim is not a number"],
  ];
  for (const [name, token, code, message] of invalid) {
    it(`401 invalid_token for a token ${name} (${code})`, async () => {
      const r = await d({ path: "/jwt", headers: bearer(await token()) });
      expect([r.status, r.code]).toEqual([401, code]);
      expect(r.message).toContain(message);
      expect(r.responseHeaders["www-authenticate"]).toBe('Bearer realm="http://api.example.com/jwt", error="invalid_token"');
    });
  }
  it("names the kid without a key and what the key store holds, in the audit detail only", async () => {
    const r = await d({ path: "/jwt", headers: bearer(await mint(idp, { iss: ISSUER, aud: "api" }, { kid: "nope" })) });
    expect(r.detail).toMatch(/^no key for kid "nope" \(alg \w+\); provider idp: local JWKS with kids \[idp-1, idp-rsa\]$/);
  });
  it("accepts a token expired within the skew", async () => {
    expect((await d({ path: "/jwt", headers: bearer(await good({ exp: Math.floor(Date.now() / 1000) - 30 })) })).status).toBe(200);
  });
  it("403 for a genuine token meant for another audience", async () => {
    const r = await d({ path: "/jwt", headers: bearer(await good({ aud: "billing" })) });
    expect([r.status, r.code, r.message]).toEqual([403, "jwt_audience", "Audiences in Jwt are not allowed"]);
  });
  it("fails the request when any of several tokens is invalid", async () => {
    const r = await d({ path: `/jwt?access_token=${unsignedToken({ iss: ISSUER })}`, headers: bearer(await good()) });
    expect(r.code).toBe("jwt_invalid");
  });
  it("optional: passes without a token but strips managed headers", async () => {
    const r = await d({ path: "/optional", headers: { "x-user-id": "spoofed" } });
    expect(r).toMatchObject({ status: 200, principal: undefined, removeHeaders: MANAGED });
  });
  it("failOpen: passes without a token, setting nothing and stripping a spoofed claim header", async () => {
    const r = await d({ path: "/fail-open", headers: { "x-user-id": "spoofed" } });
    expect(r).toMatchObject({ status: 200, principal: undefined, upstreamHeaders: {}, removeHeaders: MANAGED });
  });
  it("failOpen: a valid token is still verified and its claims forwarded", async () => {
    const r = await d({ path: "/fail-open", headers: bearer(await good()) });
    expect(r).toMatchObject({ status: 200, upstreamHeaders: { "x-user-id": "u-1" } });
  });
  it("failOpen: an expired, forged or unsigned token passes without any identity (Envoy's allow_missing_or_failed)", async () => {
    const tokens = [
      await good({ exp: Math.floor(Date.now() / 1000) - 3600 }),
      await mint(stranger, { iss: ISSUER, aud: "api", sub: "admin" }),
      unsignedToken({ iss: ISSUER, sub: "admin" }),
    ];
    for (const token of tokens) {
      const r = await d({ path: "/fail-open", headers: { ...bearer(token), "x-user-id": "admin" } });
      expect(r).toMatchObject({ status: 200, principal: undefined, upstreamHeaders: {}, removeHeaders: MANAGED });
    }
  });
  it("failOpen: a failed token's claims never reach the authorization rules", async () => {
    const forged = await mint(stranger, { iss: ISSUER, aud: "api", sub: "anonymous" });
    // The Deny rule matches only a verified sub: the forged one is no identity at all, so the default Allow applies.
    expect((await d({ path: "/fail-open/staff", headers: bearer(forged) })).status).toBe(200);
    expect((await d({ path: "/fail-open/staff", headers: bearer(await good({ sub: "anonymous" })) })).code).toBe("authz_denied");
  });
  it("failOpen with several tokens: a refused one is passed over and a verified one's identity goes upstream (Envoy's authenticator goes on to the next token)", async () => {
    const forged = await mint(stranger, { iss: ISSUER, aud: "api", sub: "admin" });
    for (const [header, query] of [
      [await good(), forged],
      [forged, await good()],
    ]) {
      const r = await d({ path: `/fail-open?access_token=${query}`, headers: { ...bearer(header!), "x-user-id": "spoofed" } });
      expect(r).toMatchObject({ status: 200, principal: "jwt idp sub=u-1", upstreamHeaders: { "x-user-id": "u-1" } });
    }
    // The rules see the verified identity too, as Envoy's RBAC sees its metadata.
    const both = `/fail-open/staff?access_token=${forged}`;
    expect((await d({ path: both, headers: bearer(await good({ sub: "anonymous" })) })).code).toBe("authz_denied");
  });
  it("failOpen: a verified token found only at a `;` of the query (Envoy does not read it there) gives no identity", async () => {
    const r = await d({ path: `/fail-open?x=1;access_token=${await good()}`, headers: { "x-user-id": "spoofed" } });
    expect(r).toMatchObject({ status: 200, principal: undefined, upstreamHeaders: {} });
  });
  it("optional: a present but invalid token still fails", async () => {
    expect((await d({ path: "/optional", headers: bearer(unsignedToken({ iss: ISSUER })) })).status).toBe(401);
  });
  it("extractFrom replaces the default locations", async () => {
    const token = await good();
    expect((await d({ path: "/custom", headers: bearer(token) })).code).toBe("jwt_missing");
    expect((await d({ path: "/custom", headers: { "x-token": `Token ${token}` } })).status).toBe(200);
    expect((await d({ path: "/custom", headers: { "x-token": token } })).code).toBe("jwt_missing");
    expect((await d({ path: "/custom", headers: { cookie: `session=${token}` } })).status).toBe(200);
  });
  /** A decider whose key store holds `held()`, counting signature checks. */
  const countingKeys = (held: () => readonly VerificationKey[]) => {
    const { counts, keys } = countingKeyStore({ held });
    return { counts, world: decider(checkWorldText(jwksOf(idp)), { keys, memo: new CheckMemo() }) };
  };
  /** The idp's keys as a fetch of its JWKS gives them: new objects each time. */
  const idpKeys = (): readonly VerificationKey[] => {
    const parsed = parseJwks(jwksOf(idp));
    if (!parsed.ok) throw new Error("the idp's JWKS does not parse");
    return parsed.keys;
  };

  it("verifies a token once and serves repeats from the cache until it expires", async () => {
    const held = idpKeys();
    const { counts, world } = countingKeys(() => held);
    const exp = Math.floor(Date.now() / 1000) + 5;
    const token = await good({ exp });
    for (let i = 0; i < 5; i++) expect((await world({ path: "/jwt", headers: bearer(token) })).status).toBe(200);
    expect(counts.verifications).toBe(1);
    // Past exp + skew the cached verdict is not used: the token is verified again and refused.
    const later = { ...world.ctx, now: () => (exp + 61) * 1000 };
    const request = { method: "GET", scheme: "http", host: "api.example.com", path: "/jwt", headers: bearer(token), gateway: undefined };
    expect((await check(world.result.snapshot, request, later)).code).toBe("jwt_expired");
    expect(counts.verifications).toBe(2);
  });
  it("refuses a cached token at once when its key leaves the key set (a JWKS refetched without it), as Envoy, which keeps no verdict", async () => {
    let held = idpKeys();
    const { counts, world } = countingKeys(() => held);
    const token = await good();
    expect((await world({ path: "/jwt", headers: bearer(token) })).status).toBe(200);
    held = [];
    const r = await world({ path: "/jwt", headers: bearer(token) });
    expect([r.status, r.code]).toEqual([401, "jwt_no_key"]);
    // The key back in a set fetched again (new objects): verified again, then served from the cache.
    held = idpKeys();
    for (let i = 0; i < 3; i++) expect((await world({ path: "/jwt", headers: bearer(token) })).status).toBe(200);
    expect(counts.verifications).toBe(2);
  });
});
