/**
 * compileExtAuth: the service a policy names, resolved and checked as Envoy Gateway v1.9.0's
 * translator does (buildExtAuth, validateExtServiceBackendReference), in its words.
 */
import { describe, expect, it } from "vitest";
import { extAuth } from "../../../controller/features/extAuth/index.ts";
import type { CompiledExtAuth } from "../../../controller/features/extAuth/types.ts";
import { policiesOnRules, secret } from "../../support/manifests.ts";
import { compiledOf } from "../../../controller/features/feature.ts";
import { selfServiceOf } from "../../../controller/runtime/compile-options.ts";
import { compilePolicy, compileText } from "../../support/world.ts";

/** Service `namespace`/authz with TCP ports 8080 (named http) and 9000. */
const service = (namespace = "apps") => `apiVersion: v1
kind: Service
metadata: {name: authz, namespace: ${namespace}}
spec: {ports: [{name: http, port: 8080}, {port: 9000}]}
`;
const CONFIG = `apiVersion: v1
kind: ConfigMap
metadata: {name: tenant, namespace: apps}
data: {id: tenant-a}
`;

describe("compileExtAuth", () => {
  it("calls a Service at its cluster DNS name, with Envoy Gateway's and Envoy's defaults", () => {
    const outcome = compilePolicy(
      "extAuth: {http: {backendRefs: [{name: authz, port: 8080}], path: /check, headersToBackend: [X-User]}}",
      service(),
    );
    expect(outcome.accepted.status).toBe("True");
    expect(outcome.compiled(extAuth)).toMatchObject({
      protocol: "http",
      service: { endpoints: [{ host: "authz.apps.svc", port: 8080, weight: 1 }], names: ["Service apps/authz:8080"], tls: undefined },
      pathPrefix: "/check",
      headersToBackend: ["x-user"],
      timeoutMs: 10_000,
      failOpen: false,
      statusOnError: 403,
    });
  });

  it("backendSettings: connect timeout, retry and circuit breaker limits reach the call (perRetry.timeout is left out, as by Envoy Gateway)", () => {
    const settings = `{timeout: {tcp: {connectTimeout: 2s}, http: {requestTimeout: 1s}}, retry: {numRetries: 3, retryOn: {triggers: [5xx]}, perRetry: {timeout: 1s, backOff: {baseInterval: 100ms, maxInterval: 1s}}}, circuitBreaker: {maxConnections: 10, maxPendingRequests: 5, maxParallelRequests: 100}, http2: {maxConcurrentStreams: 10}}`;
    const outcome = compilePolicy(`extAuth: {http: {backendRefs: [{name: authz, port: 8080}], backendSettings: ${settings}}}`, service());
    expect(outcome.accepted.status).toBe("True");
    const compiled = outcome.compiled(extAuth) as CompiledExtAuth;
    expect(compiled.service).toMatchObject({
      connectTimeoutMs: 2000,
      retry: { numRetries: 3, baseIntervalMs: 100, maxIntervalMs: 1000, on: ["5xx"] },
      maxInFlight: 15,
    });
    // Only `timeout` bounds the call: requestTimeout tunes Envoy's cluster, not the ext_authz call.
    expect(compiled.timeoutMs).toBe(10_000);
    // Envoy Gateway's default triggers: a failed connection (and gRPC's unavailable, cancelled).
    const defaults = compilePolicy("extAuth: {grpc: {backendRefs: [{name: authz, port: 8080}], backendSettings: {retry: {}}}}", service());
    expect((defaults.compiled(extAuth) as CompiledExtAuth).service.retry?.on).toContain("connect-failure");
    expect(
      compilePolicy(
        "extAuth: {http: {backendRefs: [{name: authz, port: 8080}], backendSettings: {retry: {perRetry: {backOff: {baseInterval: 0s}}}}}}",
        service(),
      ).accepted.message,
    ).toBe("ExtAuth: http.backendSettings.retry.perRetry.backOff: baseInterval cannot be set to 0s");
  });

  it("leaves a weight-0 backendRef out of the rotation, but still checks it", () => {
    const refs = (second: string) => `extAuth: {grpc: {backendRefs: [{name: authz, port: 8080, weight: 2}, ${second}]}}`;
    const weighted = compilePolicy(refs("{name: authz, port: 9000, weight: 0}"), service()).compiled(extAuth) as CompiledExtAuth;
    expect(weighted.service.endpoints).toEqual([{ host: "authz.apps.svc", port: 8080, weight: 2 }]);
    expect(compilePolicy(refs("{name: authz, port: 9999, weight: 0}"), service()).accepted.message).toBe(
      "ExtAuth: TCP Port 9999 not found on service apps/authz",
    );
    expect(compilePolicy("extAuth: {grpc: {backendRefs: [{name: authz, port: 8080, weight: 0}]}}", service()).accepted.message).toBe(
      "ExtAuth: every backendRef of the external service has weight 0",
    );
  });

  it("reads context extensions from values, ConfigMaps and Secrets (a Secret's value base64-decoded once more, as Envoy Gateway does)", () => {
    const outcome = compilePolicy(
      `
extAuth:
  grpc: {backendRefs: [{name: authz, port: 8080}]}
  contextExtensions:
    - {name: plain, value: v}
    - {name: tenant, type: ValueRef, valueRef: {group: "", kind: ConfigMap, name: tenant, key: id}}
    - {name: token, type: ValueRef, valueRef: {group: "", kind: Secret, name: ext, key: token}}
`,
      service(),
      CONFIG,
      secret("ext", { token: Buffer.from("s3cr3t").toString("base64") }),
    );
    expect((outcome.compiled(extAuth) as CompiledExtAuth).contextExtensions).toEqual({ plain: "v", tenant: "tenant-a", token: "s3cr3t" });
    expect(JSON.stringify(outcome.result.statuses)).not.toContain("s3cr3t");
  });

  it.each([
    [
      "both http and grpc",
      "{http: {backendRefs: [{name: authz, port: 8080}]}, grpc: {backendRefs: [{name: authz, port: 8080}]}}",
      "only one of grpc or http can be specified",
    ],
    ["neither http nor grpc", "{failOpen: true}", "one of grpc or http must be specified"],
    ["no backend", "{grpc: {}}", "backendRef or backendRefs needs to be set"],
    [
      "path with pathOverride",
      "{http: {backendRefs: [{name: authz, port: 8080}], path: /a, pathOverride: /b}}",
      "only one of path or pathOverride can be specified",
    ],
    [
      "a Service without its port",
      "{grpc: {backendRefs: [{name: authz}]}}",
      "a valid port number corresponding to a port on the Service must be specified",
    ],
    ["a missing Service", "{grpc: {backendRefs: [{name: nowhere, port: 8080}]}}", "service apps/nowhere not found"],
    [
      "a Service in another namespace without a ReferenceGrant",
      "{grpc: {backendRefs: [{name: authz, namespace: auth, port: 8080}]}}",
      "backend ref to Service auth/authz not permitted by any ReferenceGrant",
    ],
    [
      "a kind Envoy Gateway does not call",
      "{grpc: {backendRefs: [{name: authz, kind: Pod, port: 8080}]}}",
      "kind is invalid, only Service",
    ],
    [
      "a context extension with both value and valueRef",
      "{grpc: {backendRefs: [{name: authz, port: 8080}]}, contextExtensions: [{name: x, value: v, valueRef: {group: '', kind: ConfigMap, name: tenant, key: id}}]}",
      "contextExtensions x: Exactly one of value or valueRef must be set with correct type.",
    ],
  ])("is Invalid for %s, in Envoy Gateway's words", (_situation, spec, message) => {
    const outcome = compilePolicy(`extAuth: ${spec}`, service(), service("auth"), CONFIG);
    expect(outcome.accepted.status).toBe("False");
    expect(outcome.accepted.message).toContain(`ExtAuth: ${message}`);
  });
});

