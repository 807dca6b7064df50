/**
 * Envoy Gateway's `BackendCluster` members shared by every backend a policy calls (a remote JWKS,
 * an OIDC provider, an external service): `backendRefs`, and `ClusterSettings` (api/v1alpha1/shared_types.go, `backendSettings` of a remote
 * JWKS, an OIDC provider or an external service): how the connection to a backend is managed.
 * Portcullis reads `timeout`, `retry` and (for an extAuth service) the circuit breaker's request
 * limits; the other members tune Envoy's cluster (load balancing, health checks, keep-alive, PROXY
 * protocol, DNS, HTTP/2, buffer limits) and are accepted as written: they change no decision.
 */
import { z } from "zod";
import { GatewayDurationSchema } from "./meta.ts";

/** Gateway API BackendObjectReference. */
export const BackendObjectReferenceSchema = z
  .object({
    group: z.string().optional(),
    kind: z.string().min(1).optional(),
    name: z.string().min(1).max(253),
    namespace: z.string().min(1).max(63).optional(),
    port: z.number().int().min(1).max(65535).optional(),
  })
  .strict();
export type BackendObjectReference = z.infer<typeof BackendObjectReferenceSchema>;

/** Envoy Gateway's BackendRef: an object reference with a weight (0: never called) and a fallback flag. */
export const BackendRefSchema = BackendObjectReferenceSchema.extend({
  weight: z.number().int().min(0).max(1_000_000).optional(),
  fallback: z.boolean().optional(),
}).strict();
export type BackendRef = z.infer<typeof BackendRefSchema>;

/** Envoy Gateway's TriggerEnum (api/v1alpha1/retry_types.go). */
export const RETRY_TRIGGERS = [
  "5xx",
  "gateway-error",
  "reset",
  "reset-before-request",
  "connect-failure",
  "retriable-4xx",
  "refused-stream",
  "retriable-status-codes",
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
] as const;

const RetrySchema = z
  .object({
    /** The CRD's default is 2. */
    numRetries: z.number().int().min(0).default(2),
    numAttemptsPerPriority: z.number().int().optional(),
    retryOn: z
      .object({ triggers: z.array(z.enum(RETRY_TRIGGERS)).optional(), httpStatusCodes: z.array(z.number().int()).optional() })
      .strict()
      .optional(),
    perRetry: z
      .object({
        timeout: GatewayDurationSchema.optional(),
        backOff: z
          .object({ baseInterval: GatewayDurationSchema.optional(), maxInterval: GatewayDurationSchema.optional() })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** A circuit breaker threshold (Envoy Gateway circuitbreaker_types.go: 0 to 2^32 − 1). */
const CircuitLimitSchema = z.number().int().min(0).max(4294967295);

export const ClusterSettingsSchema = z
  .object({
    retry: RetrySchema.optional(),
    timeout: z
      .object({
        tcp: z.object({ connectTimeout: GatewayDurationSchema.optional() }).passthrough().optional(),
        http: z.object({ requestTimeout: GatewayDurationSchema.optional() }).passthrough().optional(),
      })
      .passthrough()
      .optional(),
    loadBalancer: z.unknown().optional(),
    proxyProtocol: z.unknown().optional(),
    tcpKeepalive: z.unknown().optional(),
    healthCheck: z.unknown().optional(),
    circuitBreaker: z
      .object({
        maxConnections: CircuitLimitSchema.optional(),
        maxPendingRequests: CircuitLimitSchema.optional(),
        maxParallelRequests: CircuitLimitSchema.optional(),
      })
      .passthrough()
      .optional(),
    connection: z.unknown().optional(),
    dns: z.unknown().optional(),
    http2: z.unknown().optional(),
  })
  .strict();
export type ClusterSettings = z.infer<typeof ClusterSettingsSchema>;
