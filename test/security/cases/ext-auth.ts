/**
 * extAuth: a route whose policy asks an external authorization service (a real one, on a loopback
 * socket, answering as each case says). A service that fails, hangs, answers garbage or too much
 * never lets a request through; what it answers besides `headersToBackend` never goes upstream, and
 * a client's own copy of a header the service may set never does either.
 */
import type { Socket } from "node:net";
import { createExtAuthTransport } from "../../../controller/features/extAuth/client.ts";
import { selfServiceOf } from "../../../controller/runtime/compile-options.ts";
import { envoyResponse } from "../../../controller/server/envoy-response.ts";
import { httpService, grpcService, rawService, refusingPort, type Asked, type TestService } from "../../support/ext-auth-services.ts";
import { extAuthBackendWorld, gatewayWithRoute, secret } from "../../support/manifests.ts";
import { decider } from "../../support/world.ts";
import { toAuthzRequest } from "../../../controller/server/grpc.ts";
import { overWire } from "../context.ts";
import { fromDecision, managedHeadersOf, type Case, type Expected, type Outcome } from "../outcome.ts";

type HttpAnswer = ReturnType<Parameters<typeof httpService>[0]>;

const HTTP =
  "{http: {backendRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: authz}], headersToBackend: [x-current-user]}, timeout: 2s}";
/** HTTP with `backendSettings.retry`: 2 retries on a lost connection or a 5xx, 10-20 ms apart. */
const RETRYING = HTTP.replace(
  "headersToBackend",
  "backendSettings: {retry: {numRetries: 2, retryOn: {triggers: [reset, 5xx]}, perRetry: {backOff: {baseInterval: 10ms, maxInterval: 20ms}}}}, headersToBackend",
);
const GRPC = "{grpc: {backendRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: authz}]}, timeout: 2s}";

/**
 * Compiles the world around `service` and asks it about GET /reports with `headers` (`envoy-http`:
 * the outcome as Envoy reads the answer on the HTTP ext_authz port); the service is closed after.
 */
async function ask(
  service: TestService | { port: number; close(): Promise<void> },
  extAuth: string,
  headers: Record<string, string> = {},
  endpoint?: string,
  port: "check" | "envoy-http" = "check",
): Promise<Outcome> {
  const transport = createExtAuthTransport();
  try {
    const decide = decider(extAuthBackendWorld(service.port, extAuth, endpoint), { extAuth: transport });
    const conditions = decide.result.statuses.flatMap((s) =>
      s.ancestors.flatMap((a) => a.conditions.filter((c) => c.status === "False").map((c) => c.message)),
    );
    const decision = await decide({ path: "/reports", headers });
    const outcome = fromDecision(decision, managedHeadersOf(decide.result.snapshot.policies), conditions.join("; "));
    if (port === "check") return outcome;
    // As Envoy's HTTP ext_authz filter reads Portcullis' answer: only a 200 allows.
    const status = envoyResponse(decision).status;
    return status === 200 ? { ...outcome, status, code: "allowed" } : { ...outcome, status };
  } finally {
    await Promise.all([transport.close(), service.close()]);
  }
}

const answering = (answer: (asked: Asked) => HttpAnswer) => httpService(answer);
const closed = async () => ({ port: await refusingPort(), close: async () => {} });
const FAILED: Expected = { status: 403, code: "extauth_error" };

/** `fixed`: what changed, when the case exposed a weakness. */
function x(id: string, title: string, expect: Expected, run: () => Promise<Outcome>, fixed?: string): Case {
  return { id: `extauth.${id}`, title, expect, run: () => run(), ...(fixed === undefined ? {} : { fixed }) };
}

/**
 * The world of Portcullis beside Envoy Gateway (--self-service portcullis/portcullis, Service ports
 * as the chart's): Secret apps/keys (alice), policy apps/`name` with `extAuth` (naming
 * Portcullis' Service unless it says otherwise) and apiKeyAuth on route apps/api, the ReferenceGrant
 * when `granted`. No client for external services: a call Portcullis made would be an extauth_error.
 */
