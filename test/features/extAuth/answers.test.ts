/** A service's answer read as Envoy's ext_authz filter reads it (controller/features/extAuth/answers.ts), without a service. */
import { describe, expect, it } from "vitest";
import { normalizeRequest } from "../../../controller/authz/request.ts";
import { readCheckResponse, readHttpAnswer } from "../../../controller/features/extAuth/answers.ts";

const http = (status: number, headers: [string, string][] = [], body = "") =>
  readHttpAnswer({ headersToBackend: ["x-user"] }, { status, headers, body: Buffer.from(body) });
const req = normalizeRequest({ method: "GET", scheme: "http", host: "h", path: "/", headers: { "x-tier": "gold" }, gateway: undefined });

describe("readHttpAnswer", () => {
  it("allows on 200 only, setting headersToBackend (the last line wins) and removing what the service names, Host and pseudo-headers excepted", () => {
    expect(
      http(200, [
        ["x-user", "a"],
        ["x-user", "b"],
        ["x-other", "not forwarded"],
        ["x-envoy-auth-headers-to-remove", "X-Debug, host, :path"],
      ]),
    ).toEqual({ kind: "allow", set: { "x-user": "b" }, remove: ["x-debug"], responseHeaders: {} });
  });
  it("hands any other final answer to the client as written, Set-Cookie lines apart and framing headers dropped", () => {
    expect(
      http(302, [
        ["location", "/login"],
        ["set-cookie", "a=1"],
        ["set-cookie", "b=2"],
        ["content-length", "0"],
      ]),
    ).toEqual({ kind: "deny", status: 302, headers: { location: "/login" }, cookies: ["a=1", "b=2"], body: Buffer.alloc(0) });
  });
  it("takes a 5xx, and a status that is no final answer, for a failing service", () => {
    expect(http(503).kind).toBe("error");
    expect(http(101).kind).toBe("error");
  });
});

describe("readCheckResponse", () => {
  it("applies an OK's header actions as Envoy's ext_authz does: overwrite unless told to append, add only if absent, overwrite only if present", () => {
    const verdict = readCheckResponse(
      {
        status: { code: 0 },
        ok_response: {
          headers: [
            { header: { key: "X-Tier", value: "silver" }, append: { value: true } },
            { header: { key: "x-plan", value: "basic" } },
            { header: { key: "x-user", value: "alice" }, append_action: 1 },
            { header: { key: "x-missing", value: "v" }, append_action: 3 },
            { header: { key: ":path", value: "/admin" } },
          ],
          headers_to_remove: ["X-Debug", "host"],
        },
      },
      req,
    );
    expect(verdict).toEqual({
      kind: "allow",
      set: { "x-tier": "gold,silver", "x-plan": "basic", "x-user": "alice" },
      remove: ["x-debug"],
      responseHeaders: {},
    });
  });
  it("refuses an OK that would change the query (no ext_authz answer of Portcullis can carry it out)", () => {
    expect(readCheckResponse({ status: { code: 0 }, ok_response: { query_parameters_to_remove: ["debug"] } }, req).kind).toBe("error");
  });
  it("keeps a denial a denial: 403 when it names no final HTTP status", () => {
    const denied = readCheckResponse({ status: { code: 7 }, denied_response: { status: { code: 0 }, body: "no" } }, req);
    expect(denied).toMatchObject({ kind: "deny", status: 403, body: Buffer.from("no") });
  });
});
