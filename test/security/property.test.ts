/**
 * Property-based tests over check() (fast-check, fixed seed, bounded runs): on the security world,
 *  1. no request without a valid credential is allowed anywhere but an open (or optional-JWT)
 *     route, and such an allow establishes no identity and sets nothing upstream;
 *  2. no input at all, however malformed, makes check() throw or answer anything but 200/400/401/403
 *     (400: a request refused as unreadable, e.g. a control character in its path);
 *  3. equivalent spellings of a protected path get the same decision as the path itself;
 *  4. with a valid key, spoofed identity headers and noise never change who is forwarded.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AuthzRequest } from "../../controller/authz/request.ts";
import { decider } from "../support/world.ts";
import { managedHeadersOf } from "./outcome.ts";
import { b64, hmacToken, HOST, ISSUER, jws, makeKeys, manifests, now, OTHER_ISSUER } from "./world.ts";

const keys = makeKeys();
const d = decider(manifests(keys));
const RUNS = { seed: 20_240_611, numRuns: 300 } as const;
const OPEN_RULES = new Set(["apps/api rule open", "apps/api rule get-open", "apps/www rule all", "apps/api rule optional"]);
const IDENTITY = ["x-client-id", "x-user-id", "x-user-email", "x-tier", "x-other-sub"];
const MANAGED = managedHeadersOf(d.result.snapshot.policies);

// ---- hostile ingredients: nothing here is a valid credential ----------------------------------
const nearKey = fc.constantFrom(
  "alice-kez",
  "blice-key",
  "ALICE-KEY",
  "alice-key.",
  "Bearer bob-ke",
  "alice",
  "",
  "bob-key\u0000",
  "\u0430lice-key",
);
const garbageKey = fc.oneof(nearKey, fc.string({ maxLength: 40 }));
const b64url = fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes).toString("base64url"));
const claimsArb = fc.record({
  iss: fc.constantFrom(ISSUER, OTHER_ISSUER, `${ISSUER}/`, ISSUER.toUpperCase(), "https://evil.example.com"),
  aud: fc.constantFrom("api", ["api"], "API", undefined),
  sub: fc.constantFrom("admin", "u-1"),
  exp: fc.constantFrom(now() + 300, now() - 3600, undefined, "soon"),
});
const headerArb = fc.record({
  alg: fc.constantFrom("none", "None", "HS256", "ES256", "RS256", "PS256", "EdDSA"),
  kid: fc.constantFrom("es-1", "rsa-1", "nope", undefined),
  typ: fc.constantFrom("JWT", "at+jwt", "dpop+jwt", undefined),
});
/** Tokens that look right but were never signed by the provider's keys. */
const badToken = fc.oneof(
  fc.tuple(headerArb, claimsArb).map(([h, c]) => jws(JSON.stringify({ ...h, alg: "ES256" }), JSON.stringify(c), keys.stranger)),
  fc.tuple(headerArb, claimsArb, b64url).map(([h, c, s]) => `${b64(JSON.stringify(h))}.${b64(JSON.stringify(c))}.${s}`),
  claimsArb.map((c) => hmacToken(keys.rsa.publicKey.export({ format: "pem", type: "spki" }), c, "rsa-1")),
  fc.tuple(b64url, b64url, b64url).map((parts) => parts.join(".")),
  fc.string({ maxLength: 60 }),
);
const segment = fc.oneof(
  fc.constantFrom(
    "keys",
    "jwt",
    "public",
    "m",
    "re",
    "aaaa",
    "admin",
    "optional",
    "sanitized",
    "proto",
    "..",
    ".",
    "",
    "%2e%2e",
    "%2E",
    "%2F",
    "%6Beys",
    "KEYS",
    "keys;x",
    "%00",
  ),
  fc.string({ maxLength: 8 }),
);
const pathArb = fc
  .tuple(fc.array(segment, { maxLength: 6 }), fc.option(fc.tuple(garbageKey, badToken), { nil: undefined }))
  .map(([segs, q]) => `/${segs.join("/")}${q === undefined ? "" : `?api_key=${encodeURIComponent(q[0])}&access_token=${q[1]}`}`);
