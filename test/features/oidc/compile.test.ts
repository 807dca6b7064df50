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
