import { beforeAll, describe, expect, it } from "vitest";
import { decider, type Decider } from "../support/world.ts";
import { gatewayWithRoute, securityPolicy } from "../support/manifests.ts";
import { jwksOf, mint, signingKey, type SigningKey } from "../support/tokens.ts";

const ISSUER = "https://idp.example.com";

/**
 * HTTPRoute apps/api: rule gold (/app with x-tier: gold) before rule rest (/app), one policy on the
 * route whose jwt sets x-tier from the claim tier, with recomputeRoute as given.
 */
function world(jwks: string, recomputeRoute: boolean): string {
  return `${gatewayWithRoute("api.example.com", {
    gold: "{path: {type: PathPrefix, value: /app}, headers: [{name: x-tier, value: gold}]}",
    rest: "/app",
  })}---
${securityPolicy("tiers", {
  jwt: {
    providers: [
      {
        name: "idp",
        issuer: ISSUER,
        localJWKS: { inline: jwks },
        claimToHeaders: [
          { claim: "tier", header: "x-tier" },
          { claim: "sub", header: "x-user-id" },
        ],
        recomputeRoute,
      },
    ],
  },
})}`;
}

describe("jwt recomputeRoute (Envoy Gateway routes again on the claim headers jwt_authn added)", () => {
  let key: SigningKey;
  let recomputing: Decider;
  let once: Decider;
  beforeAll(async () => {
    key = await signingKey("k1");
    recomputing = decider(world(jwksOf(key), true));
    once = decider(world(jwksOf(key), false));
  });
  const as = async (tier: string | undefined, headers: Record<string, string> = {}, sub: string | null = "u-1") => ({
    authorization: `Bearer ${await mint(key, { iss: ISSUER, ...(sub === null ? {} : { sub }), ...(tier === undefined ? {} : { tier }) })}`,
    ...headers,
  });

  it("refuses a bronze token sent with the client's own x-tier: gold: routed again, it leaves the gold rule the proxy took", async () => {
    const d = await recomputing({ path: "/app", headers: await as("bronze", { "x-tier": "gold" }) });
    expect(d).toMatchObject({ allowed: false, status: 403, code: "route_mismatch", route: "apps/api rule gold" });
    expect(d.message).toContain("apps/api rule rest");
  });

  it("refuses a gold token sent without x-tier: Envoy Gateway routes it again to the gold rule, the proxy to the other", async () => {
    const d = await recomputing({ path: "/app", headers: await as("gold") });
    expect(d).toMatchObject({ allowed: false, status: 403, code: "route_mismatch", route: "apps/api rule rest" });
  });

  it("refuses a gold token beside the client's own x-tier: gold: jwt_authn adds the claim, and gold,gold matches no gold rule", async () => {
    const d = await recomputing({ path: "/app", headers: await as("gold", { "x-tier": "gold" }) });
    expect(d).toMatchObject({ allowed: false, code: "route_mismatch" });
  });

  it("allows where routing again takes the same rule", async () => {
    const d = await recomputing({ path: "/app", headers: await as("bronze") });
    expect(d).toMatchObject({ allowed: true, route: "apps/api rule rest", upstreamHeaders: { "x-tier": "bronze", "x-user-id": "u-1" } });
  });

  it("refuses a token without tier beside the client's x-tier: gold: x-user-id is added, and without the client's copy (removed by Portcullis' answer in the hook-up) the route is another", async () => {
    const d = await recomputing({ path: "/app", headers: await as(undefined, { "x-tier": "gold" }) });
    expect(d).toMatchObject({ allowed: false, code: "route_mismatch", route: "apps/api rule gold" });
  });

  it("allows a token that sets no claim header: Envoy does not route again", async () => {
    const d = await recomputing({ path: "/app", headers: await as(undefined, { "x-tier": "gold" }, null) });
    expect(d).toMatchObject({ allowed: true, route: "apps/api rule gold", upstreamHeaders: {} });
  });

  it("without recomputeRoute, the rule the client's headers take decides, as Envoy routes once", async () => {
    const d = await once({ path: "/app", headers: await as("bronze", { "x-tier": "gold" }) });
    expect(d).toMatchObject({ allowed: true, route: "apps/api rule gold", upstreamHeaders: { "x-tier": "bronze" } });
  });
});
