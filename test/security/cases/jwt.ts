/** JWT: algorithms, keys, header members, encodings, claims, time, issuer, audience, several tokens. */
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import type { Ctx } from "../context.ts";
import { fromDecision, managedHeadersOf, type Case, type Expected, type Outcome } from "../outcome.ts";
import { b64, hmacToken, HOST, ISSUER, jwksOf as securityJwks, jws, now, OTHER_ISSUER, token, type Keys } from "../world.ts";
import { parseJwks, type VerificationKey } from "../../../controller/api/jwks.ts";
import { bearer as bearerHeader, checkWorldText, countingKeyStore, ISSUER as CHECK_WORLD_ISSUER } from "../../support/check-world.ts";
import { decider } from "../../support/world.ts";
import { gatewayWithRoute, policiesOnRules, securityPolicy } from "../../support/manifests.ts";
import { jwksOf, mint, signingKey, type SigningKey } from "../../support/tokens.ts";
import { heapHeldByAwaited } from "../../support/heap.ts";
import type { Decision } from "../../../controller/authz/decision.ts";

/** A valid token on /jwt: x-user-id from sub (every other managed header is removed). */
const OK: Expected = { status: 200, code: "allowed", upstream: { "x-user-id": "u-1" } };
const invalid = (reason: string): Expected => ({ status: 401, code: "jwt_invalid", reason });
/** Refusals with their own reason code (the client still sees jwt_invalid and Envoy's words). */
const refused = (code: string, reason: string): Expected => ({ status: 401, code, reason });
const badSignature = refused("jwt_bad_signature", "Jwt verification fails");
const noKey = refused("jwt_no_key", "Jwks doesn't have key to match kid or alg from Jwt");
const expired = refused("jwt_expired", "Jwt is expired");
const notYetValid = refused("jwt_not_yet_valid", "Jwt is not yet valid");
const unknownIssuer = refused("jwt_unknown_issuer", "Jwt issuer is not configured");
const audience: Expected = { status: 403, code: "jwt_audience", reason: "Audiences in Jwt are not allowed" };
const missing: Expected = { status: 401, code: "jwt_missing", reason: "Jwt is missing" };
const malformed = invalid("Jwt is not well formed");
const audienceType = invalid("Jwt aud claim is not a string or an array of strings");
const CLAIM_RANGE =
  "exp, nbf and iat were only required to be finite numbers, so a validly signed token whose time claim Envoy's jwt_authn reads as out of range (below 0, or 2^64 and above: it reads them as unsigned 64-bit integers) and refuses was allowed; such a token is now refused as Envoy refuses it";
const LONE_SURROGATE =
  "JSON.parse reads an escaped surrogate with no partner (`\\ud800` alone) as a string holding half a character, so a validly signed token that Envoy's jwt_authn refuses (its JSON parser, protobuf's, refuses an unpaired surrogate) was allowed, and the half character could reach a claim header or an authorization rule; such a header or payload is now refused";
const CLAIM_NUMBERS =
  "a number claim went upstream as JavaScript's String() writes it (-1, 1e-7, 18446744073709550000), where Envoy's jwt_authn writes a whole number from 0 to below 2^64 as that integer and any other as C's %f (-1.000000, 0.000000): an upstream or a header rule written for Envoy's spelling read another value (a Deny rule on x-tier: -1.000000 never matched); numbers are now written as Envoy writes them";
const CLAIM_TYPES =
  "sub and jti were not checked, so a validly signed token whose sub or jti is not a string, which Envoy's jwt_authn refuses, was allowed; iss, sub and jti must now be strings when present, as Envoy requires";
/** Why a token only another reading finds gives no identity where Envoy's reading finds none. */
const ENVOY_READS_NO_IDENTITY =
  "a token only another reading of the query or the Cookie header finds (a `;` split, a cookie name in another letter case) gave an optional route's request an identity (x-user-id, claims an authorization rule matched) that Envoy, finding no token, never gives; it is verified, but gives no identity";
const COOKIE_COMMA =
  "the Cookie header was split at `;` only, as Envoy and RFC 6265 split it, so a token after a `,` inside a pair (`theme=dark,session=<t>`) was never verified and reached the upstream, where Rack before 2.2 and RFC 2965 parsers (Tomcat's legacy cookie processor, Jetty's) read it as the `session` cookie; the pieces of a pair split at `,` are now a reading too, and every token found must verify";
const COOKIE_CASE =
  "cookie names were compared case-sensitively, as Envoy compares them, so a token in a cookie whose name differs only in letter case was never verified and reached the upstream, where ASP.NET Core (which reads cookie names in any case) may take it; every cookie whose name matches in any case is now a copy that must verify";

const bearer = (ctx: Ctx, t: string, path = "/jwt") => ctx.check({ path, headers: { authorization: `Bearer ${t}` } });
/** Signs exactly this header and payload text with the provider's ES256 key. */
/** On /jwt: a valid idp token in Authorization, and a forged cookie-idp token (sub admin) in cookie `name`. */
const forgedCookieBesideBearer = (ctx: Ctx, name: string) =>
  ctx.check({
    path: "/jwt",
    headers: {
      authorization: `Bearer ${token({}, {}, undefined, ctx.keys)}`,
      cookie: `${name}=${token({ iss: OTHER_ISSUER, sub: "admin" }, {}, ctx.keys.stranger)}`,
    },
  });
const rawSigned = (ctx: Ctx, header: string, payload: string | Buffer) => jws(header, payload, ctx.keys.es);
const HEADER = '{"alg":"ES256","kid":"es-1","typ":"JWT"}';
/** The order n of P-256's group (SEC 2): s and n − s are the two spellings of one ECDSA signature. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const claims = (extra = "") => `{"iss":"${ISSUER}","aud":"api","sub":"u-1","exp":${now() + 300}${extra}}`;

function c(id: string, title: string, expect: Expected, run: (ctx: Ctx) => Promise<Outcome>, fixed?: string): Case {
  return { id: `jwt.${id}`, title, expect, run, ...(fixed === undefined ? {} : { fixed }) };
}
/** A case that sends one token as `Authorization: Bearer` to /jwt. */
function t(id: string, title: string, expect: Expected, make: (ctx: Ctx) => string, fixed?: string): Case {
  return c(id, title, expect, (ctx) => bearer(ctx, make(ctx)), fixed);
}

/**
 * A token of the check world's issuer signed by a key made for it, `kind`: an EdDSA key on that curve,
 * or an RS256 key of 2048 bits with that public exponent; sent to /jwt under a JWKS of that key alone.
 */
async function signedByOwnKey(kind: "ed25519" | "ed448" | { readonly publicExponent: number }): Promise<Outcome> {
  const edwards = typeof kind === "string";
  const pair = edwards
    ? generateKeyPairSync(kind as "ed25519")
    : generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: kind.publicExponent });
  const alg = edwards ? "EdDSA" : "RS256";
  const world = decider(checkWorldText(JSON.stringify({ keys: [{ ...pair.publicKey.export({ format: "jwk" }), kid: "own", alg }] })));
  const input = `${b64(JSON.stringify({ alg, kid: "own", typ: "JWT" }))}.${b64(JSON.stringify({ iss: CHECK_WORLD_ISSUER, aud: "api", sub: "u-1", exp: now() + 300 }))}`;
  const signature = sign(edwards ? null : "sha256", Buffer.from(input), pair.privateKey).toString("base64url");
  return fromDecision(
    await world({ path: "/jwt", headers: bearerHeader(`${input}.${signature}`) }),
    managedHeadersOf(world.result.snapshot.policies),
  );
}
const ENVOY_KEYS =
  "keys Envoy's jwt_authn skips when it reads a JWKS (source/common/jwt/jwks.cc: OKP keys on Ed25519 only, RSA keys with the public exponent 3 or 65537 only) verified tokens here, so a token such a key signed, which Envoy refuses, was allowed; such keys now verify nothing (as a key too weak), and the policy's status or the key store's log lists them as unusable";

/** The keys of `key`'s JWKS as a fetch gives them (new objects each time). */
function fetchedKeys(...keys: SigningKey[]): readonly VerificationKey[] {
  const parsed = parseJwks(jwksOf(...keys));
  if (!parsed.ok) throw new Error("the JWKS does not parse");
  return parsed.keys;
}

/**
 * The check world on a clock of its own (`clock.ms`), its provider's keys those of a JWKS fetched
 * now (`refetch` fetches it again, holding other keys), signature checks counted. `send` puts a
 * token on /jwt; `outcome` turns a decision into the catalogue's Outcome.
 */
async function keyWorld(kid: string) {
  const key = await signingKey(kid);
  let held = fetchedKeys(key);
  const clock = { ms: Date.now() };
  const { counts, keys } = countingKeyStore({ held: () => held });
  const world = decider(checkWorldText(jwksOf(key)), { keys, now: () => clock.ms });
  return {
    key,
    clock,
    counts,
    mint: (claims: Record<string, unknown> = {}) => mint(key, { iss: CHECK_WORLD_ISSUER, aud: "api", sub: "u-1", ...claims }),
    refetch: (...keys: SigningKey[]) => void (held = keys.length === 0 ? [] : fetchedKeys(...keys)),
    send: (token: string) => world({ path: "/jwt", headers: bearerHeader(token) }),
    outcome: (d: Decision) => fromDecision(d, managedHeadersOf(world.result.snapshot.policies)),
  };
}

/** `token` with its ES256 signature's s replaced by n − s: the other spelling of the same signature. */
function otherSpelling(token: string): string {
  const dot = token.lastIndexOf(".");
  const signature = Buffer.from(token.slice(dot + 1), "base64url");
  const s = BigInt(`0x${signature.subarray(32).toString("hex")}`);
  const other = Buffer.from((P256_ORDER - s).toString(16).padStart(64, "0"), "hex");
  return `${token.slice(0, dot)}.${Buffer.concat([signature.subarray(0, 32), other]).toString("base64url")}`;
}

/**
 * A valid token on the check world's /jwt, seen `sights` times (once: only the doorkeeper's record
 * of it; twice: admitted into the verdict cache), then the same token once its key has left the
 * JWKS (the key store fetched it again without the key): the last answer.
 */
async function afterKeyRemoved(sights: number): Promise<Outcome> {
  const w = await keyWorld("leaving-1");
  const token = await w.mint();
  for (let i = 0; i < sights; i++) {
    const d = await w.send(token);
    if (!d.allowed) throw new Error(`the token was refused before its key left: ${d.message}`);
  }
  w.refetch();
  return w.outcome(await w.send(token));
}

/**
 * A valid token seen once on the check world's /jwt (its key `kid`), then `other(token)`: its answer, and whether a
 * key was tried for it (a signature of another length, or text that is not canonical, is refused before any is).
 */