function besideEnvoyGateway(extAuth: string, granted = true): string {
  const grant = `---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: apps-ext-auth, namespace: portcullis}
spec:
  from: [{group: gateway.envoyproxy.io, kind: SecurityPolicy, namespace: apps}]
  to: [{group: "", kind: Service, name: portcullis}]
`;
  return `${gatewayWithRoute("api.example.com")}---
apiVersion: v1
kind: Service
metadata: {name: portcullis, namespace: portcullis}
spec:
  ports:
    - {name: authz, port: 9002, targetPort: authz}
    - {name: forward-auth, port: 9003, targetPort: forward-auth}
    - {name: grpc, port: 9001, targetPort: grpc}
---
apiVersion: v1
kind: Service
metadata: {name: authz, namespace: apps}
spec: {ports: [{name: grpc, port: 9001}]}
---
${secret("keys", { alice: "alice-key" })}${granted ? grant : ""}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: ext, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}]
  extAuth: ${extAuth}
  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key]}], forwardClientIDHeader: x-user-id}
`;
}

const HOOK_UP_PATH =
  "the hook-up was accepted with an HTTP `path` or `pathOverride`, which make Envoy send Portcullis another path than the client's (`/authz` + the path, or one path for every request), so each request was decided on another route's rules (a `/` rule open beside a protected `/admin` allowed `/admin`); such a hook-up is now Invalid and its routes refused";
const HOOK_UP = "{grpc: {backendRefs: [{name: portcullis, namespace: portcullis, port: 9001}]}, includeRouteMetadata: true}";

async function askBeside(extAuth: string, headers: Record<string, string>, granted = true): Promise<Outcome> {
  const decide = decider(besideEnvoyGateway(extAuth, granted), {}, { selfService: selfServiceOf("portcullis/portcullis", {}) });
  const conditions = decide.result.statuses.flatMap((s) =>
    s.ancestors.flatMap((a) => a.conditions.filter((c) => c.status === "False").map((c) => c.message)),
  );
  return fromDecision(
    await decide({ path: "/reports", headers }),
    managedHeadersOf(decide.result.snapshot.policies),
    conditions.join("; "),
  );
}

