/** backendTlsOf: which CA and name verify a backend's TLS server (BackendTLSPolicy, Backend tls), as Envoy Gateway v1.9.0. */
import { describe, expect, it } from "vitest";
import { backendTlsOf } from "../../controller/compile/backend-tls.ts";
import { createReferences } from "../../controller/compile/references.ts";
import { createTestCa } from "../support/test-ca.ts";
import { resourcesOf } from "../support/world.ts";

const ca = createTestCa();
const otherCa = createTestCa("Other CA");
const indent = (pem: string) => pem.trim().split("\n").join("\n      ");

const objects = `
apiVersion: v1
kind: ConfigMap
metadata: {name: idp-ca, namespace: idp}
data:
  ca.crt: |
      ${indent(ca.certPem)}
---
apiVersion: v1
kind: Secret
metadata: {name: other-ca, namespace: idp}
stringData:
  tls.crt: |
      ${indent(otherCa.certPem)}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: empty-ca, namespace: idp}
data: {unrelated: x, another: y}
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: issuer, namespace: idp}
spec:
  targetRefs: [{group: "", kind: Service, name: issuer}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: idp-ca}]
    hostname: issuer.idp.svc.cluster.local
---
apiVersion: gateway.networking.k8s.io/v1alpha3
kind: BackendTLSPolicy
metadata: {name: issuer-https-port, namespace: idp}
spec:
  targetRefs: [{group: "", kind: Service, name: issuer, sectionName: https}]
  validation:
    caCertificateRefs: [{group: "", kind: Secret, name: other-ca}]
    hostname: https.issuer.idp
    subjectAltNames: [{type: URI, uri: "spiffe://idp/issuer"}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: broken, namespace: idp}
spec:
  targetRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: broken}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: empty-ca}]
    hostname: broken.idp
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: system, namespace: idp}
spec:
  targetRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: public}]
  validation: {wellKnownCACertificates: System, hostname: login.example.com}
`;
const resources = resourcesOf(objects);
const refs = createReferences(resources);
const service = (name: string, sectionName?: string) => ({
  group: "",
  kind: "Service",
  namespace: "idp",
  name,
  ...(sectionName ? { sectionName } : {}),
});
const backend = (name: string) => ({ group: "gateway.envoyproxy.io", kind: "Backend", namespace: "idp", name });

describe("backendTlsOf", () => {
  it("reads every BackendTLSPolicy version a manifest may carry", () => {
    expect(resources.backendTLSPolicies.map((p) => p.metadata.name)).toEqual(["broken", "issuer", "issuer-https-port", "system"]);
  });

  it("nothing configured: undefined (system CAs, the URI's host)", () => {
    expect(backendTlsOf(refs, service("unrelated"))).toEqual({ ok: true, value: undefined });
  });

  it("a BackendTLSPolicy on the Service: its ConfigMap's ca.crt and its hostname as SNI", () => {
    expect(backendTlsOf(refs, service("issuer"))).toEqual({
      ok: true,
      value: { caPem: ca.certPem, serverName: "issuer.idp.svc.cluster.local" },
    });
    expect(refs.used().configMaps).toContain("idp/idp-ca");
  });

  it("a policy naming the port's sectionName wins over one for the whole Service; a Secret's tls.crt; subjectAltNames", () => {
    expect(backendTlsOf(refs, service("issuer", "https"))).toEqual({
      ok: true,
      value: { caPem: otherCa.certPem, serverName: "https.issuer.idp", subjectAltNames: [{ uri: "spiffe://idp/issuer" }] },
    });
    // Another port of the Service: the policy without sectionName.
    expect(backendTlsOf(refs, service("issuer", "admin")).ok && backendTlsOf(refs, service("issuer", "admin"))).toMatchObject({
      value: { serverName: "issuer.idp.svc.cluster.local" },
    });
  });

  it("wellKnownCACertificates System: the system store with the policy's hostname", () => {
    expect(backendTlsOf(refs, backend("public"))).toEqual({ ok: true, value: { serverName: "login.example.com" } });
  });

  it("a CA ConfigMap without a certificate is an error, as Envoy Gateway words it", () => {
    expect(backendTlsOf(refs, backend("broken"))).toEqual({
      ok: false,
      error: "BackendTLSPolicy idp/broken: no ca found in configmap empty-ca",
    });
  });

  it("a Backend's own tls: its CA and sni; a BackendTLSPolicy on it overrides both", () => {
    const tls = { caCertificateRefs: [{ group: "", kind: "Secret", name: "other-ca" }], sni: "backend.idp" };
    expect(backendTlsOf(refs, backend("plain"), tls)).toEqual({ ok: true, value: { caPem: otherCa.certPem, serverName: "backend.idp" } });
    expect(backendTlsOf(refs, backend("public"), tls)).toEqual({
      ok: true,
      value: { caPem: otherCa.certPem, serverName: "login.example.com" },
    });
  });

  it("a Backend tls with neither CA nor well-known CAs is an error; insecureSkipVerify is refused (fail closed)", () => {
    expect(backendTlsOf(refs, backend("plain"), { sni: "x" })).toEqual({
      ok: false,
      error: "CACertificate must be specified when InsecureSkipVerify is false",
    });
    expect(backendTlsOf(refs, backend("plain"), { insecureSkipVerify: true })).toEqual({
      ok: false,
      error: "Backend idp/plain: tls.insecureSkipVerify is not supported for keys and credentials Portcullis fetches",
    });
  });

  it("a missing CA object, and a reference to a kind it cannot read, are errors", () => {
    expect(backendTlsOf(refs, backend("plain"), { caCertificateRefs: [{ group: "", kind: "ConfigMap", name: "nope" }] })).toEqual({
      ok: false,
      error: "Backend idp/plain: configmap nope not found in namespace idp",
    });
    expect(backendTlsOf(refs, backend("plain"), { caCertificateRefs: [{ group: "", kind: "ClusterTrustBundle", name: "b" }] })).toEqual({
      ok: false,
      error: "Backend idp/plain: caCertificateRefs: only core ConfigMaps and Secrets are read (not ClusterTrustBundles)",
    });
  });
});