describe("compileExtAuth with --self-service: the hook-up", () => {
  /** Service apps/portcullis with `ports`, and one policy p whose extAuth is `spec`; compiled as --self-service apps/portcullis (listeners 9001, 9002). */
  const compileWithSelf = (ports: string, spec: string) => {
    const result = compileText(
      policiesOnRules(
        "api.example.com",
        { p: { path: "/", features: `extAuth: ${spec}` } },
        `apiVersion: v1\nkind: Service\nmetadata: {name: portcullis, namespace: apps}\nspec: {ports: ${ports}}\n`,
      ),
      { selfService: selfServiceOf("apps/portcullis", {}) },
    );
    const accepted = result.statuses.find((s) => s.name === "p")!.ancestors[0]!.conditions.find((c) => c.type === "Accepted")!;
    return { accepted, compiled: compiledOf(result.snapshot.policies["apps/p"]!.features, extAuth) };
  };

  it.each([
    ["targetPort by the chart's container port name", "[{name: grpc, port: 443, targetPort: grpc}]", 443],
    ["targetPort by Portcullis' listener port number", "[{port: 443, targetPort: 9001}]", 443],
    ["no targetPort: the port itself is the listener's", "[{port: 9001}]", 9001],
  ])("a gRPC backendRef to the Service port leading to the gRPC listener (%s) is the hook-up", (_how, ports, port) => {
    const { accepted, compiled } = compileWithSelf(ports, `{grpc: {backendRefs: [{name: portcullis, port: ${port}}]}}`);
    expect(accepted.status).toBe("True");
    expect(compiled).toEqual({ protocol: "grpc", hookUp: [`Service apps/portcullis:${port}`], headersToBackend: [] });
  });

  it("an HTTP backendRef to the port leading to the HTTP ext_authz listener is the hook-up, headersToBackend kept for anti-spoofing", () => {
    const { compiled } = compileWithSelf(
      "[{name: authz, port: 9002, targetPort: authz}]",
      "{http: {backendRefs: [{name: portcullis, port: 9002}], headersToBackend: [X-User-Id]}}",
    );
    expect(compiled).toEqual({ protocol: "http", hookUp: ["Service apps/portcullis:9002"], headersToBackend: ["x-user-id"] });
  });

  it.each([
    ["path (Envoy's path_prefix: /authz + the request's path)", "path: /authz", "http.path /authz"],
    ["pathOverride (one path for every request)", "pathOverride: /check", "http.pathOverride /check"],
  ])("an HTTP hook-up with %s is Invalid: Portcullis decides on the client's own path", (_what, field, named) => {
    const { accepted } = compileWithSelf(
      "[{name: authz, port: 9002, targetPort: authz}]",
      `{http: {backendRefs: [{name: portcullis, port: 9002}], ${field}}}`,
    );
    expect(accepted.status).toBe("False");
    expect(accepted.message).toContain(`${named} would make Envoy send this Portcullis' own Service another path than the client's`);
  });

  it.each(["grpc", "http"])(
    "a %s hook-up with recomputeRoute is Invalid: Envoy would route again on the headers Portcullis sets",
    (protocol) => {
      const port = protocol === "grpc" ? 9001 : 9002;
      const { accepted } = compileWithSelf(
        `[{port: ${port}}]`,
        `{${protocol}: {backendRefs: [{name: portcullis, port: ${port}}]}, recomputeRoute: true}`,
      );
      expect(accepted.status).toBe("False");
      expect(accepted.message).toContain(
        "recomputeRoute would make Envoy route again on the headers this Portcullis' answer sets or removes",
      );
      expect(
        compileWithSelf(`[{port: ${port}}]`, `{${protocol}: {backendRefs: [{name: portcullis, port: ${port}}]}, recomputeRoute: false}`)
          .accepted.status,
      ).toBe("True");
    },
  );

  it("a Service of the same name in another namespace is a service to call, not the hook-up", () => {
    const result = compileText(
      policiesOnRules(
        "api.example.com",
        { p: { path: "/", features: "extAuth: {grpc: {backendRefs: [{name: portcullis, port: 9001}]}}" } },
        "apiVersion: v1\nkind: Service\nmetadata: {name: portcullis, namespace: apps}\nspec: {ports: [{port: 9001}]}\n",
      ),
      { selfService: selfServiceOf("portcullis/portcullis", {}) },
    );
    expect((compiledOf(result.snapshot.policies["apps/p"]!.features, extAuth) as CompiledExtAuth).service.names).toEqual([
      "Service apps/portcullis:9001",
    ]);
  });

  it("a Service port that leads to the other protocol's listener is Invalid, naming the listener", () => {
    const { accepted } = compileWithSelf(
      "[{name: authz, port: 9002, targetPort: authz}]",
      "{grpc: {backendRefs: [{name: portcullis, port: 9002}]}}",
    );
    expect(accepted.message).toBe(
      "ExtAuth: port 9002 of this Portcullis' own Service apps/portcullis does not lead to its gRPC ext_authz listener (targetPort grpc or 9001), so the proxy's gRPC checks would not reach Portcullis",
    );
  });

  it("its Service unread (--watch-namespaces without Portcullis' namespace) is Invalid, saying which namespace to list", () => {
    const { accepted } = compileWithSelf("[]", "{grpc: {backendRefs: [{name: elsewhere, port: 9001}]}}");
    expect(accepted.message).toBe("ExtAuth: service apps/elsewhere not found");
    const result = compileText(
      policiesOnRules("api.example.com", {
        p: { path: "/", features: "extAuth: {grpc: {backendRefs: [{name: portcullis, port: 9001}]}}" },
      }),
      { selfService: selfServiceOf("apps/portcullis", {}) },
    );
    expect(result.statuses[0]!.ancestors[0]!.conditions[0]!.message).toBe(
      "ExtAuth: service apps/portcullis not found (Portcullis' own Service apps/portcullis, --self-service: with --watch-namespaces, list apps too)",
    );
  });
});
