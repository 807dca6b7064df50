import { describe, expect, it } from "vitest";
import { flagsOf, loadConfig, UsageError } from "../controller/config.ts";

describe("loadConfig", () => {
  it("applies DESIGN §9 defaults", () => {
    expect(loadConfig(["serve", "--manifests", "d"], {})).toMatchObject({
      command: "serve",
      authzPort: 9002,
      forwardAuthPort: 9003,
      adminPort: 9090,
      gatewayClass: [],
      onNoRoute: "deny",
    });
  });
  it("reads every flag from PORTCULLIS_* and lets the flag win", () => {
    const env = {
      PORTCULLIS_AUTHZ_PORT: "7000",
      PORTCULLIS_ADMIN_PORT: "7001",
      PORTCULLIS_GATEWAY_CLASS: "a, b",
      PORTCULLIS_MANIFESTS: "/m",
    };
    expect(loadConfig(["serve", "--admin-port", "8001"], env)).toMatchObject({
      authzPort: 7000,
      adminPort: 8001,
      gatewayClass: ["a", "b"],
      manifests: "/m",
    });
  });
  it("collects repeated flags", () => {
    expect(loadConfig(["check", "--manifests", "d", "-H", "A: 1", "-H", "B: 2", "GET", "http://x/"], {})).toMatchObject({
      header: ["A: 1", "B: 2"],
      method: "GET",
      url: "http://x/",
    });
  });
  it("reads trusted proxy CIDRs as repeated flags or comma-separated lists (Envoy Gateway's trustedCIDRs)", () => {
    const argv = ["serve", "--manifests", "d", "--xff-trusted-cidrs", "10.0.0.0/8, 192.168.0.0/16", "--xff-trusted-cidrs", "2001:db8::/32"];
    expect(loadConfig(argv, {})).toMatchObject({ xffTrustedCidrs: ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"], xffTrustedHops: 0 });
    expect(loadConfig(["serve", "--manifests", "d"], { PORTCULLIS_XFF_TRUSTED_CIDRS: "10.0.0.0/8" })).toMatchObject({
      xffTrustedCidrs: ["10.0.0.0/8"],
    });
  });
  it("reads the client address header lower-cased (Envoy Gateway's clientIPDetection.customHeader)", () => {
    expect(loadConfig(["serve", "--manifests", "d"], { PORTCULLIS_CLIENT_IP_HEADER: "CF-Connecting-IP" })).toMatchObject({
      clientIpHeader: "cf-connecting-ip",
    });
    expect(loadConfig(["serve", "--manifests", "d"], {})).not.toHaveProperty("clientIpHeader");
  });
  it("check --explain is a switch, also PORTCULLIS_EXPLAIN=true or 1", () => {
    const argv = ["check", "--manifests", "d", "GET", "http://x/"];
    expect(loadConfig(argv, {})).toMatchObject({ explain: false });
    expect(loadConfig([...argv, "--explain"], {})).toMatchObject({ explain: true });
    expect(loadConfig(argv, { PORTCULLIS_EXPLAIN: "1" })).toMatchObject({ explain: true });
    expect(() => loadConfig(argv, { PORTCULLIS_EXPLAIN: "yes" })).toThrow('PORTCULLIS_EXPLAIN must be true or false (got "yes")');
  });
  it("reads the watched namespaces as repeated flags or a comma-separated list (Kubernetes mode only)", () => {
    const argv = ["serve", "--kubeconfig", "k", "--watch-namespaces", "apps, shop", "--watch-namespaces", "payments"];
    expect(loadConfig(argv, {})).toMatchObject({ watchNamespaces: ["apps", "shop", "payments"] });
    expect(loadConfig(["serve", "--kubeconfig", "k"], { PORTCULLIS_WATCH_NAMESPACES: "apps" })).toMatchObject({
      watchNamespaces: ["apps"],
    });
    expect(loadConfig(["serve", "--kubeconfig", "k"], {})).toMatchObject({ watchNamespaces: [] });
  });
  it("reads Envoy Gateway's other controllerNames as repeated flags or a comma-separated list (Kubernetes mode only)", () => {
    const argv = ["serve", "--kubeconfig", "k", "--envoy-gateway-controller-name", "example.com/eg-a, example.com/eg-b"];
    expect(loadConfig(argv, {})).toMatchObject({ envoyGatewayControllerName: ["example.com/eg-a", "example.com/eg-b"] });
    expect(
      loadConfig(["serve", "--kubeconfig", "k"], { PORTCULLIS_ENVOY_GATEWAY_CONTROLLER_NAME: "corp.example/gateways/envoy" }),
    ).toMatchObject({ envoyGatewayControllerName: ["corp.example/gateways/envoy"] });
    expect(loadConfig(["serve", "--kubeconfig", "k"], {})).toMatchObject({ envoyGatewayControllerName: [] });
  });
  it("reads this Portcullis' own Service (--self-service) on every command that compiles, from the flag or PORTCULLIS_SELF_SERVICE", () => {
    expect(loadConfig(["serve", "--kubeconfig", "k", "--self-service", "portcullis/portcullis"], {})).toMatchObject({
      selfService: "portcullis/portcullis",
    });
    expect(loadConfig(["compile", "--manifests", "d"], { PORTCULLIS_SELF_SERVICE: "auth/portcullis" })).toMatchObject({
      selfService: "auth/portcullis",
    });
    expect(loadConfig(["check", "--manifests", "d", "GET", "http://x"], {})).not.toHaveProperty("selfService");
  });
  it.each([
    [[], "a command is required: serve, check, compile, version, help or completion", undefined],
    [["serve", "--manifests", "d", "--authz-port", "70000"], '--authz-port must be a port number from 0 to 65535 (got "70000")', "serve"],
    [["serve", "--manifests", "d", "--kubeconfig", "k"], "--manifests and --kubeconfig exclude each other: give one", "serve"],
    [["check", "--manifests", "d"], "missing METHOD and URL", "check"],
    [["check", "--manifests", "d", "GET"], "missing URL", "check"],
    [["check", "--manifests", "d", "GET", "http://x", "extra"], "unexpected argument: extra", "check"],
    [
      ["compile", "deploy/examples"],
      "unexpected argument: deploy/examples (a manifest folder is given as --manifests deploy/examples)",
      "compile",
    ],
    [["serve", "policies/"], "unexpected argument: policies/ (a manifest folder is given as --manifests policies/)", "serve"],
    [["check", "d", "GET", "http://x"], "unexpected argument: d (a manifest folder is given as --manifests d)", "check"],
    [["serve", "--kubeconfig", "k", "extra"], "unexpected argument: extra", "serve"],
    [
      ["check", "--manifests", "d", "GET", "ftp://x"],
      'URL must be an absolute http(s) URL such as http://api.example.com/v1/models (got "ftp://x")',
      "check",
    ],
    [["check", "--manifests", "d", "-H", "novalue", "GET", "http://x"], `--header must be written 'Name: value' (got "novalue")`, "check"],
    [["check", "--manifests", "d", "--gateway", "gw", "GET", "http://x"], '--gateway must be written NAMESPACE/NAME (got "gw")', "check"],
    [
      ["compile", "--manifests", "d", "--self-service", "portcullis"],
      '--self-service must be written NAMESPACE/NAME (got "portcullis")',
      "compile",
    ],
    [["check", "--manifests", "d", "--log-level", "debug", "GET", "http://x"], "check takes no --log-level", "check"],
    [["serve", "--bogus"], "unknown flag --bogus", "serve"],
    [["check", "-H"], "--header needs a value", "check"],
    [["compile", "--help=yes"], "--help takes no value", "compile"],
    [["compile"], "missing --manifests DIR", "compile"],
    [["compile", "--manifests", "team-a", "--manifests", "team-b"], "--manifests takes one value; it is given more than once", "compile"],
    [
      ["serve", "--manifests", "d", "--authz-port=1", "--authz-port", "2"],
      "--authz-port takes one value; it is given more than once",
      "serve",
    ],
    [
      ["serve"],
      "serve needs --manifests DIR (standalone) or --kubeconfig FILE, or must run in a Kubernetes pod (in-cluster config)",
      "serve",
    ],
    [["help", "nothing"], 'there is no command "nothing"; the commands are serve, check, compile, version, help or completion', undefined],
    [["completion"], "missing SHELL: bash or zsh", undefined],
    [
      ["serve", "--manifests", "d", "--xff-trusted-cidrs", "10.0.0.0/40"],
      '--xff-trusted-cidrs must be a CIDR such as 10.0.0.0/8 (got "10.0.0.0/40")',
      "serve",
    ],
    [
      ["serve", "--manifests", "d", "--xff-trusted-cidrs", "10.0.0.0/8, nope"],
      '--xff-trusted-cidrs must be a CIDR such as 10.0.0.0/8 (got "nope")',
      "serve",
    ],
    [
      ["serve", "--kubeconfig", "k", "--watch-namespaces", "apps,Shop_1"],
      '--watch-namespaces must be a namespace name such as apps (got "Shop_1")',
      "serve",
    ],
    [
      ["serve", "--manifests", "d", "--watch-namespaces", "apps"],
      "--watch-namespaces limits what is read from Kubernetes: it does not apply to --manifests",
      "serve",
    ],
    [["check", "--manifests", "d", "--watch-namespaces", "apps", "GET", "http://x"], "check takes no --watch-namespaces", "check"],
    [
      ["serve", "--kubeconfig", "k", "--envoy-gateway-controller-name", "example.com/eg,gateway"],
      '--envoy-gateway-controller-name must be a controllerName such as example.com/gateway-controller (got "gateway")',
      "serve",
    ],
    [
      ["serve", "--manifests", "d", "--envoy-gateway-controller-name", "example.com/eg"],
      "--envoy-gateway-controller-name names Envoy Gateway's GatewayClasses for the ClientTrafficPolicies Kubernetes mode watches: it does not apply to --manifests",
      "serve",
    ],
    [
      ["serve", "--manifests", "d", "--audit-allowed-sample-rate", "5"],
      '--audit-allowed-sample-rate must be a number from 0 to 1 (got "5")',
      "serve",
    ],
    [["serve", "--manifests", "d", "--jwt-cache-mib", "0.5"], '--jwt-cache-mib must be a whole number from 0 to 4096 (got "0.5")', "serve"],
    [
      ["serve", "--manifests", "d", "--xff-trusted-cidrs", "10.0.0.0/8", "--xff-trusted-hops", "1"],
      "--xff-trusted-hops and --xff-trusted-cidrs exclude each other (as Envoy Gateway's numTrustedHops and trustedCIDRs)",
      "serve",
    ],
    [
      ["serve", "--manifests", "d", "--client-ip-header", "X-Real-IP", "--xff-trusted-hops", "1"],
      "--client-ip-header excludes --xff-trusted-hops and --xff-trusted-cidrs (as Envoy Gateway's customHeader excludes xForwardedFor)",
      "serve",
    ],
    [
      ["serve", "--manifests", "d", "--xff-peer-not-appended"],
      "--xff-peer-not-appended needs --xff-trusted-hops or --xff-trusted-cidrs (Envoy Gateway's disableXForwardedForAppend is a setting of xForwardedFor)",
      "serve",
    ],
    [
      ["serve", "--manifests", "d", "--client-ip-header", "x real"],
      '--client-ip-header must be a header name such as x-real-ip (got "x real")',
      "serve",
    ],
  ])("rejects %j in plain language, naming the command whose usage follows", (argv, message, command) => {
    let error: unknown;
    try {
      loadConfig(argv, {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect(error).toMatchObject({ message, command });
  });
  it("names the environment variable a bad value came from", () => {
    expect(() => loadConfig(["compile", "--manifests", "d"], { PORTCULLIS_GATEWAY_CLASS: "a,,b" })).toThrow(
      'PORTCULLIS_GATEWAY_CLASS must be a GatewayClass name (got "")',
    );
  });
  it("ignores variables of flags the command does not take", () => {
    expect(loadConfig(["compile", "--manifests", "d"], { PORTCULLIS_ADMIN_PORT: "not a port" })).toMatchObject({ command: "compile" });
  });
  it.each([
    [["help"], { command: "help", topic: undefined }],
    [["--help"], { command: "help", topic: undefined }],
    [["help", "check"], { command: "help", topic: "check" }],
    [["serve", "-h"], { command: "help", topic: "serve" }],
    [["version"], { command: "version" }],
    [["compile", "--version"], { command: "version" }],
    [["completion", "zsh"], { command: "completion", shell: "zsh" }],
  ])("%j is %j", (argv, config) => {
    expect(loadConfig(argv, {})).toEqual(config);
  });
  it.each([
    ["serve", ["serve", "--manifests", "d"]],
    ["check", ["check", "--manifests", "d", "GET", "http://x/"]],
    ["compile", ["compile", "--manifests", "d"]],
  ] as const)("every option of %s can be set by a flag (an option added without one would be stuck at its default)", (command, argv) => {
    const flags = new Set(flagsOf(command).map((f) => f.name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())));
    expect(Object.keys(loadConfig(argv, {})).filter((key) => !flags.has(key) && !["command", "method", "url"].includes(key))).toEqual([]);
  });
  it("describes every flag of a command, with its default, choices and variable", () => {
    expect(flagsOf("serve").find((f) => f.name === "on-no-route")).toEqual({
      name: "on-no-route",
      short: undefined,
      value: "deny|allow",
      help: expect.any(String),
      default: "deny",
      choices: ["deny", "allow"],
      env: "PORTCULLIS_ON_NO_ROUTE",
    });
    expect(flagsOf("check").map((f) => f.name)).toEqual([
      "manifests",
      "controller-name",
      "gateway-class",
      "self-service",
      "geoip-database",
      "on-no-route",
      "on-no-policy",
      "xff-trusted-hops",
      "xff-trusted-cidrs",
      "xff-peer-not-appended",
      "client-ip-header",
      "jwks-fetch-timeout-ms",
      "header",
      "explain",
      "gateway",
      "help",
      "version",
    ]);
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
