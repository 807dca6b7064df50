// The proxy examples that this machine cannot run (Envoy, Envoy Gateway, Istio, Traefik) checked for
// the structure that makes them correct: they call the port and Service the chart creates, forward the
// credential headers the example policies read, let through exactly the identity headers those
// policies set, fail closed, and keep a client from forging identities. (Caddy and nginx run for real
// in test/e2e/proxies.test.ts; the Envoy Gateway objects also go to a real API server in kube.test.ts.)
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { find, renderChart, ROOT, type Obj } from "./chart.ts";

const PROXIES = join(ROOT, "deploy/proxies");
const docs = (file: string): Obj[] => parseAllDocuments(readFileSync(join(PROXIES, file), "utf8")).map((d) => d.toJS() as Obj);
const lower = (xs: readonly string[]) => xs.map((x) => x.toLowerCase()).sort();

/** What deploy/examples' policies read and set. */
const examples = readdirSync(join(ROOT, "deploy/examples"))
  .filter((f) => f.endsWith(".yaml"))
  .flatMap((f) => parseAllDocuments(readFileSync(join(ROOT, "deploy/examples", f), "utf8")).map((d) => d.toJS() as Obj));
const policies = examples.filter((o) => o?.kind === "SecurityPolicy");
const IDENTITY = lower([
  ...new Set(
    policies.flatMap((p) => [
      ...(p.spec.jwt?.providers ?? []).flatMap((pr: Obj) => (pr.claimToHeaders ?? []).map((c: Obj) => c.header)),
      ...(p.spec.apiKeyAuth?.forwardClientIDHeader ? [p.spec.apiKeyAuth.forwardClientIDHeader] : []),
    ]),
  ),
]);
const API_KEY_HEADERS = lower(policies.flatMap((p) => (p.spec.apiKeyAuth?.extractFrom ?? []).flatMap((e: Obj) => e.headers ?? [])));
const CREDENTIALS = lower(["authorization", ...API_KEY_HEADERS]);
/** Every spelling of `name` with at least one "-" written as "_" (x-user-id: x_user_id, x_user-id, x-user_id). */
function underscoreSpellings(name: string): string[] {
  const [first, ...rest] = name.split("-");
  return rest.reduce((acc, part) => acc.flatMap((a) => [`${a}-${part}`, `${a}_${part}`]), [first!]).filter((n) => n.includes("_"));
}
const GATEWAYS = examples.filter((o) => o?.kind === "Gateway").map((g) => `${g.metadata.namespace}/${g.metadata.name}`);

/** The Service the chart creates with default values (release portcullis in namespace portcullis). */
const service = find(renderChart(), "Service");
const portOf = (name: string) => (service.spec.ports as Obj[]).find((p) => p.name === name)!.port as number;
const HOSTNAME = `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`;

it("the example policies give these checks something to check", () => {
  expect(IDENTITY).toEqual(["x-user-email", "x-user-group", "x-user-id"]);
  expect(CREDENTIALS).toEqual(["authorization", "x-api-key"]);
  expect(GATEWAYS).toEqual(["maas-system/maas-gateway"]);
});

