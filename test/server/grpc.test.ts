/**
 * The Envoy gRPC ext_authz port with a real gRPC client. Requests are encoded by hand from
 * Envoy's published field numbers (not from this project's .proto files), so a wrong field
 * number in controller/api/proto cannot cancel itself out.
 */
import { Client, credentials, Metadata } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLES, exampleRouteWithPolicy, startTestApp, type TestApp } from "../support/app.ts";
import { base64 } from "../support/manifests.ts";
import { startTestProvider, type TestProvider } from "../support/oidc-provider.ts";
import { AUTHORIZATION_SERVICE } from "../../controller/api/ext-authz.ts";
import { toAuthzRequest } from "../../controller/server/grpc.ts";

// --- minimal protobuf wire encoding (varint keys, length-delimited fields) ---
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  return [...out, n];
};
const field = (no: number, body: Buffer | string): Buffer => {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  return Buffer.from([...varint((no << 3) | 2), ...varint(bytes.length), ...bytes]);
};
const msg = (...parts: Buffer[]) => Buffer.concat(parts);
const mapEntry = (no: number, key: string, value: string) => field(no, msg(field(1, key), field(2, value)));

const varintField = (no: number, n: number) => Buffer.from([...varint(no << 3), ...varint(n)]);

/**
 * CheckRequest{attributes(1): AttributeContext{destination(2): Peer{address(1): Address{socket_address(1):
 * SocketAddress{port_value(3)}}}, request(4): Request{http(2): HttpRequest{...}}, context_extensions(10)}}
 */
function checkRequest(
  http: {
    id?: string;
    method: string;
    path: string;
    host: string;
    scheme?: string;
    headers?: Record<string, string>;
    headerMap?: Record<string, string>;
  },
  extensions: Record<string, string> = {},
  destinationPort?: number,
  routeMetadata?: Record<string, string>,
): Buffer {
  const httpRequest = msg(
    field(1, http.id ?? "req-1"),
    field(2, http.method),
    ...Object.entries(http.headers ?? {}).map(([k, v]) => mapEntry(3, k, v)),
    field(4, http.path),
    field(5, http.host),
    field(6, http.scheme ?? "https"),
    ...(http.headerMap ? [field(13, msg(...Object.entries(http.headerMap).map(([k, v]) => field(1, msg(field(1, k), field(2, v))))))] : []),
  );
  const destination = destinationPort === undefined ? [] : [field(2, field(1, field(1, varintField(3, destinationPort))))];
  const metadata = routeMetadata === undefined ? [] : [field(13, envoyGatewayRouteMetadata(routeMetadata))];
  const attributes = msg(
    ...destination,
    field(4, field(2, httpRequest)),
    ...Object.entries(extensions).map(([k, v]) => mapEntry(10, k, v)),
    ...metadata,
  );
  return field(1, attributes);
}

/**
 * Metadata{filter_metadata(1): {"envoy-gateway": Struct{fields(1): {"resources": Value{list_value(6):
 * ListValue{values(1): Value{struct_value(5): Struct{fields: {key: Value{string_value(3)}}}}}}}}}},
 * the shape Envoy Gateway v1.9 gives a route's metadata (internal/xds/translator/metadata.go).
 */
function envoyGatewayRouteMetadata(resource: Record<string, string>): Buffer {
  const struct = (fields: Buffer[]) => msg(...fields);
  const entry = (key: string, value: Buffer) => field(1, msg(field(1, key), field(2, value)));
  const route = struct(Object.entries(resource).map(([k, v]) => entry(k, field(3, v))));
  const resources = field(6, field(1, field(5, route)));
  return field(1, msg(field(1, "envoy-gateway"), field(2, struct([entry("resources", resources)]))));
}

// --- minimal decoding: field number → list of raw values ---
type Fields = Map<number, (Buffer | number)[]>;
function decode(buf: Buffer): Fields {
  const fields: Fields = new Map();
  let i = 0;
  const readVarint = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (i >= buf.length) throw new Error("truncated varint");
      const b = buf[i++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const key = readVarint();
    const [no, type] = [Math.floor(key / 8), key & 7];
    let value: Buffer | number;
    if (type === 0) value = readVarint();
    else if (type === 2) {
      const length = readVarint();
      if (i + length > buf.length) throw new Error("truncated field");
      value = buf.subarray(i, (i += length));
    } else throw new Error(`unexpected wire type ${type}`);
    fields.set(no, [...(fields.get(no) ?? []), value]);
  }
  return fields;
}
const sub = (f: Fields, no: number) => decode(f.get(no)![0] as Buffer);
const str = (f: Fields, no: number) => (f.get(no)?.[0] as Buffer | undefined)?.toString("utf8");
const num = (f: Fields, no: number) => (f.get(no)?.[0] as number | undefined) ?? 0;
/** HeaderValueOption{header(1): HeaderValue{key(1), value(2)}, append(2): BoolValue{value(1)}} */
const headersOf = (f: Fields, no: number) =>
  Object.fromEntries(
    (f.get(no) ?? []).map((raw) => {
      const option = decode(raw as Buffer);
      const header = sub(option, 1);
      expect(num(sub(option, 2), 1)).toBe(0); // append: false — set, never appended
      return [str(header, 1), str(header, 2)];
    }),
  );

