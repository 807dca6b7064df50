/**
 * What a denied client is told on every port: the status, its challenge headers and a generic body.
 * The decision's message names the policy, rule and validation error; it belongs to the audit log.
 */
import { describe, expect, it } from "vitest";
import { deny, type Decision } from "../../controller/authz/decision.ts";
import { envoyResponse, forwardAuthResponse } from "../../controller/server/envoy-response.ts";
import { toCheckResponse } from "../../controller/server/grpc.ts";

const INVALID = deny(
  403,
  "policy_invalid",
  "SecurityPolicy tenant-a/payments-secret-policy is invalid: Secret tenant-a/payments-keys not found",
  { route: "tenant-a/payments rule 0", policy: "tenant-a/payments-secret-policy" },
);
const RULE = deny(403, "authz_denied", "denied by authorization rule only-admins-from-10.0.0.0/8", { policy: "tenant-a/admin" });
const FAILED = deny(403, "internal_error", "the key store for https://idp.internal/keys?token=s3cret failed", {});
const MISSING = deny(
  401,
  "basic_missing",
  "User authentication failed: no Basic credentials in the request",
  {},
  { "www-authenticate": 'Basic realm="tenant-a"' },
);

describe("denial bodies", () => {
  it.each([
    ["an invalid policy", INVALID, "Forbidden"],
    ["an authorization rule", RULE, "Forbidden"],
    ["a failure", FAILED, "Forbidden"],
    ["a missing credential (the message speaks of the request only)", MISSING, MISSING.message],
  ])("%s: the reason code and a message that tells nothing of the configuration (HTTP, forward-auth, gRPC)", (_what, decision, phrase) => {
    const expected = { code: decision.code, message: phrase };
    for (const wire of [envoyResponse(decision), forwardAuthResponse(decision)]) {
      expect(wire.status).toBe(decision.status);
      expect(JSON.parse(String(wire.body))).toEqual(expected);
    }
    const grpc = toCheckResponse(decision) as { denied_response: { status: { code: number }; body: string } };
    expect(grpc.denied_response.status.code).toBe(decision.status);
    expect(JSON.parse(grpc.denied_response.body)).toEqual(expected);
  });

  it("client_address_unknown is an authorization denial to the client: which flags Portcullis lacks is configuration (HTTP, forward-auth, gRPC)", () => {
    const unknown = {
      ...deny(
        403,
        "client_address_unknown",
        "the authorization rules read the client address, which cannot be determined on this listener",
        {},
      ),
      detail: "ClientTrafficPolicy apps/hops: … start it with --xff-trusted-hops 1",
    };
    const expected = { code: "authz_denied", message: "Forbidden" };
    for (const wire of [envoyResponse(unknown), forwardAuthResponse(unknown)]) expect(JSON.parse(String(wire.body))).toEqual(expected);
    const grpc = toCheckResponse(unknown) as { denied_response: { body: string } };
    expect(JSON.parse(grpc.denied_response.body)).toEqual(expected);
  });
  it("keeps the challenge the client needs (WWW-Authenticate)", () => {
    expect(envoyResponse(MISSING).headers["www-authenticate"]).toBe('Basic realm="tenant-a"');
  });

  it("passes a decision's own body and content-type through as they are (HTTP, forward-auth, gRPC)", () => {
    const own: Decision = {
      ...deny(403, "authz_denied", "the external service denied the request", {}, { "content-type": "text/plain", "x-reason": "quota" }),
      body: "quota exceeded\n",
    };
    for (const wire of [envoyResponse(own), forwardAuthResponse(own)]) {
      expect(wire.status).toBe(403);
      expect(wire.body).toBe("quota exceeded\n");
      expect(wire.headers).toEqual({ "content-type": "text/plain", "x-reason": "quota" });
    }
    const grpc = toCheckResponse(own) as { denied_response: { body: string; headers: { header: { key: string; value: string } }[] } };
    expect(grpc.denied_response.body).toBe("quota exceeded\n");
    expect(grpc.denied_response.headers.map((h) => [h.header.key, h.header.value])).toContainEqual(["content-type", "text/plain"]);
  });
});

