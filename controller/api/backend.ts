/**
 * Envoy Gateway's `Backend` (gateway.envoyproxy.io/v1alpha1): endpoints outside the Service
 * model that a policy's `backendRefs` may name. Only the fields Portcullis reads are typed; the
 * others are kept as written (a Backend is not Portcullis' to validate).
 */
import { z } from "zod";

/** A Backend endpoint: a host name or an IP address with a port, or a Unix socket path. */
const BackendEndpointSchema = z
  .object({
    fqdn: z
      .object({ hostname: z.string().min(1), port: z.number().int().min(1).max(65535) })
      .passthrough()
      .optional(),
    ip: z
      .object({ address: z.string().min(1), port: z.number().int().min(1).max(65535) })
      .passthrough()
      .optional(),
    unix: z
      .object({ path: z.string().min(1) })
      .passthrough()
      .optional(),
  })
  .passthrough();

export const BackendSpecSchema = z
  .object({
    /** `Endpoints` (the default) or `DynamicResolver`. */
    type: z.string().optional(),
    endpoints: z.array(BackendEndpointSchema).optional(),
    appProtocols: z.array(z.string()).optional(),
    /** TLS settings towards the endpoints; read only to refuse what Portcullis cannot do yet. */
    tls: z.unknown().optional(),
  })
  .passthrough();
export type BackendSpec = z.infer<typeof BackendSpecSchema>;
