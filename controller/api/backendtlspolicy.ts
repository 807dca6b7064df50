/**
 * How a backend's TLS server is verified, from the two places Envoy Gateway v1.9.0 reads it
 * (internal/gatewayapi/backendtlspolicy.go): a Gateway API `BackendTLSPolicy` (v1, or v1alpha3 as
 * Gateway API v1.6.1's experimental channel still serves it) targeting the Service, ServiceImport or Backend, and an Envoy
 * Gateway `Backend`'s own `tls`. Only the fields that decide which server is trusted are typed;
 * the rest pass through (they are not Portcullis' to validate).
 */
import { z } from "zod";

export const BACKEND_TLS_POLICY_GROUP = "gateway.networking.k8s.io";

/** A CA bundle holder in the object's own namespace: a ConfigMap or Secret (key `ca.crt`, else `tls.crt`, else its only key). */
const CaCertificateRefSchema = z.object({ group: z.string(), kind: z.string().min(1), name: z.string().min(1) }).passthrough();
export type CaCertificateRef = z.infer<typeof CaCertificateRefSchema>;

const SubjectAltNameSchema = z
  .object({ type: z.enum(["Hostname", "URI"]), hostname: z.string().optional(), uri: z.string().optional() })
  .passthrough();

export const BackendTLSPolicySpecSchema = z
  .object({
    targetRefs: z
      .array(
        z
          .object({ group: z.string(), kind: z.string().min(1), name: z.string().min(1), sectionName: z.string().min(1).optional() })
          .passthrough(),
      )
      .min(1),
    validation: z
      .object({
        caCertificateRefs: z.array(CaCertificateRefSchema).optional(),
        /** `System`: the well-known CAs instead of caCertificateRefs. */
        wellKnownCACertificates: z.string().optional(),
        /** Sent as SNI, and the name the certificate must carry unless subjectAltNames say otherwise. */
        hostname: z.string().min(1),
        subjectAltNames: z.array(SubjectAltNameSchema).optional(),
      })
      .passthrough(),
  })
  .passthrough();
export type BackendTLSPolicySpec = z.infer<typeof BackendTLSPolicySpecSchema>;

/** An Envoy Gateway Backend's `spec.tls` (BackendTLSSettings): the server-verification part. */
export const BackendTLSSettingsSchema = z
  .object({
    caCertificateRefs: z.array(CaCertificateRefSchema).optional(),
    wellKnownCACertificates: z.string().optional(),
    insecureSkipVerify: z.boolean().optional(),
    sni: z.string().min(1).optional(),
  })
  .passthrough();
export type BackendTLSSettings = z.infer<typeof BackendTLSSettingsSchema>;