describe("forward-auth: what becomes of the Cookie header (issue 12.7)", () => {
  const allowed = (upstreamHeaders: Record<string, string>, removeHeaders: string[]): Decision => ({
    allowed: true,
    status: 200,
    code: "allowed",
    message: "allowed",
    route: "tenant-a/console rule 0",
    policy: "tenant-a/keys",
    principal: "apiKey alice",
    upstreamHeaders,
    removeHeaders,
    responseHeaders: {},
  });
  it.each([
    ["the key cookie cut from the others", allowed({ "x-client-id": "alice", cookie: "theme=dark" }, ["x-api-key"]), "replace"],
    ["only the key cookie sent", allowed({ "x-client-id": "alice" }, ["x-api-key", "cookie"]), "remove"],
    ["no key cookie sent", allowed({ "x-client-id": "alice" }, ["x-api-key"]), undefined],
  ])("%s: x-portcullis-cookie is %s on the forward-auth port, and Envoy's port keeps its own terms", (_what, decision, outcome) => {
    const forward = forwardAuthResponse(decision);
    expect([forward.status, forward.headers["x-portcullis-cookie"], forward.headers.cookie]).toEqual([
      200,
      outcome,
      decision.upstreamHeaders.cookie,
    ]);
    expect(forward.lines.split("\r\n").some((line) => line.startsWith("x-portcullis-cookie: "))).toBe(outcome !== undefined);
    expect(envoyResponse(decision).headers["x-portcullis-cookie"]).toBeUndefined();
  });
});

describe("forward-auth: the headers an allowed actual CORS request's response gets", () => {
  const cors = { "access-control-allow-origin": "https://app.example.com", "access-control-allow-credentials": "true", vary: "Origin" };
  const allowed = (upstreamHeaders: Record<string, string>, removeHeaders: string[] = []): Decision => ({
    allowed: true,
    status: 200,
    code: "allowed",
    message: "allowed",
    route: "tenant-a/api rule 0",
    policy: "tenant-a/cors",
    principal: "jwt idp sub=alice",
    upstreamHeaders,
    removeHeaders,
    responseHeaders: cors,
  });
  it("are named x-portcullis-response-<name>, apart from a header of the same name a policy sets upstream (claimToHeaders: vary)", () => {
    const forward = forwardAuthResponse(allowed({ "x-user-id": "alice", vary: "claim-value" }));
    expect(forward.headers).toEqual({
      "x-portcullis-response-access-control-allow-origin": "https://app.example.com",
      "x-portcullis-response-access-control-allow-credentials": "true",
      "x-portcullis-response-vary": "Origin",
      "x-user-id": "alice",
      vary: "claim-value",
    });
  });
  it("beside the Cookie outcome when sanitize cut a key cookie", () => {
    const forward = forwardAuthResponse(allowed({ cookie: "theme=dark" }, ["x-api-key"]));
    expect([forward.headers["x-portcullis-cookie"], forward.headers["x-portcullis-response-vary"], forward.headers.vary]).toEqual([
      "replace",
      "Origin",
      undefined,
    ]);
  });
  it("keep their own names on Envoy's port, whose allowed_client_headers_on_success picks them", () => {
    expect(envoyResponse(allowed({ "x-user-id": "alice" })).headers).toEqual({ ...cors, "x-user-id": "alice" });
  });
});

