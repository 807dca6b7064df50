/** compileCors: which origins Envoy Gateway v1.9.0's CRD accepts, and what Portcullis refuses on top. */
import { describe, expect, it } from "vitest";
import { compileCors } from "../../../controller/features/cors/compile.ts";

const origins = (allowOrigins: string[], allowCredentials = false) => compileCors({ allowOrigins, allowCredentials });

describe("compileCors", () => {
  it("accepts every origin form of Envoy Gateway's Origin type", () => {
    for (const o of [
      "https://foo.example.com",
      "https://*.example.com",
      "http://foo.example.com:8080",
      "http://*.example.com:8080",
      "https://*",
      "moz-extension://example.com",
      "foo://*.example.com:8080",
      "*",
    ]) {
      expect(origins([o]).ok, o).toBe(true);
    }
  });
  it("refuses what that type refuses, naming the entry", () => {
    for (const o of [
      "example.com",
      "https://",
      "https://a..b",
      "https://a.b.",
      "https://*.*.example.com",
      "https://foo.example.com/",
      "https://a b",
      "1http://x",
      "https://x:123456",
    ]) {
      const r = origins(["https://ok.example.com", o]);
      expect(r.ok ? "accepted" : r.error.join("; "), o).toMatch(/^allowOrigins\[1\]: /);
    }
  });
  it("checks a long invalid host in linear time (the CRD's own pattern backtracks exponentially there)", () => {
    const r = origins([`https://${"a".repeat(240)}!`]);
    expect(r.ok).toBe(false);
  });
  it("refuses credentials with an origin that matches every site, which Envoy would echo to any page", () => {
    for (const o of ["*", "https://*", "https://*:8443"]) {
      const r = origins(["https://app.example.com", o], true);
      expect(r.ok ? "accepted" : r.error.join("; ")).toContain("which matches every site");
    }
    expect(origins(["https://*.example.com"], true).ok).toBe(true);
  });
  it("renders methods and headers as Envoy Gateway does: as written, or * when the list holds *", () => {
    const r = compileCors({ allowMethods: ["get", "POST"], allowHeaders: ["x-a", "*"], exposeHeaders: ["*"], maxAge: "1m30s" });
    expect(r.ok && [r.value.allowMethods, r.value.allowHeaders, r.value.exposeHeaders, r.value.maxAgeSeconds]).toEqual([
      "get, POST",
      "*",
      "*",
      "90",
    ]);
  });
});
