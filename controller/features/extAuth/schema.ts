/**
 * The `extAuth` field of a SecurityPolicy (Envoy Gateway v1.9 api/v1alpha1/ext_auth_types.go):
 * an HTTP or gRPC external authorization service the request is checked with, as Envoy's
 * ext_authz filter checks it. The cross-field rules Envoy Gateway's CRD states in CEL (one of http
 * or grpc, a backend, ...) are checked by compileExtAuth, on the policy as merged (mergeType).
 */
import { z } from "zod";
import { BackendObjectReferenceSchema, BackendRefSchema, ClusterSettingsSchema } from "../../api/cluster-settings.ts";
import { GatewayDurationSchema } from "../../api/meta.ts";

export type { BackendObjectReference, BackendRef } from "../../api/cluster-settings.ts";

/** Envoy Gateway's BackendCluster: where the service runs (`backendRef` is deprecated for `backendRefs`). */
const BackendClusterShape = {
  backendRef: BackendObjectReferenceSchema.optional(),
  backendRefs: z.array(BackendRefSchema).max(16).optional(),
  /** How the service is called: connect timeout, retries, circuit breaker limits (the rest tunes Envoy's cluster; README). */
  backendSettings: ClusterSettingsSchema.optional(),
};

const HTTPExtAuthServiceSchema = z
  .object({
    ...BackendClusterShape,
    path: z.string().optional(),
    pathOverride: z.string().optional(),
    headersToBackend: z.array(z.string().min(1)).optional(),
  })
  .strict();

const GRPCExtAuthServiceSchema = z.object(BackendClusterShape).strict();

const ContextExtensionSchema = z
  .object({
    name: z.string().min(1),
    type: z.enum(["Value", "ValueRef"]).default("Value"),
    value: z.string().optional(),
    valueRef: z
      .object({ group: z.string(), kind: z.string().min(1), name: z.string().min(1), key: z.string().min(1) })
      .strict()
      .optional(),
  })
  .strict();

/** The HTTP statuses Envoy Gateway's CRD accepts for `statusOnError`. */
const STATUS_ON_ERROR = new Set([
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 423, 424, 426, 428, 429, 431, 500,
  501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

export const ExtAuthSchema = z
  .object({
    grpc: GRPCExtAuthServiceSchema.optional(),
    http: HTTPExtAuthServiceSchema.optional(),
    headersToExtAuth: z.array(z.string().min(1)).optional(),
    bodyToExtAuth: z
      .object({ maxRequestBytes: z.number().int().min(1).max(0xffffffff) })
      .strict()
      .optional(),
    timeout: GatewayDurationSchema.optional(),
    failOpen: z.boolean().optional(),
    recomputeRoute: z.boolean().optional(),
    includeRouteMetadata: z.boolean().optional(),
    // The CRD's listMapKey: a name once, so a merge (by name) and its owners (by name) mean one element.
    contextExtensions: z
      .array(ContextExtensionSchema)
      .refine((list) => new Set(list.map((e) => e.name)).size === list.length, { message: "each name may appear once" })
      .optional(),
    statusOnError: z
      .number()
      .int()
      .refine((s) => STATUS_ON_ERROR.has(s), { message: "must be a 4xx or 5xx status Envoy Gateway supports" })
      .optional(),
  })
  .strict();
export type ExtAuthSpec = z.infer<typeof ExtAuthSchema>;