async function firstSightThen(kid: string, other: (token: string) => string): Promise<{ outcome: Outcome; keyTried: boolean }> {
  const w = await keyWorld(kid);
  const token = await w.mint();
  if (!(await w.send(token)).allowed) throw new Error("the valid token was refused");
  const before = w.counts.verifications;
  const outcome = w.outcome(await w.send(other(token)));
  return { outcome, keyTried: w.counts.verifications !== before };
}

/** firstSightThen, where the other token must have had its signature checked again. */
async function afterFirstSight(other: (token: string) => string): Promise<Outcome> {
  const { outcome, keyTried } = await firstSightThen("seen-1", other);
  if (!keyTried) throw new Error("the other token was answered without a signature check");
  return outcome;
}

/**
 * Two rules of one route, /a and /b, each under a jwt policy of its own for one issuer: `a` and `b`
 * are each provider's YAML fields besides name and issuer. A token sent to /a and then to /b: the
 * answer on /b, whatever a record of its first sight on /a holds.
 */
async function seenOnAThenB(a: string, b: string, token: string): Promise<Outcome> {
  const provider = (fields: string) => `jwt: {providers: [{name: idp, issuer: ${CHECK_WORLD_ISSUER}, ${fields}}]}`;
  const world = decider(
    policiesOnRules("api.example.com", { a: { path: "/a", features: provider(a) }, b: { path: "/b", features: provider(b) } }),
  );
  const first = await world({ path: "/a", headers: bearerHeader(token) });
  if (!first.allowed) throw new Error(`the token was refused on /a: ${first.message}`);
  return fromDecision(await world({ path: "/b", headers: bearerHeader(token) }), managedHeadersOf(world.result.snapshot.policies));
}

/**
 * Rules /bare (a required jwt) and /bare-optional (an optional one) reading the token from header
 * X-Token with no valuePrefix, /prefixed-optional from X-Token after "Token ", /cookie-optional
 * (optional) from the `session` cookie, /cookie-members the same with an authorization rule letting
 * only sub u-1 in (default Deny), and /cookie-first a required jwt of two providers, `cookies` (the
 * other issuer's, from the `session` cookie, sub to x-other-sub) before `idp` (Authorization): one
 * world per key set.
 */
const headerWorlds = new WeakMap<Keys, ReturnType<typeof decider>>();
function headerWorld(keys: Keys) {
  let world = headerWorlds.get(keys);
  if (world === undefined) {
    const provider = (header: string) => providerFrom(`headers: [${header}]`);
    const providerFrom = (extractFrom: string) =>
      `{name: idp, issuer: ${ISSUER}, audiences: [api], localJWKS: {inline: '${securityJwks(keys.es)}'}, claimToHeaders: [{claim: sub, header: x-user-id}], extractFrom: {${extractFrom}}}`;
    world = decider(
      policiesOnRules(HOST, {
        bare: { path: "/bare", features: `jwt: {providers: [${provider("{name: X-Token}")}]}` },
        "bare-optional": { path: "/bare-optional", features: `jwt: {optional: true, providers: [${provider("{name: X-Token}")}]}` },
        "prefixed-optional": {
          path: "/prefixed-optional",
          features: `jwt: {optional: true, providers: [${provider('{name: X-Token, valuePrefix: "Token "}')}]}`,
        },
        "cookie-optional": {
          path: "/cookie-optional",
          features: `jwt: {optional: true, providers: [${providerFrom("cookies: [session]")}]}`,
        },
        "cookie-members": {
          path: "/cookie-members",
          features: `{jwt: {optional: true, providers: [${providerFrom("cookies: [session]")}]}, authorization: {defaultAction: Deny, rules: [{name: members, action: Allow, principal: {jwt: {provider: idp, claims: [{name: sub, values: [u-1]}]}}}]}}`,
        },
        "cookie-first": {
          path: "/cookie-first",
          features: `jwt: {providers: [{name: cookies, issuer: ${OTHER_ISSUER}, localJWKS: {inline: '${securityJwks(keys.es)}'}, claimToHeaders: [{claim: sub, header: x-other-sub}], extractFrom: {cookies: [session]}}, ${provider("{name: Authorization, valuePrefix: 'Bearer '}")}]}`,
        },
      }),
    );
    headerWorlds.set(keys, world);
  }
  return world;
}
/** GET `path` (/cookie-optional unless given) of headerWorld with this Cookie header, and `headers`. */
async function sessionCookie(ctx: Ctx, cookie: string, path = "/cookie-optional", headers: Record<string, string> = {}): Promise<Outcome> {
  const world = headerWorld(ctx.keys);
  return fromDecision(await world({ path, headers: { ...headers, cookie } }), managedHeadersOf(world.result.snapshot.policies));
}
/** GET `path` of headerWorld with header X-Token holding `lines` (one line per value). */
async function xToken(ctx: Ctx, path: string, ...lines: string[]): Promise<Outcome> {
  const world = headerWorld(ctx.keys);
  const decision = await world({ path, headers: lines.length === 0 ? {} : { "x-token": lines.length === 1 ? lines[0]! : lines } });
  return fromDecision(decision, managedHeadersOf(world.result.snapshot.policies));
}

/**
 * HTTPRoute rules gold (/tiers with `x-tier: gold`) and rest (/tiers), under one policy on the route
 * whose provider sets x-tier from the claim tier (and x-user-id from sub) with recomputeRoute.
 */
