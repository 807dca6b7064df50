/** The fields Portcullis reads of core/v1 Secret and ConfigMap. */
import { z } from "zod";

export const SecretBodySchema = z
  .object({
    type: z.string().optional(),
    data: z.record(z.string(), z.string()).optional(),
    // Manifests written by hand may use stringData; the API server would merge it into data.
    stringData: z.record(z.string(), z.string()).optional(),
  })
  .passthrough();

export const ConfigMapBodySchema = z
  .object({
    data: z.record(z.string(), z.string()).optional(),
    binaryData: z.record(z.string(), z.string()).optional(),
  })
  .passthrough();

/**
 * The fields Portcullis reads of a core/v1 Service: its type and ports, which decide whether a
 * policy's `backendRefs` name a port the Service has (Envoy Gateway refuses a reference otherwise),
 * and, on Portcullis' own Service (`--self-service`), which of its ports leads to which listener
 * (`targetPort`: a container port number or name; absent, the port itself).
 */
export const ServiceSpecSchema = z
  .object({
    type: z.string().optional(),
    ports: z
      .array(
        z
          .object({
            name: z.string().optional(),
            port: z.number().int().min(1).max(65535),
            protocol: z.string().optional(),
            targetPort: z.union([z.number().int(), z.string()]).optional(),
          })
          .passthrough(),
      )
      .optional(),
  })
  .passthrough();
