/** The forward-auth safety net (controller/authz/proxy-copies.ts). */
import { describe, expect, it } from "vitest";
import { deny, type Decision } from "../../controller/authz/decision.ts";
import { refuseUnreplacedCopies, replacedHeaders } from "../../controller/authz/proxy-copies.ts";
import type { AuthzRequest } from "../../controller/authz/request.ts";

const MANAGED = ["authorization", "x-tenant", "x-user-id"];

/** An allow that sets `set` upstream and removes `remove`. */
const allowing = (set: Record<string, string>, remove: readonly string[]): Decision => ({
  allowed: true,
  status: 200,
  code: "allowed",
  message: "no credential required",
  route: "apps/api rule 0",
  policy: "apps/p",
  principal: undefined,
  upstreamHeaders: set,
  removeHeaders: remove,
  responseHeaders: {},
});

/** A forward-auth request with `headers`, from a proxy replacing `replaces` (undefined: an Envoy port). */
const request = (headers: Record<string, string>, replaces?: string): AuthzRequest => ({
  method: "GET",
  scheme: "https",
  host: "api.example.com",
  path: "/x",
  headers,
  gateway: undefined,
  ...(replaces === undefined ? {} : { proxyReplaces: replacedHeaders(replaces) }),
});

describe("replacedHeaders", () => {
  it("reads a comma-separated list in any letter case, ignoring empty items", () => {
    expect([...replacedHeaders(" X-User-Id,x-tenant ,, ")]).toEqual(["x-user-id", "x-tenant"]);
    expect(replacedHeaders(undefined).size).toBe(0);
  });
  it("reads the list a proxy sends on every check once, and another list as its own", () => {
    const first = replacedHeaders("x-user-id, x-tenant");
    expect(replacedHeaders("x-user-id, x-tenant")).toBe(first);
    expect([...replacedHeaders("x-user-id")]).toEqual(["x-user-id"]);
    expect([...replacedHeaders("x-user-id, x-tenant")]).toEqual(["x-user-id", "x-tenant"]);
    expect(replacedHeaders(undefined).size).toBe(0);
  });
});

describe("refuseUnreplacedCopies", () => {
  const removesBoth = allowing({}, ["x-tenant", "x-user-id"]);
  it("refuses an allow when the client sent a header a policy sets that the proxy does not replace, naming it for the operator", () => {
    const d = refuseUnreplacedCopies(removesBoth, request({ "x-tenant": "t1" }, "x-user-id"), MANAGED);
    expect([d.allowed, d.status, d.code, d.message]).toEqual([
      false,
      400,
      "request_invalid",
      "the request carries its own x-tenant, which a client may not send",
    ]);
    expect(d.detail).toContain("x-portcullis-replaces");
    // What the client reads (the message) says nothing of the policies; the operator's detail does.
    expect(d.message).not.toMatch(/Portcullis|polic|proxy/i);
    expect(d.detail).toContain("a policy sets");
    // The fix is two edits; listing the header without replacing it would let the client's copy through.
    expect(d.detail).toContain("make the proxy replace it with this answer's value, then list it there");
    expect(d.route).toBe("apps/api rule 0");
  });
  it("also when the allow sets that header (the proxy would not copy Portcullis' value over the client's)", () => {
    expect(refuseUnreplacedCopies(allowing({ "x-user-id": "alice" }, []), request({ "x-user-id": "admin" }, ""), MANAGED).code).toBe(
      "request_invalid",
    );
  });
  it("keeps the allow when the proxy replaces every such header, or the client sent none", () => {
    expect(refuseUnreplacedCopies(removesBoth, request({ "x-tenant": "t1", "x-user-id": "u" }, "x-user-id, X-Tenant"), MANAGED)).toBe(
      removesBoth,
    );
    expect(refuseUnreplacedCopies(removesBoth, request({ accept: "*/*" }, ""), MANAGED)).toBe(removesBoth);
  });
  it("leaves alone what no policy sets (a sanitized credential) and cookie", () => {
    const d = allowing({ cookie: "theme=dark" }, ["x-api-key"]);
    expect(refuseUnreplacedCopies(d, request({ authorization: "Bearer c", cookie: "k=v", "x-api-key": "k" }, ""), MANAGED)).toBe(d);
  });
  it("refuses a client's authorization beside one the allow sets (oidc's token) unless the proxy replaces it (regression)", () => {
    // Before: exempt, as nginx and Caddy take Authorization from the answer; Traefik (authResponseHeaders
    // without it) passed the client's own bearer to the upstream in place of the session's token.
    const d = allowing({ authorization: "Bearer t" }, []);
    expect(refuseUnreplacedCopies(d, request({ authorization: "Bearer forged" }, "x-user-id"), []).code).toBe("request_invalid");
    expect(refuseUnreplacedCopies(d, request({ authorization: "Bearer forged" }, "x-user-id, authorization"), [])).toBe(d);
    expect(refuseUnreplacedCopies(d, request({}, ""), [])).toBe(d);
  });
  it("refuses a client's authorization the allow removes (a policy sets it) unless the proxy replaces it", () => {
    const d = allowing({}, ["authorization"]);
    expect(refuseUnreplacedCopies(d, request({ authorization: "Bearer c" }, ""), MANAGED).code).toBe("request_invalid");
    expect(refuseUnreplacedCopies(d, request({ authorization: "Bearer c" }, "authorization"), MANAGED)).toBe(d);
  });
  it("does nothing on the Envoy ports (no list: Envoy applies every header answered) or to a denial", () => {
    expect(refuseUnreplacedCopies(removesBoth, request({ "x-tenant": "t1" }), MANAGED)).toBe(removesBoth);
    const denied = deny(403, "authz_denied", "no", {});
    expect(refuseUnreplacedCopies(denied, request({ "x-tenant": "t1" }, ""), MANAGED)).toBe(denied);
  });
});
