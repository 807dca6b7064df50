/**
 * Compiling oidc's provider backendRefs/backendSettings: refused in Envoy Gateway's words where a
 * remote JWKS's are, and compiled into how every provider call connects.
 */
import { describe, expect, it } from "vitest";
import { oidc } from "../../../controller/features/oidc/index.ts";
import { secret } from "../../support/manifests.ts";
import { compilePolicy, compilePolicyWith, HOOK_UP_WORLD } from "../../support/world.ts";

function outcome(provider: Record<string, unknown>) {
  const { accepted, compiled } = compilePolicy(
    { oidc: { provider: { issuer: "https://idp.example.com", ...provider }, clientID: "console", clientSecret: { name: "oidc-client" } } },
    secret("oidc-client", { "client-secret": "a-client-secret" }),
  );
  return { condition: accepted, connection: compiled(oidc)?.provider.connection };
}

describe("oidc provider backendRefs and backendSettings", () => {
  it("backendSettings timeouts become the provider calls' connect and request deadlines", () => {
    const { condition, connection } = outcome({
      backendSettings: { timeout: { tcp: { connectTimeout: "3s" }, http: { requestTimeout: "4s" } } },
    });
    expect(condition).toMatchObject({ status: "True", reason: "Accepted" });
    expect(connection).toEqual({ connectTimeoutMs: 3000, requestTimeoutMs: 4000 });
  });

  it("without backendRefs or backendSettings the provider is reached at its URLs", () => {
    expect(outcome({}).connection).toEqual({});
  });

  it("what Envoy Gateway refuses for a remote JWKS is Invalid here too, in its words", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ backendRef: { name: "idp" } }, "BackendRefs must be used, backendRef is not supported."],
      [{ backendSettings: { retry: { perRetry: { timeout: "1s" } } } }, "Retry timeout is not supported."],
      [{ backendSettings: { retry: { retryOn: { httpStatusCodes: [503] } } } }, "HTTPStatusCodes is not supported."],
      [{ backendSettings: { retry: { perRetry: { backOff: { baseInterval: "0s" } } } } }, "baseInterval cannot be set to 0s"],
      [{ backendRefs: [{ group: "gateway.envoyproxy.io", kind: "Backend", name: "missing" }] }, "provider.backendRefs[0]"],
      [{ backendRefs: [{ name: "idp", port: 443 }] }, "provider.backendRefs[0]: service apps/idp not found"],
    ];
    for (const [provider, message] of cases) {
      const { condition } = outcome(provider);
      expect([condition.status, condition.reason], message).toEqual(["False", "Invalid"]);
      expect(condition.message, message).toContain(message);
    }
  });
});

describe("oidc behind the extAuth hook-up (--self-service)", () => {
  it("is Invalid: Envoy Gateway's own oauth2 filter would run a second login after the check", () => {
    const { accepted } = compilePolicyWith(
      HOOK_UP_WORLD.options,
      {
        extAuth: HOOK_UP_WORLD.extAuth,
        oidc: { provider: { issuer: "https://idp.example.com" }, clientID: "console", clientSecret: { name: "oidc-client" } },
      },
      secret("oidc-client", { "client-secret": "a-client-secret" }),
      HOOK_UP_WORLD.service,
    );
    expect(accepted.status).toBe("False");
    expect(accepted.message).toMatch(
      /^OIDC: cannot be enforced through the extAuth hook-up to this Portcullis: Envoy Gateway's own oauth2 filter/,
    );
  });
});

describe("oidc cookieNames read by a jwt provider of the policy (Envoy Gateway's Azure Entra example)", () => {
  const policy = (cookieNames: Record<string, string>, cookies: string[]) =>
    compilePolicy(
      {
        oidc: { provider: { issuer: "https://idp.example.com" }, clientID: "console", clientSecret: { name: "oidc-client" }, cookieNames },
        jwt: { providers: [{ name: "entra", remoteJWKS: { uri: "https://idp.example.com/keys" }, extractFrom: { cookies } }] },
      },
      secret("oidc-client", { "client-secret": "a-client-secret" }),
    ).accepted;

  it("is Invalid, naming the cookie Portcullis never sets and the forwarding that works instead", () => {
    expect(policy({ accessToken: "azure-access-token" }, ["azure-access-token"])).toMatchObject({
      status: "False",
      reason: "Invalid",
      message:
        "OIDC: cookieNames.accessToken: jwt provider entra reads the cookie azure-access-token, which Envoy's oauth2 filter sets and Portcullis does not (it keeps the tokens in one sealed session cookie), so no logged-in request would carry it: set forwardAccessToken: true and let the provider read Authorization instead",
    });
    expect(policy({ idToken: "id" }, ["other", "id"]).message).toContain(
      "cookieNames.idToken: jwt provider entra reads the cookie id, which Envoy's oauth2 filter sets",
    );
  });

  it("is accepted when the jwt provider reads another cookie", () => {
    expect(policy({ accessToken: "azure-access-token" }, ["api-token"])).toMatchObject({ status: "True", reason: "Accepted" });
  });
});