let app: TestApp;
let client: Client;
let op: TestProvider;

/** An oidc policy on web.maas.example.com, beside the examples: its redirects must cross the gRPC port whole. */
const webLogin = (issuer: string, clientId: string, clientSecret: string) => `apiVersion: v1
kind: Secret
metadata: {name: web-oidc, namespace: maas-system}
data: {client-secret: ${base64(clientSecret)}}
---
${exampleRouteWithPolicy("web", "web.maas.example.com", "web-login", `oidc: {provider: {issuer: "${issuer}"}, clientID: ${clientId}, clientSecret: {name: web-oidc}}`)}`;
const check = (request: Buffer): Promise<Fields> =>
  new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      "/envoy.service.auth.v3.Authorization/Check",
      (b: Buffer) => b,
      (b: Buffer) => b,
      request,
      new Metadata(),
      (err, res) => (err ? reject(err) : resolve(decode(res!))),
    ),
  );

beforeAll(async () => {
  op = await startTestProvider({ redirectUris: ["https://web.maas.example.com/oauth2/callback"] });
  app = await startTestApp({ "60-web-login.yaml": webLogin(op.issuer, op.clientId, op.clientSecret) }, EXAMPLES);
  client = new Client(`127.0.0.1:${app.ports.grpc}`, credentials.createInsecure());
});
afterAll(async () => {
  client?.close();
  await app?.close();
  await op?.close();
});

