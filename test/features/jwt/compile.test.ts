/** compileJwt's remote JWKS URIs (issue 12 situation 8): credentials refused, secrets never shown. */
import { describe, expect, it } from "vitest";
import { summarizeSnapshot } from "../../../controller/snapshot/summary.ts";
import { compilePolicy } from "../../support/world.ts";

const compiled = (uri: string) => {
  const { accepted, result } = compilePolicy(`jwt: {providers: [{name: idp, remoteJWKS: {uri: "${uri}"}}]}`);
  return { condition: accepted, shown: JSON.stringify({ statuses: result.statuses, summary: summarizeSnapshot(result.snapshot) }) };
};

describe("remote JWKS URIs", () => {
  it("a URI with user:password@ is Invalid (a fetch can never use them), and the password is not repeated", () => {
    const { condition, shown } = compiled("https://svc:hunter2@idp.example.com/jwks");
    expect([condition.status, condition.reason]).toEqual(["False", "Invalid"]);
    expect(condition.message).toBe(
      "JWT: providers[0].remoteJWKS.uri: https://redacted@idp.example.com/jwks has credentials (user:password@), which a JWKS fetch cannot use; remove them",
    );
    expect(shown).not.toContain("hunter2");
  });
  it("a URI with a secret in its query is accepted and fetched as written, but shown redacted", () => {
    const { condition, shown } = compiled("https://idp.example.com/jwks?api_key=s3cret");
    expect(condition.status).toBe("True");
    expect(shown).toContain("remote https://idp.example.com/jwks?api_key=redacted");
    expect(shown).not.toContain("s3cret");
  });
  it("text that is not a URL is not quoted back", () => {
    const { condition } = compiled("hunter2 is not a url");
    expect(condition.message).toBe("JWT: providers[0].remoteJWKS.uri: not a URL");
  });
});

const outcome = (jwt: string) => {
  const { accepted, result } = compilePolicy(`jwt: ${jwt}`);
  return {
    condition: accepted,
    summary: JSON.stringify(summarizeSnapshot(result.snapshot)),
    sources: result.snapshot.policies["apps/p"]!.invalid === undefined ? result.snapshot.remoteJwks : [],
  };
};
const remote = (extra: string) => `{providers: [{name: idp, remoteJWKS: {uri: "https://idp.example.com/jwks", ${extra}}}]}`;

describe("jwt fields of Envoy Gateway's API (issue 14)", () => {
  it("failOpen with optional is Invalid, in the CRD's words", () => {
    const { condition } = outcome(
      `{optional: true, failOpen: true, providers: [{name: idp, remoteJWKS: {uri: "https://idp.example.com/jwks"}}]}`,
    );
    expect([condition.status, condition.reason]).toEqual(["False", "Invalid"]);
    expect(condition.message).toContain("optional and failOpen cannot both be set; failOpen already tolerates a missing JWT");
  });

  it("up to 16 providers are accepted; 17 are Invalid with the API server's message", () => {
    const providers = (n: number) =>
      `{providers: [${Array.from({ length: n }, (_, i) => `{name: p${i}, issuer: "https://idp${i}.example.com", remoteJWKS: {uri: "https://idp${i}.example.com/jwks"}}`).join(", ")}]}`;
    expect(outcome(providers(16)).condition.status).toBe("True");
    const { condition } = outcome(providers(17));
    expect([condition.status, condition.reason]).toEqual(["False", "Invalid"]);
    expect(condition.message).toContain("jwt.providers: Too many: 17: must have at most 16 items");
  });

  it("failedRefetchDuration sets how soon a failed fetch is tried again (Envoy's default 1 s otherwise)", () => {
    expect(outcome(remote("failedRefetchDuration: 15s")).sources).toMatchObject([{ failedRefetchMs: 15_000 }]);
    expect(outcome(remote("cacheDuration: 60s")).sources).toMatchObject([{ failedRefetchMs: 1000, cacheDurationMs: 60_000 }]);
    expect(outcome(remote("failedRefetchDuration: 15s")).summary).toContain("after a failure every 15s");
  });

  it("backendSettings: requestTimeout bounds the fetch, connectTimeout a connection, retry as Envoy Gateway translates it", () => {
    const settings = `backendSettings: {timeout: {tcp: {connectTimeout: 2s}, http: {requestTimeout: 5s}}, retry: {numRetries: 3, perRetry: {backOff: {baseInterval: 100ms, maxInterval: 1s}}, retryOn: {triggers: [5xx, reset]}}, circuitBreaker: {maxConnections: 10}, loadBalancer: {type: Random}}`;
    const { condition, sources, summary } = outcome(remote(settings));
    expect(condition.status).toBe("True");
    expect(sources).toMatchObject([
      {
        connection: {
          requestTimeoutMs: 5000,
          connectTimeoutMs: 2000,
          retry: { numRetries: 3, baseIntervalMs: 100, maxIntervalMs: 1000, on: ["5xx", "reset"] },
        },
      },
    ]);
    expect(summary).toContain("3 retries on 5xx,reset after 100-1000ms");
  });

  it("retry defaults: 2 retries (the CRD's default), Envoy's 1 s backoff up to 10 s, Envoy Gateway's default triggers", () => {
    expect(outcome(remote("backendSettings: {retry: {}}")).sources).toMatchObject([
      {
        connection: {
          retry: {
            numRetries: 2,
            baseIntervalMs: 1000,
            maxIntervalMs: 10_000,
            on: ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"],
          },
        },
      },
    ]);
  });

  it("what Envoy Gateway refuses for a JWKS fetch is Invalid, in its words", () => {
    const cases: [string, string][] = [
      ["backendRef: {name: idp}", "BackendRefs must be used, backendRef is not supported."],
      ["backendSettings: {retry: {perRetry: {timeout: 1s}}}", "Retry timeout is not supported."],
      ["backendSettings: {retry: {retryOn: {httpStatusCodes: [503]}}}", "HTTPStatusCodes is not supported."],
      ["backendSettings: {retry: {perRetry: {backOff: {baseInterval: 0s}}}}", "baseInterval cannot be set to 0s"],
      [
        "backendSettings: {retry: {perRetry: {backOff: {baseInterval: 2s, maxInterval: 1s}}}}",
        "maxInterval cannot be less than baseInterval",
      ],
      ["backendSettings: {retry: {retryOn: {triggers: [sometimes]}}}", "retryOn.triggers[0]"],
    ];
    for (const [extra, message] of cases) {
      const { condition } = outcome(remote(extra));
      expect([condition.status, condition.reason], extra).toEqual(["False", "Invalid"]);
      expect(condition.message, extra).toContain(message);
    }
  });

  it("providers fetching one URI the same way share a cache key; another CA or endpoint makes another", () => {
    const twice = `{providers: [{name: a, issuer: "https://a", remoteJWKS: {uri: "https://idp.example.com/jwks"}}, {name: b, issuer: "https://b", remoteJWKS: {uri: "https://idp.example.com/jwks", cacheDuration: 60s}}]}`;
    expect(outcome(twice).sources).toHaveLength(1);
    const differently = `{providers: [{name: a, issuer: "https://a", remoteJWKS: {uri: "https://idp.example.com/jwks"}}, {name: b, issuer: "https://b", remoteJWKS: {uri: "https://idp.example.com/jwks", backendSettings: {retry: {}}}}]}`;
    expect(outcome(differently).sources).toHaveLength(2);
  });
});

