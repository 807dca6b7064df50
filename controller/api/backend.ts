/**
 * Envoy Gateway's `Backend` (gateway.envoyproxy.io/v1alpha1): endpoints outside the Service
 * model that a policy's `backendRefs` may name. Only the shape is checked here, loosely, so that
 * a Backend with a bad endpoint still loads and the policy naming it says what is wrong with it
 * (features/extAuth/compile.ts backendEndpoints checks the endpoints: Portcullis' CRD has no CEL,
 * and a Backend is not Portcullis' to reject). Fields Portcullis does not read pass through.
 */
import { z } from "zod";

/** A Backend endpoint: a host name or an IP address with a port, or a Unix socket path; exactly one of them is valid. */
const BackendEndpointSchema = z
  .object({
    fqdn: z.object({ hostname: z.string(), port: z.number().int() }).passthrough().optional(),
    ip: z.object({ address: z.string(), port: z.number().int() }).passthrough().optional(),
    unix: z.object({ path: z.string() }).passthrough().optional(),
  })
  .passthrough();
export type BackendEndpointSpec = z.infer<typeof BackendEndpointSchema>;

export const BackendSpecSchema = z
  .object({
    /** `Endpoints` (the default) or `DynamicResolver`. */
    type: z.string().optional(),
    endpoints: z.array(BackendEndpointSchema).optional(),
    appProtocols: z.array(z.string()).optional(),
    /** TLS settings towards the endpoints (compile/backend-tls.ts reads them). */
    tls: z.unknown().optional(),
  })
  .passthrough();
export type BackendSpec = z.infer<typeof BackendSpecSchema>;
