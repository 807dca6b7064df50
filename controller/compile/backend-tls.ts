/**
 * How the TLS server of a backend a policy calls is verified, as Envoy Gateway v1.9.0 decides it
 * (internal/gatewayapi/backendtlspolicy.go, applyBackendTLSSetting): the Backend's own `tls`, then
 * a BackendTLSPolicy targeting the backend, whose CA and hostname win over the Backend's.
 */
import { type BackendTLSSettings, BackendTLSSettingsSchema, type CaCertificateRef } from "../api/backendtlspolicy.ts";
import type { ConfigMap, Secret } from "../api/resources.ts";
import { describeIssues } from "../api/securitypolicy.ts";
import type { JwksTls } from "../keys/types.ts";
import type { Result } from "../lib/result.ts";
import type { BackendTarget, References } from "./references.ts";

/** Trust and name of a TLS server, merged from its sources; `caPem` undefined means the system store. */
interface Verification {
  readonly systemCas: boolean;
  readonly caPem?: string;
  readonly serverName?: string;
  readonly subjectAltNames?: JwksTls["subjectAltNames"];
}

/**
 * The verification of `target`'s TLS server, or undefined when nothing configures it (then the
 * system CAs and the URI's host apply, as for a JWKS fetched without backendRefs). `backendTls` is
 * an Envoy Gateway Backend's `spec.tls`, unvalidated. Errors carry Envoy Gateway's wording.
 * `insecureSkipVerify` is refused: keys fetched from an unverified server are keys anyone could
 * serve (README, "Differences from Envoy Gateway").
 */
export function backendTlsOf(refs: References, target: BackendTarget, backendTls?: unknown): Result<JwksTls | undefined, string> {
  let fromBackend: Verification | undefined;
  if (backendTls !== undefined) {
    const settings = BackendTLSSettingsSchema.safeParse(backendTls);
    if (!settings.success)
      return { ok: false, error: `Backend ${target.namespace}/${target.name}: ${describeIssues(settings.error, "spec.tls")}` };
    const verification = backendVerification(refs, target, settings.data);
    if (!verification.ok) return verification;
    fromBackend = verification.value;
  }
  const policy = refs.backendTLSPolicy(target);
  let fromPolicy: Verification | undefined;
  if (policy !== undefined) {
    const validation = policy.spec.validation;
    const systemCas = validation.wellKnownCACertificates === "System";
    const ca = systemCas ? undefined : caBundle(refs, policy.metadata.namespace, validation.caCertificateRefs ?? []);
    if (ca !== undefined && !ca.ok)
      return { ok: false, error: `BackendTLSPolicy ${policy.metadata.namespace}/${policy.metadata.name}: ${ca.error}` };
    const subjectAltNames = validation.subjectAltNames?.map((san) =>
      san.type === "Hostname" ? { hostname: san.hostname } : { uri: san.uri },
    );
    fromPolicy = {
      systemCas,
      ...(ca === undefined ? {} : { caPem: ca.value }),
      serverName: validation.hostname,
      ...(subjectAltNames === undefined || subjectAltNames.length === 0 ? {} : { subjectAltNames }),
    };
  }
  const merged = fromPolicy === undefined ? fromBackend : fromBackend === undefined ? fromPolicy : { ...fromBackend, ...fromPolicy };
  if (merged === undefined) return { ok: true, value: undefined };
  if (!merged.systemCas && merged.caPem === undefined)
    return { ok: false, error: "CACertificate must be specified when InsecureSkipVerify is false" };
  const { systemCas: _systemCas, ...tls } = merged;
  return { ok: true, value: tls };
}

function backendVerification(refs: References, target: BackendTarget, tls: BackendTLSSettings): Result<Verification, string> {
  const name = `Backend ${target.namespace}/${target.name}`;
  if (tls.insecureSkipVerify === true)
    return { ok: false, error: `${name}: tls.insecureSkipVerify is not supported for keys and credentials Portcullis fetches` };
  const systemCas = tls.wellKnownCACertificates === "System";
  const refsGiven = tls.caCertificateRefs ?? [];
  const ca = systemCas || refsGiven.length === 0 ? undefined : caBundle(refs, target.namespace, refsGiven);
  if (ca !== undefined && !ca.ok) return { ok: false, error: `${name}: ${ca.error}` };
  return {
    ok: true,
    value: { systemCas, ...(ca === undefined ? {} : { caPem: ca.value }), ...(tls.sni === undefined ? {} : { serverName: tls.sni }) },
  };
}

/** Key Envoy Gateway reads a CA from: `ca.crt`, else `tls.crt`, else the only key there is. */
function caOf(data: Readonly<Record<string, string>>): string | undefined {
  const keys = Object.keys(data);
  return data["ca.crt"] ?? data["tls.crt"] ?? (keys.length === 1 ? data[keys[0]!] : undefined);
}

/** The CA certificates of `caRefs` (ConfigMaps and Secrets of `namespace`), joined; other kinds are skipped. */
function caBundle(refs: References, namespace: string, caRefs: readonly CaCertificateRef[]): Result<string, string> {
  const pems: string[] = [];
  for (const ref of caRefs) {
    if (ref.group !== "" || (ref.kind !== "ConfigMap" && ref.kind !== "Secret")) continue;
    const found: Result<ConfigMap | Secret, string> =
      ref.kind === "ConfigMap"
        ? refs.configMap(namespace, { kind: "ConfigMap", name: ref.name })
        : refs.secret(namespace, { kind: "Secret", name: ref.name });
    if (!found.ok) return { ok: false, error: `${ref.kind.toLowerCase()} ${ref.name} not found in namespace ${namespace}` };
    const pem = caOf(found.value.data);
    if (pem === undefined || !pem.includes("-----BEGIN CERTIFICATE-----"))
      return { ok: false, error: `no ca found in ${ref.kind.toLowerCase()} ${ref.name}` };
    pems.push(pem.trim());
  }
  if (pems.length === 0) {
    const supported = caRefs.some((r) => r.group === "" && (r.kind === "ConfigMap" || r.kind === "Secret"));
    return {
      ok: false,
      error: supported
        ? "no valid CA certificate found in referenced resources"
        : "caCertificateRefs: only core ConfigMaps and Secrets are read (not ClusterTrustBundles)",
    };
  }
  return { ok: true, value: `${pems.join("\n")}\n` };
}