describe("localJWKS valueRef: the ConfigMap key Envoy Gateway reads", () => {
  const configMap = (data: Record<string, string>) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keys, namespace: apps}\ndata: ${JSON.stringify(data)}\n`;
  const withKeys = (data: Record<string, string>) =>
    compilePolicy(
      "jwt: {providers: [{name: idp, localJWKS: {type: ValueRef, valueRef: {group: '', kind: ConfigMap, name: keys}}}]}",
      configMap(data),
    ).accepted;
  const jwksA = JSON.stringify({ keys: [{ kty: "oct", kid: "a", k: "c2VjcmV0LWEtc2VjcmV0LWEtc2VjcmV0LWEtc2VjcmV0LWE" }] });
  const jwksB = JSON.stringify({ keys: [{ kty: "oct", kid: "b", k: "c2VjcmV0LWItc2VjcmV0LWItc2VjcmV0LWItc2VjcmV0LWI" }] });

  it("reads the jwks key beside others", () => {
    expect(withKeys({ jwks: jwksA, other: jwksB }).status).toBe("True");
  });
  it("reads the only key, whatever its name", () => {
    expect(withKeys({ "keys.json": jwksA }).status).toBe("True");
  });
  it("reads several keys of one value alike", () => {
    expect(withKeys({ "a.json": jwksA, "b.json": jwksA }).status).toBe("True");
  });
  it("is Invalid without a jwks key among keys of different values: Envoy Gateway v1.9.0 takes any one of them (Go's map order)", () => {
    const condition = withKeys({ "a.json": jwksA, "b.json": jwksB });
    expect([condition.status, condition.reason]).toEqual(["False", "Invalid"]);
    expect(condition.message).toBe(
      'JWT: providers[0].localJWKS.valueRef: ConfigMap apps/keys has no "jwks" key and 2 keys of different values (a.json, b.json), of which Envoy Gateway reads any one (Go\'s map order); name the one to read jwks',
    );
  });
});

describe("claimToHeaders naming one header twice", () => {
  it("is Invalid: Envoy adds each claim as a line of its own, which one answer cannot say and upstreams read each their way", () => {
    const { accepted } = compilePolicy(
      `jwt: {providers: [{name: idp, remoteJWKS: {uri: "https://idp.example.com/jwks"}, claimToHeaders: [{claim: sub, header: x-id}, {claim: email, header: X-Id}]}]}`,
    );
    expect([accepted.status, accepted.reason]).toEqual(["False", "Invalid"]);
    expect(accepted.message).toBe(
      "JWT: providers[0].claimToHeaders[1].header: x-id is also set from claim sub (claimToHeaders[0]); Envoy would add each claim as a line of its own, which upstreams read as the first, the last or both: set each claim in a header of its own",
    );
  });
});

describe("recomputeRoute", () => {
  const provider = (extra: string) =>
    `{providers: [{name: idp, remoteJWKS: {uri: "https://idp.example.com/jwks"}, recomputeRoute: true${extra}}]}`;
  // Claim routing works in Envoy Gateway and is refused here on each request it reroutes: the policy says so.
  it("with claim headers: Accepted, with a Warning naming them and the 403 such requests get", () => {
    const { accepted, warnings } = compilePolicy(`jwt: ${provider(", claimToHeaders: [{header: x-tier, claim: tier}]")}`);
    expect(accepted.status).toBe("True");
    expect(warnings.join("\n")).toContain(
      "JWT: providers[0].recomputeRoute: a request that the claim headers it sets (x-tier) would route to another rule is refused (403 route_mismatch)",
    );
  });
  it("without claim headers nothing reroutes: no Warning", () => {
    expect(compilePolicy(`jwt: ${provider("")}`).warnings).toEqual([]);
  });
});
