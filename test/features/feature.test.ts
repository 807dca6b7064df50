/**
 * The Feature contract's anti-spoofing half (features/feature.ts `upstreamHeaders`): over random
 * policies (apiKeyAuth with forwarded client ids and header annotations, basicAuth with a forwarded
 * username, jwt with claims to headers, each configured or not), every header an allow sets upstream
 * is one the policy manages, so an allow anywhere around it removes a client's own copy. A feature
 * whose `upstreamHeaders` left one out would fail here.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { gatewayWithRoute, secret, securityPolicy } from "../support/manifests.ts";
import { jwksOf, mint, signingKey, type SigningKey } from "../support/tokens.ts";
import { decider } from "../support/world.ts";

const RUNS = { seed: 20_261_130, numRuns: 60 } as const;
const CLAIMS = { sub: "u-1", email: "alice@example.com", team: "payments", roles: ["admin", "ops"] } as const;

const headerName = fc.stringMatching(/^x-[a-z]{1,6}(-[a-z]{1,4})?$/);
const policyArb = fc.record({
  apiKey: fc.option(
    fc.record({ forward: fc.option(headerName, { nil: undefined }), annotated: fc.uniqueArray(headerName, { maxLength: 3 }) }),
    {
      nil: undefined,
    },
  ),
  basic: fc.option(fc.record({ forward: fc.option(headerName, { nil: undefined }) }), { nil: undefined }),
  jwt: fc.option(fc.uniqueArray(fc.tuple(fc.constantFrom(...Object.keys(CLAIMS)), headerName), { maxLength: 3, selector: ([, h]) => h }), {
    nil: undefined,
  }),
});
type PolicyShape = typeof policyArb extends fc.Arbitrary<infer T> ? T : never;

let idp: SigningKey;
let token: string;
beforeAll(async () => {
  idp = await signingKey("idp-1");
  token = await mint(idp, CLAIMS);
});

/** The manifests of one random policy, and the credentials of a request every configured feature accepts. */
function worldOf(p: PolicyShape): { text: string; headers: Record<string, string> } {
  const docs = [gatewayWithRoute("api.example.com")];
  const features: Record<string, unknown> = {};
  const headers: Record<string, string> = {};
  if (p.apiKey !== undefined) {
    docs.push(
      secret(
        "keys",
        { alice: "alice-key" },
        { annotations: Object.fromEntries(p.apiKey.annotated.map((h) => [`portcullis.io/header.${h}`, "gold"])) },
      ),
    );
    features.apiKeyAuth = {
      credentialRefs: [{ name: "keys" }],
      extractFrom: [{ headers: ["x-api-key"] }],
      ...(p.apiKey.forward === undefined ? {} : { forwardClientIDHeader: p.apiKey.forward }),
    };
    headers["x-api-key"] = "alice-key";
  }
  if (p.basic !== undefined) {
    docs.push(secret("users", { ".htpasswd": "alice:{SHA}4yvU2nDIjg+qQ04AgGsx1Egh63I=\n" }));
    features.basicAuth = { users: { name: "users" }, ...(p.basic.forward === undefined ? {} : { forwardUsernameHeader: p.basic.forward }) };
    headers.authorization = `Basic ${Buffer.from("alice:alice-pass").toString("base64")}`;
  }
  if (p.jwt !== undefined) {
    features.jwt = {
      providers: [
        {
          name: "idp",
          localJWKS: { inline: jwksOf(idp) },
          extractFrom: { headers: [{ name: "x-jwt" }] },
          claimToHeaders: p.jwt.map(([claim, header]) => ({ claim, header })),
        },
      ],
    };
    headers["x-jwt"] = token;
  }
  docs.push(securityPolicy("p", features));
  return { text: docs.join("---\n"), headers };
}

describe("upstream headers", () => {
  it("every header an allow sets upstream is among the headers the policy and the snapshot manage", async () => {
    await fc.assert(
      fc.asyncProperty(policyArb, async (p) => {
        const { text, headers } = worldOf(p);
        const decide = decider(text);
        const policy = decide.result.snapshot.policies["apps/p"];
        expect(policy?.invalid).toBeUndefined();
        const decision = await decide({ path: "/", headers });
        expect(decision.code).toBe("allowed");
        const set = Object.keys(decision.upstreamHeaders);
        expect(policy!.managedHeaders).toEqual(expect.arrayContaining(set));
        expect(decide.result.snapshot.managedHeaders).toEqual(expect.arrayContaining(set));
      }),
      RUNS,
    );
  });
});
