/** The flag table (controller/flags.ts): every flag is some command's, and is named alike on the command line, in the Config and in the environment. */
import { describe, expect, it } from "vitest";
import { ACTIONS, flagsOf, loadConfig } from "../controller/config.ts";
import { camel, envName, FLAGS, PARSE_OPTIONS } from "../controller/flags.ts";

describe("FLAGS", () => {
  it("holds no flag that no command takes", () => {
    const taken = new Set(ACTIONS.flatMap((command) => flagsOf(command).map((f) => f.name)));
    expect(Object.keys(FLAGS).filter((name) => !taken.has(name))).toEqual([]);
  });
  it("names a flag's Config key and environment variable from its own name", () => {
    expect([camel("xff-trusted-cidrs"), envName("xff-trusted-cidrs")]).toEqual(["xffTrustedCidrs", "PORTCULLIS_XFF_TRUSTED_CIDRS"]);
  });
  it("gives parseArgs a string for a flag with a value, a boolean for a switch, and repeats only repeatable flags", () => {
    expect(PARSE_OPTIONS["authz-port"]).toEqual({ type: "string" });
    expect(PARSE_OPTIONS.help).toEqual({ type: "boolean", short: "h" });
    expect(PARSE_OPTIONS["watch-namespaces"]).toEqual({ type: "string", multiple: true });
  });
});

/** Two valid values of each repeatable flag that takes a list, written as one comma-separated value. */
const LISTS: Readonly<Record<string, readonly string[]>> = {
  "watch-namespaces": ["serve", "--kubeconfig", "k", "--watch-namespaces", "apps,payments"],
  "gateway-class": ["serve", "--kubeconfig", "k", "--gateway-class", "eg,internal"],
  "geoip-database": ["serve", "--kubeconfig", "k", "--geoip-database", "a.mmdb,b.mmdb"],
  "xff-trusted-cidrs": ["serve", "--kubeconfig", "k", "--xff-trusted-cidrs", "10.0.0.0/8,192.168.0.0/16"],
  "envoy-gateway-controller-name": ["serve", "--kubeconfig", "k", "--envoy-gateway-controller-name", "a.example/gw,b.example/gw"],
};

it("a repeatable flag's help says comma-separated exactly when a comma-separated value is read as several", () => {
  const repeatable = Object.entries(FLAGS).filter(([name, spec]) => spec.multiple === true && name !== "header");
  expect(repeatable.map(([name]) => name).sort()).toEqual(Object.keys(LISTS).sort());
  for (const [name, spec] of repeatable) {
    const values = (loadConfig(LISTS[name]!, {}) as unknown as Record<string, unknown[]>)[camel(name)]!;
    expect(spec.help.includes("comma-separated"), `--${name}: ${values.length} values from one comma-separated flag`).toBe(
      values.length === 2,
    );
  }
});
