/**
 * The extAuth phase: asks the policy's external authorization service about the request exactly
 * as Envoy's ext_authz filter asks it (envoy/extensions/filters/common/ext_authz: the HTTP check
 * carries the method, the path behind `path`, Host, Authorization, Content-Length and the headers
 * `headersToExtAuth` allows, and the body up to `bodyToExtAuth.maxRequestBytes`; the gRPC check is a
 * CheckRequest), and applies the answer as the filter applies it:
 * - HTTP 200 / gRPC OK: allowed; `headersToBackend` (HTTP) or the OkHttpResponse headers (gRPC) are
 *   set upstream, `x-envoy-auth-headers-to-remove` / `headers_to_remove` are removed;
 * - HTTP 5xx, a timeout, a refused or reset connection, an answer too large or unreadable: an
 *   error, which is `statusOnError` (403) unless `failOpen` lets the request through;
 * - any other answer: a denial handed to the client as the service wrote it (status, headers, body).
 */
import { PARTIAL_BODY_HEADER, peerAddress } from "../../api/ext-authz.ts";
import type { CheckContext } from "../../authz/context.ts";
import { deny, type Decision } from "../../authz/decision.ts";
import { headerValue } from "../../authz/header-values.ts";
import type { NormalizedRequest } from "../../authz/request.ts";
import { fail, ok, type Result } from "../../lib/result.ts";
import { NOTHING, type Pass, type PhaseResult, type Where } from "../feature.ts";
import { readCheckResponse, readHttpAnswer, type ExtAuthVerdict } from "./answers.ts";
import type { ExtAuthTransport, HttpCheck } from "./client.ts";
import type { CompiledExtAuth, ExtAuthHookUp } from "./types.ts";

/** Envoy's headers of the check request it always sends an HTTP service, besides `headersToExtAuth`. */
const ALWAYS_SENT = ["authorization"];

/**
 * The header every check Portcullis sends to an external authorization service carries. A check
 * that arrives with it never asks a service in turn: a policy whose extAuth names Portcullis
 * itself (Envoy Gateway's own extAuth pointing here, read by Portcullis too) is then one denied
 * round trip, not a chain of calls growing until the first one times out.
 */
export const LOOP_HEADER = "x-portcullis-ext-authz-call";

/** How the summary, the trace and the snapshot name an extAuth that is the hook-up to this Portcullis. */
export const HOOK_UP = "this Portcullis (hook-up)";

/**
 * The hook-up's phase: the request is already inside the check this extAuth makes, so nothing is
 * asked (asking would only reach this phase again) and the policy's other phases decide.
 */
export function checkHookUp(config: ExtAuthHookUp, ctx: CheckContext): PhaseResult {
  ctx.trace?.note({ service: `${HOOK_UP}: ${config.hookUp.join(", ")}` });
  return NOTHING;
}

/** The service's verdict per request (shared by the readings of one request, which send the same check) and config. */
const verdicts = new WeakMap<object, Map<CompiledExtAuth, Promise<ExtAuthVerdict>>>();

/**
 * The phase (Feature.check): a pass carrying what the service set and removed (check() hands the
 * later phases the request so changed, as Envoy's later filters see it), or the denial. Always
 * waits: the service is asked.
 */
export function checkExtAuth(config: CompiledExtAuth, req: NormalizedRequest, where: Where, ctx: CheckContext): Promise<PhaseResult> {
  if (headerValue(req.source.headers, LOOP_HEADER) !== undefined) {
    // Denied even with failOpen: a client can send the header too, and must not skip the service by it.
    const why = `the request already comes from a Portcullis extAuth call, so the external authorization service ${config.service.names.join(", ")} would be asked in a loop`;
    return Promise.resolve(fail(deny(config.statusOnError, "extauth_error", why, where)));
  }
  const body = bodyToSend(config, req);
  if (body !== undefined && !body.ok) return Promise.resolve(fail({ ...body.error, ...where }));
  let byConfig = verdicts.get(req.source);
  if (byConfig === undefined) verdicts.set(req.source, (byConfig = new Map()));
  let verdict = byConfig.get(config);
  if (verdict === undefined) {
    verdict = ask(config, req, where, body?.value, ctx.extAuth);
    byConfig.set(config, verdict);
  }
  return verdict.then((v) => outcomeOf(config, v, where));
}

function ask(
  config: CompiledExtAuth,
  req: NormalizedRequest,
  where: Where,
  body: Buffer | undefined,
  transport: ExtAuthTransport | undefined,
): Promise<ExtAuthVerdict> {
  if (transport === undefined)
    return Promise.resolve({ kind: "error", error: "this check has no client for external authorization services" });
  return config.protocol === "http" ? callHttp(config, req, body, transport) : callGrpc(config, req, where, body, transport);
}

