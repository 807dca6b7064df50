/**
 * The world every catalogue case runs against: one Gateway, routes for each area, policies, real
 * keys (node:crypto, so a case can sign any header or payload text, duplicate members included)
 * and hand-made hostile tokens.
 */
import { createHash, createHmac, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { base64, gatewayWithRoute } from "../support/manifests.ts";

export const ISSUER = "https://idp.example.com";
export const OTHER_ISSUER = "https://other.example.com";
export const HOST = "api.example.com";

export interface Signer {
  readonly kid: string;
  readonly alg: "ES256" | "RS256";
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export interface Keys {
  readonly es: Signer;
  readonly rsa: Signer;
  /** Same kid as `es`, not in any JWKS: a forged signature. */
  readonly stranger: Signer;
}

export function makeKeys(): Keys {
  const ec = () => generateKeyPairSync("ec", { namedCurve: "P-256" });
  const es = ec();
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const stranger = ec();
  return {
    es: { kid: "es-1", alg: "ES256", ...es },
    rsa: { kid: "rsa-1", alg: "RS256", ...rsa },
    stranger: { kid: "es-1", alg: "ES256", ...stranger },
  };
}

export function jwksOf(...signers: Signer[]): string {
  return JSON.stringify({ keys: signers.map((s) => ({ ...s.publicKey.export({ format: "jwk" }), kid: s.kid, alg: s.alg, use: "sig" })) });
}

export const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64url");
export const now = () => Math.floor(Date.now() / 1000);

/** A compact JWS over exactly `headerText` and `payloadText`, signed by `signer` with its algorithm. */
export function jws(headerText: string, payloadText: string | Buffer, signer: Signer): string {
  const input = `${b64(headerText)}.${Buffer.from(payloadText).toString("base64url")}`;
  const signature =
    signer.alg === "ES256"
      ? sign("sha256", Buffer.from(input), { key: signer.privateKey, dsaEncoding: "ieee-p1363" })
      : sign("sha256", Buffer.from(input), signer.privateKey);
  return `${input}.${signature.toString("base64url")}`;
}

/** A token for the `idp` provider (valid for five minutes) with claims and header members changed. */
export function token(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, signer?: Signer, keys?: Keys): string {
  const s = signer ?? keys!.es;
  const body = { iss: ISSUER, aud: "api", sub: "u-1", iat: now(), exp: now() + 300, ...claims };
  return jws(JSON.stringify({ alg: s.alg, kid: s.kid, typ: "JWT", ...header }), JSON.stringify(body), s);
}

/** An HS256 token keyed with `secret` (e.g. the RSA public key: the algorithm-confusion attack). */
export function hmacToken(secret: string | Buffer, claims: Record<string, unknown>, kid: string): string {
  const input = `${b64(JSON.stringify({ alg: "HS256", typ: "JWT", kid }))}.${b64(JSON.stringify(claims))}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

const rule = (name: string) => `{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api, sectionName: ${name}}`;
const policy = (name: string, target: string, body: string) => `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: ${name}, namespace: apps}
spec:
  targetRefs: [${target}]
${body}`;

/** frank's password ({SHA} in the `users` htpasswd): it holds U+FFFD, the text that bytes which are not UTF-8 read as. */
export const FRANK_PASSWORD = "fr\uFFFDnk-pass";
const sha1Base64 = (password: string) => createHash("sha1").update(password, "utf8").digest("base64");
/**
 * henry's `{SHA}` digest of "henry-pass" spelled with its last character's two unused bits set: the
 * same 20 bytes to a lenient decoder, never equal to the digest Envoy's basic_auth computes and compares as text.
 */
const HENRY_NONCANONICAL_DIGEST = ((digest) => {
  const last = digest.length - 2; // the character before the one "=" of a 20-byte digest
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  return `${digest.slice(0, last)}${alphabet[alphabet.indexOf(digest[last]!) | 3]}=`;
})(sha1Base64("henry-pass"));
/** The bytes of the htpasswd user "j", 0xFF, "y": not UTF-8 (read as "j\uFFFDy"). */
export const NOT_UTF8_USER = Buffer.from([0x6a, 0xff, 0x79]);

/** The OpenID provider of the `web` policy (oidc on /web): its issuer and the client's secret. */
export interface OidcWorld {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
}
/** The `web` policy's session key and cookie: what a case needs to seal a cookie as Portcullis would. */
export const WEB_POLICY = "apps/web";
/** An issuer nothing answers at (the `web-down` policy, whose calls are retried): a port no one listens on. */
export const DEAD_ISSUER = "http://127.0.0.1:9";

/** The `web` policy's provider where a test starts none: no request there can log in (403 oidc_unavailable). */
const NO_PROVIDER: OidcWorld = { issuer: DEAD_ISSUER, clientId: "web", clientSecret: "a-client-secret-no-provider-knows" };

/** The manifests of the security world. */
export function manifests(keys: Keys, oidc: OidcWorld = NO_PROVIDER): string {
  const jwks = jwksOf(keys.es, keys.rsa);
  const apiKeys = (extractFrom: string, extra = "") =>
    `  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: ${extractFrom}, forwardClientIDHeader: x-client-id${extra}}\n`;
  return `${gatewayWithRoute(HOST, { open: "/public", keys: "/keys", sanitized: "/sanitized", jwt: "/jwt", optional: "/optional", failopen: "/failopen", "get-open": "{path: {type: PathPrefix, value: /m}, method: GET}", m: "/m", re: '{path: {type: RegularExpression, value: "/re/(a+)+"}}', proto: "/proto", lan: "/lan", office: "/office", cors: "/cors", cel: "/cel", account: "/account", tenant: "/tenant", basic: "/basic", web: "/web", "web-down": "/webdown", "web-api": "/webapi", admins: "/admins", tiers: "/tiers", scopes: "/scopes" })}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: www, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [www.example.com]
  rules:
    - {name: all, matches: [{path: {type: PathPrefix, value: /}}]}
    - {name: admin, matches: [{path: {type: Exact, value: /admin}}]}
    - {name: secret, matches: [{path: {type: RegularExpression, value: "/secret/.*"}}]}
    - {name: reports, matches: [{path: {type: PathPrefix, value: /reports}, method: GET}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: wild, namespace: apps}
spec: {parentRefs: [{name: gw}], hostnames: ["*.wild.example.com"]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: cors-filtered, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [${HOST}]
  rules:
    - matches: [{path: {type: PathPrefix, value: /filtered-cors}}]
      filters: [{type: CORS, cors: {allowOrigins: ["https://partner.example.com"], allowMethods: [GET], maxAge: 60}}]
---
apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: apps}
data: {alice: YWxpY2Uta2V5, bob: Ym9iLWtleQ==, carol: Y2zDqS3DvC1rZXk=, dave: ZGF2ZSBrZXk=, __proto__: cHJvdG8tY2xpZW50LWtleQ==}
---
apiVersion: v1
kind: Secret
metadata: {name: users, namespace: apps}
data:
  .htpasswd: ${Buffer.concat([
    Buffer.from(`carol:$2b$10$0b8jTKZ1IYDuR1C2S2kdfeS2d3knFHWilD9wt6fKhc0HasZtYjlqC
erin:$2b$04$gFFTOaLbYg2l1Ehc7R6cMeKyHj.t4uWtJ9Ut/b16Hm1OS4MJYDPFK
frank:{SHA}${sha1Base64(FRANK_PASSWORD)}
 grace:{SHA}${sha1Base64("grace-pass")}
henry:{SHA}${HENRY_NONCANONICAL_DIGEST}
ivy:{SHA}${sha1Base64("ivy:pass:word")}
`),
    NOT_UTF8_USER,
    Buffer.from(`:{SHA}${sha1Base64("jay-pass")}\n`),
  ]).toString("base64")}
---
apiVersion: v1
kind: Secret
metadata: {name: web-client, namespace: apps}
data: {client-secret: ${base64(oidc.clientSecret)}}
${policy("keys", rule("keys"), apiKeys("[{headers: [X-API-Key]}, {params: [api_key]}, {cookies: [apikey]}]"))}${policy(
  "sanitized",
  rule("sanitized"),
  apiKeys("[{headers: [X-API-Key], cookies: [apikey]}]", ", sanitize: true"),
)}${policy("methods", rule("m"), apiKeys("[{headers: [X-API-Key]}]"))}${policy("re", rule("re"), apiKeys("[{headers: [X-API-Key]}]"))}${policy(
  "proto",
  rule("proto"),
  apiKeys("[{headers: [constructor]}]"),
)}${policy(
  "cors-filtered",
  "{group: gateway.networking.k8s.io, kind: HTTPRoute, name: cors-filtered}",
  `${apiKeys("[{headers: [X-API-Key]}]")}  cors: {allowOrigins: ["https://app.example.com"], allowMethods: [GET, POST], allowCredentials: true}
`,
)}${policy(
  "cors",
  rule("cors"),
  `${apiKeys("[{headers: [X-API-Key]}]")}  cors: {allowOrigins: ["https://app.example.com", "https://*.app.example.com"], allowMethods: [GET, POST], allowCredentials: true}
`,
)}${policy("www-admin", "{group: gateway.networking.k8s.io, kind: HTTPRoute, name: www, sectionName: admin}", apiKeys("[{headers: [X-API-Key]}]"))}${policy(
  "www-secret",
  "{group: gateway.networking.k8s.io, kind: HTTPRoute, name: www, sectionName: secret}",
  apiKeys("[{headers: [X-API-Key]}]"),
)}${policy(
  "www-reports",
  "{group: gateway.networking.k8s.io, kind: HTTPRoute, name: www, sectionName: reports}",
  apiKeys("[{headers: [X-API-Key]}]"),
)}${policy("wild", "{group: gateway.networking.k8s.io, kind: HTTPRoute, name: wild}", apiKeys("[{headers: [X-API-Key]}]"))}${policy(
  "jwt",
  rule("jwt"),
  `  jwt:
    providers:
      - name: idp
        issuer: ${ISSUER}
        audiences: [api]
        localJWKS: {inline: '${jwks}'}
        claimToHeaders: [{claim: sub, header: x-user-id}, {claim: email, header: x-user-email}, {claim: org.tier, header: x-tier}]
      - name: cookie-idp
        issuer: ${OTHER_ISSUER}
        localJWKS: {inline: '${jwks}'}
        extractFrom: {cookies: [session]}
        claimToHeaders: [{claim: sub, header: x-other-sub}]
`,
)}${policy(
  "lan",
  rule("lan"),
  `  authorization:
    defaultAction: Allow
    rules: [{name: deny-lan, action: Deny, principal: {clientCIDRs: [192.168.1.0/24]}}]
`,
)}${policy(
  "office",
  rule("office"),
  `  authorization:
    rules: [{name: office, action: Allow, principal: {clientCIDRs: [10.0.0.0/8]}}]
`,
)}${policy(
  "cel",
  rule("cel"),
  `  authorization:
    defaultAction: Deny
    rules: [{name: names, action: Allow, principal: {cel: 'request.headers["x-name"].matches("^([a-zA-Z0-9]+-?)+$")'}}]
`,
)}${policy(
  "account",
  rule("account"),
  `${apiKeys("[{headers: [X-API-Key]}]")}  authorization:
    rules: [{name: own-account, action: Allow, principal: {cel: 'request.query.account == apiKey.client'}}]
`,
)}${policy(
  "tenant",
  rule("tenant"),
  `${apiKeys("[{headers: [X-API-Key]}]")}  authorization:
    rules: [{name: own-tenant, action: Allow, principal: {cel: 'request.query.tenant_id == apiKey.client'}}]
`,
)}${policy("basic", rule("basic"), "  basicAuth: {users: {name: users}}\n")}${policy(
  "admins",
  rule("admins"),
  `  jwt:
    providers: [{name: idp, issuer: ${ISSUER}, audiences: [api], localJWKS: {inline: '${jwks}'}, claimToHeaders: [{claim: sub, header: x-user-id}]}]
  authorization:
    defaultAction: Deny
    rules: [{name: admins, action: Allow, principal: {headers: [{name: x-user-id, values: [admin]}]}}]
`,
)}${policy(
  "scopes",
  rule("scopes"),
  `  jwt:
    providers: [{name: idp, issuer: ${ISSUER}, audiences: [api], localJWKS: {inline: '${jwks}'}}]
  authorization:
    defaultAction: Deny
    rules:
      - {name: no-guests, action: Deny, principal: {jwt: {provider: idp, claims: [{name: scp, valueType: StringArray, values: [guest]}]}}}
      - {name: admin-scope, action: Allow, principal: {jwt: {provider: idp, claims: [{name: scope, values: [admin]}]}}}
      - {name: members, action: Allow, principal: {jwt: {provider: idp, claims: [{name: scope, valueType: StringArray, values: [member]}]}}}
`,
)}${policy(
  "tiers",
  rule("tiers"),
  `  authorization:
    defaultAction: Allow
    rules: [{name: no-gold-silver, action: Deny, principal: {headers: [{name: x-plan, values: ["gold,silver"]}]}}]
`,
)}${policy(
  "web",
  rule("web"),
  `  oidc:
    provider: {issuer: "${oidc.issuer}"}
    clientID: ${oidc.clientId}
    clientSecret: {name: web-client}
    redirectURL: "%REQ(x-forwarded-proto)%://%REQ(:authority)%/web/oauth2/callback"
    logoutPath: /web/logout
    forwardAccessToken: true
    denyRedirect: {headers: [{name: X-Requested-With, value: XMLHttpRequest}]}
`,
)}${policy(
  "web-down",
  rule("web-down"),
  `  oidc:
    provider:
      issuer: "${DEAD_ISSUER}"
      backendSettings: {retry: {numRetries: 2, retryOn: {triggers: [connect-failure, 5xx]}, perRetry: {backOff: {baseInterval: 10ms, maxInterval: 20ms}}}}
    clientID: web
    clientSecret: {name: web-client}
`,
)}${policy(
  "web-api",
  rule("web-api"),
  `  oidc:
    provider: {issuer: "${oidc.issuer}"}
    clientID: ${oidc.clientId}
    clientSecret: {name: web-client}
    redirectURL: "%REQ(x-forwarded-proto)%://%REQ(:authority)%/webapi/oauth2/callback"
    logoutPath: /webapi/logout
    passThroughAuthHeader: true
  jwt:
    failOpen: true
    providers: [{name: idp, issuer: ${ISSUER}, audiences: [api], localJWKS: {inline: '${jwks}'}, claimToHeaders: [{claim: sub, header: x-user-id}]}]
`,
)}${policy(
  "optional",
  rule("optional"),
  `  jwt:
    optional: true
    providers: [{name: idp, issuer: ${ISSUER}, audiences: [api], localJWKS: {inline: '${jwks}'}, claimToHeaders: [{claim: sub, header: x-user-id}]}]
`,
)}${policy(
  "failopen",
  rule("failopen"),
  `  jwt:
    failOpen: true
    providers: [{name: idp, issuer: ${ISSUER}, audiences: [api], localJWKS: {inline: '${jwks}'}, claimToHeaders: [{claim: sub, header: x-user-id}]}]
  authorization:
    defaultAction: Allow
    rules:
      - {name: admins, action: Allow, operation: {path: {type: PathPrefix, value: /failopen/admin}}, principal: {jwt: {provider: idp, claims: [{name: sub, values: [admin]}]}}}
      - {name: not-admins, action: Deny, operation: {path: {type: PathPrefix, value: /failopen/admin}}, principal: {clientCIDRs: [0.0.0.0/0, "::/0"]}}
`,
)}`;
}
