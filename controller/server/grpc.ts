/**
 * Envoy's gRPC ext_authz (`envoy.service.auth.v3.Authorization/Check`) on its own port: the same
 * check() and Decision as the HTTP ports, in Envoy's CheckResponse shape. The Gateway may be named
 * per route with `context_extensions: {"portcullis.io/gateway": "ns/name"}` and the HTTPRoute with
 * "portcullis.io/route". Only Envoy's configuration writes context_extensions; a request header
 * (x-portcullis-gateway) is the client's to write, so here it names nothing.
 * Envoy's peer for clientCIDRs rules is `attributes.source` (authz/client-address.ts), and the
 * listener port is the port of `attributes.destination` (the local address the request arrived on).
 * With Envoy Gateway's `extAuth.includeRouteMetadata`, `attributes.route_metadata_context` names
 * the route Envoy selected; check() decides only when its own match is that route.
 */
import { randomUUID } from "node:crypto";
import { Server, ServerCredentials, status as GrpcStatus, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { AUTHORIZATION_SERVICE, type EnvoyAddress, PARTIAL_BODY_HEADER, peerText } from "../api/ext-authz.ts";
import type { Decision } from "../authz/decision.ts";
import { denialContent } from "./envoy-response.ts";
import { headerValue, linesUpstreamMayRead } from "../authz/header-values.ts";
import type { AuthzRequest, ProxyRoute } from "../authz/request.ts";
import type { Authorizer } from "../authz/authorizer.ts";

export const GATEWAY_CONTEXT_EXTENSION = "portcullis.io/gateway";
/** Per-route context extension restricting matching to one HTTPRoute ("namespace/name"). */
export const ROUTE_CONTEXT_EXTENSION = "portcullis.io/route";

interface CheckRequest {
  attributes?: {
    source?: { address?: EnvoyAddress | null } | null;
    destination?: { address?: { socket_address?: { port_value?: number } } };
    request?: {
      http?: {
        id?: string;
        method?: string;
        headers?: Record<string, string>;
        header_map?: { headers?: { key: string; value: string; raw_value?: Buffer }[] };
        path?: string;
        host?: string;
        scheme?: string;
        body?: string;
        raw_body?: Buffer;
      };
    };
    context_extensions?: Record<string, string>;
    route_metadata_context?: Metadata | null;
  };
}

/** google.protobuf.Struct and Value as proto-loader decodes them: its bundled well-known types keep camelCase names, whatever keepCase says. */
interface Struct {
  fields?: Record<string, StructValue>;
}
interface StructValue {
  stringValue?: string;
  structValue?: Struct | null;
  listValue?: { values?: StructValue[] } | null;
}
/** envoy.config.core.v3.Metadata: filter_metadata by filter namespace. */
interface Metadata {
  filter_metadata?: Record<string, Struct>;
}

/** The filter metadata namespace Envoy Gateway writes its route metadata under. */
export const ENVOY_GATEWAY_METADATA_NAMESPACE = "envoy-gateway";

/**
 * The route Envoy Gateway says Envoy selected: `filter_metadata["envoy-gateway"].resources[0]`
 * with kind, namespace, name and (for a named rule) sectionName, as Envoy Gateway v1.9's xDS
 * translator writes them. Undefined when Envoy sent no such metadata. A resource without a
 * namespace or name names no route Portcullis has, so it is kept (empty) and never matches.
 */
export function proxyRouteOf(metadata: Metadata | null | undefined): ProxyRoute | undefined {
  const resources = metadata?.filter_metadata?.[ENVOY_GATEWAY_METADATA_NAMESPACE]?.fields?.resources?.listValue?.values;
  const fields = resources?.[0]?.structValue?.fields;
  if (fields === undefined) return undefined;
  const text = (key: string) => fields[key]?.stringValue ?? "";
  return { kind: text("kind"), namespace: text("namespace"), name: text("name"), sectionName: text("sectionName") || undefined };
}

interface HeaderOption {
  header: { key: string; value: string };
  append: { value: boolean };
}

/** gRPC status codes Envoy reads as the verdict: anything but OK is a denial. */
const UNAUTHENTICATED = GrpcStatus.UNAUTHENTICATED;
const PERMISSION_DENIED = GrpcStatus.PERMISSION_DENIED;

/** Adds a line of header `name` (lower-cased) to `lines`: one line as itself, several as a list. */
function addLine(lines: Record<string, string | string[]>, name: string, value: string): void {
  const key = name.toLowerCase();
  const before = lines[key];
  lines[key] = before === undefined ? value : Array.isArray(before) ? [...before, value] : [before, value];
}

export function toAuthzRequest(call: CheckRequest): AuthzRequest {
  const http = call.attributes?.request?.http ?? {};
  // No prototype: a header named __proto__ is a header like any other.
  const lines: Record<string, string | string[]> = Object.create(null);
  // Without header_map, a repeated header is one value of `headers`, its lines joined with ",". A name
  // in two letter cases (Envoy sends lower case only) is two lines, never one read and one dropped.
  for (const [k, v] of Object.entries(http.headers ?? {})) addLine(lines, k, v);
  // One entry per line as Envoy received them (encode_raw_headers): a repeated header stays its lines,
  // as on the HTTP ports, so rules also read each line (what an upstream may read).
  for (const h of http.header_map?.headers ?? [])
    addLine(lines, h.key, h.value !== "" || h.raw_value === undefined ? h.value : h.raw_value.toString("utf8"));
  const headers = linesUpstreamMayRead(lines);
  const gateway = call.attributes?.context_extensions?.[GATEWAY_CONTEXT_EXTENSION];
  return {
    method: http.method || "GET",
    scheme: http.scheme || "http",
    host: http.host || headerValue(headers, ":authority") || headerValue(headers, "host") || "",
    path: http.path || headerValue(headers, ":path") || "/",
    headers,
    gateway: gateway === undefined || gateway === "" ? undefined : gateway,
    route: call.attributes?.context_extensions?.[ROUTE_CONTEXT_EXTENSION] || undefined,
    // The listener's local port: what selects Envoy's route table. proto3 reads 0 for "not stated".
    port: call.attributes?.destination?.address?.socket_address?.port_value || undefined,
    clientAddress: peerOf(call.attributes?.source),
    proxyRoute: proxyRouteOf(call.attributes?.route_metadata_context),
    body: bodyOf(http, headerValue(headers, PARTIAL_BODY_HEADER)),
  };
}

/**
 * The body Envoy forwarded (with_request_body), as AuthzRequest.body says: whole when its
 * `x-envoy-auth-partial-body` says nothing was cut ("false"); null when it says the body was cut
 * (`allow_partial_message`), which Portcullis cannot know whole; undefined when Envoy forwarded
 * none, where Content-Length and Transfer-Encoding tell whether there is one. Without
 * `pack_as_bytes` Envoy sends the bytes in the text field `body`, where bytes that are not UTF-8
 * arrive as U+FFFD: such a body is not the upstream's either (null).
 */
function bodyOf(http: { body?: string; raw_body?: Buffer }, partial: string | undefined): Buffer | null | undefined {
  if (partial === undefined) return undefined;
  if (partial !== "false") return null;
  if (http.raw_body !== undefined && http.raw_body.length > 0) return http.raw_body;
  const text = http.body ?? "";
  return text.includes("\uFFFD") ? null : Buffer.from(text, "utf8");
}

/**
 * The peer Envoy states (`attributes.source`) as text (peerText): an address that is no IP address
 * stays one, for Envoy appends to X-Forwarded-For only an IP peer (Http::Utility::appendXff):
 * behind a pipe or an internal listener the header's last entry is the client's own, not Envoy's
 * append. undefined only when Envoy states no source at all.
 */
function peerOf(source: { address?: EnvoyAddress | null } | null | undefined): string | undefined {
  return source == null ? undefined : peerText(source.address);
}

/** Headers are set, never appended: a client's own copy must not survive next to ours. */
const overwrite = (headers: Readonly<Record<string, string>>): HeaderOption[] =>
  Object.entries(headers).map(([key, value]) => ({ header: { key, value }, append: { value: false } }));

export function toCheckResponse(decision: Decision): object {
  if (decision.allowed) {
    return {
      status: { code: GrpcStatus.OK, message: "" },
      ok_response: {
        headers: overwrite(decision.upstreamHeaders),
        headers_to_remove: [...decision.removeHeaders],
        response_headers_to_add: overwrite(decision.responseHeaders),
      },
    };
  }
  if (decision.status === 204) {
    // A CORS preflight answered here: any non-OK code makes Envoy send denied_response as is.
    return {
      status: { code: PERMISSION_DENIED, message: decision.message },
      denied_response: { status: { code: 204 }, headers: overwrite(decision.responseHeaders), body: "" },
    };
  }
  const denial = denialContent(decision);
  return {
    status: { code: decision.status === 401 ? UNAUTHENTICATED : PERMISSION_DENIED, message: decision.message },
    denied_response: {
      status: { code: decision.status },
      headers: [
        ...overwrite(denial.headers),
        // One header per cookie: Set-Cookie lines cannot be joined.
        ...(decision.cookies ?? []).map((value) => ({ header: { key: "set-cookie", value }, append: { value: true } })),
      ],
      body: denial.body,
    },
  };
}

export interface GrpcServer {
  readonly port: number;
  /** Stops accepting; in-flight checks get `graceMs` to finish. */
  stop(graceMs: number): Promise<void>;
}

export async function startGrpcServer(authorizer: Authorizer, port: number, host: string, logger: Logger): Promise<GrpcServer> {
  const server = new Server({ "grpc.max_receive_message_length": 4 * 1024 * 1024 });
  server.addService(AUTHORIZATION_SERVICE, {
    Check(call: ServerUnaryCall<CheckRequest, object>, callback: sendUnaryData<object>) {
      const request = toAuthzRequest(call.request);
      const requestId = () => call.request.attributes?.request?.http?.id || randomUUID();
      Promise.resolve()
        .then(() => authorizer.decide(request, "envoy-grpc", requestId))
        .then(
          (decision) => callback(null, toCheckResponse(decision)),
          (err: unknown) => {
            logger.error({ err, requestId: requestId() }, "gRPC check failed; denying");
            callback(null, {
              status: { code: PERMISSION_DENIED, message: "the request could not be checked" },
              denied_response: { status: { code: 403 } },
            });
          },
        );
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host.includes(":") ? `[${host}]` : host}:${port}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port: bound,
    stop: (graceMs) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