function outcomeOf(config: CompiledExtAuth, verdict: ExtAuthVerdict, where: Where): PhaseResult {
  const service = config.service.names.join(", ");
  switch (verdict.kind) {
    case "allow":
      return ok(passed(`extAuth ${service}`, verdict.set, verdict.remove, verdict.responseHeaders));
    case "deny":
      return fail({
        ...deny(
          verdict.status,
          "extauth_denied",
          `the external authorization service ${service} denied the request`,
          where,
          verdict.headers,
        ),
        // As text: the wire protocols carry bodies as strings (gRPC's DeniedHttpResponse.body is one).
        body: verdict.body.toString("utf8"),
        ...(verdict.cookies.length === 0 ? {} : { cookies: verdict.cookies }),
      });
    case "unsendable":
      return fail(
        deny(400, "request_invalid", `the ${verdict.what} cannot be sent to the external authorization service ${service}`, where),
      );
    case "error":
      if (config.failOpen) return ok(passed(`extAuth ${service} failed open (${verdict.error})`, {}, [], {}));
      return fail(
        deny(config.statusOnError, "extauth_error", `the external authorization service ${service} failed: ${verdict.error}`, where),
      );
  }
}

/** A pass carries response headers, if none: each answer is its own, and an allow built from it is never remembered. */
function passed(
  principal: string,
  set: Readonly<Record<string, string>>,
  remove: readonly string[],
  responseHeaders: Readonly<Record<string, string>>,
): Pass {
  return { principal, headers: set, strip: remove, attributes: {}, responseHeaders };
}

/**
 * The body to send: undefined without `bodyToExtAuth`; else the bytes the proxy forwarded, a 413
 * past `maxRequestBytes` (Envoy answers so before asking the service), or a denial when the
 * request has a body the proxy did not forward in full: the service would decide on bytes
 * Portcullis never saw.
 */
function bodyToSend(config: CompiledExtAuth, req: NormalizedRequest): Result<Buffer, Decision> | undefined {
  if (config.maxRequestBytes === undefined) return undefined;
  const forwarded = req.source.body;
  const declared = forwarded === null ? undefined : declaredLength(req);
  const body = forwarded ?? Buffer.alloc(0);
  if (body.length > config.maxRequestBytes || (declared !== undefined && declared > config.maxRequestBytes)) {
    return fail(
      deny(413, "extauth_body_too_large", `the request body is larger than bodyToExtAuth.maxRequestBytes (${config.maxRequestBytes})`, {}),
    );
  }
  const complete =
    forwarded === null ? false : declared === undefined ? forwarded !== undefined || !hasBody(req) : body.length === declared;
  if (!complete) {
    return fail(
      deny(
        403,
        "extauth_body_unavailable",
        "the request has a body the proxy did not forward in full, and the external authorization service must see it (bodyToExtAuth): set with_request_body in the proxy's ext_authz to Portcullis",
        {},
      ),
    );
  }
  return ok(body);
}

function declaredLength(req: NormalizedRequest): number | undefined {
  const v = headerValue(req.source.headers, "content-length");
  return v === undefined || !/^[0-9]+$/.test(v.trim()) ? undefined : Number(v.trim());
}

function hasBody(req: NormalizedRequest): boolean {
  return headerValue(req.source.headers, "transfer-encoding") !== undefined;
}

/**
 * The request's headers as Envoy's check carries them: lower-case names, repeated lines joined with
 * ",", without the client's `x-envoy-auth-partial-body`; values as text (`as: "text"`, a
 * CheckRequest's strings) or as the bytes received, one character per byte (`as: "bytes"`, an HTTP
 * check: undici writes each character as one byte).
 */
function requestHeaders(req: NormalizedRequest, as: "text" | "bytes"): Record<string, string> {
  const headers: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(req.source.headers)) {
    if (value === undefined || name === PARTIAL_BODY_HEADER) continue;
    const joined = Array.isArray(value) ? value.join(",") : value;
    headers[name] = as === "text" ? req.text(joined) : bytesOf(req, joined);
  }
  return headers;
}

/**
 * One of the request's strings as the bytes the proxy received, one character per byte: a request
 * of byte strings (the HTTP ports) as it is, a request of text (gRPC) as its UTF-8 bytes, as Envoy
 * holds them. Sent otherwise, a character past U+00FF makes the HTTP client refuse the call, which
 * `failOpen` would take for a failing service.
 */
function bytesOf(req: NormalizedRequest, value: string): string {
  return req.source.byteStrings === true || !BEYOND_ASCII.test(value) ? value : Buffer.from(value, "utf8").toString("latin1");
}
const BEYOND_ASCII = /[^\x00-\x7f]/;
/** A byte no HTTP/1.1 field value may hold (RFC 9110 §5.5: only HTAB, visible ASCII, space and obs-text). */
const NOT_IN_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** A byte no request target may hold (RFC 9112 §3.2: no space, no control character). */
const NOT_IN_TARGET = /[^\x21-\x7e\x80-\xff]/;

