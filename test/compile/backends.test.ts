/**
 * The backends features call (controller/compile/backends.ts), resolved as Envoy Gateway v1.9.0
 * resolves a backendRef: where each is reached, and the parts of backendSettings a fetch obeys.
 */
import { describe, expect, it } from "vitest";
import { backendsConnection, clusterConnection, resolveBackendRef } from "../../controller/compile/backends.ts";
import { createReferences } from "../../controller/compile/references.ts";
import { resourcesOf } from "../support/world.ts";

const refs = createReferences(
  resourcesOf(`apiVersion: v1
kind: Service
metadata: {name: idp, namespace: apps}
spec: {ports: [{name: https, port: 443}]}
---
apiVersion: v1
kind: Service
metadata: {name: idp, namespace: other}
spec: {ports: [{port: 443}]}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: pair, namespace: apps}
spec: {endpoints: [{ip: {address: 10.0.0.1, port: 8443}}, {ip: {address: 10.0.0.2, port: 8443}}]}
`),
);
const BACKEND = { group: "gateway.envoyproxy.io", kind: "Backend", name: "pair" };

describe("resolveBackendRef", () => {
  it("reaches a Service at its cluster DNS name and a Backend at its endpoints", () => {
    expect(resolveBackendRef({ name: "idp", port: 443 }, "apps", refs)).toEqual({
      ok: true,
      value: { name: "Service apps/idp:443", endpoints: [{ kind: "hostname", host: "idp.apps.svc", port: 443 }], tls: undefined },
    });
    const pair = resolveBackendRef(BACKEND, "apps", refs);
    expect(pair.ok && pair.value.endpoints.map((e) => `${e.kind} ${e.host}:${e.port}`)).toEqual(["ip 10.0.0.1:8443", "ip 10.0.0.2:8443"]);
  });
  it("refuses, in Envoy Gateway's words, another namespace without a ReferenceGrant, a port the Service lacks, a ServiceImport", () => {
    expect(resolveBackendRef({ name: "idp", namespace: "other", port: 443 }, "apps", refs)).toEqual({
      ok: false,
      error: "backend ref to Service other/idp not permitted by any ReferenceGrant",
    });
    expect(resolveBackendRef({ name: "idp", port: 8443 }, "apps", refs)).toEqual({
      ok: false,
      error: "TCP Port 8443 not found on service apps/idp",
    });
    expect(resolveBackendRef({ group: "multicluster.x-k8s.io", kind: "ServiceImport", name: "idp", port: 443 }, "apps", refs)).toEqual({
      ok: false,
      error: "ServiceImport apps/idp: multi-cluster services are not supported by Portcullis",
    });
  });
});

describe("backendsConnection", () => {
  it("joins the endpoints of every backendRef, leaving weight 0 out; all of weight 0 is a problem named after the field", () => {
    expect(
      backendsConnection(
        [
          { name: "idp", port: 443 },
          { ...BACKEND, weight: 0 },
        ],
        "provider",
        "apps",
        refs,
      ),
    ).toEqual({
      ok: true,
      value: { endpoints: [{ host: "idp.apps.svc", port: 443 }] },
    });
    expect(backendsConnection([{ ...BACKEND, weight: 0 }], "remoteJWKS", "apps", refs)).toEqual({
      ok: false,
      error: ["remoteJWKS.backendRefs: every backendRef has weight 0"],
    });
  });
});

describe("clusterConnection", () => {
  it("takes the request and connect timeouts, and retries with Envoy's default backoff", () => {
    expect(
      clusterConnection({ timeout: { tcp: { connectTimeout: "2s" }, http: { requestTimeout: "5s" } }, retry: { numRetries: 1 } }, "x"),
    ).toEqual({
      ok: true,
      value: {
        requestTimeoutMs: 5000,
        connectTimeoutMs: 2000,
        retry: {
          numRetries: 1,
          baseIntervalMs: 1000,
          maxIntervalMs: 10_000,
          on: ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"],
        },
      },
    });
  });
  it("refuses a backoff whose maximum is below its base", () => {
    expect(clusterConnection({ retry: { numRetries: 2, perRetry: { backOff: { baseInterval: "2s", maxInterval: "1s" } } } }, "x")).toEqual({
      ok: false,
      error: ["x.retry.perRetry.backOff: maxInterval cannot be less than baseInterval"],
    });
  });
});
