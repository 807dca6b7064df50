import { describe, expect, it } from "vitest";
import { completionScript } from "../../controller/commands/completion.ts";
import { ACTIONS, flagsOf } from "../../controller/config.ts";

// The scripts run in real shells in test/cli.test.ts; here: nothing the parser accepts is left out.
describe("completionScript", () => {
  it.each(["bash", "zsh"] as const)("%s offers every flag of every command and every fixed choice", (shell) => {
    const script = completionScript(shell);
    for (const command of ACTIONS) {
      for (const flag of flagsOf(command)) {
        expect(script).toContain(`--${flag.name}`);
        for (const choice of flag.choices ?? []) expect(script).toContain(choice);
      }
    }
  });
});