describe("an allow's header lines (issue 17: built at their exact length, the decision's headers reused when they are all)", () => {
  const allow = (upstreamHeaders: Record<string, string>, removeHeaders: string[], responseHeaders: Record<string, string>): Decision => ({
    allowed: true,
    status: 200,
    code: "allowed",
    message: "authenticated as jwt idp sub=é",
    route: "tenant-a/api rule 0",
    policy: "tenant-a/jwt",
    principal: "jwt idp sub=é",
    upstreamHeaders,
    removeHeaders,
    responseHeaders,
  });
  it.each([
    ["claims only", allow({ "x-user-id": "é", "x-user-group": "research" }, [], {}), { "x-user-id": "é", "x-user-group": "research" }],
    [
      "claims and headers to remove",
      allow({ "x-user-id": "alice" }, ["x-user-email", "x-user-group"], {}),
      { "x-user-id": "alice", "x-envoy-auth-headers-to-remove": "x-user-email,x-user-group" },
    ],
    [
      "CORS response headers first, then those set upstream",
      allow({ "x-user-id": "alice" }, [], { "access-control-allow-origin": "https://a.example" }),
      { "access-control-allow-origin": "https://a.example", "x-user-id": "alice" },
    ],
    ["nothing set", allow({}, [], {}), {}],
  ])(
    "%s: each header once as a line of UTF-8 bytes, in order; content-length left to writeHead in the framed list only",
    (_what, decision, headers) => {
      const wire = envoyResponse(decision);
      expect(wire.headers).toEqual(headers);
      const lines = Object.entries(headers).map(([name, value]) => `${name}: ${Buffer.from(value, "utf8").toString("latin1")}\r\n`);
      expect(wire.lines).toBe(lines.join(""));
      expect(wire.nodeLines).toEqual([]);
      expect(wire.framedNodeLines).toEqual(["content-length", "0"]);
    },
  );
});

describe("an external authorization service's 2xx denial (extAuth: only its 200 allows)", () => {
  const noContent: Decision = {
    ...deny(204, "extauth_denied", "the external authorization service Backend apps/auth denied the request", { policy: "apps/ext" }),
    body: "",
  };

  it("is a 403 on the forward-auth port, where any 2xx would let the request through, and not a CORS preflight answer", () => {
    const forward = forwardAuthResponse(noContent);
    expect(forward.status).toBe(403);
    expect(forward.headers["x-portcullis-preflight"]).toBeUndefined();
  });

  it("stays the service's 204 for Envoy, which hands any status but 200 to the client", () => {
    expect(envoyResponse(noContent).status).toBe(204);
  });

  it("with status 200 (a gRPC service's denied_response may name it) is a 403 on every HTTP port, where a 200 is an allow", () => {
    const ok: Decision = { ...noContent, status: 200, responseHeaders: { "x-current-user": "admin" } };
    for (const wire of [envoyResponse(ok), forwardAuthResponse(ok)]) {
      expect(wire.status).toBe(403);
      expect(wire.headers["x-current-user"]).toBe("admin");
    }
  });
});

describe("oidc redirects: status, Location and every Set-Cookie reach the client on every port", () => {
  const login: Decision = {
    ...deny(
      302,
      "oidc_login",
      "no session: sent to the OpenID provider to log in",
      { policy: "apps/web" },
      {
        location: "https://idp.example.com/auth?client_id=web",
      },
    ),
    cookies: ["OauthSession-1=v1.abc; Path=/; Max-Age=600; HttpOnly", "OauthSession-1.1=; Path=/; Max-Age=0; HttpOnly"],
  };

  it("HTTP ext_authz and forward-auth: one set-cookie line per cookie, the 302 as is (Caddy and Traefik hand it to the client)", () => {
    for (const wire of [envoyResponse(login), forwardAuthResponse(login)]) {
      expect(wire.status).toBe(302);
      expect(wire.headers.location).toBe("https://idp.example.com/auth?client_id=web");
      const cookies = wire.lines
        .split("\r\n")
        .flatMap((line) => (line.startsWith("set-cookie: ") ? [line.slice("set-cookie: ".length)] : []));
      expect(cookies).toEqual(login.cookies);
    }
  });

  it("gRPC: the denied_response carries the 302, Location and each cookie as an appended header", () => {
    const grpc = toCheckResponse(login) as {
      denied_response: { status: { code: number }; headers: { header: { key: string; value: string }; append: { value: boolean } }[] };
    };
    expect(grpc.denied_response.status.code).toBe(302);
    const headers = grpc.denied_response.headers;
    expect(headers.find((h) => h.header.key === "location")?.header.value).toBe("https://idp.example.com/auth?client_id=web");
    expect(headers.filter((h) => h.header.key === "set-cookie").map((h) => [h.header.value, h.append.value])).toEqual(
      login.cookies!.map((c) => [c, true]),
    );
  });
});