async function callHttp(
  config: CompiledExtAuth,
  req: NormalizedRequest,
  body: Buffer | undefined,
  transport: ExtAuthTransport,
): Promise<ExtAuthVerdict> {
  const all = requestHeaders(req, "bytes");
  // Content-Length is undici's: the body's length, and none on a bodiless GET, where Envoy says 0 (README).
  const headers: Record<string, string> = { host: bytesOf(req, req.source.host), [LOOP_HEADER]: "1" };
  for (const name of [...ALWAYS_SENT, ...(config.headersToExtAuth ?? [])]) {
    // Content-Length is the check's own (the body sent), Host the request's authority.
    if (name === "content-length" || name === "host") continue;
    const v = all[name];
    if (v !== undefined) headers[name] = v;
  }
  if (body !== undefined && body.length > 0) headers[PARTIAL_BODY_HEADER] = "false";
  for (const [name, value] of Object.entries(headers)) {
    if (NOT_IN_FIELD_VALUE.test(value)) return { kind: "unsendable", what: `value of the request's ${name} header` };
  }
  const path = config.pathOverride ?? `${config.pathPrefix}${bytesOf(req, req.source.path)}`;
  if (NOT_IN_TARGET.test(path)) return { kind: "unsendable", what: "request's path" };
  const check: HttpCheck = { method: req.source.method, path, headers, body };
  const answer = await transport.http(config.service, check, config.timeoutMs);
  return answer.ok ? readHttpAnswer(config, answer.answer) : { kind: "error", error: answer.error };
}

async function callGrpc(
  config: CompiledExtAuth,
  req: NormalizedRequest,
  where: Where,
  body: Buffer | undefined,
  transport: ExtAuthTransport,
): Promise<ExtAuthVerdict> {
  const answer = await transport.grpc(config.service, checkRequest(config, req, where, body), config.timeoutMs);
  return answer.ok ? readCheckResponse(answer.answer, req) : { kind: "error", error: answer.error };
}

/** The CheckRequest Envoy's ext_authz filter would send for `req` on the route rule of `where` (attribute_context.proto). */
export function checkRequest(config: CompiledExtAuth, req: NormalizedRequest, where: Where, body: Buffer | undefined): object {
  const all = requestHeaders(req, "text");
  const allowed = config.headersToExtAuth;
  const host = req.text(req.source.host);
  const headers: Record<string, string> = {
    ":authority": host,
    ":method": req.source.method,
    ":path": req.target,
    ":scheme": req.source.scheme,
  };
  for (const [name, value] of Object.entries(all)) if (allowed === undefined || allowed.includes(name)) headers[name] = value;
  // Added after the allowed headers are picked, as Envoy adds it: whenever a body goes with the check.
  if (body !== undefined && body.length > 0) headers[PARTIAL_BODY_HEADER] = "false";
  headers[LOOP_HEADER] = "1";
  const declared = declaredLength(req);
  const { clientAddress, port } = req.source;
  return {
    attributes: {
      source: clientAddress === undefined ? undefined : { address: peerAddress(clientAddress) },
      destination: port === undefined ? undefined : { address: { socket_address: { address: "", port_value: port } } },
      request: {
        http: {
          id: headerValue(req.source.headers, "x-request-id") ?? "",
          method: req.source.method,
          headers,
          path: req.target,
          host,
          scheme: req.source.scheme,
          protocol: "HTTP/1.1",
          size: declared === undefined ? "-1" : String(declared),
          raw_body: body ?? Buffer.alloc(0),
        },
      },
      context_extensions: config.contextExtensions,
      route_metadata_context: config.includeRouteMetadata ? routeMetadata(where.route) : undefined,
    },
  };
}

/**
 * Envoy Gateway's route metadata for the route Envoy selected, `filter_metadata["envoy-gateway"]
 * .resources[0]`, from the rule's label ("ns/name rule R"; a GRPCRoute's starts with "GRPCRoute ").
 */
function routeMetadata(rule: string): object {
  const kind = rule.startsWith("GRPCRoute ") ? "GRPCRoute" : "HTTPRoute";
  const label = kind === "GRPCRoute" ? rule.slice("GRPCRoute ".length) : rule;
  const at = label.lastIndexOf(" rule ");
  const [namespace, name] = label.slice(0, at).split("/") as [string, string];
  const section = label.slice(at + " rule ".length);
  const fields: Record<string, object> = {
    kind: { stringValue: kind },
    namespace: { stringValue: namespace },
    name: { stringValue: name },
  };
  // A rule without a name is labelled by its index; Envoy Gateway names only named rules.
  if (!/^[0-9]+$/.test(section)) fields.sectionName = { stringValue: section };
  return {
    filter_metadata: {
      "envoy-gateway": { fields: { resources: { listValue: { values: [{ structValue: { fields } }] } } } },
    },
  };
}
