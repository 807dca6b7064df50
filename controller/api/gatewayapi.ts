/** The fields Portcullis reads of the Gateway API kinds (gateway.networking.k8s.io). */
import { z } from "zod";
import { builtRe2 } from "../lib/regex.ts";
import { LabelSelectorSchema } from "./meta.ts";

export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";

export const GatewayClassSpecSchema = z.object({ controllerName: z.string() }).passthrough();

export const ListenerSchema = z
  .object({
    name: z.string().min(1),
    hostname: z.string().optional(),
    // Required by Gateway API: Envoy has one route table per port, so the port decides which rules apply.
    port: z.number().int().min(1).max(65535),
    protocol: z.string().optional(),
    allowedRoutes: z
      .object({
        namespaces: z
          .object({ from: z.enum(["All", "Same", "Selector"]).optional(), selector: LabelSelectorSchema.optional() })
          .passthrough()
          .optional(),
        kinds: z.array(z.object({ group: z.string().optional(), kind: z.string() })).optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();
export type Listener = z.infer<typeof ListenerSchema>;

/** Which namespaces may attach ListenerSets to a Gateway; absent: none (Gateway API's default). */
const AllowedListenersSchema = z
  .object({
    namespaces: z
      .object({ from: z.enum(["All", "Same", "Selector", "None"]).optional(), selector: LabelSelectorSchema.optional() })
      .passthrough()
      .optional(),
  })
  .passthrough();

export const GatewaySpecSchema = z
  .object({
    gatewayClassName: z.string().min(1),
    listeners: z.array(ListenerSchema).default([]),
    allowedListeners: AllowedListenersSchema.optional(),
  })
  .passthrough();

/** A ListenerSet: listeners added to a parent Gateway that allows it (`allowedListeners`). */
export const ListenerSetSpecSchema = z
  .object({
    parentRef: z
      .object({ group: z.string().optional(), kind: z.string().optional(), namespace: z.string().optional(), name: z.string().min(1) })
      .passthrough(),
    listeners: z.array(ListenerSchema).min(1),
  })
  .passthrough();

export const ParentRefSchema = z
  .object({
    group: z.string().optional(),
    kind: z.string().optional(),
    namespace: z.string().optional(),
    name: z.string().min(1),
    sectionName: z.string().optional(),
    port: z.number().int().optional(),
  })
  .passthrough();
export type ParentRef = z.infer<typeof ParentRefSchema>;

const StringMatchSchema = z.object({
  type: z.enum(["Exact", "RegularExpression"]).default("Exact"),
  name: z.string().min(1),
  value: z.string(),
});

export const HTTPRouteMatchSchema = z
  .object({
    path: z
      .object({
        type: z.enum(["Exact", "PathPrefix", "RegularExpression"]).default("PathPrefix"),
        value: z.string().default("/"),
      })
      .optional(),
    headers: z.array(StringMatchSchema).optional(),
    queryParams: z.array(StringMatchSchema).optional(),
    method: z.string().optional(),
  })
  .passthrough();
export type HTTPRouteMatch = z.infer<typeof HTTPRouteMatchSchema>;

export const HTTPRouteRuleSchema = z
  .object({ name: z.string().optional(), matches: z.array(HTTPRouteMatchSchema).optional() })
  .passthrough();
export type HTTPRouteRule = z.infer<typeof HTTPRouteRuleSchema>;

export const HTTPRouteSpecSchema = z
  .object({
    parentRefs: z.array(ParentRefSchema).default([]),
    hostnames: z.array(z.string()).default([]),
    // A route without rules still matches everything (one implicit rule with a "/" prefix).
    rules: z.array(HTTPRouteRuleSchema).default([{}]),
  })
  .passthrough();

/**
 * What Gateway API requires of an Exact service and method (its CRD validation, RE2), and what
 * Envoy Gateway writes in place of the part a RegularExpression match leaves out. The `(?i)` of
 * the service pattern makes the rest of such a path pattern case-insensitive, the method too.
 */
export const GRPC_SERVICE_NAME = String.raw`(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*`;
export const GRPC_METHOD_NAME = "[A-Za-z_][A-Za-z_0-9]*";
// Run on RE2, as the Kubernetes API server validates the CRD: its `(?i)` folds `ſ` onto `s` and the Kelvin sign onto `k`.
const SERVICE_NAME = builtRe2(GRPC_SERVICE_NAME);
const METHOD_NAME = builtRe2(GRPC_METHOD_NAME);

/** A GRPCRoute method match: the request path is `/<service>/<method>`; one part may be left out. */
const GRPCMethodMatchSchema = z
  .object({
    type: z.enum(["Exact", "RegularExpression"]).default("Exact"),
    service: z.string().optional(),
    method: z.string().optional(),
  })
  .refine((m) => m.service !== undefined || m.method !== undefined, { message: "one of service or method is required" })
  .refine((m) => m.type !== "Exact" || m.service === undefined || SERVICE_NAME.testExact(m.service), {
    message: "an Exact service must be a dotted name of letters, digits and _",
    path: ["service"],
  })
  .refine((m) => m.type !== "Exact" || m.method === undefined || METHOD_NAME.testExact(m.method), {
    message: "an Exact method must be a name of letters, digits and _",
    path: ["method"],
  });

export const GRPCRouteMatchSchema = z
  .object({ method: GRPCMethodMatchSchema.optional(), headers: z.array(StringMatchSchema).optional() })
  .passthrough();
export type GRPCRouteMatch = z.infer<typeof GRPCRouteMatchSchema>;

export const GRPCRouteRuleSchema = z
  .object({ name: z.string().optional(), matches: z.array(GRPCRouteMatchSchema).optional() })
  .passthrough();

export const GRPCRouteSpecSchema = z
  .object({
    parentRefs: z.array(ParentRefSchema).default([]),
    hostnames: z.array(z.string()).default([]),
    // Unlike HTTPRoute's, Gateway API gives GRPCRoute rules no default: a route without rules serves nothing.
    rules: z.array(GRPCRouteRuleSchema).default([]),
  })
  .passthrough();

export const ReferenceGrantSpecSchema = z.object({
  from: z.array(z.object({ group: z.string(), kind: z.string(), namespace: z.string() })),
  to: z.array(z.object({ group: z.string(), kind: z.string(), name: z.string().optional() })),
});