const tierWorlds = new WeakMap<Keys, ReturnType<typeof decider>>();
function tierWorld(keys: Keys) {
  let world = tierWorlds.get(keys);
  if (world === undefined) {
    const provider = `{name: idp, issuer: ${ISSUER}, localJWKS: {inline: '${securityJwks(keys.es)}'}, claimToHeaders: [{claim: tier, header: x-tier}, {claim: sub, header: x-user-id}], recomputeRoute: true}`;
    world = decider(
      `${gatewayWithRoute(HOST, {
        gold: "{path: {type: PathPrefix, value: /tiers}, headers: [{name: x-tier, value: gold}]}",
        rest: "/tiers",
      })}---\n${securityPolicy("tiers", `jwt: {providers: [${provider}]}`)}`,
    );
    tierWorlds.set(keys, world);
  }
  return world;
}
/** GET /tiers of tierWorld with a valid token holding `claims`, and `headers`. */
async function tiered(ctx: Ctx, claims: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Outcome> {
  const world = tierWorld(ctx.keys);
  const decision = await world({
    path: "/tiers",
    headers: { authorization: `Bearer ${token(claims, {}, undefined, ctx.keys)}`, ...headers },
  });
  return fromDecision(decision, managedHeadersOf(world.result.snapshot.policies));
}
const RECOMPUTE_ROUTE =
  "jwt's recomputeRoute was accepted and ignored: Envoy Gateway routes the request again once jwt_authn added a claim header (Envoy's clear_route_cache), to the rule matching it, while the proxy asking Portcullis routes once, on the client's headers, so a bronze token sent with x-tier: gold was allowed on the gold rule, whose backend Envoy Gateway never sends it to; an allow is now refused where routing again on the claim headers takes another rule";
const ROUTED_AGAIN: Expected = { status: 403, code: "route_mismatch", reason: "recomputeRoute routes the request again" };

/** A valid token with `claims` as `Authorization: Bearer`. */
const bearerOf = (ctx: Ctx, claims: Record<string, unknown> = {}) => ({
  authorization: `Bearer ${token(claims, {}, undefined, ctx.keys)}`,
});

/** `world`'s decision on `request`, with the messages of its policies' False conditions. */
async function decidedWithConditions(
  world: ReturnType<typeof decider>,
  request: Parameters<ReturnType<typeof decider>>[0],
): Promise<Outcome> {
  const conditions = world.result.statuses.flatMap((s) =>
    s.ancestors.flatMap((a) => a.conditions.filter((c) => c.status === "False").map((c) => c.message)),
  );
  return fromDecision(await world(request), managedHeadersOf(world.result.snapshot.policies), conditions.join("; "));
}

/**
 * A valid token signed by keys.es, to /keys-in-configmap, whose provider reads its JWKS from ConfigMap
 * apps/jwks holding `data` (the name of the key → `es` for the token's key set, `other` for another).
 */
async function fromConfigMap(ctx: Ctx, data: Record<string, "es" | "other">): Promise<Outcome> {
  const sets = { es: securityJwks(ctx.keys.es), other: securityJwks(ctx.keys.stranger) };
  const configMap = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: jwks, namespace: apps}\ndata: ${JSON.stringify(
    Object.fromEntries(Object.entries(data).map(([k, v]) => [k, sets[v]])),
  )}\n`;
  const world = decider(
    policiesOnRules(
      HOST,
      {
        cm: {
          path: "/keys-in-configmap",
          features: `jwt: {providers: [{name: idp, issuer: ${ISSUER}, localJWKS: {type: ValueRef, valueRef: {group: '', kind: ConfigMap, name: jwks}}, claimToHeaders: [{claim: sub, header: x-user-id}]}]}`,
        },
      },
      configMap,
    ),
  );
  return decidedWithConditions(world, { path: "/keys-in-configmap", headers: bearerOf(ctx) });
}

/** No authorization rule allows the request (defaultAction Deny). */
const NO_RULE_ALLOWS: Expected = { status: 403, code: "authz_denied", reason: "no authorization rule allows the request" };
const SPACE_DELIMITED =
  "principal.jwt.claims read `scope` and `scp` as the token wrote them, where Envoy Gateway's rules read jwt_authn's metadata, in which a space-delimited string is already a list (normalize_payload_in_metadata): a String rule matched what Envoy never matches and a StringArray rule missed what it does; both claims are now read as a list there too";
/** A valid token with these claims on /scopes (rules on the `scope` and `scp` claims). */
const scoped = (id: string, title: string, expect: Expected, extra: Record<string, unknown>, fixed?: string) =>
  c(id, title, expect, (ctx) => bearer(ctx, token(extra, {}, undefined, ctx.keys), "/scopes"), fixed);

export const jwtCases: readonly Case[] = [
  c(
    "key-removed-while-cached",
    "a valid token sent twice (admitted into the verdict cache), then the same token after its key left the issuer's JWKS (fetched again without it)",
    noKey,
    () => afterKeyRemoved(2),
    "a verified token was answered from the verdict cache for up to 60 s after its key left the JWKS, where Envoy (which keeps no verdict) refuses it at once; a verdict now holds only while the key set it was verified with is the one held",
  ),
  // The doorkeeper (a token is admitted into the verdict cache on its second sight; its first leaves
  // only a record that this exact token verified under this key set): what a record must not excuse.
  c(
    "key-removed-after-first-sight",
    "a valid token seen once (only the doorkeeper's record of it), then the same token after its key left the JWKS",
    noKey,
    () => afterKeyRemoved(1),
  ),
  c(
    "key-replaced-after-first-sight",
    "a valid token seen once, then the same token after the JWKS was fetched again with another key under the same kid",
    badSignature,
    async () => {
      const w = await keyWorld("rotated-1");
      const token = await w.mint();
      if (!(await w.send(token)).allowed) throw new Error("the valid token was refused");
      w.refetch(await signingKey("rotated-1"));
      return w.outcome(await w.send(token));
    },
  ),
  c(
    "first-sight-then-expired",
    "a valid token expiring in 10 s seen once, then the same token 71 s later (past exp and the 60 s skew)",
    expired,
    async () => {
      const w = await keyWorld("expiring-1");
      const exp = Math.floor(w.clock.ms / 1000) + 10;
      const token = await w.mint({ exp });
      if (!(await w.send(token)).allowed) throw new Error("the valid token was refused");
      w.clock.ms = (exp + 61) * 1000;
      return w.outcome(await w.send(token));
    },
  ),
  c(
    "first-sight-same-start",
    "a valid token seen once, then one of the same length with the same header, payload and signature start (its r), one character of s changed",
    badSignature,
    () =>
      afterFirstSight((token) => {
        // Position 60 of the 86-character signature lies in s, away from the last character's spare bits.
        const at = token.lastIndexOf(".") + 1 + 60;
        return `${token.slice(0, at)}${token[at] === "A" ? "B" : "A"}${token.slice(at + 1)}`;
      }),
  ),
  c(
    "first-sight-payload-swapped",
    "a valid token seen once (sub u-1), then the same header and signature over a payload of the same length naming u-2",
    badSignature,
    () =>
      afterFirstSight((token) => {
        const [header, payload, signature] = token.split(".") as [string, string, string];
        const claims = Buffer.from(payload, "base64url").toString().replace('"sub":"u-1"', '"sub":"u-2"');
        return `${header}.${Buffer.from(claims).toString("base64url")}.${signature}`;
      }),
  ),
  c(
    "first-sight-forged-signature",
    "a valid token seen once, then its header and payload under another signature of the right size (64 random bytes)",
    badSignature,
    () => afterFirstSight((token) => `${token.slice(0, token.lastIndexOf("."))}.${randomBytes(64).toString("base64url")}`),
  ),
  c(
    "first-sight-prefix",
    "a valid token seen once, then the same token without its signature's last 2 characters (a prefix, 63 bytes, canonical base64url)",
    badSignature,
    // Refused by the signature's length before any key is tried: not afterFirstSight, which counts key checks.
    async () => (await firstSightThen("prefix-1", (token) => token.slice(0, -2))).outcome,
  ),
  c(
    "first-sight-signature-extended",
    "a valid token seen once, then the same token with 64 bytes more after its signature's 64 (the genuine bytes first, 128 in all, canonical base64url)",
    badSignature,
    // ECDSA signatures are decoded into one buffer reused for every token: only a signature of exactly the
    // algorithm's length may be converted, never the start of a longer one.
    async () => {
      const extended = (token: string) => {
        const dot = token.lastIndexOf(".");
        return `${token.slice(0, dot)}.${Buffer.concat([Buffer.from(token.slice(dot + 1), "base64url"), randomBytes(64)]).toString("base64url")}`;
      };
      return (await firstSightThen("extended-1", extended)).outcome;
    },
  ),
  c(
    "first-sight-spare-bits",
    "a valid token seen once, then the same token with the spare low bits of its signature's last character set (the same bytes to a lax decoder)",
    invalid("not canonical base64url"),
    async () => {
      // 64 bytes are 85 full characters and one holding 4 bits: its 2 low bits are spare.
      const last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
      return (await firstSightThen("spare-1", (token) => `${token.slice(0, -1)}${last[last.indexOf(token.at(-1)!) | 1]!}`)).outcome;
    },
  ),
  c(
    "first-sight-then-clock-back",
    "a token whose nbf is 50 s ahead (within the 60 s skew) seen once, then again after the clock stepped back 20 s (nbf 70 s ahead)",
    notYetValid,
    async () => {
      const w = await keyWorld("clock-1");
      const token = await w.mint({ nbf: Math.floor(w.clock.ms / 1000) + 50 });
      if (!(await w.send(token)).allowed) throw new Error("the valid token was refused");
      w.clock.ms -= 20_000;
      return w.outcome(await w.send(token));
    },
  ),
  c(
    "first-sight-other-provider-same-kid",
    "a token verified on /a (its provider's JWKS holds the signing key as kid k1), then sent to /b, whose provider's JWKS holds another key as k1",
    badSignature,
    async () => {
      const [signer, other] = [await signingKey("k1"), await signingKey("k1")];
      const inline = (k: SigningKey) => `localJWKS: {inline: '${jwksOf(k)}'}`;
      return seenOnAThenB(inline(signer), inline(other), await mint(signer, { iss: CHECK_WORLD_ISSUER, sub: "u-1" }));
    },
  ),
  c(
    "first-sight-other-audience",
    "a token for audience api verified on /a, then sent to /b, whose provider (the same JWKS) takes only audience billing",
    audience,
    async () => {
      const key = await signingKey("k1");
      const jwks = `localJWKS: {inline: '${jwksOf(key)}'}`;
      return seenOnAThenB(
        `audiences: [api], ${jwks}`,
        `audiences: [billing], ${jwks}`,
        await mint(key, { iss: CHECK_WORLD_ISSUER, aud: "api" }),
      );
    },
  ),
  c(
    "long-headers-under-cached-signature",
    "1024 tokens whose JOSE headers are 15 KB each (distinct, the tokens within the 16 KiB cap), under the signature of a token in the verdict cache: refused, and under 4 MiB of heap held",
    badSignature,
    async () => {
      const w = await keyWorld("long-1");
      const token = await w.mint();
      for (let i = 0; i < 2; i++) if (!(await w.send(token)).allowed) throw new Error("the valid token was refused");
      const [, payload, signature] = token.split(".") as [string, string, string];
      const padding = "x".repeat(11 * 1024);
      const { bytes, value } = await heapHeldByAwaited(async () => {
        let last: Decision | undefined;
        for (let i = 0; i < 1024; i++) {
          const header = Buffer.from(`{"alg":"ES256","kid":"long-1","n":${i},"pad":"${padding}"}`).toString("base64url");
          last = await w.send(`${header}.${payload}.${signature}`);
        }
        return last!;
      });
      if (bytes > 4 * 1024 * 1024) throw new Error(`the refused tokens' headers hold ${bytes} bytes of heap`);
      return w.outcome(value);
    },
    "a token is looked up before it is decoded, and a miss under a cached token's signature read its header's alg through a memo of 1024 header segments of any length: 1024 such tokens held 15 MB (60 KiB headers, 84 MB); only segments of up to 512 characters are remembered now, and a token over the 16 KiB cap is not read",
  ),
  // Algorithms and keys
  t(
    "alg-none",
    "`alg: none`, empty signature",
    invalid('algorithm "none" is not accepted'),
    () => `${b64('{"alg":"none","typ":"JWT"}')}.${b64(claims())}.`,
  ),
  t("alg-none-case", "`alg: None` (case variant), signed by the real key", invalid('algorithm "None" is not accepted'), (ctx) =>
    rawSigned(ctx, '{"alg":"None","kid":"es-1"}', claims()),
  ),
  t("hs256-public-jwk", "HS256 keyed with the provider's public JWK (algorithm confusion)", badSignature, (ctx) =>
    hmacToken(JSON.stringify(ctx.keys.es.publicKey.export({ format: "jwk" })), JSON.parse(claims()) as Record<string, unknown>, "es-1"),
  ),
  t("hs256-public-pem", "HS256 keyed with the provider's RSA public key PEM", badSignature, (ctx) =>
    hmacToken(ctx.keys.rsa.publicKey.export({ format: "pem", type: "spki" }), JSON.parse(claims()) as Record<string, unknown>, "rsa-1"),
  ),
  t("alg-key-mismatch", "RS256 token whose kid names the EC key", badSignature, (ctx) => token({}, { kid: "es-1" }, ctx.keys.rsa)),
  t("ecdsa-der", "ES256 signature in DER instead of JOSE's raw r||s", badSignature, (ctx) => {
    const input = `${b64(HEADER)}.${b64(claims())}`;
    return `${input}.${sign("sha256", Buffer.from(input), { key: ctx.keys.es.privateKey, dsaEncoding: "der" }).toString("base64url")}`;
  }),
  c(
    "ecdsa-high-s",
    "a valid ES256 token, then the same token with its signature re-spelt as (r, n − s), which verifies too, then each again",
    OK,
    async () => {
      const w = await keyWorld("spelt-1");
      const valid = await w.mint();
      const other = otherSpelling(valid);
      const answers = [];
      for (const t of [valid, other, valid, other]) answers.push(await w.send(t));
      // One token, one verdict: the signature is checked once; the other spelling is its second sight
      // (admitted), and from then on both spellings are answered from that one entry.
      if (w.counts.verifications !== 1) throw new Error(`the two spellings were verified ${w.counts.verifications} times`);
      if (answers[2] !== answers[1] || answers[3] !== answers[1]) throw new Error("the two spellings hold separate verdicts");
      return w.outcome(answers[3]!);
    },
    "SECURITY.md said one token has one spelling, but an ECDSA signature has two that both verify (as in Envoy and WebCrypto); the cache now treats them as one token, with one verdict",
  ),
  c(
    "signature-start-copied",
    "a valid ES256 token, then the same header and payload with its signature's r kept (the start the token cache finds entries by) and s replaced",
    badSignature,
    async (ctx) => {
      const valid = token({}, {}, undefined, ctx.keys);
      await bearer(ctx, valid);
      const dot = valid.lastIndexOf(".");
      const r = Buffer.from(valid.slice(dot + 1), "base64url").subarray(0, 32);
      return bearer(ctx, `${valid.slice(0, dot)}.${Buffer.concat([r, Buffer.alloc(32, 7)]).toString("base64url")}`);
    },
  ),
  t("unknown-kid", "a kid no key has", noKey, (ctx) => token({}, { kid: "nope" }, undefined, ctx.keys)),
  t("forged-known-kid", "the provider's kid, signed by another key", badSignature, (ctx) => token({}, {}, ctx.keys.stranger)),
  t("kid-traversal", "kid `../../../../dev/null`", noKey, (ctx) => token({}, { kid: "../../../../dev/null" }, undefined, ctx.keys)),
  t("kid-not-string", "kid is a number", invalid("kid is not a string"), (ctx) => token({}, { kid: 1 }, undefined, ctx.keys)),
  c("jku-ignored", "`jku` pointing at the attacker's JWKS, signed by the attacker's key (never fetched)", badSignature, async (ctx) => {
    const o = await bearer(ctx, token({}, { jku: ctx.lure.url("/jku") }, ctx.keys.stranger));
    if (ctx.lure.hits("/jku") !== 0) throw new Error("jku was fetched");
    return o;
  }),
  c("x5u-ignored", "`x5u` pointing at the attacker's certificate (never fetched)", badSignature, async (ctx) => {
    const o = await bearer(ctx, token({}, { x5u: ctx.lure.url("/x5u") }, ctx.keys.stranger));
    if (ctx.lure.hits("/x5u") !== 0) throw new Error("x5u was fetched");
    return o;
  }),
  t("jwk-embedded", "the attacker's public key embedded as `jwk`", badSignature, (ctx) =>
    token({}, { jwk: ctx.keys.stranger.publicKey.export({ format: "jwk" }) }, ctx.keys.stranger),
  ),
  t("x5c-embedded", "a certificate chain embedded as `x5c`", badSignature, (ctx) =>
    token({}, { x5c: ["MIIBszCCAVmgAwIBAgIU"] }, ctx.keys.stranger),
  ),
  // Header members
  t("crit", '`crit: ["exp"]`, validly signed', invalid("crit"), (ctx) => token({}, { crit: ["exp"] }, undefined, ctx.keys)),
  t("b64-false", "`b64: false` (unencoded payload), validly signed", invalid("crit"), (ctx) =>
    token({}, { b64: false, crit: ["b64"] }, undefined, ctx.keys),
  ),
  t(
    "typ-other",
    "`typ: dpop+jwt` (a JWT of another kind), validly signed",
    invalid("typ"),
    (ctx) => token({}, { typ: "dpop+jwt" }, undefined, ctx.keys),
    "typ was ignored; now absent, JWT and at+jwt (RFC 9068) are accepted, any other type is refused (RFC 8725 §3.11)",
  ),
  t(
    "typ-not-string",
    "`typ` is an array, validly signed",
    invalid("typ"),
    (ctx) => token({}, { typ: ["JWT"] }, undefined, ctx.keys),
    "see jwt.typ-other",
  ),
  t("typ-at-jwt", "`typ: application/at+jwt` (RFC 9068 access token)", OK, (ctx) =>
    token({}, { typ: "application/at+jwt" }, undefined, ctx.keys),
  ),
  t("typ-absent", "no `typ`", OK, (ctx) => token({}, { typ: undefined }, undefined, ctx.keys)),
  // Encoding
  t("base64-padding", "`=` padding on the signature", invalid("not base64url"), (ctx) => `${token({}, {}, undefined, ctx.keys)}==`),
  t("base64-standard", "standard base64 signature (`+`, `/`, padding)", invalid("not base64url"), (ctx) => {
    const [h, p, s] = token({}, {}, undefined, ctx.keys).split(".");
    return `${h}.${p}.${Buffer.from(s!, "base64url").toString("base64")}`;
  }),
  t(
    "base64-noncanonical",
    "signature re-spelt with a non-zero spare bit (same bytes, another string)",
    invalid("canonical"),
    (ctx) => {
      const good = token({}, {}, undefined, ctx.keys);
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
      return good.slice(0, -1) + alphabet[alphabet.indexOf(good.at(-1)!) | 1];
    },
    "the same signature had several spellings (so one token had several cache keys and strings); only the canonical one is accepted",
  ),
  t("empty-signature", "ES256 header with an empty signature", invalid("no signature"), () => `${b64(HEADER)}.${b64(claims())}.`),
  t("four-parts", "four dot-separated parts", invalid("three dot-separated parts"), (ctx) => `${token({}, {}, undefined, ctx.keys)}.x`),
  t("jwe", "a five-part JWE", invalid("three dot-separated parts"), () => "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"),
  t(
    "nested-jwt",
    "a validly signed token (`cty: JWT`) whose payload is another valid token, not a JSON object (Envoy's jwt_authn reads no nested JWT)",
    invalid("payload is not a JSON object"),
    (ctx) => rawSigned(ctx, '{"alg":"ES256","kid":"es-1","cty":"JWT"}', token({}, {}, undefined, ctx.keys)),
  ),
  t("huge", "a validly signed token larger than 16 KiB", invalid("larger than 16384 bytes"), (ctx) =>
    token({ pad: "x".repeat(17 * 1024) }, {}, undefined, ctx.keys),
  ),
  t(
    "deep-claims",
    "validly signed, claims nested 4000 deep (org.tier, set as x-tier, among them: its base64 JSON is over 8 KiB)",
    invalid("payload is not a JSON object"),
    (ctx) => rawSigned(ctx, HEADER, claims(`,"org":{"tier":${"[".repeat(4000)}${"]".repeat(4000)}}`)),
    "see jwt.claims-nested-101",
  ),
  t(
    "claims-nested-101",
    "validly signed payload nested 101 deep (the payload object and 100 arrays in a claim no header carries)",
    invalid("payload is not a JSON object"),
    (ctx) => rawSigned(ctx, HEADER, claims(`,"x":${"[".repeat(100)}${"]".repeat(100)}`)),
    "a payload was read however deeply nested, so a validly signed token Envoy's jwt_authn refuses (protobuf's JSON parser stops at 100 levels: \"JSON content was too deeply nested\") was allowed; such a header or payload is now refused",
  ),
  t("claims-nested-100", "validly signed payload nested 100 deep (the payload object and 99 arrays)", OK, (ctx) =>
    rawSigned(ctx, HEADER, claims(`,"x":${"[".repeat(99)}${"]".repeat(99)}`)),
  ),
  t(
    "claim-number-overflow",
    'validly signed payload with `"score": 1e999` (JSON.parse reads Infinity; Envoy\'s JSON parser refuses a number beyond a double)',
    invalid("payload is not a JSON object"),
    (ctx) => rawSigned(ctx, HEADER, claims(',"score":1e999')),
    "JSON.parse reads a number beyond a double as Infinity and the token was allowed, where Envoy's jwt_authn (protobuf's JSON parser: \"invalid number\") refuses it; a header or payload holding such a number is now refused",
  ),
  t("claim-number-large", 'validly signed payload with `"score": 1e308` (a double)', OK, (ctx) =>
    rawSigned(ctx, HEADER, claims(',"score":1e308')),
  ),
  t(
    "claim-number-negative-header",
    "`org.tier: -1` (set as x-tier): Envoy's jwt_authn writes a number that is not a whole number from 0 to 2^64 as C's `%f` (Envoy v1.37 convertClaimDoubleToString)",
    { status: 200, code: "allowed", upstream: { "x-user-id": "u-1", "x-tier": "-1.000000" } },
    (ctx) => token({ org: { tier: -1 } }, {}, undefined, ctx.keys),
    CLAIM_NUMBERS,
  ),
  t(
    "claim-number-fraction-header",
    "`org.tier: 1e-7` (set as x-tier): six decimals, as Envoy writes it (`0.000000`), not JavaScript's `1e-7`",
    { status: 200, code: "allowed", upstream: { "x-user-id": "u-1", "x-tier": "0.000000" } },
    (ctx) => token({ org: { tier: 1e-7 } }, {}, undefined, ctx.keys),
    CLAIM_NUMBERS,
  ),
  t(
    "claim-number-large-integer-header",
    "`org.tier: 18446744073709549568` (the largest double below 2^64, set as x-tier): every digit, as Envoy writes the integer",
    { status: 200, code: "allowed", upstream: { "x-user-id": "u-1", "x-tier": "18446744073709549568" } },
    (ctx) => token({ org: { tier: 2 ** 64 - 2048 } }, {}, undefined, ctx.keys),
    CLAIM_NUMBERS,
  ),
  c(
    "local-jwks-configmap-two-keys",
    "localJWKS from a ConfigMap without a `jwks` key, holding the token's key set under `a.json` and another under `b.json` (Envoy Gateway v1.9.0 buildLocalJWKS takes the first value Go's map iteration yields: either, at random)",
    { status: 403, code: "policy_invalid", condition: 'has no "jwks" key and 2 keys of different values' },
    (ctx) => fromConfigMap(ctx, { "a.json": "es", "b.json": "other" }),
    "the first key in sorted order was read (a.json) where Envoy Gateway reads whichever value Go's random map order yields first, so a token Envoy Gateway refuses whenever it took b.json was allowed; such a ConfigMap is now Invalid, naming the keys, until one is named jwks",
  ),
  c(
    "jwks-keys-named-twice",
    'a JWKS `{"keys":[<another key>],"keys":[<the signing key>]}` (protobuf\'s JSON parser, Envoy\'s, refuses a member named twice, so Envoy takes no key; JSON.parse keeps the last), a token of the signing key',
    { status: 403, code: "policy_invalid", condition: "JWKS is not JSON Envoy's parser reads" },
    async (ctx) => {
      const keyOf = (jwks: string) => JSON.stringify((JSON.parse(jwks) as { keys: unknown[] }).keys[0]);
      const text = `{"keys":[${keyOf(securityJwks(ctx.keys.stranger))}],"keys":[${keyOf(securityJwks(ctx.keys.es))}]}`;
      const world = decider(checkWorldText(text));
      return decidedWithConditions(world, { path: "/jwt", headers: bearerOf(ctx) });
    },
    "a JWKS was read with JSON.parse, which keeps the last of two members of one name, half a character for a lone surrogate and Infinity for 1e999, where Envoy's jwt_authn reads it with protobuf's JSON parser, which refuses such a document and takes no key from it: a token of the second keys array was allowed; such a JWKS is now refused (a local one makes the policy Invalid, a fetched one is a failed fetch)",
  ),
  c(
    "claim-header-method-override",
    "claimToHeaders naming `X-HTTP-Method-Override` (from a claim `verb`), a token whose verb is DELETE, sent as a POST",
    { status: 403, code: "policy_invalid", condition: "makes servers run the request as another method or URL" },
    async (ctx) => {
      const world = decider(
        policiesOnRules(HOST, {
          verbs: {
            path: "/verbs",
            features: `jwt: {providers: [{name: idp, issuer: ${ISSUER}, localJWKS: {inline: '${securityJwks(ctx.keys.es)}'}, claimToHeaders: [{claim: verb, header: X-HTTP-Method-Override}]}]}`,
          },
        }),
      );
      return decidedWithConditions(world, { method: "POST", path: "/verbs", headers: bearerOf(ctx, { verb: "DELETE" }) });
    },
    "a policy could set X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override or X-Rewrite-URL upstream (from a claim, an API key's annotation, an extAuth service's answer), which Rack, ASP.NET, Symfony and IIS run a request as: a POST decided as a POST ran as the claim's DELETE, on a route or rule Portcullis never decided; such a header is now refused for every feature, as X-Original-URL was",
  ),
  c(
    "claim-header-named-twice",
    "claimToHeaders setting x-id from sub and then from email, a token whose email is admin@example.com (Envoy v1.37 jwt_authn adds both as two lines of x-id, sub first)",
    { status: 403, code: "policy_invalid", condition: "x-id is also set from claim sub" },
    (ctx) =>
      decidedWithConditions(
        decider(
          policiesOnRules(HOST, {
            ids: {
              path: "/ids",
              features: `jwt: {providers: [{name: idp, issuer: ${ISSUER}, localJWKS: {inline: '${securityJwks(ctx.keys.es)}'}, claimToHeaders: [{claim: sub, header: x-id}, {claim: email, header: x-id}]}]}`,
            },
          }),
        ),
        { path: "/ids", headers: bearerOf(ctx, { email: "admin@example.com" }) },
      ),
    "a header named twice in one provider's claimToHeaders took the last claim's value (the email) where Envoy adds each claim as a line of its own, the sub first, so an upstream reading the first line took the sub from Envoy and the email from Portcullis; such a provider is now Invalid",
  ),
  c(
    "local-jwks-configmap-jwks-key",
    "localJWKS from a ConfigMap whose `jwks` key holds the token's key set, beside `other.json` holding another",
    { status: 200, code: "allowed", upstream: { "x-user-id": "u-1" } },
    (ctx) => fromConfigMap(ctx, { jwks: "es", "other.json": "other" }),
  ),
  t("payload-array", "validly signed payload that is a JSON array", invalid("payload is not a JSON object"), (ctx) =>
    rawSigned(ctx, HEADER, "[1]"),
  ),
  t(
    "invalid-utf8",
    "validly signed payload with an invalid UTF-8 byte",
    invalid("payload is not a JSON object"),
    (ctx) => rawSigned(ctx, HEADER, Buffer.concat([Buffer.from(claims().slice(0, -1)), Buffer.from(',"name":"\xff"}', "latin1")])),
    "invalid bytes were replaced with U+FFFD and accepted; now the segment must be valid UTF-8",
  ),
  // Duplicate members
  t(
    "dup-header-member",
    "header names `kid` twice, validly signed",
    invalid("header is not a JSON object"),
    (ctx) => rawSigned(ctx, '{"alg":"ES256","kid":"es-1","kid":"rsa-1"}', claims()),
    "duplicate members were accepted (last one wins in JSON.parse, first in other parsers); now the token is refused",
  ),
  t(
    "dup-claim",
    "payload names `sub` twice (`u-1`, then `admin`), validly signed",
    invalid("payload is not a JSON object"),
    (ctx) => rawSigned(ctx, HEADER, claims(',"sub":"admin"')),
    "see jwt.dup-header-member",
  ),
  t(
    "dup-claim-escaped",
    "payload names `sub` and `\\u0073ub`, validly signed",
    invalid("payload is not a JSON object"),
    (ctx) => rawSigned(ctx, HEADER, claims(',"\\u0073ub":"admin"')),
    "see jwt.dup-header-member",
  ),
  t(
    "dup-claim-nested",
    "`org.tier` twice inside a nested object, validly signed",
    invalid("payload is not a JSON object"),
    (ctx) => rawSigned(ctx, HEADER, claims(',"org":{"tier":"gold","tier":"platinum"}')),
    "see jwt.dup-header-member",
  ),
  t(
    "lone-surrogate-claim",
    'payload with `"name":"\\ud800"` (an escaped high surrogate with no low one after it), validly signed',
    invalid("payload is not a JSON object"),
    (ctx) => rawSigned(ctx, HEADER, claims(',"name":"\\ud800"')),
    LONE_SURROGATE,
  ),
  t(
    "lone-low-surrogate-sub",
    'payload whose `sub` is `"u-1\\udc00"` (an unpaired low surrogate), validly signed',
    invalid("payload is not a JSON object"),
    (ctx) => rawSigned(ctx, HEADER, `{"iss":"${ISSUER}","aud":"api","sub":"u-1\\udc00","exp":${now() + 300}}`),
    LONE_SURROGATE,
  ),
  t(
    "lone-surrogate-member-name",
    'payload with a member named `"\\ud83d"`, validly signed',
    invalid("payload is not a JSON object"),
    (ctx) => rawSigned(ctx, HEADER, claims(',"\\ud83d":1')),
    LONE_SURROGATE,
  ),
  t("surrogate-pair-claim", 'payload with `"name":"\\ud83d\\ude00"` (a surrogate pair, one character), validly signed', OK, (ctx) =>
    rawSigned(ctx, HEADER, claims(',"name":"\\ud83d\\ude00"')),
  ),
  t(
    "escaped-backslash-then-u",
    'payload with `"name":"\\\\ud800"` (an escaped backslash, then the letters `ud800`), validly signed',
    OK,
    (ctx) => rawSigned(ctx, HEADER, claims(',"name":"\\\\ud800"')),
  ),
  // Time
  c(
    "eddsa-ed25519",
    "EdDSA, signed by an Ed25519 key of the JWKS",
    { status: 200, code: "allowed", upstream: { "x-user-id": "u-1" } },
    () => signedByOwnKey("ed25519"),
  ),
  c(
    "eddsa-ed448",
    "EdDSA, signed by an Ed448 key of the JWKS (Envoy reads OKP keys on Ed25519 only)",
    badSignature,
    () => signedByOwnKey("ed448"),
    ENVOY_KEYS,
  ),
  c(
    "rsa-exponent-17",
    "RS256, signed by a 2048-bit RSA key whose public exponent is 17 (Envoy reads only 3 and 65537)",
    badSignature,
    () => signedByOwnKey({ publicExponent: 17 }),
    ENVOY_KEYS,
  ),
  c(
    "rsa-exponent-3",
    "RS256, signed by a 2048-bit RSA key whose public exponent is 3",
    { status: 200, code: "allowed", upstream: { "x-user-id": "u-1" } },
    () => signedByOwnKey({ publicExponent: 3 }),
  ),
  t("exp-past-skew", "`exp` 61 s ago (skew is 60 s)", expired, (ctx) => token({ exp: now() - 61 }, {}, undefined, ctx.keys)),
  t("exp-at-skew", "`exp` exactly 60 s ago", expired, (ctx) => token({ exp: now() - 60 }, {}, undefined, ctx.keys)),
  t("exp-within-skew", "`exp` 50 s ago", OK, (ctx) => token({ exp: now() - 50 }, {}, undefined, ctx.keys)),
  t("exp-string", "`exp` is a string", invalid("exp claim is not a number"), (ctx) =>
    token({ exp: String(now() + 300) }, {}, undefined, ctx.keys),
  ),
  t("exp-null", "`exp` is null", invalid("exp claim is not a number"), (ctx) => token({ exp: null }, {}, undefined, ctx.keys)),
  t(
    "exp-far",
    "`exp` 1e300, validly signed (Envoy's jwt_authn reads exp as an unsigned 64-bit integer: 2^64 and more is out of range)",
    invalid("Jwt exp claim is out of range"),
    (ctx) => token({ exp: 1e300 }, {}, undefined, ctx.keys),
    CLAIM_RANGE,
  ),
  t(
    "exp-two-to-the-64",
    "`exp` 2^64 (18446744073709551616), validly signed: the first value Envoy finds out of range",
    invalid("Jwt exp claim is out of range"),
    (ctx) => rawSigned(ctx, HEADER, `{"iss":"${ISSUER}","aud":"api","sub":"u-1","exp":18446744073709551616}`),
    CLAIM_RANGE,
  ),
  t("exp-negative", "`exp` −1 (out of range for Envoy, not merely expired)", invalid("Jwt exp claim is out of range"), (ctx) =>
    token({ exp: -1 }, {}, undefined, ctx.keys),
  ),
  t("exp-zero", "`exp` 0 (Envoy's jwt_authn reads 0 as no `exp` and accepts the token; refused here: stricter)", expired, (ctx) =>
    token({ exp: 0 }, {}, undefined, ctx.keys),
  ),
  t("exp-fraction", "`exp` 50.5 s ago (Envoy truncates it to a whole second; inside the skew either way)", OK, (ctx) =>
    token({ exp: now() - 50.5 }, {}, undefined, ctx.keys),
  ),
  t("exp-absent", "no `exp` (accepted, as by Envoy)", OK, (ctx) => token({ exp: undefined }, {}, undefined, ctx.keys)),
  t("nbf-future", "`nbf` 70 s ahead", notYetValid, (ctx) => token({ nbf: now() + 70 }, {}, undefined, ctx.keys)),
  t("nbf-within-skew", "`nbf` 50 s ahead", OK, (ctx) => token({ nbf: now() + 50 }, {}, undefined, ctx.keys)),
  t(
    "iat-string",
    "`iat` is a string",
    invalid("iat claim is not a number"),
    (ctx) => token({ iat: "yesterday" }, {}, undefined, ctx.keys),
    "iat was not checked; a malformed iat now makes the token invalid (as in jose)",
  ),
  t("iat-future", "`iat` an hour ahead (iat bounds nothing, as in Envoy and jose)", OK, (ctx) =>
    token({ iat: now() + 3600 }, {}, undefined, ctx.keys),
  ),
  t(
    "nbf-negative",
    "`nbf` −1, validly signed (long past, but Envoy reads nbf as an unsigned integer and refuses the token)",
    invalid("Jwt nbf claim is out of range"),
    (ctx) => token({ nbf: -1 }, {}, undefined, ctx.keys),
    CLAIM_RANGE,
  ),
  t(
    "nbf-far-negative",
    "`nbf` −1e300, validly signed",
    invalid("Jwt nbf claim is out of range"),
    (ctx) => token({ nbf: -1e300 }, {}, undefined, ctx.keys),
    CLAIM_RANGE,
  ),
  t(
    "iat-negative",
    "`iat` −1, validly signed (iat bounds nothing, but Envoy refuses it out of range)",
    invalid("Jwt iat claim is out of range"),
    (ctx) => token({ iat: -1 }, {}, undefined, ctx.keys),
    CLAIM_RANGE,
  ),
  t(
    "iat-far",
    "`iat` 1e20, validly signed (above 2^64)",
    invalid("Jwt iat claim is out of range"),
    (ctx) => token({ iat: 1e20 }, {}, undefined, ctx.keys),
    CLAIM_RANGE,
  ),
  t(
    "sub-number",
    "`sub: 42`, validly signed (Envoy's jwt_authn refuses a sub that is not a string)",
    invalid("Jwt sub claim is not a string"),
    (ctx) => token({ sub: 42 }, {}, undefined, ctx.keys),
    CLAIM_TYPES,
  ),
  t(
    "sub-object",
    '`sub: {"id": "u-1"}`, validly signed',
    invalid("Jwt sub claim is not a string"),
    (ctx) => token({ sub: { id: "u-1" } }, {}, undefined, ctx.keys),
    CLAIM_TYPES,
  ),
  t(
    "jti-number",
    "`jti: 7`, validly signed (Envoy refuses a jti that is not a string)",
    invalid("Jwt jti claim is not a string"),
    (ctx) => token({ jti: 7 }, {}, undefined, ctx.keys),
    CLAIM_TYPES,
  ),
  // Issuer and audience
  t("iss-case", "issuer in upper case", unknownIssuer, (ctx) => token({ iss: ISSUER.toUpperCase() }, {}, undefined, ctx.keys)),
  t("iss-trailing-slash", "issuer with a trailing slash", unknownIssuer, (ctx) => token({ iss: `${ISSUER}/` }, {}, undefined, ctx.keys)),
  t("iss-array", "issuer as an array holding the right issuer", unknownIssuer, (ctx) => token({ iss: [ISSUER] }, {}, undefined, ctx.keys)),
  t("iss-absent", "no `iss`", unknownIssuer, (ctx) => token({ iss: undefined }, {}, undefined, ctx.keys)),
  t("aud-case", "`aud: API`", audience, (ctx) => token({ aud: "API" }, {}, undefined, ctx.keys)),
  t("aud-space", '`aud: "api "`', audience, (ctx) => token({ aud: "api " }, {}, undefined, ctx.keys)),
  t("aud-nested", '`aud: [["api"]]` (Envoy: aud is neither a string nor an array of strings)', audienceType, (ctx) =>
    token({ aud: [["api"]] }, {}, undefined, ctx.keys),
  ),
  t(
    "aud-array-with-number",
    '`aud: ["api", 5]`, validly signed: the right audience beside a number (Envoy refuses the whole token)',
    audienceType,
    (ctx) => token({ aud: ["api", 5] }, {}, undefined, ctx.keys),
    "only the strings of an `aud` array were compared and its other members skipped, so a token Envoy's jwt_authn refuses (an aud member that is not a string) was allowed; it is now refused as Envoy refuses it",
  ),
  t("aud-number", "`aud: 5`", audienceType, (ctx) => token({ aud: 5 }, {}, undefined, ctx.keys)),
  t("aud-absent", "no `aud` where the provider requires one", audience, (ctx) => token({ aud: undefined }, {}, undefined, ctx.keys)),
  t("aud-array", "`aud: [billing, api]`", OK, (ctx) => token({ aud: ["billing", "api"] }, {}, undefined, ctx.keys)),
  // Where tokens are found
  c("scheme-basic", "`Authorization: Basic …` (not a bearer token)", missing, (ctx) =>
    ctx.check({ path: "/jwt", headers: { authorization: "Basic YWxpY2U6cHc=" } }),
  ),
  c(
    "semicolon-param-optional",
    "optional route: `?a=1;access_token=<forged>` (Rack 2, Python before 3.9.2 and Tornado split the query at `;` too)",
    badSignature,
    (ctx) => ctx.check({ path: `/optional?a=1;access_token=${token({}, {}, ctx.keys.stranger)}` }),
    "the query was split at `&` only, as Envoy does, so the forged token was not read and went upstream unverified, where Rack 2 (Doorkeeper reads access_token parameters) and older Python read it; the `;` reading is now read too, and every token found must verify",
  ),
  c(
    "param-name-other-case-optional",
    "optional route: `?ACCESS_TOKEN=<forged>` (Envoy's parameter names are case-sensitive; ASP.NET Core reads them in any case, as access_token)",
    badSignature,
    (ctx) => ctx.check({ path: `/optional?ACCESS_TOKEN=${token({ sub: "admin" }, {}, ctx.keys.stranger)}` }),
    "query parameter names were compared case-sensitively, as Envoy compares them, so the forged token was not read and went upstream unverified, where ASP.NET Core (whose query names are case-insensitive) reads it as access_token; a parameter whose name matches in any case is now read too, and every token found must verify",
  ),
  c(
    "param-name-encoded-other-case-optional",
    "optional route: `?%41ccess_token=<forged>` (`Access_token` once decoded, with no upper-case letter as sent)",
    badSignature,
    (ctx) => ctx.check({ path: `/optional?%41ccess_token=${token({ sub: "admin" }, {}, ctx.keys.stranger)}` }),
    "a query was looked through for names in another letter case only when it held an upper-case letter as sent, so a percent-encoded one (`%41` is `A`) was missed and the forged token went upstream unverified, where ASP.NET Core reads it as access_token; a query holding a `%` is now looked through too",
  ),
  c(
    "param-percent-encoded-valid",
    "required route: `?access_token=<valid>` with each `.` written `%2E` (Envoy's extractor decodes the query)",
    OK,
    (ctx) => ctx.check({ path: `/jwt?access_token=${token({}, {}, undefined, ctx.keys).replace(/\./g, "%2E")}` }),
  ),
  c(
    "param-percent-encoded-optional",
    "optional route: `?access_token=<forged>` with each `.` written `%2E` (decoded, it is the forged token)",
    badSignature,
    (ctx) => ctx.check({ path: `/optional?access_token=${token({ sub: "admin" }, {}, ctx.keys.stranger).replace(/\./g, "%2E")}` }),
  ),
  c(
    "param-name-other-case-valid",
    "required route: `?Access_Token=<valid>` alone (Envoy finds no access_token parameter and answers 401)",
    missing,
    (ctx) => ctx.check({ path: `/jwt?Access_Token=${token({}, {}, undefined, ctx.keys)}` }),
  ),
  c(
    "php-param-optional",
    "optional route: `?access.token=<forged>` (PHP, Symfony and Laravel read the name as access_token)",
    badSignature,
    (ctx) => ctx.check({ path: `/optional?access.token=${token({}, {}, ctx.keys.stranger)}` }),
    "a parameter PHP renames (`.`, ` `, an unmatched `[` read as `_`) was not read, so the forged token went upstream unverified, where a PHP app reads it as access_token; PHP's name is now read too, and every token found must verify",
  ),
  c(
    "failopen-forged-admin",
    "failOpen route: a forged token claiming `sub: admin`, for a path only admins may take",
    { status: 403, code: "authz_denied" },
    (ctx) =>
      ctx.check({
        path: "/failopen/admin/users",
        headers: { authorization: `Bearer ${token({ sub: "admin" }, {}, ctx.keys.stranger)}`, "x-user-id": "admin" },
      }),
  ),
  c(
    "failopen-forged-identity",
    "failOpen route: a forged token claiming `sub: admin` and a spoofed `x-user-id: admin`",
    { status: 200, code: "allowed", upstream: {} },
    (ctx) =>
      ctx.check({
        path: "/failopen/profile",
        headers: { authorization: `Bearer ${token({ sub: "admin" }, {}, ctx.keys.stranger)}`, "x-user-id": "admin" },
      }),
  ),
  c(
    "semicolon-param-valid",
    "required route: `?x=1;access_token=<valid>`: only a split at `;` finds the token, Envoy finds none",
    missing,
    (ctx) => ctx.check({ path: `/jwt?x=1;access_token=${token({}, {}, undefined, ctx.keys)}` }),
    "the token was accepted though Envoy, which reads the query at `&` only, finds none and answers 401; a required jwt is now met only by a token Envoy reads too",
  ),
  c(
    "php-param-valid",
    "required route: `?access%5Btoken=<valid>`: only PHP's reading (an unmatched `[` read as `_`) finds the token, Envoy finds none",
    missing,
    (ctx) => ctx.check({ path: `/jwt?access%5Btoken=${token({}, {}, undefined, ctx.keys)}` }),
  ),
  c(
    "leading-question-mark-param-valid",
    "required route: `??access_token=<valid>`: a form's reading drops the query's leading `?`, Envoy's first name is `?access_token` and it finds none",
    missing,
    (ctx) => ctx.check({ path: `/jwt??access_token=${token({}, {}, undefined, ctx.keys)}` }),
    "Envoy's reading of the query was taken to be a form's (URLSearchParams), which drops a leading `?` and reads `+` as a space; Envoy's filters only percent-decode, so this token, which Envoy does not see, met the required jwt",
  ),
  c(
    "semicolon-param-beside-header",
    "required route: a valid token in the header and another valid one after a `;`: every token verifies, Envoy reads the header's",
    OK,
    (ctx) =>
      ctx.check({
        path: `/jwt?x=1;access_token=${token({}, {}, undefined, ctx.keys)}`,
        headers: { authorization: `Bearer ${token({}, {}, undefined, ctx.keys)}` },
      }),
  ),
  c("two-places-forged", "valid token in the header, forged one in `?access_token=`", badSignature, (ctx) =>
    ctx.check({
      path: `/jwt?access_token=${token({}, {}, ctx.keys.stranger)}`,
      headers: { authorization: `Bearer ${token({}, {}, undefined, ctx.keys)}` },
    }),
  ),
  c(
    "two-providers-forged-in-other-location",
    "a valid idp token in the header and a forged cookie-idp token in the `session` cookie (Envoy's requires_any of the providers passes once idp's tokens verify, the cookie unread)",
    badSignature,
    (ctx) => forgedCookieBesideBearer(ctx, "session"),
  ),
  c("two-places-audience", "valid token in the header, one for another audience in the query", audience, (ctx) =>
    ctx.check({
      path: `/jwt?access_token=${token({ aud: "billing" }, {}, undefined, ctx.keys)}`,
      headers: { authorization: `Bearer ${token({}, {}, undefined, ctx.keys)}` },
    }),
  ),
  c("same-token-twice", "the same valid token in the header and the query", OK, (ctx) => {
    const tok = token({}, {}, undefined, ctx.keys);
    return ctx.check({ path: `/jwt?access_token=${tok}`, headers: { authorization: `Bearer ${tok}` } });
  }),
  c(
    "two-authorization-lines",
    "wire: two `Authorization` lines, valid then forged",
    invalid("Jwt verification fails"),
    (ctx) =>
      ctx.envoy("/jwt", [
        ["authorization", `Bearer ${token({}, {}, undefined, ctx.keys)}`],
        ["authorization", `Bearer ${token({ sub: "admin" }, {}, ctx.keys.stranger)}`],
      ]),
    "Node keeps only the first Authorization line, so the second reached the upstream unchecked; every line is now read, each as its own token (as Envoy's extractor), and every token must verify",
  ),
  c(
    "prefix-inside-optional",
    "optional route: `Authorization: Token Bearer <forged>` (issue 11 situation 6)",
    badSignature,
    (ctx) => ctx.check({ path: "/optional", headers: { authorization: `Token Bearer ${token({}, {}, ctx.keys.stranger)}` } }),
    "the prefix was looked for only at the start, so the forged token was not read and went upstream on the optional route; Envoy's extractor finds `Bearer ` anywhere in the value, and so does Portcullis",
  ),
  c(
    "prefix-inside-valid",
    "required route: `Authorization: Token Bearer <valid>` (Envoy reads the token after the prefix)",
    OK,
    (ctx) => ctx.check({ path: "/jwt", headers: { authorization: `Token Bearer ${token({}, {}, undefined, ctx.keys)}` } }),
    "see jwt.prefix-inside-optional",
  ),
  c(
    "prefix-lower-case",
    "optional route: `Authorization: bearer <forged>` (read in any case: Envoy would skip it and forward it unverified)",
    badSignature,
    (ctx) => ctx.check({ path: "/optional", headers: { authorization: `bearer ${token({}, {}, ctx.keys.stranger)}` } }),
  ),
  c(
    "prefix-lower-case-valid",
    "required route: `Authorization: bearer <valid>` (Envoy's extractor matches `Bearer ` case-sensitively: no token, 401)",
    missing,
    (ctx) => ctx.check({ path: "/jwt", headers: { authorization: `bearer ${token({}, {}, undefined, ctx.keys)}` } }),
    "the prefix was matched in any letter case, so a token Envoy does not find met the required jwt and the request was allowed where Envoy answers 401; a token counts only where Envoy's extractor finds it",
  ),
  c(
    "prefix-lower-case-optional-valid",
    "optional route: `Authorization: bearer <valid>` (allowed, as by Envoy, with no identity: Envoy forwards no claim of a token it does not find)",
    { status: 200, code: "allowed" },
    (ctx) => ctx.check({ path: "/optional", headers: { authorization: `bearer ${token({}, {}, undefined, ctx.keys)}` } }),
    "the token Envoy does not find gave the request an identity (x-user-id, claims for authorization rules) that Envoy never forwards; it is verified, but gives no identity",
  ),
  c(
    "prefix-lower-case-beside-valid",
    "wire: `Authorization: bearer <forged>` and `Authorization: Bearer <valid>` (Envoy verifies only the second; the upstream may read the first)",
    invalid("Jwt verification fails"),
    (ctx) =>
      ctx.envoy("/jwt", [
        ["authorization", `bearer ${token({ sub: "admin" }, {}, ctx.keys.stranger)}`],
        ["authorization", `Bearer ${token({}, {}, undefined, ctx.keys)}`],
      ]),
  ),
  c(
    "prefix-twice-readings-differ",
    "`Authorization: bearer x Bearer <valid>` (Envoy takes `<valid>`, a case-blind reader `x Bearer <valid>`: allowed only if both verify)",
    invalid("Jwt is not well formed"),
    (ctx) => ctx.check({ path: "/jwt", headers: { authorization: `bearer x Bearer ${token({}, {}, undefined, ctx.keys)}` } }),
  ),
  c(
    "prefix-twice",
    "`Authorization: Bearer <valid> Bearer <valid>` (Envoy takes everything after the first prefix)",
    invalid("Jwt is not well formed"),
    (ctx) => {
      const tok = token({}, {}, undefined, ctx.keys);
      return ctx.check({ path: "/jwt", headers: { authorization: `Bearer ${tok} Bearer ${tok}` } });
    },
  ),
  c(
    "prefix-token-then-junk",
    "`Authorization: Bearer <valid> junk` (Envoy's token runs to the end of the value)",
    invalid("Jwt is not well formed"),
    (ctx) => ctx.check({ path: "/jwt", headers: { authorization: `Bearer ${token({}, {}, undefined, ctx.keys)} junk` } }),
  ),
  c("prefix-glued-valid", "required route: `Authorization: xBearer <valid>` (Envoy finds `Bearer ` inside the value)", OK, (ctx) =>
    ctx.check({ path: "/jwt", headers: { authorization: `xBearer ${token({}, {}, undefined, ctx.keys)}` } }),
  ),
  c("prefix-two-spaces-valid", "required route: `Authorization: Bearer  <valid>` (two spaces: Envoy skips to the token)", OK, (ctx) =>
    ctx.check({ path: "/jwt", headers: { authorization: `Bearer  ${token({}, {}, undefined, ctx.keys)}` } }),
  ),
  c(
    "prefix-tab-optional",
    "optional route: `Authorization: Bearer<TAB><forged>` (wire: the tab travels as sent)",
    invalid("Jwt verification fails"),
    (ctx) => ctx.envoy("/optional", [["authorization", `Bearer\t${token({}, {}, ctx.keys.stranger)}`]]),
    "only a space after `Bearer` was read, so the forged token went upstream unverified on the optional route, where Python's str.split() (Django REST framework, Flask-JWT-Extended) reads it as a bearer token; any whitespace where the prefix has a space is now read",
  ),
  c(
    "prefix-tab-valid",
    "required route: `Authorization: Bearer<TAB><valid>` (Envoy's prefix is `Bearer ` with a space: no token, 401)",
    missing,
    (ctx) => ctx.check({ path: "/jwt", headers: { authorization: `Bearer\t${token({}, {}, undefined, ctx.keys)}` } }),
    "reading any whitespace where the prefix has a space (for jwt.prefix-tab-optional) also let this token meet the required jwt, an allow where Envoy finds no token and answers 401; a token counts only where Envoy's extractor finds it, and one only another reader takes must still verify",
  ),
  c("prefix-then-junk", '`Authorization: Bearer   "<valid>` (Envoy skips to the first base64url character after the prefix)', OK, (ctx) =>
    ctx.check({ path: "/jwt", headers: { authorization: `Bearer   "${token({}, {}, undefined, ctx.keys)}` } }),
  ),
  c(
    "prefix-no-token",
    "`Authorization: Bearer ***` (the prefix, then no token character: the whole value is the token)",
    invalid("Jwt is not well formed"),
    (ctx) => ctx.check({ path: "/optional", headers: { authorization: "Bearer ***" } }),
  ),
  c(
    "unicode-space-after-token",
    "required route: `Authorization: Bearer <valid><NO-BREAK SPACE>` (the proxy trims only spaces and tabs: the token ends with the space)",
    malformed,
    (ctx) => ctx.check({ path: "/jwt", headers: { authorization: `Bearer ${token({}, {}, undefined, ctx.keys)}\u00a0` } }),
    "a header token was trimmed of every Unicode space (String.trim), so it verified where Envoy's token keeps the space, fails to decode and is answered 401",
  ),
  c("two-lines-both-valid", "wire: two `Authorization` lines, each a valid token (each is verified)", OK, (ctx) =>
    ctx.envoy("/jwt", [
      ["authorization", `Bearer ${token({}, {}, undefined, ctx.keys)}`],
      ["authorization", `Bearer ${token({ jti: "2" }, {}, undefined, ctx.keys)}`],
    ]),
  ),
  c(
    "cookie-twice",
    "`session` cookie twice: valid, then forged",
    badSignature,
    (ctx) => {
      const good = token({ iss: OTHER_ISSUER }, {}, undefined, ctx.keys);
      return ctx.check({
        path: "/jwt",
        headers: { cookie: `session=${good}; session=${token({ iss: OTHER_ISSUER, sub: "admin" }, {}, ctx.keys.stranger)}` },
      });
    },
    "only the first cookie of a name was read, so a second token reached the upstream unchecked; every copy is now verified",
  ),
  c(
    "cookie-name-space-before-equals",
    "required route: `Cookie: session =<valid>` (Envoy's cookie name runs to the `=`: `session ` is no session cookie, and it finds no token)",
    missing,
    (ctx) => ctx.check({ path: "/jwt", headers: { cookie: `session =${token({ iss: OTHER_ISSUER }, {}, undefined, ctx.keys)}` } }),
    "the Cookie header's names were trimmed, so a token Envoy's jwt_authn does not see met the required jwt; a required jwt is now met only by a token Envoy reads too",
  ),
  c(
    "cookie-name-other-case",
    "`Cookie: SESSION=<forged>; session=<valid>` (Envoy reads only `session`; ASP.NET Core reads cookie names in any letter case, and may take the forged one)",
    badSignature,
    (ctx) =>
      ctx.check({
        path: "/jwt",
        headers: {
          cookie: `SESSION=${token({ iss: OTHER_ISSUER, sub: "admin" }, {}, ctx.keys.stranger)}; session=${token({ iss: OTHER_ISSUER }, {}, undefined, ctx.keys)}`,
        },
      }),
    COOKIE_CASE,
  ),
  c(
    "cookie-after-comma-beside-header",
    "a valid idp token in the header and a forged cookie-idp token after a comma in one Cookie pair: `theme=dark,session=<forged>` (Rack before 2.2 and RFC 2965 cookie parsers split the header at `,` too)",
    badSignature,
    (ctx) => forgedCookieBesideBearer(ctx, "theme=dark,session"),
    COOKIE_COMMA,
  ),
  c(
    "cookie-name-other-case-beside-header",
    "a valid idp token in the header and a forged cookie-idp token in a `Session` cookie (a `session` cookie to a reader of names in any case)",
    badSignature,
    (ctx) => forgedCookieBesideBearer(ctx, "Session"),
    "see jwt.cookie-name-other-case",
  ),
  c(
    "cookie-name-other-case-valid",
    "required route: `Cookie: SESSION=<valid>` alone (Envoy's cookie names are case-sensitive: it finds no token and answers 401)",
    missing,
    (ctx) => ctx.check({ path: "/jwt", headers: { cookie: `SESSION=${token({ iss: OTHER_ISSUER }, {}, undefined, ctx.keys)}` } }),
  ),
  c(
    "cookie-spaces-before-name",
    "`Cookie: a=1;   session=<valid>` (spaces before the name: every reading's session cookie)",
    { status: 200, code: "allowed", upstream: { "x-other-sub": "u-1" } },
    (ctx) => ctx.check({ path: "/jwt", headers: { cookie: `a=1;   session=${token({ iss: OTHER_ISSUER }, {}, undefined, ctx.keys)}` } }),
  ),
  c(
    "escaped-claim-name",
    'a forged token whose payload names `em\\u0` after exp (planting that name in V8), then a genuine token naming `"em\\u0061il"` (email, escaped) there',
    { status: 200, code: "allowed", upstream: { "x-user-id": "u-1", "x-user-email": "alice@example.com" } },
    async (ctx) => {
      const forged = `${b64(HEADER)}.${b64(claims(',"em\\\\u0":1'))}.${"A".repeat(86)}`;
      if ((await bearer(ctx, forged)).code !== "jwt_bad_signature") throw new Error("the forged token should be refused");
      return bearer(ctx, rawSigned(ctx, HEADER, claims(',"em\\u0061il":"alice@example.com"')));
    },
    "V8's JSON.parse (Node 24) read the genuine token's escaped name as the planted one, so its email claim was lost; a payload with an escape in a member name is now read name by name",
  ),
  c(
    "cache-location",
    "a token verified from `Authorization` (provider idp), then sent only as the `session` cookie (read by another provider only)",
    unknownIssuer,
    async (ctx) => {
      const tok = token({}, {}, undefined, ctx.keys);
      const first = await bearer(ctx, tok);
      if (first.status !== 200) throw new Error("the first request should pass");
      return ctx.check({ path: "/jwt", headers: { cookie: `session=${tok}` } });
    },
    "the verified-token cache answered for a provider that does not read the token from where it was found; a cached verdict now counts only for such a provider",
  ),
  c(
    "cache-signature-transplant",
    "a token verified and cached, then its signature under another payload (`sub: admin`); the cache finds entries by signature",
    badSignature,
    async (ctx) => {
      const tok = token({}, {}, undefined, ctx.keys);
      if ((await bearer(ctx, tok)).status !== 200) throw new Error("the first request should pass");
      const [header, , signature] = tok.split(".");
      return bearer(ctx, `${header}.${b64(claims(',"role":"admin"').replace('"sub":"u-1"', '"sub":"admin"'))}.${signature}`);
    },
  ),
  c(
    "bare-header-empty-optional",
    "optional route, token header without valuePrefix: `X-Token:` (empty; Envoy takes the empty line as a token and refuses it)",
    malformed,
    (ctx) => xToken(ctx, "/bare-optional", ""),
    "an empty header line was read as no token, so the optional route allowed the request where Envoy's extractor takes every line of a header without a prefix as a token, even an empty one, and answers 401",
  ),
  c(
    "bare-header-blank-optional",
    "optional route, token header without valuePrefix: `X-Token:` holding only spaces and a tab (Envoy trims it to the empty token)",
    malformed,
    (ctx) => xToken(ctx, "/bare-optional", " \t "),
    "see jwt.bare-header-empty-optional",
  ),
  c(
    "bare-header-empty-beside-valid",
    "required route, token header without valuePrefix: a valid line and an empty one (every token must verify)",
    malformed,
    (ctx) => xToken(ctx, "/bare", token({}, {}, undefined, ctx.keys), ""),
    "see jwt.bare-header-empty-optional",
  ),
  c(
    "bare-header-empty-required",
    "required route, token header without valuePrefix: `X-Token:` (empty: a malformed token, not a missing one)",
    malformed,
    (ctx) => xToken(ctx, "/bare", ""),
    "see jwt.bare-header-empty-optional",
  ),
  c(
    "bare-header-absent-optional",
    "optional route, token header without valuePrefix: no X-Token at all (no token: allowed)",
    { status: 200, code: "allowed" },
    (ctx) => xToken(ctx, "/bare-optional"),
  ),
  ...(["x_token", "x.token"] as const).map((name) =>
    c(
      `bare-header-${name === "x_token" ? "underscore" : "dot"}-optional`,
      `optional route, token header X-Token: \`${name}: <forged>\` (Caddy passes the name on; a CGI, WSGI, Rack or PHP upstream reads it as its X-Token, a token no one verified)`,
      { status: 400, code: "request_invalid", reason: `the header ${name} is refused` },
      async (ctx) => {
        const world = headerWorld(ctx.keys);
        const forged = token({ sub: "admin" }, {}, ctx.keys.stranger);
        return fromDecision(
          await world({ path: "/bare-optional", headers: { [name]: forged } }),
          managedHeadersOf(world.result.snapshot.policies),
        );
      },
      'a header name spelling a credential header with "_" or "." for "-" was read as a header of its own, so the optional route allowed a request without a token while the upstream read a forged one under X-Token; such a name is now refused (400), as one spelling a header a policy sets or a rule reads',
    ),
  ),
  c("bare-header-valid", "required route, token header without valuePrefix: `X-Token: <valid>`", OK, (ctx) =>
    xToken(ctx, "/bare", token({}, {}, undefined, ctx.keys)),
  ),
  c(
    "prefixed-header-empty-optional",
    "optional route, token header with valuePrefix `Token `: `X-Token:` (empty: no prefix, so no token, as Envoy: allowed)",
    { status: 200, code: "allowed" },
    (ctx) => xToken(ctx, "/prefixed-optional", ""),
  ),
  c(
    "param-empty-optional",
    "optional route: `?access_token=` (Envoy's query parser stores the empty value, its extractor takes it as a token and refuses it)",
    malformed,
    (ctx) => ctx.check({ path: "/optional?access_token=" }),
    "empty query parameter and cookie values were dropped, so the optional route allowed the request where Envoy's jwt_authn extractor takes the first value of the parameter (or the cookie) whatever it is, even empty, and answers 401",
  ),
  c(
    "param-name-only-optional",
    "optional route: `?access_token` with no `=` (Envoy stores the name with an empty value)",
    malformed,
    (ctx) => ctx.check({ path: "/optional?a=1&access_token" }),
    "see jwt.param-empty-optional",
  ),
  c(
    "param-empty-before-valid",
    "required route: `?access_token=&access_token=<valid>` (Envoy takes the first value, the empty one)",
    malformed,
    (ctx) => ctx.check({ path: `/jwt?access_token=&access_token=${token({}, {}, undefined, ctx.keys)}` }),
    "see jwt.param-empty-optional",
  ),
  c(
    "param-empty-after-semicolon-optional",
    "optional route: `?a=1;access_token=` (Envoy splits at `&` only and finds no token; a split at `;` finds an empty one, no credential either)",
    { status: 200, code: "allowed" },
    (ctx) => ctx.check({ path: "/optional?a=1;access_token=" }),
    "the empty value only a split at `;` finds was taken as a token and refused as malformed (401), where Envoy finds no token and allows the optional route, and an upstream splitting at `;` finds no credential to act on",
  ),
  c(
    "param-empty-php-name-optional",
    "optional route: `?access.token=` (only PHP reads it as access_token, empty: no credential; Envoy finds none)",
    { status: 200, code: "allowed" },
    (ctx) => ctx.check({ path: "/optional?access.token=" }),
    "see jwt.param-empty-after-semicolon-optional",
  ),
  c(
    "param-empty-after-semicolon-required",
    "required route: `?a=1;access_token=` (no token where Envoy reads: 401 missing, not malformed)",
    missing,
    (ctx) => ctx.check({ path: "/jwt?a=1;access_token=" }),
  ),
  c(
    "cookie-empty-name-space-optional",
    "optional route reading the `session` cookie: `Cookie: a=1; session =` (Envoy's name keeps the space: no token; a trimmed reading finds an empty one, no credential)",
    { status: 200, code: "allowed" },
    (ctx) => sessionCookie(ctx, "a=1; session ="),
    "see jwt.param-empty-after-semicolon-optional",
  ),
  c(
    "param-other-empty-optional",
    "optional route: `?access_tokens=&token=` (empty parameters of other names: no token, allowed)",
    { status: 200, code: "allowed" },
    (ctx) => ctx.check({ path: "/optional?access_tokens=&token=" }),
  ),
  c(
    "cookie-empty-optional",
    "optional route reading the `session` cookie: `Cookie: a=1; session=` (Envoy's cookie parser keeps the empty value)",
    malformed,
    (ctx) => sessionCookie(ctx, "a=1; session="),
    "see jwt.param-empty-optional",
  ),
  c(
    "cookie-quoted-empty-optional",
    'optional route reading the `session` cookie: `Cookie: session=""` (Envoy removes the quotes: the empty token)',
    malformed,
    (ctx) => sessionCookie(ctx, 'session=""'),
  ),
  c(
    "cookie-name-other-case-optional-valid",
    "optional route reading the `session` cookie: `Cookie: SESSION=<valid>` (Envoy's cookie names are case-sensitive: it finds no token, and allows with no identity)",
    { status: 200, code: "allowed" },
    (ctx) => sessionCookie(ctx, `SESSION=${token({}, {}, undefined, ctx.keys)}`),
    ENVOY_READS_NO_IDENTITY,
  ),
  c(
    "cookie-name-other-case-optional-rule",
    "optional route reading the `session` cookie, an authorization rule letting only the jwt sub u-1 in (default Deny): `Cookie: SESSION=<valid u-1>` (Envoy finds no token, so no rule matches: 403)",
    { status: 403, code: "authz_denied" },
    (ctx) => sessionCookie(ctx, `SESSION=${token({}, {}, undefined, ctx.keys)}`, "/cookie-members"),
    "see jwt.cookie-name-other-case-optional-valid",
  ),
  c(
    "semicolon-param-optional-valid",
    "optional route: `?a=1;access_token=<valid>` (Envoy splits the query at `&` only: it finds no token, and allows with no identity)",
    { status: 200, code: "allowed" },
    (ctx) => ctx.check({ path: `/optional?a=1;access_token=${token({}, {}, undefined, ctx.keys)}` }),
    "see jwt.cookie-name-other-case-optional-valid",
  ),
  c(
    "cookie-name-other-case-before-header",
    "required jwt of two providers, the `session` cookie's before Authorization's: `Cookie: SESSION=<valid, sub admin>` and `Authorization: Bearer <valid, sub u-1>` (Envoy finds only the header's token: identity u-1)",
    { status: 200, code: "allowed", upstream: { "x-user-id": "u-1" } },
    (ctx) =>
      sessionCookie(ctx, `SESSION=${token({ iss: OTHER_ISSUER, sub: "admin" }, {}, undefined, ctx.keys)}`, "/cookie-first", {
        authorization: `Bearer ${token({}, {}, undefined, ctx.keys)}`,
      }),
    "the identity was the first token's to verify in the providers' order, there one only a reader of cookie names in any case finds (x-other-sub: admin, not Envoy's x-user-id: u-1); the tokens Envoy reads now come first",
  ),
  c(
    "cookie-name-only-optional",
    "optional route reading the `session` cookie: `Cookie: session; a=` (no `=` after the name: Envoy skips it, no token, allowed)",
    { status: 200, code: "allowed" },
    (ctx) => sessionCookie(ctx, "session; a="),
  ),
  scoped(
    "claim-scope-string-as-string",
    '/scopes: `scope: "admin"`, a rule allowing the claim `scope` (String) `admin` (jwt_authn\'s metadata holds scope as the list [admin], which no String matcher matches)',
    NO_RULE_ALLOWS,
    { scope: "admin" },
    SPACE_DELIMITED,
  ),
  scoped(
    "claim-scp-string-deny",
    '/scopes: `scp: "guest"` with `scope: [member]`: a Deny rule on the claim `scp` (StringArray) `guest` matches the list jwt_authn makes of it',
    { status: 403, code: "authz_denied", reason: "denied by authorization rule no-guests" },
    { scp: "guest", scope: ["member"] },
    SPACE_DELIMITED,
  ),
  scoped(
    "claim-scope-string-as-list",
    '/scopes: `scope: "read member"`, a rule allowing the claim `scope` (StringArray) `member`: the space-delimited string is a list',
    { status: 200, code: "allowed" },
    { scope: "read member" },
  ),
  scoped(
    "claim-scope-blank",
    '/scopes: `scope: " "` (no scope at all: jwt_authn leaves the string as it is), no rule allows',
    NO_RULE_ALLOWS,
    { scope: " " },
  ),
  c(
    "recompute-route-spoofed-header",
    "recomputeRoute (Envoy Gateway v1.9.0, jwt_authn clear_route_cache): a token of tier bronze sent with the client's own `x-tier: gold`, which the gold rule matches (Envoy Gateway routes it again on `gold,bronze`, to the other rule)",
    ROUTED_AGAIN,
    (ctx) => tiered(ctx, { tier: "bronze" }, { "x-tier": "gold" }),
    RECOMPUTE_ROUTE,
  ),
  c(
    "recompute-route-by-claim",
    "recomputeRoute: a token of tier gold sent without x-tier (Envoy Gateway routes it again to the gold rule; the proxy sends it to the other)",
    ROUTED_AGAIN,
    (ctx) => tiered(ctx, { tier: "gold" }),
    RECOMPUTE_ROUTE,
  ),
  c(
    "recompute-route-same-rule",
    "recomputeRoute: a token of tier bronze sent without x-tier (routed again, it takes the same rule)",
    { status: 200, code: "allowed", upstream: { "x-tier": "bronze", "x-user-id": "u-1" } },
    (ctx) => tiered(ctx, { tier: "bronze" }),
  ),
];
