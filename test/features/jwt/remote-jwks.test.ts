/**
 * remoteJWKS behind backendRefs (issue 14): an in-cluster issuer with its own CA, compiled from the
 * manifests (an Envoy Gateway Backend, a BackendTLSPolicy and its CA ConfigMap) and fetched for real
 * over HTTPS by the key store; a CA that did not sign the server is refused, failing closed.
 */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKeyStore } from "../../../controller/keys/store.ts";
import { jwks, makeKey, startJwksServer, type JwksServer } from "../../keys/helpers.ts";
import { gatewayWithRoute, securityPolicy } from "../../support/manifests.ts";
import { createTestCa, type TestCa } from "../../support/test-ca.ts";
import { compileText } from "../../support/world.ts";

let ca: TestCa;
let issuer: JwksServer;
beforeAll(async () => {
  ca = createTestCa();
  issuer = await startJwksServer({ kind: "jwks", doc: jwks(await makeKey("k1")) }, ca.issue("issuer.idp.svc.cluster.local"));
});
afterAll(() => issuer.close());

const world = (trusted: string) => {
  const port = new URL(issuer.origin).port;
  const pem = trusted.trim().split("\n").join("\n      ");
  return `${gatewayWithRoute("api.example.com")}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: issuer, namespace: apps}
spec:
  endpoints: [{ip: {address: 127.0.0.1, port: ${port}}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: issuer-ca, namespace: apps}
data:
  ca.crt: |
      ${pem}
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: issuer, namespace: apps}
spec:
  targetRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: issuer}]
  validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: issuer-ca}], hostname: issuer.idp.svc.cluster.local}
---
${securityPolicy(
  "p",
  `
  jwt:
    providers:
      - name: idp
        remoteJWKS:
          uri: https://issuer.idp.svc.cluster.local/jwks.json
          backendRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: issuer}]
          failedRefetchDuration: 60s
`,
)}`;
};

async function fetched(trusted: string) {
  const result = compileText(world(trusted));
  expect(result.statuses[0]!.ancestors[0]!.conditions[0]).toMatchObject({ status: "True", reason: "Accepted" });
  const store = createKeyStore({ logger: pino({ level: "silent" }), fetchTimeoutMs: 2000 });
  try {
    await store.sync(result.snapshot.remoteJwks);
    return store.describe();
  } finally {
    store.close();
  }
}

describe("remoteJWKS through a Backend and a BackendTLSPolicy with a private CA", () => {
  it("fetches the keys from the Backend's endpoint, verifying the issuer's certificate with the policy's CA", async () => {
    const before = issuer.hits("/jwks.json");
    expect(await fetched(ca.certPem)).toEqual([expect.objectContaining({ keyCount: 1, kids: ["k1"], consecutiveFailures: 0 })]);
    expect(issuer.hits("/jwks.json")).toBe(before + 1);
  });

  it("refuses the issuer when the BackendTLSPolicy trusts another CA: no keys, and the certificate error says why", async () => {
    const [state] = await fetched(createTestCa("Another CA").certPem);
    expect(state).toMatchObject({ keyCount: 0, consecutiveFailures: 1, failedRefetchMs: 60_000 });
    expect(state!.lastError?.reason).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i);
  });
});
