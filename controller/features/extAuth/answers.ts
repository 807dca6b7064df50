/**
 * An external authorization service's answer read as Envoy's ext_authz filter reads it
 * (envoy/extensions/filters/common/ext_authz: ext_authz_http_impl.cc, ext_authz_grpc_impl.cc) into
 * one verdict: an allow with the headers to set and remove, a denial handed to the client as the
 * service wrote it, or an error (which only `failOpen` lets through).
 */
import type { NormalizedRequest } from "../../authz/request.ts";
import type { HttpAnswer } from "./client.ts";
import type { CompiledExtAuth } from "./types.ts";

/** What the service decided, read as Envoy reads it. */
export type ExtAuthVerdict =
  | {
      readonly kind: "allow";
      /** Lower-case name → value to set on the upstream request (replacing the client's). */
      readonly set: Readonly<Record<string, string>>;
      /** Lower-case names to remove from the upstream request. */
      readonly remove: readonly string[];
      /** Headers for the client's response (gRPC `response_headers_to_add`). */
      readonly responseHeaders: Readonly<Record<string, string>>;
    }
  | {
      readonly kind: "deny";
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      /** Set-Cookie lines, each its own: a cookie list is never joined into one line (RFC 6265 §3). */
      readonly cookies: readonly string[];
      readonly body: Buffer;
    }
  /** `error` says why, for the audit log; it never quotes the service's answer. */
  | { readonly kind: "error"; readonly error: string }
  /**
   * The request holds what no HTTP check can carry (a control character in a header value, a space
   * in the path): no proxy sends such a request, and the service was not asked, so `failOpen`
   * must not let it through. `what` names the part, never its value.
   */
  | { readonly kind: "unsendable"; readonly what: string };

/**
 * Headers of a service's answer never passed on (a denial's to the client, an OK's upstream or to
 * the client): Host (ext_authz drops it) and those that describe a connection or message framing,
 * which written into Portcullis' own HTTP answer would change how that message is read.
 */
const NOT_PASSED_THROUGH = new Set([
  "host",
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "content-length",
]);

/** An HTTP service's answer as Envoy's ext_authz HTTP client reads it (ext_authz_http_impl.cc toResponse). */
export function readHttpAnswer(config: Pick<CompiledExtAuth, "headersToBackend">, answer: HttpAnswer): ExtAuthVerdict {
  const { status } = answer;
  if (status >= 500 && status <= 599) return { kind: "error", error: `the service answered ${status}` };
  if (status < 200 || status > 599) return { kind: "error", error: `the service answered a status (${status}) that is no final answer` };
  if (status === 200) {
    const set: Record<string, string> = {};
    const remove: string[] = [];
    for (const [name, value] of answer.headers) {
      if (name === "x-envoy-auth-headers-to-remove") {
        for (const h of value.split(",")) if (h.trim() !== "") remove.push(h.trim().toLowerCase());
      } else if (config.headersToBackend.includes(name)) {
        // Each line is set in turn: the last one stays.
        set[name] = value;
      }
    }
    return { kind: "allow", set, remove: removable(remove), responseHeaders: {} };
  }
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, value] of answer.headers) {
    if (NOT_PASSED_THROUGH.has(name) || name === "x-envoy-auth-headers-to-remove") continue;
    // Envoy adds every line of the denial to the client's response: Set-Cookie lines stay apart.
    if (name === "set-cookie") cookies.push(value);
    else headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { kind: "deny", status, headers, cookies, body: answer.body };
}

/** Envoy refuses to remove pseudo-headers and Host, whatever the service asks. */
function removable(names: readonly string[]): string[] {
  return [...new Set(names.filter((n) => !n.startsWith(":") && n !== "host"))];
}

interface HeaderOption {
  header?: { key?: string; value?: string; raw_value?: Buffer } | null;
  append?: { value?: boolean } | null;
  append_action?: number;
}
interface CheckResponse {
  status?: { code?: number } | null;
  http_response?: string;
  denied_response?: { status?: { code?: number } | null; headers?: HeaderOption[]; body?: string } | null;
  ok_response?: {
    headers?: HeaderOption[];
    headers_to_remove?: string[];
    response_headers_to_add?: HeaderOption[];
    query_parameters_to_set?: unknown[];
    query_parameters_to_remove?: string[];
  } | null;
}