export const extAuthCases: readonly Case[] = [
  x("refused", "the service refuses the connection", { ...FAILED, reason: "refused" }, async () => ask(await closed(), HTTP)),
  x("5xx", "the service answers 503 with `x-current-user: admin`", { ...FAILED, reason: "answered 503" }, async () =>
    ask(await answering(() => ({ status: 503, headers: [["x-current-user", "admin"]] })), HTTP),
  ),
  x("hangs", "the service never answers (timeout 200ms)", { ...FAILED, reason: "no answer within 200 ms" }, async () =>
    ask(await answering(() => "hang"), HTTP.replace("timeout: 2s", "timeout: 200ms")),
  ),
  x("reset", "the service resets the connection", FAILED, async () => ask(await rawService((s: Socket) => s.resetAndDestroy()), HTTP)),
  x(
    "retries-exhausted",
    "the service resets every connection, backendSettings retrying each reset twice: still an error after 3 attempts",
    { ...FAILED, reason: "3 attempts" },
    async () => ask(await rawService((s: Socket) => s.resetAndDestroy()), RETRYING),
  ),
  x(
    "retried-5xx",
    "the service answers 503 with `x-current-user: admin` to each of 3 attempts (retry on 5xx): still an error",
    { ...FAILED, reason: "answered 503" },
    async () => ask(await answering(() => ({ status: 503, headers: [["x-current-user", "admin"]] })), RETRYING),
  ),
  x(
    "circuit-open",
    "the service hangs and its circuit breaker allows 1 check in flight: the check beyond it fails at once",
    { ...FAILED, reason: "circuit breaker" },
    async () => {
      const service = await answering(() => "hang");
      const transport = createExtAuthTransport();
      try {
        const decide = decider(
          extAuthBackendWorld(
            service.port,
            HTTP.replace("headersToBackend", "backendSettings: {circuitBreaker: {maxParallelRequests: 1}}, headersToBackend"),
          ),
          { extAuth: transport },
        );
        const first = decide({ path: "/reports" });
        while (service.asked.length === 0) await new Promise((r) => setTimeout(r, 5));
        const second = await decide({ path: "/reports" });
        await first;
        return fromDecision(second, managedHeadersOf(decide.result.snapshot.policies));
      } finally {
        await Promise.all([transport.close(), service.close()]);
      }
    },
  ),

  x("garbage", "the service answers bytes that are no HTTP", FAILED, async () =>
    ask(await rawService((s: Socket) => s.once("data", () => s.end("OK\r\n\r\n"))), HTTP),
  ),
  x("huge", "the service answers a 1 MiB denial body", { ...FAILED, reason: "larger than" }, async () =>
    ask(await answering(() => ({ status: 403, body: Buffer.alloc(1024 * 1024, 120) })), HTTP),
  ),
  x(
    "forged-header",
    "the service allows with `x-current-user: alice` and a forged `x-user-id: admin` that is not in headersToBackend",
    { status: 200, code: "allowed", upstream: { "x-current-user": "alice" } },
    async () =>
      ask(
        await answering(() => ({
          status: 200,
          headers: [
            ["x-current-user", "alice"],
            ["x-user-id", "admin"],
          ],
        })),
        HTTP,
      ),
  ),
  x(
    "client-spoof",
    "the client sends `x-current-user: admin`; the service allows without setting it",
    { status: 200, code: "allowed" },
    async () => ask(await answering(() => ({ status: 200 })), HTTP, { "x-current-user": "admin" }),
  ),
  x(
    "remove-host",
    "the service allows and asks to remove Host and :path (x-envoy-auth-headers-to-remove)",
    { status: 200, code: "allowed" },
    async () => ask(await answering(() => ({ status: 200, headers: [["x-envoy-auth-headers-to-remove", "host, :path"]] })), HTTP),
  ),
  x("204", "the service answers 204 (a 2xx that is not 200)", { status: 204, code: "extauth_denied" }, async () =>
    ask(await answering(() => ({ status: 204 })), HTTP),
  ),
  x(
    "grpc-query-rewrite",
    "a gRPC service allows on condition the query loses `debug` (query_parameters_to_remove)",
    { ...FAILED, reason: "change the query" },
    async () => ask(await grpcService(() => ({ status: { code: 0 }, ok_response: { query_parameters_to_remove: ["debug"] } })), GRPC),
  ),
  {
    ...x(
      "fail-open-non-latin1-header",
      "`failOpen: true`, a service that refuses everyone, and a client `Authorization: Bearer €` (as the gRPC port hands it over: text)",
      { status: 401, code: "extauth_denied" },
      async () =>
        ask(await answering(() => ({ status: 401 })), HTTP.replace("timeout: 2s", "timeout: 2s, failOpen: true"), {
          authorization: "Bearer \u20ac",
        }),
    ),
    fixed:
      "the HTTP client refused a header character past U+00FF and failOpen took that for a failing service: allowed unasked. The check now carries the value's UTF-8 bytes, as Envoy does",
  },
  x(
    "fail-open-crlf-header",
    "`failOpen: true` and a header value with CR LF, which no HTTP check can carry (only a gRPC CheckRequest could hold it)",
    { status: 400, code: "request_invalid" },
    async () =>
      ask(await answering(() => ({ status: 401 })), HTTP.replace("timeout: 2s", "timeout: 2s, failOpen: true"), {
        authorization: "Bearer a\r\nx-current-user: admin",
      }),
  ),
  {
    ...x(
      "sets-forwarded-for",
      "a gRPC service allows and appends `x-forwarded-for: 10.0.0.5`; the policy allows only clientCIDRs 10.0.0.0/8, and the client is 203.0.113.9",
      { status: 403, code: "authz_denied" },
      async () =>
        ask(
          await grpcService(() => ({
            status: { code: 0 },
            ok_response: { headers: [{ header: { key: "x-forwarded-for", value: "10.0.0.5" }, append: { value: true } }] },
          })),
          `${GRPC}\n  authorization: {defaultAction: Deny, rules: [{action: Allow, principal: {clientCIDRs: [10.0.0.0/8]}}]}`,
          { "x-forwarded-for": "203.0.113.9" },
        ),
    ),
    fixed:
      "the client address was read from the request as the service left it, so the appended entry became the client. It is now determined from the request as it arrived, as Envoy's connection manager determines it before any filter runs",
  },
  {
    ...x(
      "client-copy-read-by-rule",
      "the service allows without setting `x-current-user` (headersToBackend); a rule allows `x-current-user: admin` (default Deny); the client sends its own `x-current-user: admin`",
      { status: 403, code: "authz_denied" },
      async () =>
        ask(
          await answering(() => ({ status: 200 })),
          `${HTTP}\n  authorization: {defaultAction: Deny, rules: [{name: admins, action: Allow, principal: {headers: [{name: x-current-user, values: [admin]}]}}]}`,
          { "x-current-user": "admin" },
        ),
    ),
    fixed:
      "the rule read the client's own copy, which never reaches the upstream (headersToBackend are removed when the service does not set them), so the client vouched for itself. Rules are now also decided without it",
  },
  {
    ...x(
      "grpc-denial-status-200",
      "a gRPC service denies (PERMISSION_DENIED) with a denied_response of status 200 and `x-current-user: admin`; asked on Envoy's HTTP ext_authz port",
      { status: 403, code: "extauth_denied" },
      async () => {
        const denial = {
          status: { code: 7 },
          denied_response: { status: { code: 200 }, headers: [{ header: { key: "x-current-user", value: "admin" } }] },
        };
        return ask(await grpcService(() => denial), GRPC, {}, undefined, "envoy-http");
      },
    ),
    fixed:
      "the denial kept the service's 200, which Envoy's HTTP ext_authz filter reads as an allow: the request reached the upstream with the service's headers. Envoy answers the client that 200 itself; a denial now goes out as 403 on the HTTP ports",
  },
  ...([100, 700] as const).map((code) => ({
    ...x(
      `grpc-denial-status-${code}-fail-open`,
      `\`failOpen: true\`; a gRPC service denies (PERMISSION_DENIED) with a denied_response of status ${code}`,
      { status: 403, code: "extauth_denied" },
      async () =>
        ask(
          await grpcService(() => ({ status: { code: 7 }, denied_response: { status: { code } } })),
          GRPC.replace("timeout: 2s", "timeout: 2s, failOpen: true"),
          {},
          undefined,
          "envoy-http",
        ),
    ),
    fixed: `a denial naming a status that is no final HTTP status (${code}) was read as a failing service, which failOpen let through; a denial is now a denial, 403 when its status cannot be sent`,
  })),
  x(
    "fail-open-hangs-client-identity",
    "`failOpen: true`, a service that never answers (timeout 200ms); a rule allows `x-current-user: admin` (default Deny); the client sends its own `x-current-user: admin`",
    { status: 403, code: "authz_denied", reason: "without the client's own x-current-user" },
    async () =>
      ask(
        await answering(() => "hang"),
        `${HTTP.replace("timeout: 2s", "timeout: 200ms, failOpen: true")}\n  authorization: {defaultAction: Deny, rules: [{name: admins, action: Allow, principal: {headers: [{name: x-current-user, values: [admin]}]}}]}`,
        { "x-current-user": "admin" },
      ),
  ),
  {
    ...x(
      "grpc-ok-sets-framing",
      "a gRPC service allows and sets `transfer-encoding: chunked`, `content-length: 5`, `connection: close` and `x-current-user: alice` upstream",
      { status: 200, code: "allowed", upstream: { "x-current-user": "alice" } },
      async () => {
        const set = (key: string, value: string) => ({ header: { key, value } });
        const headers = [
          set("transfer-encoding", "chunked"),
          set("content-length", "5"),
          set("connection", "close"),
          set("x-current-user", "alice"),
        ];
        return ask(await grpcService(() => ({ status: { code: 0 }, ok_response: { headers } })), GRPC);
      },
    ),
    fixed:
      "the framing headers were set as upstream headers, which the HTTP ext_authz port writes into its own answer to Envoy (a Transfer-Encoding beside its Content-Length: an answer Envoy reads otherwise or refuses). They describe a connection, not the request, and are dropped as from a denial",
  },
  x(
    "missing-service-fail-open",
    "`failOpen: true` with a backendRef to a Service that does not exist",
    { status: 403, code: "policy_invalid", condition: "service apps/nowhere not found" },
    async () => ask(await closed(), "{http: {backendRefs: [{name: nowhere, port: 80}]}, failOpen: true}"),
  ),
  x(
    "backend-two-addresses",
    "the Backend's endpoint names both an ip (a service that allows everything) and an fqdn (Envoy Gateway's CRD refuses this by a CEL rule Portcullis' CRD cannot state)",
    { status: 403, code: "policy_invalid", condition: "sets more than one of fqdn, ip or unix" },
    async () => {
      const service = await answering(() => ({ status: 200 }));
      return ask(
        service,
        HTTP,
        {},
        `{ip: {address: 127.0.0.1, port: ${service.port}}, fqdn: {hostname: authz.example.com, port: ${service.port}}}`,
      );
    },
    "the fqdn was called and the ip ignored; now such a Backend makes the policy Invalid",
  ),
  x(
    "client-partial-body",
    "the client sends its own `x-envoy-auth-partial-body: false` (headersToExtAuth names it): a service trusting it would take the body as checked",
    { status: 200, code: "allowed" },
    async () =>
      ask(
        await answering((asked) => ({ status: asked.headers["x-envoy-auth-partial-body"] === undefined ? 200 : 403 })),
        HTTP.replace("timeout: 2s", "headersToExtAuth: [x-envoy-auth-partial-body], timeout: 2s"),
        { "x-envoy-auth-partial-body": "false" },
      ),
    "the client's copy was passed on; now dropped, and Portcullis sets it (false) only when a body goes with the check, as Envoy",
  ),
  x(
    "body-behind-forward-auth",
    "forward-auth port: POST /reports described as nginx's shipped file describes it (no body, Content-Length removed) on a route whose extAuth has `bodyToExtAuth`; the service allows an empty body only",
    { status: 403, code: "extauth_body_unavailable" },
    async () => {
      const service = await answering((asked) => ({ status: asked.body.length === 0 ? 200 : 403 }));
      try {
        const world = extAuthBackendWorld(service.port, HTTP.replace("timeout: 2s", "bodyToExtAuth: {maxRequestBytes: 1024}, timeout: 2s"));
        return await overWire(world, "forward", "/reports", [], "POST");
      } finally {
        await service.close();
      }
    },
    "the forward-auth port read a check without Content-Length or Transfer-Encoding as a request without a body, so the service was sent an empty body as the whole one while the upstream got the client's (nginx removes Content-Length from the check; no forward-auth proxy forwards the body); a forward-auth check now has a body Portcullis cannot know, as Envoy's HTTP check without with_request_body",
  ),
  x(
    "body-cut-grpc",
    "gRPC port: an HTTP/2 POST without Content-Length whose body Envoy cut at `with_request_body.max_request_bytes` (`allow_partial_message`, as Istio's `includeRequestBodyInCheck` may set it: `x-envoy-auth-partial-body: true`) on a route whose extAuth has `bodyToExtAuth`; the service allows an empty body only",
    { status: 403, code: "extauth_body_unavailable" },
    async () => {
      const service = await answering((asked) => ({ status: asked.body.length === 0 ? 200 : 403 }));
      const transport = createExtAuthTransport();
      try {
        const extAuth = HTTP.replace("timeout: 2s", "bodyToExtAuth: {maxRequestBytes: 4}, timeout: 2s");
        const decide = decider(extAuthBackendWorld(service.port, extAuth), { extAuth: transport });
        const request = toAuthzRequest({
          attributes: {
            request: {
              http: {
                method: "POST",
                host: "api.example.com",
                path: "/reports",
                headers: { "x-envoy-auth-partial-body": "true" },
                raw_body: Buffer.from("role"),
              },
            },
          },
        });
        return fromDecision(await decide(request), managedHeadersOf(decide.result.snapshot.policies));
      } finally {
        await Promise.all([transport.close(), service.close()]);
      }
    },
    "the gRPC port read a body Envoy marked as cut (`x-envoy-auth-partial-body: true`) as not forwarded, and with neither Content-Length nor Transfer-Encoding (HTTP/2) as no body at all: the service was sent an empty body as the whole one; a cut body is now one Portcullis cannot know, as on the HTTP port",
  ),
  x(
    "hook-up-no-key",
    "beside Envoy Gateway: the policy's extAuth is the hook-up to Portcullis (--self-service) and it has apiKeyAuth; no key",
    { status: 401, code: "apikey_missing" },
    () => askBeside(HOOK_UP, {}),
  ),
  x(
    "hook-up-loop-header",
    "the same hook-up policy; the client sends `x-portcullis-ext-authz-call: 1` and a valid key",
    { status: 200, code: "allowed", upstream: { "x-user-id": "alice" } },
    () => askBeside(HOOK_UP, { "x-api-key": "alice-key", "x-portcullis-ext-authz-call": "1" }),
  ),
  x(
    "hook-up-beside-another-service",
    "a namespace owner names Portcullis' Service beside their own service in one extAuth, so that some checks skip it",
    { status: 403, code: "policy_invalid", condition: "together with another service" },
    () =>
      askBeside("{grpc: {backendRefs: [{name: portcullis, namespace: portcullis, port: 9001}, {name: authz, port: 9001, weight: 0}]}}", {
        "x-api-key": "alice-key",
      }),
  ),
  x(
    "hook-up-http-path",
    "the hook-up over HTTP with `path: /authz` (Envoy would ask Portcullis about `/authz/reports`, a path the client never sent)",
    { status: 403, code: "policy_invalid", condition: "decides on the path the client sent" },
    () =>
      askBeside("{http: {backendRefs: [{name: portcullis, namespace: portcullis, port: 9002}], path: /authz}}", {
        "x-api-key": "alice-key",
      }),
    HOOK_UP_PATH,
  ),
  x(
    "hook-up-http-path-override",
    "the hook-up over HTTP with `pathOverride: /` (Envoy would ask Portcullis about `/` for every request)",
    { status: 403, code: "policy_invalid", condition: "decides on the path the client sent" },
    () =>
      askBeside("{http: {backendRefs: [{name: portcullis, namespace: portcullis, port: 9002}], pathOverride: /}}", {
        "x-api-key": "alice-key",
      }),
    HOOK_UP_PATH,
  ),
  x(
    "hook-up-without-grant",
    "a policy names Portcullis' Service in another namespace, which no ReferenceGrant admits",
    { status: 403, code: "policy_invalid", condition: "not permitted by any ReferenceGrant" },
    () => askBeside(HOOK_UP, { "x-api-key": "alice-key" }, false),
  ),
  x(
    "hook-up-forward-auth-port",
    "a policy names Portcullis' Service on its forward-auth port (not an ext_authz listener)",
    { status: 403, code: "policy_invalid", condition: "does not lead to its HTTP ext_authz listener" },
    () => askBeside("{http: {backendRefs: [{name: portcullis, namespace: portcullis, port: 9003}]}}", { "x-api-key": "alice-key" }),
  ),
  x(
    "hook-up-recompute-route",
    "the hook-up with `recomputeRoute: true`: Envoy would route again on the headers Portcullis' allow sets or removes (an `x-user-group` a rule matches on), to a rule whose policy Portcullis never decided",
    { status: 403, code: "policy_invalid", condition: "route again on the headers" },
    () =>
      askBeside(
        "{grpc: {backendRefs: [{name: portcullis, namespace: portcullis, port: 9001}]}, includeRouteMetadata: true, recomputeRoute: true}",
        {
          "x-api-key": "alice-key",
        },
      ),
    "the hook-up was accepted with recomputeRoute, which makes Envoy clear its route cache after Portcullis' answer and route again on the identity headers it set or removed: a request decided on one rule's policy reached a rule (matched on such a header) whose stricter policy Portcullis never decided; such a hook-up is now Invalid and its routes refused",
  ),
];