describe("gRPC ext_authz port", () => {
  it("OK: status code 0 and ok_response with the identity header set and the credential removed", async () => {
    const res = await check(
      checkRequest({
        method: "GET",
        path: "/v1/models?x=1",
        host: "api.maas.example.com",
        headers: { "x-api-key": "example-alice-key-change-me", "x-user-id": "mallory" },
      }),
    );
    expect(num(sub(res, 1), 1)).toBe(0);
    const ok = sub(res, 3);
    expect(headersOf(ok, 2)).toEqual({ "x-user-id": "alice" });
    expect((ok.get(5) ?? []).map((b) => (b as Buffer).toString())).toEqual(["x-api-key", "x-user-email", "x-user-group"]);
    expect(res.has(2)).toBe(false);
  });
  it("denied: UNAUTHENTICATED with denied_response carrying 401, WWW-Authenticate and the JSON reason", async () => {
    const res = await check(checkRequest({ method: "POST", path: "/v1/chat/completions", host: "api.maas.example.com" }));
    expect(num(sub(res, 1), 1)).toBe(16);
    const denied = sub(res, 2);
    expect(num(sub(denied, 1), 1)).toBe(401);
    expect(headersOf(denied, 2)).toMatchObject({
      "www-authenticate": 'Bearer realm="https://api.maas.example.com/v1/chat/completions"',
      "content-type": "application/json",
    });
    expect(JSON.parse(str(denied, 3)!)).toEqual({ code: "jwt_missing", message: "Jwt is missing" });
  });
  it("denied: PERMISSION_DENIED with 403 for a request no route matches", async () => {
    const res = await check(checkRequest({ method: "GET", path: "/nope", host: "api.maas.example.com" }));
    expect(num(sub(res, 1), 1)).toBe(7);
    expect(num(sub(sub(res, 2), 1), 1)).toBe(403);
  });
  it("reads header_map (Envoy's encode_raw_headers) as well as the headers map", async () => {
    const res = await check(
      checkRequest({
        method: "GET",
        path: "/v1/models",
        host: "api.maas.example.com",
        headerMap: { "X-API-Key": "example-ci-runner-key-change-me" },
      }),
    );
    expect(headersOf(sub(res, 3), 2)).toEqual({ "x-user-id": "ci-runner" });
  });
  it("context_extensions name the Gateway", async () => {
    const open = await check(
      checkRequest(
        { method: "GET", path: "/healthz", host: "api.maas.example.com" },
        { "portcullis.io/gateway": "maas-system/maas-gateway" },
      ),
    );
    expect(num(sub(open, 1), 1)).toBe(0);
    const other = await check(
      checkRequest({ method: "GET", path: "/healthz", host: "api.maas.example.com" }, { "portcullis.io/gateway": "maas-system/elsewhere" }),
    );
    expect(num(sub(other, 1), 1)).toBe(7);
  });
  it("an x-portcullis-gateway request header names nothing: the client cannot choose the Gateway", async () => {
    const res = await check(
      checkRequest({
        method: "GET",
        path: "/healthz",
        host: "api.maas.example.com",
        headers: { "x-portcullis-gateway": "maas-system/elsewhere" },
      }),
    );
    expect(num(sub(res, 1), 1)).toBe(0);
    const pinned = await check(
      checkRequest(
        { method: "GET", path: "/healthz", host: "api.maas.example.com", headers: { "x-portcullis-gateway": "maas-system/maas-gateway" } },
        { "portcullis.io/gateway": "maas-system/elsewhere" },
      ),
    );
    expect(num(sub(pinned, 1), 1)).toBe(7);
  });
  it("matches the route table of the listener port Envoy states as the destination (80, or 10080 as Envoy Gateway binds it)", async () => {
    const healthz = (port: number) => check(checkRequest({ method: "GET", path: "/healthz", host: "api.maas.example.com" }, {}, port));
    expect(num(sub(await healthz(80), 1), 1)).toBe(0);
    expect(num(sub(await healthz(10080), 1), 1)).toBe(0);
    const elsewhere = await healthz(8443);
    expect(num(sub(elsewhere, 1), 1)).toBe(7);
    expect(JSON.parse(str(sub(elsewhere, 2), 3)!).code).toBe("route_not_found");
  });
  describe("Envoy Gateway's route metadata (extAuth.includeRouteMetadata)", () => {
    const models = {
      method: "GET",
      path: "/v1/models",
      host: "api.maas.example.com",
      headers: { "x-api-key": "example-alice-key-change-me" },
    };
    const route = (name: string, extra: Record<string, string> = {}) => ({ kind: "HTTPRoute", namespace: "maas-system", name, ...extra });
    it("the route Portcullis matches is the one Envoy selected: decided as usual", async () => {
      const res = await check(checkRequest(models, {}, undefined, route("models")));
      expect(num(sub(res, 1), 1)).toBe(0);
      expect(headersOf(sub(res, 3), 2)).toEqual({ "x-user-id": "alice" });
    });
    it("Envoy selected the admin route, Portcullis matches the open /healthz: denied route_mismatch; the client is not told the routes", async () => {
      const res = await check(
        checkRequest({ method: "GET", path: "/healthz", host: "api.maas.example.com" }, {}, undefined, route("admin")),
      );
      expect(num(sub(res, 1), 1)).toBe(7);
      const denied = sub(res, 2);
      expect(num(sub(denied, 1), 1)).toBe(403);
      const body = JSON.parse(str(denied, 3)!) as { code: string; message: string };
      // Both routes are named in the decision's reason, which goes to the audit log (route.proxy-route-* in the catalogue).
      expect(body).toEqual({ code: "route_mismatch", message: "Forbidden" });
    });
    it("a sectionName (rule name) that is not the rule Portcullis matched is a mismatch too", async () => {
      const res = await check(checkRequest(models, {}, undefined, route("models", { sectionName: "premium" })));
      expect(JSON.parse(str(sub(res, 2), 3)!).code).toBe("route_mismatch");
    });
    it("mismatches are counted in portcullis_decisions_total", async () => {
      const metrics = await (await fetch(`${app.admin}/metrics`)).text();
      expect(metrics).toMatch(/portcullis_decisions_total\{protocol="envoy-grpc",code="route_mismatch",status="403"\} [1-9]/);
    });
  });
  it("counts gRPC decisions under their own protocol label", async () => {
    const metrics = await (await fetch(`${app.admin}/metrics`)).text();
    expect(metrics).toMatch(/portcullis_decisions_total\{protocol="envoy-grpc",code="allowed",status="200"\} \d+/);
  });
});

describe("gRPC ext_authz port: oidc", () => {
  it("a browser without a session: denied_response 302 with Location to the provider and the login cookie appended as Set-Cookie", async () => {
    const res = await check(checkRequest({ method: "GET", path: "/dashboard", host: "web.maas.example.com" }));
    expect(num(sub(res, 1), 1)).toBe(7);
    const denied = sub(res, 2);
    expect(num(sub(denied, 1), 1)).toBe(302);
    const options = (denied.get(2) ?? []).map((raw) => {
      const option = decode(raw as Buffer);
      return { key: str(sub(option, 1), 1), value: str(sub(option, 1), 2), append: num(sub(option, 2), 1) === 1 };
    });
    expect(options.find((o) => o.key === "location")?.value?.startsWith(`${op.issuer}/auth?`)).toBe(true);
    const cookies = options.filter((o) => o.key === "set-cookie");
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ append: true });
    expect(cookies[0]!.value).toMatch(/^OauthSession-[0-9a-f]{8}=v1\.[\w-]+; Path=\/; Max-Age=600; HttpOnly; Secure; SameSite=Lax$/);
  });
});