describe("plain Envoy (envoy/envoy.yaml)", () => {
  const bootstrap = docs("envoy/envoy.yaml")[0]!;
  const hcm = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const filters = hcm.http_filters as Obj[];
  const extAuthz = filters.find((f) => f.name === "envoy.filters.http.ext_authz")!.typed_config;
  /** Exact matchers by name, prefix matchers as "prefix*". */
  const patterns = (ps: Obj[]) => lower(ps.map((p) => (p.exact ?? `${p.prefix}*`) as string));

  it("ext_authz runs before the router, fails closed, calls the authz port of the chart's Service without a path prefix", () => {
    expect(filters.map((f) => f.name)).toEqual(["envoy.filters.http.ext_authz", "envoy.filters.http.router"]);
    expect(extAuthz["@type"]).toBe("type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz");
    expect(extAuthz.failure_mode_allow).toBe(false);
    expect(extAuthz.http_service.server_uri.uri).toBe(`http://${HOSTNAME}:${portOf("authz")}`);
    expect(extAuthz.http_service.path_prefix).toBeUndefined();
    const cluster = (bootstrap.static_resources.clusters as Obj[]).find((c) => c.name === extAuthz.http_service.server_uri.cluster)!;
    expect(cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({
      address: HOSTNAME,
      port_value: portOf("authz"),
    });
  });

  it("sends the credential headers, scopes to a Gateway that exists, lets exactly the identity headers, oidc's access token and the cookies left upstream", () => {
    const request = extAuthz.http_service.authorization_request;
    expect(patterns(request.allowed_headers.patterns)).toEqual(expect.arrayContaining(API_KEY_HEADERS)); // Authorization is always sent
    expect(request.headers_to_add).toEqual([{ key: "x-portcullis-gateway", value: GATEWAYS[0] }]);
    expect(patterns(extAuthz.http_service.authorization_response.allowed_upstream_headers.patterns)).toEqual(
      ["authorization", "cookie", ...IDENTITY].sort(),
    );
    // CORS: Origin and the preflight's request headers in, Access-Control-* out to the client; csrf reads Referer without an Origin.
    expect(patterns(request.allowed_headers.patterns)).toEqual(
      expect.arrayContaining(["origin", "referer", "access-control-request-*", "x-forwarded-for"]),
    );
    expect(patterns(extAuthz.http_service.authorization_response.allowed_client_headers_on_success.patterns)).toEqual([
      "access-control-*",
      "vary",
    ]);
  });

  it("refuses header names with underscores, which ext_authz would never show Portcullis", () => {
    expect(hcm.common_http_protocol_options.headers_with_underscores_action).toBe("REJECT_REQUEST");
  });

  it("removes the client's identity headers before any filter", () => {
    const mutation = hcm.early_header_mutation_extensions[0].typed_config;
    expect(mutation["@type"]).toBe("type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation");
    expect(lower(mutation.mutations.map((m: Obj) => m.remove))).toEqual(IDENTITY);
  });
});

describe("Envoy Gateway (envoy-gateway/securitypolicy-extauth.yaml)", () => {
  const [policy, grant] = docs("envoy-gateway/securitypolicy-extauth.yaml") as [Obj, Obj];
  it("extAuth calls the chart's Service on the authz port, fails closed, forwards credentials, returns identities", () => {
    expect(policy.kind).toBe("SecurityPolicy");
    const ext = policy.spec.extAuth;
    expect(ext.failOpen).toBe(false);
    expect(ext.http.backendRefs).toEqual([{ name: service.metadata.name, namespace: service.metadata.namespace, port: portOf("authz") }]);
    expect(lower(ext.headersToExtAuth)).toEqual(expect.arrayContaining([...CREDENTIALS, "x-forwarded-for"]));
    expect(lower(ext.http.headersToBackend)).toEqual(IDENTITY);
  });
  it("extAuth sends Origin and Referer, which csrf beside the hook-up reads (without them every unsafe method is refused)", () => {
    expect(lower(policy.spec.extAuth.headersToExtAuth)).toEqual(expect.arrayContaining(["origin", "referer"]));
  });
  it("a ClientTrafficPolicy on the same Gateway removes the client's identity headers before routing", () => {
    const [ctp] = docs("envoy-gateway/clienttrafficpolicy.yaml") as [Obj];
    expect(ctp.kind).toBe("ClientTrafficPolicy");
    expect(ctp.spec.targetRefs).toEqual(policy.spec.targetRefs);
    expect(ctp.metadata.namespace).toBe(policy.metadata.namespace);
    expect(lower(ctp.spec.headers.earlyRequestHeaders.remove)).toEqual(IDENTITY);
  });
  it("the ClientTrafficPolicy states withUnderscoresAction RejectRequest (Envoy Gateway's default, kept explicit)", () => {
    const [ctp] = docs("envoy-gateway/clienttrafficpolicy.yaml") as [Obj];
    expect(ctp.spec.headers.withUnderscoresAction).toBe("RejectRequest");
  });
  it("the ReferenceGrant admits exactly that cross-namespace reference", () => {
    expect(grant.kind).toBe("ReferenceGrant");
    expect(grant.metadata.namespace).toBe(service.metadata.namespace);
    expect(grant.spec.from).toEqual([{ group: "gateway.envoyproxy.io", kind: "SecurityPolicy", namespace: policy.metadata.namespace }]);
    expect(grant.spec.to).toEqual([{ group: "", kind: "Service", name: service.metadata.name }]);
  });
});

describe("Envoy Gateway over gRPC with route metadata (envoy-gateway/securitypolicy-extauth-grpc.yaml)", () => {
  const [policy, grant] = docs("envoy-gateway/securitypolicy-extauth-grpc.yaml") as [Obj, Obj];
  const [httpPolicy, httpGrant] = docs("envoy-gateway/securitypolicy-extauth.yaml") as [Obj, Obj];
  it("extAuth calls the chart's gRPC port, fails closed, sends the selected route's metadata and names the Gateway it targets", () => {
    const ext = policy.spec.extAuth;
    expect(ext.failOpen).toBe(false);
    expect(ext.grpc.backendRefs).toEqual([{ name: service.metadata.name, namespace: service.metadata.namespace, port: portOf("grpc") }]);
    expect(ext.includeRouteMetadata).toBe(true);
    const [target] = policy.spec.targetRefs as Obj[];
    expect(ext.contextExtensions).toEqual([
      { name: "portcullis.io/gateway", type: "Value", value: `${policy.metadata.namespace}/${target!.name}` },
    ]);
    // Every header goes to Portcullis over gRPC when none is listed (underscore spellings included).
    expect(ext.headersToExtAuth).toBeUndefined();
  });
  it("replaces the HTTP recipe (same SecurityPolicy) and needs the same ReferenceGrant", () => {
    expect([policy.metadata, policy.spec.targetRefs]).toEqual([httpPolicy.metadata, httpPolicy.spec.targetRefs]);
    expect(grant).toEqual(httpGrant);
  });
});

describe("Istio (istio/portcullis.yaml)", () => {
  const [operator, authz, underscores] = docs("istio/portcullis.yaml") as [Obj, Obj, Obj];
  const provider = (operator.spec.meshConfig.extensionProviders as Obj[])[0]!;
  it("an envoyExtAuthzHttp provider on the chart's Service authz port, fail closed, scoped to a Gateway", () => {
    const http = provider.envoyExtAuthzHttp;
    expect([http.service, http.port, http.failOpen]).toEqual([HOSTNAME, portOf("authz"), false]);
    expect(http.pathPrefix).toBeUndefined();
    expect(lower(http.includeRequestHeadersInCheck)).toEqual(expect.arrayContaining([...CREDENTIALS, "x-forwarded-for"]));
    expect(http.includeAdditionalHeadersInCheck).toEqual({ "x-portcullis-gateway": GATEWAYS[0] });
    expect(lower(http.headersToUpstreamOnAllow)).toEqual(IDENTITY);
    expect(http.headersToDownstreamOnDeny).toContain("www-authenticate");
  });
  it("an AuthorizationPolicy CUSTOM with that provider, for every request", () => {
    expect(authz.kind).toBe("AuthorizationPolicy");
    expect(authz.spec).toMatchObject({ action: "CUSTOM", provider: { name: provider.name }, rules: [{}] });
  });
  it("an EnvoyFilter makes the same ingress gateway refuse header names with underscores", () => {
    expect(underscores.kind).toBe("EnvoyFilter");
    expect(underscores.spec.workloadSelector.labels).toEqual(authz.spec.selector.matchLabels);
    const [patch] = underscores.spec.configPatches as Obj[];
    expect(patch!.match.listener.filterChain.filter.name).toBe("envoy.filters.network.http_connection_manager");
    expect(patch!.patch.value.typed_config.common_http_protocol_options.headers_with_underscores_action).toBe("REJECT_REQUEST");
  });
});

describe("Traefik (traefik/middleware.yaml)", () => {
  const [forward, strip, route] = docs("traefik/middleware.yaml") as [Obj, Obj, Obj];
  it("ForwardAuth to the forward-auth port, never trusting the client's X-Forwarded-*", () => {
    const fa = forward.spec.forwardAuth;
    expect(fa.address).toBe(`http://${HOSTNAME}:${portOf("forward-auth")}/`);
    expect(fa.trustForwardHeader).toBe(false);
    expect(lower(fa.authRequestHeaders)).toEqual(expect.arrayContaining(CREDENTIALS));
    expect(lower(fa.authResponseHeaders)).toEqual(IDENTITY);
  });
  it("the API key and every underscore spelling of it and of the identity headers are stripped after the check, in that order", () => {
    const spellings = [...API_KEY_HEADERS, ...IDENTITY].flatMap(underscoreSpellings);
    expect(spellings).toContain("x_user_id");
    expect(lower(Object.keys(strip.spec.headers.customRequestHeaders))).toEqual(lower([...API_KEY_HEADERS, ...spellings]));
    expect(new Set(Object.values(strip.spec.headers.customRequestHeaders))).toEqual(new Set([""]));
    expect(route.spec.routes[0].middlewares.map((m: Obj) => m.name)).toEqual([forward.metadata.name, strip.metadata.name]);
  });
});

describe("Caddy and nginx (run for real by test/e2e)", () => {
  it("name the chart's Service and forward-auth port as their default upstream for Portcullis", () => {
    const target = `${HOSTNAME}:${portOf("forward-auth")}`;
    expect(readFileSync(join(PROXIES, "caddy/Caddyfile"), "utf8")).toContain(`{$PORTCULLIS_FORWARD_AUTH:${target}}`);
    expect(readFileSync(join(PROXIES, "nginx/portcullis.conf"), "utf8")).toContain(`server ${target};`);
  });
  it("every YAML example parses without errors", () => {
    for (const f of [
      "envoy/envoy.yaml",
      "envoy-gateway/securitypolicy-extauth.yaml",
      "envoy-gateway/securitypolicy-extauth-grpc.yaml",
      "envoy-gateway/clienttrafficpolicy.yaml",
      "istio/portcullis.yaml",
      "traefik/middleware.yaml",
    ]) {
      expect(
        parseAllDocuments(readFileSync(join(PROXIES, f), "utf8")).flatMap((d) => d.errors.map((e) => e.message)),
        f,
      ).toEqual([]);
    }
  });
});
