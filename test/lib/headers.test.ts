/** upstreamHeaderName: which headers a policy may set upstream (issue 12 situation 9). */
import { describe, expect, it } from "vitest";
import { upstreamHeaderName } from "../../controller/lib/headers.ts";

const refused = (name: string) => {
  const r = upstreamHeaderName(name, "field");
  return r.ok ? "accepted" : r.error.join("; ");
};

describe("upstreamHeaderName", () => {
  it("lower-cases an ordinary header name", () => expect(upstreamHeaderName("X-User-Id", "f")).toEqual({ ok: true, value: "x-user-id" }));
  it("refuses credential headers", () => {
    for (const h of ["Authorization", "proxy-authorization", "Cookie"]) expect(refused(h)).toContain("a credential header");
  });
  it("refuses connection and framing headers", () => {
    for (const h of ["host", "Connection", "te", "transfer-encoding", "content-length", "upgrade", "keep-alive", "trailer", "expect"]) {
      expect(refused(h)).toContain("a connection or message-framing header");
    }
  });
  it("refuses what proxies say about the request", () => {
    for (const h of [
      "x-forwarded-for",
      "X-Forwarded-Proto",
      "x-forwarded-host",
      "forwarded",
      "via",
      "x-real-ip",
      "x-request-id",
      "x-original-uri",
    ]) {
      expect(refused(h)).toContain("a header proxies set about the request");
    }
  });
  it("refuses headers that make an upstream run another method or URL than the one decided", () => {
    for (const h of ["X-HTTP-Method-Override", "x-http-method", "x-method-override", "x-rewrite-url", "X-Original-URL"]) {
      expect(refused(h)).toContain("a header that makes servers run the request as another method or URL");
    }
  });
  it("refuses Envoy's and Portcullis' own headers", () => {
    expect(refused("x-envoy-auth-headers-to-remove")).toContain("an Envoy-internal header");
    expect(refused("x-portcullis-gateway")).toContain("a header the proxy sets for Portcullis");
  });
  it("refuses names that are not HTTP tokens (pseudo-headers included)", () => {
    for (const h of [":authority", "x user", "x-ü"]) expect(refused(h)).toContain("is not a valid HTTP header name");
  });
});
