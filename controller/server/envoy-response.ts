/**
 * A Decision on the wire of Envoy's HTTP ext_authz service (and of forward-auth proxies, which
 * read it the same way): 200 allows and its headers go upstream; anything else is the denial the
 * client sees, body and headers included.
 */
import type { Decision } from "../authz/decision.ts";

/** Envoy strips the headers this response header lists from the upstream request. */
export const HEADERS_TO_REMOVE = "x-envoy-auth-headers-to-remove";

export interface WireResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export function envoyResponse(decision: Decision): WireResponse {
  if (decision.allowed) {
    // Envoy sorts these by its own configuration: allowed_upstream_headers go upstream,
    // allowed_client_headers_on_success (the CORS headers) to the client.
    const headers: Record<string, string> = { ...decision.responseHeaders, ...decision.upstreamHeaders };
    if (decision.removeHeaders.length > 0) headers[HEADERS_TO_REMOVE] = decision.removeHeaders.join(",");
    return { status: 200, headers, body: "" };
  }
  // A CORS preflight answered by Portcullis: no body, only the Access-Control-* headers.
  if (decision.status === 204) return { status: 204, headers: { ...decision.responseHeaders }, body: "" };
  return {
    status: decision.status,
    headers: { ...decision.responseHeaders, "content-type": "application/json" },
    body: JSON.stringify({ code: decision.code, message: decision.message }),
  };
}