describe("toAuthzRequest: a CheckRequest as check() reads it", () => {
  const http = (fields: Record<string, unknown>) =>
    toAuthzRequest({ attributes: { request: { http: { method: "GET", path: "/", ...fields } } } });

  it("keeps each header_map entry of a repeated header as its own line, as the HTTP ports do", () => {
    const lines = ["user", "admin", "guest"].map((value) => ({ key: "X-Role", value }));
    expect(http({ header_map: { headers: lines } }).headers["x-role"]).toEqual(["user", "admin", "guest"]);
  });

  it("keeps every spelling of a name as a line of its own: in `headers` in two letter cases, or in both maps", () => {
    expect(http({ headers: { "X-API-Key": "bob-key", "x-api-key": "alice-key" } }).headers["x-api-key"]).toEqual(["bob-key", "alice-key"]);
    const both = http({ headers: { "x-api-key": "alice-key" }, header_map: { headers: [{ key: "x-api-key", value: "bob-key" }] } });
    expect(both.headers["x-api-key"]).toEqual(["alice-key", "bob-key"]);
  });

  it("keeps a header named __proto__ as its lines, not as the object's prototype", () => {
    const lines = ["a", "b"].map((value) => ({ key: "__proto__", value }));
    const { headers } = http({ header_map: { headers: lines } });
    expect(Object.hasOwn(headers, "__proto__")).toBe(true);
    expect(Object.getOwnPropertyDescriptor(headers, "__proto__")?.value).toEqual(["a", "b"]);
  });

  it("states a peer that is not an IP address (a pipe, an internal listener) as one: Envoy appends no X-Forwarded-For entry for it", () => {
    // CheckRequest{attributes(1): {source(1): Peer{address(1): Address{...}}}}, decoded by the port's own service definition.
    const withSource = (address: Buffer) =>
      toAuthzRequest(AUTHORIZATION_SERVICE.Check!.requestDeserialize(field(1, field(1, field(1, address)))) as never);
    expect(withSource(field(1, field(2, "10.1.2.3"))).clientAddress).toBe("10.1.2.3");
    expect(withSource(field(2, field(1, "/run/envoy.sock"))).clientAddress).toBe("pipe:/run/envoy.sock");
    expect(withSource(field(3, field(1, "edge"))).clientAddress).toBe("envoy-internal:edge");
    expect(withSource(Buffer.alloc(0)).clientAddress).toBe("unknown");
    expect(toAuthzRequest({ attributes: {} }).clientAddress).toBeUndefined();
  });

  it("the body: whole when Envoy says nothing was cut, unknown (null) when it says it cut it, not forwarded without its word", () => {
    const partial = (value: string) => ({ headers: { "x-envoy-auth-partial-body": value }, raw_body: Buffer.from("role") });
    expect(http(partial("false")).body).toEqual(Buffer.from("role"));
    expect(http(partial("true")).body).toBeNull();
    expect(http({ raw_body: Buffer.from("role") }).body).toBeUndefined();
  });

  // Without pack_as_bytes the bytes come in the text field, bytes that are not UTF-8 decoded as U+FFFD:
  // an extAuth service would be shown a body the upstream never gets.
  it("a body in the text field (no pack_as_bytes) is read as UTF-8, and is unknown (null) where it holds U+FFFD", () => {
    const inText = (body: string) => http({ headers: { "x-envoy-auth-partial-body": "false" }, body });
    expect(inText("role=é")).toMatchObject({ body: Buffer.from("role=é", "utf8") });
    expect(inText("role=\uFFFD").body).toBeNull();
    // The same body decoded by the port's own service definition from bytes that are not UTF-8.
    const decoded = AUTHORIZATION_SERVICE.Check!.requestDeserialize(
      field(1, field(4, field(2, msg(mapEntry(3, "x-envoy-auth-partial-body", "false"), field(11, Buffer.from([0x61, 0xff])))))),
    );
    expect(toAuthzRequest(decoded as never).body).toBeNull();
  });

  it("reads Host and the path from header_map when the attributes lack them", () => {
    const headers = [
      { key: ":authority", value: "api.example.com" },
      { key: ":path", value: "/v1" },
    ];
    expect(http({ path: "", header_map: { headers } })).toMatchObject({ host: "api.example.com", path: "/v1" });
  });
});
