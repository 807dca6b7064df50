/**
 * CSRF as Envoy's csrf filter decides for Envoy Gateway v1.9.0's policies
 * (source/extensions/filters/http/csrf/csrf_filter.cc): mutating methods only; the source origin is
 * the host and port of Origin, else of Referer; it must equal the host and port of Host or match an
 * additional origin (scheme ignored); shadow mode lets a share of failing requests through.
 */
import { describe, expect, it } from "vitest";
import { hostAndPort } from "../../../controller/features/csrf/check.ts";
import { gatewayWithRoute } from "../../support/manifests.ts";
import { decider } from "../../support/world.ts";

const policy = (name: string, csrf: string) => `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: ${name}, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api, sectionName: ${name}}]
  csrf: ${csrf}
`;

const world = `${gatewayWithRoute("api.example.com", { plain: "/plain", extra: "/extra", shadow: "/shadow", half: "/half" })}${policy("plain", "{}")}${policy(
  "extra",
  '{additionalOrigins: ["https://www.example.com", "http://www.example.com:8080", "https://*.trusted.com"]}',
)}${policy("shadow", "{shadowFraction: {numerator: 100}}")}${policy("half", "{shadowFraction: {numerator: 1, denominator: 2}}")}`;

const d = decider(world);
const post = (path: string, headers: Record<string, string>, method = "POST") => d({ method, path, headers });
const status = async (p: ReturnType<typeof post>) => {
  const decision = await p;
  return decision.allowed ? 200 : `${decision.status} ${decision.code}`;
};

describe("csrf", () => {
  it("lets safe methods through without an Origin", async () => {
    for (const method of ["GET", "HEAD", "OPTIONS"]) expect(await status(post("/plain", {}, method))).toBe(200);
  });

  it("lets a mutating request from the destination's own origin through, whatever its scheme", async () => {
    for (const origin of ["https://api.example.com", "http://api.example.com"]) expect(await status(post("/plain", { origin }))).toBe(200);
  });

  it("refuses each mutating method from another origin, before any credential is read", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"])
      expect(await status(post("/plain", { origin: "https://evil.example.com" }, method))).toBe("403 csrf_origin");
  });

  it("refuses a mutating request without Origin or Referer, and one from Origin null", async () => {
    expect(await status(post("/plain", {}))).toBe("403 csrf_origin");
    expect(await status(post("/plain", { origin: "null" }))).toBe("403 csrf_origin");
  });

  it("reads Referer when there is no Origin", async () => {
    expect(await status(post("/plain", { referer: "https://api.example.com/form?x=1" }))).toBe(200);
    expect(await status(post("/plain", { referer: "https://evil.example.com/api.example.com" }))).toBe("403 csrf_origin");
  });

  it("compares the port as written: an Origin with a port the Host lacks is another origin", async () => {
    expect(await status(post("/plain", { origin: "https://api.example.com:443" }))).toBe("403 csrf_origin");
  });

  it("decides a lower-case method upper-cased too (Envoy would not check `post`; every reading must allow)", async () => {
    expect(await status(post("/plain", { origin: "https://evil.example.com" }, "post"))).toBe("403 csrf_origin");
  });

  it("takes additional origins by host and port, exactly or by wildcard, never the wildcard's apex", async () => {
    expect(await status(post("/extra", { origin: "http://www.example.com" }))).toBe(200);
    expect(await status(post("/extra", { origin: "https://www.example.com:8080" }))).toBe(200);
    expect(await status(post("/extra", { origin: "https://app.trusted.com" }))).toBe(200);
    expect(await status(post("/extra", { origin: "https://trusted.com" }))).toBe("403 csrf_origin");
    expect(await status(post("/extra", { origin: "https://www.example.com.evil.com" }))).toBe("403 csrf_origin");
  });

  it("lets every failing request through at shadowFraction 100%, and draws for a share in between", async () => {
    expect(await status(post("/shadow", { origin: "https://evil.example.com" }))).toBe(200);
    const drawn = (value: number) => decider(world, { random: () => value });
    expect((await drawn(0.25)({ method: "POST", path: "/half", headers: {} })).code).toBe("csrf_origin");
    expect((await drawn(0.75)({ method: "POST", path: "/half", headers: {} })).allowed).toBe(true);
  });
});

describe("hostAndPort", () => {
  it("is the authority of an absolute URL, without user info or path", () => {
    expect(hostAndPort("https://app.example.com:8443/x?y#z")).toBe("app.example.com:8443");
    expect(hostAndPort("http://[::1]:8080")).toBe("[::1]:8080");
  });
  it("is the value itself when it is not an absolute URL Envoy's parser reads the same way", () => {
    for (const v of ["null", "api.example.com", "https://u@app.example.com", "http://[zz]:1", "https://a.example.com:99999", "https://a b"])
      expect(hostAndPort(v)).toBe(v);
  });
});
