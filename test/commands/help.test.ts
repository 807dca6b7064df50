import { describe, expect, it } from "vitest";
import { commandHelp, fullHelp, usageHint } from "../../controller/commands/help.ts";
import { ACTIONS, flagsOf } from "../../controller/config.ts";

describe("help", () => {
  it.each(ACTIONS)("%s's help lists every flag it takes, with its variable", (command) => {
    const help = commandHelp(command);
    for (const flag of flagsOf(command)) {
      expect(help).toContain(`--${flag.name}`);
      if (flag.env !== undefined) expect(help).toContain(flag.env);
    }
  });
  it("the full help holds every command's", () => {
    for (const command of ACTIONS) expect(fullHelp()).toContain(commandHelp(command));
  });
  it("a usage error is followed by the command's synopsis, or by the command list", () => {
    expect(usageHint("compile")).toBe("usage: portcullis compile --manifests DIR [flags]\nrun 'portcullis help compile' for every flag");
    expect(usageHint(undefined)).toContain("the commands are serve, check, compile, version, help, completion");
  });
});
