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

/** envoy.config.core.v3.Address as proto-loader decodes and encodes it: one of its kinds set, the others null or absent. */
export interface EnvoyAddress {
  socket_address?: { address?: string; port_value?: number } | null;
  pipe?: { path?: string } | null;
  envoy_internal_address?: { server_listener_name?: string } | null;
}

const PIPE = "pipe:";
const INTERNAL = "envoy-internal:";

/**
 * A peer's address as one text (AuthzRequest.clientAddress): an IP address as itself, else a text
 * that is none ("pipe:<path>", "envoy-internal:<listener>", "unknown"), which client-address.ts
 * reads as a peer it cannot place.
 */
export function peerText(address: EnvoyAddress | null | undefined): string {
  if (address?.socket_address?.address) return address.socket_address.address;
  if (address?.pipe != null) return `${PIPE}${address.pipe.path ?? ""}`;
  if (address?.envoy_internal_address != null) return `${INTERNAL}${address.envoy_internal_address.server_listener_name ?? ""}`;
  return "unknown";
}

/** The Address peerText read `text` from (an unknown kind: an empty Address). */
export function peerAddress(text: string): EnvoyAddress {
  if (text.startsWith(PIPE)) return { pipe: { path: text.slice(PIPE.length) } };
  if (text.startsWith(INTERNAL)) return { envoy_internal_address: { server_listener_name: text.slice(INTERNAL.length) } };
  return text === "unknown" ? {} : { socket_address: { address: text, port_value: 0 } };
}
