/**
 * Envoy's gRPC external authorization service (`envoy.service.auth.v3.Authorization`), loaded from
 * the vendored protos in api/proto/: served by the gRPC port (server/grpc.ts) and called by the
 * extAuth feature's client (features/extAuth/client.ts).
 */
import { join } from "node:path";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const definition = loadSync("envoy/service/auth/v3/external_auth.proto", {
  includeDirs: [join(import.meta.dirname, "proto")],
  keepCase: true,
  longs: String,
  enums: Number,
  defaults: true,
  oneofs: true,
});

export const AUTHORIZATION_SERVICE = definition["envoy.service.auth.v3.Authorization"] as unknown as ServiceDefinition;

/**
 * Envoy's ext_authz marks a check that carries the request body with this header: "false" for the
 * whole body, "true" for one cut at `max_request_bytes`. It drops a client's own copy.
 */
export const PARTIAL_BODY_HEADER = "x-envoy-auth-partial-body";