/** HeaderValueOption append actions (base.proto). */
const APPEND_IF_EXISTS_OR_ADD = 0;
const ADD_IF_ABSENT = 1;
const OVERWRITE_IF_EXISTS = 3;

/**
 * A CheckResponse as Envoy's ext_authz gRPC client reads it (ext_authz_grpc_impl.cc): status OK is
 * an allow with its OkHttpResponse applied; any other status a denial with its DeniedHttpResponse
 * (403 when it names no final HTTP status, 200 to 599). An OK that asks to change the query cannot be carried out through
 * the HTTP ext_authz or forward-auth protocols, so it is an error rather than an allow of another
 * request than the one the service approved.
 */
export function readCheckResponse(response: unknown, req: NormalizedRequest): ExtAuthVerdict {
  const r = response as CheckResponse;
  if ((r.status?.code ?? 0) === 0) {
    const ok = r.ok_response ?? {};
    if ((ok.query_parameters_to_set ?? []).length > 0 || (ok.query_parameters_to_remove ?? []).length > 0) {
      return { kind: "error", error: "the service asked to change the query, which Portcullis cannot carry out" };
    }
    const set: Record<string, string> = {};
    for (const option of ok.headers ?? []) {
      const header = headerOf(option);
      // Pseudo-headers and Host are Envoy's to keep; framing headers describe a connection, not the
      // request, and written into an HTTP answer they would change how its message is read.
      if (header === undefined || header.name.startsWith(":") || NOT_PASSED_THROUGH.has(header.name)) continue;
      const current = set[header.name] ?? req.header(header.name);
      const action = actionOf(option);
      if (action === ADD_IF_ABSENT && current !== undefined) continue;
      if (action === OVERWRITE_IF_EXISTS && current === undefined) continue;
      set[header.name] = action === APPEND_IF_EXISTS_OR_ADD && current !== undefined ? `${current},${header.value}` : header.value;
    }
    const responseHeaders: Record<string, string> = {};
    for (const option of ok.response_headers_to_add ?? []) {
      const header = headerOf(option);
      if (header !== undefined && !NOT_PASSED_THROUGH.has(header.name)) responseHeaders[header.name] = header.value;
    }
    return { kind: "allow", set, remove: removable((ok.headers_to_remove ?? []).map((h) => h.toLowerCase())), responseHeaders };
  }
  const denied = r.denied_response ?? {};
  // A denial stays a denial (never an error failOpen would let through): 403, as Envoy's default,
  // when it names no final HTTP status.
  const named = denied.status?.code ?? 0;
  const status = named >= 200 && named <= 599 ? named : 403;
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const option of denied.headers ?? []) {
    const header = headerOf(option);
    if (header === undefined || NOT_PASSED_THROUGH.has(header.name)) continue;
    // Each Set-Cookie entry is its own cookie, whatever its append action.
    if (header.name === "set-cookie") {
      cookies.push(header.value);
      continue;
    }
    headers[header.name] =
      headers[header.name] === undefined || actionOf(option) !== APPEND_IF_EXISTS_OR_ADD
        ? header.value
        : `${headers[header.name]}, ${header.value}`;
  }
  return { kind: "deny", status, headers, cookies, body: Buffer.from(denied.body ?? "", "utf8") };
}

function headerOf(option: HeaderOption): { name: string; value: string } | undefined {
  const key = option.header?.key;
  if (key === undefined || key === "") return undefined;
  const raw = option.header?.raw_value;
  const value =
    option.header?.value !== undefined && option.header.value !== "" ? option.header.value : raw !== undefined ? raw.toString("utf8") : "";
  return { name: key.toLowerCase(), value };
}

/**
 * The append action of a HeaderValueOption: `append_action`, or the deprecated `append` flag when
 * set (true: append; false: overwrite). For ext_authz answers an unset `append` means overwrite.
 */
function actionOf(option: HeaderOption): number {
  if (option.append !== undefined && option.append !== null) return option.append.value === true ? APPEND_IF_EXISTS_OR_ADD : 2;
  return option.append_action === undefined || option.append_action === APPEND_IF_EXISTS_OR_ADD ? 2 : option.append_action;
}
