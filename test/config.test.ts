import { describe, expect, it } from "vitest";
import { loadConfig, UsageError } from "../controller/config.ts";

describe("loadConfig", () => {
  it("applies DESIGN §9 defaults", () => {
    expect(loadConfig(["serve", "--manifests", "d"], {})).toMatchObject({ command: "serve", authzPort: 9002, forwardAuthPort: 9003, adminPort: 9090, gatewayClass: [], onNoRoute: "deny" });
  });
  it("reads every flag from PORTCULLIS_* and lets the flag win", () => {
    const env = { PORTCULLIS_AUTHZ_PORT: "7000", PORTCULLIS_ADMIN_PORT: "7001", PORTCULLIS_GATEWAY_CLASS: "a, b", PORTCULLIS_MANIFESTS: "/m" };
    expect(loadConfig(["serve", "--admin-port", "8001"], env)).toMatchObject({ authzPort: 7000, adminPort: 8001, gatewayClass: ["a", "b"], manifests: "/m" });
  });
  it("collects repeated flags", () => {
    expect(loadConfig(["check", "--manifests", "d", "-H", "A: 1", "-H", "B: 2", "GET", "http://x/"], {})).toMatchObject({ header: ["A: 1", "B: 2"], method: "GET", url: "http://x/" });
  });
  it("reads trusted proxy CIDRs as repeated flags or comma-separated lists (Envoy Gateway's trustedCIDRs)", () => {
    const argv = ["serve", "--manifests", "d", "--xff-trusted-cidrs", "10.0.0.0/8, 192.168.0.0/16", "--xff-trusted-cidrs", "2001:db8::/32"];
    expect(loadConfig(argv, {})).toMatchObject({ xffTrustedCidrs: ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"], xffTrustedHops: 0 });
    expect(loadConfig(["serve", "--manifests", "d"], { PORTCULLIS_XFF_TRUSTED_CIDRS: "10.0.0.0/8" })).toMatchObject({ xffTrustedCidrs: ["10.0.0.0/8"] });
  });
  it.each([
    [[], /command is required/],
    [["serve", "--manifests", "d", "--xff-trusted-cidrs", "10.0.0.0/40"], /--xff-trusted-cidrs: not a CIDR/],
    [["serve", "--manifests", "d", "--xff-trusted-cidrs", "10.0.0.0/8", "--xff-trusted-hops", "1"], /exclude each other/],
    [["serve", "--authz-port", "70000"], /--authz-port/],
    [["serve", "--manifests", "d", "--kubeconfig", "k"], /exclude each other/],
    [["check", "--manifests", "d", "GET"], /METHOD and URL/],
    [["check", "--manifests", "d", "GET", "ftp://x"], /--url/],
    [["check", "--manifests", "d", "-H", "novalue", "GET", "http://x"], /--header/],
    [["serve", "--bogus"], /bogus/],
    [["compile"], /--manifests/],
    [["serve"], /serve needs --manifests DIR/],
  ])("rejects %j with a clear message", (argv, message) => {
    expect(() => loadConfig(argv, {})).toThrow(UsageError);
    expect(() => loadConfig(argv, {})).toThrow(message);
  });
  it("uses the in-cluster config inside a pod, with the downward API's identity and namespace", () => {
    const env = { KUBERNETES_SERVICE_HOST: "10.0.0.1", POD_NAME: "portcullis-7d9f", POD_NAMESPACE: "portcullis-system" };
    const config = loadConfig(["serve"], env);
    expect(config).toMatchObject({ identity: "portcullis-7d9f", leaseNamespace: "portcullis-system" });
    expect(config.command === "serve" && config.manifests === undefined && config.kubeconfig === undefined).toBe(true);
  });
  it("is frozen", () => {
    expect(Object.isFrozen(loadConfig(["compile", "--manifests", "d"], {}))).toBe(true);
  });
});
