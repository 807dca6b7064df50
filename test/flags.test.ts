/** The flag table (controller/flags.ts): every flag is some command's, and is named alike on the command line, in the Config and in the environment. */
import { describe, expect, it } from "vitest";
import { ACTIONS, flagsOf } from "../controller/config.ts";
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
