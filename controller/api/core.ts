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