const hostArb = fc.oneof(
  fc.constantFrom(HOST, "API.EXAMPLE.COM.", `${HOST}:443`, "www.example.com", "a.wild.example.com", "evil.com", ""),
  fc.domain(),
);
const credentialHeaders = fc.record(
  {
    "x-api-key": garbageKey,
    authorization: fc.oneof(
      badToken.map((t) => `Bearer ${t}`),
      garbageKey.map((k) => `Bearer ${k}`),
      fc.string(),
    ),
    cookie: fc.tuple(garbageKey, badToken).map(([k, t]) => `apikey=${k}; session=${t}`),
    constructor: garbageKey,
    "x-client-id": fc.constant("admin"),
    "x-user-id": fc.constant("admin"),
  },
  { requiredKeys: [] },
);
const requestArb = fc.record({
  method: fc.constantFrom("GET", "POST", "get", "DELETE", "OPTIONS", "PROPFIND"),
  host: hostArb,
  path: pathArb,
  headers: credentialHeaders,
  gateway: fc.constantFrom(undefined, "apps/gw", "apps/other"),
});

describe("check() properties", () => {
  it("never allows a request without a valid credential except on an open route, and then sets no identity", async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (request) => {
        const decision = await d({ scheme: "http", ...request });
        expect([200, 400, 401, 403]).toContain(decision.status);
        if (!decision.allowed) return;
        expect(decision.policy === undefined || decision.policy === "apps/optional").toBe(true);
        expect(OPEN_RULES.has(decision.route ?? "(no route)")).toBe(true);
        expect(decision.principal).toBeUndefined();
        expect(Object.keys(decision.upstreamHeaders).filter((h) => IDENTITY.includes(h))).toEqual([]);
      }),
      RUNS,
    );
  });

  it("never throws and always answers 200, 400, 401 or 403, whatever the input", async () => {
    const anyText = fc.string({ unit: "binary", maxLength: 60 });
    const headerValue = fc.oneof(anyText, fc.array(anyText, { maxLength: 3 }), fc.constant(undefined));
    const headerName = fc.oneof(
      fc.constantFrom("authorization", "x-api-key", "cookie", "constructor", "__proto__", "toString", "hasOwnProperty"),
      anyText,
    );
    const wild = fc.record({
      method: anyText,
      scheme: anyText,
      host: anyText,
      path: fc.oneof(anyText, pathArb),
      headers: fc.dictionary(headerName, headerValue, { maxKeys: 6 }),
      gateway: fc.option(anyText, { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(wild, async (request) => {
        const decision = await d(request as AuthzRequest);
        expect([200, 400, 401, 403]).toContain(decision.status);
        if (decision.allowed) expect(decision.principal).toBeUndefined();
      }),
      RUNS,
    );
  });

  it("gives an equivalent spelling of a protected path the decision of the path itself", async () => {
    const unreserved = (c: string, upper: boolean) => `%${c.charCodeAt(0).toString(16)[upper ? "toUpperCase" : "toLowerCase"]()}`;
    const respell = fc
      .tuple(
        fc.constantFrom("/keys/a", "/jwt/b", "/sanitized", "/proto/x"),
        fc.array(fc.tuple(fc.nat(3), fc.boolean()), { minLength: 1, maxLength: 5 }),
      )
      .map(([path, edits]) => {
        const segs = path.split("/").slice(1);
        let out = "";
        segs.forEach((seg, i) => {
          const [kind, upper] = edits[i % edits.length]!;
          const prefix = kind === 0 ? "/." : kind === 1 ? "/" : kind === 2 ? "/zz/.." : "";
          const spelled = kind === 3 ? [...seg].map((ch, j) => (j === 0 ? unreserved(ch, upper) : ch)).join("") : seg;
          out += `${prefix}/${spelled}`;
        });
        return { path, variant: out };
      });
    await fc.assert(
      fc.asyncProperty(respell, async ({ path, variant }) => {
        const [a, b] = await Promise.all([d({ path }), d({ path: variant })]);
        expect([b.status, b.code, b.route]).toEqual([a.status, a.code, a.route]);
        expect(b.allowed).toBe(false);
      }),
      RUNS,
    );
  });

  it("with a valid key, forwards exactly that client whatever identity headers and noise come with it", async () => {
    const noise = fc.dictionary(
      fc.constantFrom(...IDENTITY, "x-envoy-auth-headers-to-remove", "x-forwarded-for", "x-request-id", "x-portcullis-gateway"),
      fc.string({ maxLength: 20 }),
      { maxKeys: 6 },
    );
    await fc.assert(
      fc.asyncProperty(noise, fc.constantFrom("/keys", "/keys/x", "//keys", "/public/../keys"), async (headers, path) => {
        const decision = await d({ path, headers: { ...headers, "x-api-key": "alice-key" } });
        expect(decision).toMatchObject({ status: 200, principal: "apiKey alice", upstreamHeaders: { "x-client-id": "alice" } });
        expect(decision.removeHeaders).toEqual(MANAGED.filter((h) => h !== "x-client-id"));
      }),
      RUNS,
    );
  });
});
