/** `portcullis compile` in-process (controller/commands/compile.ts): what it reports beside the statuses. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { gatewayWithRoute } from "../support/manifests.ts";
import { EXAMPLES } from "../support/app.ts";
import { compileCommand } from "../support/commands.ts";

it("a folder without any SecurityPolicy (empty, or routes only) passes with a warning saying so, so a CI gate on the wrong folder is seen", () => {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-compile-"));
  try {
    const warning = `warning: ${dir} holds no SecurityPolicy: no request is checked against a policy (is it the right folder?)`;
    expect(compileCommand(dir)).toEqual({ code: 0, reported: [warning] });
    writeFileSync(join(dir, "routes.yaml"), gatewayWithRoute("api.example.com"));
    expect(compileCommand(dir)).toEqual({ code: 0, reported: [warning] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it("a folder with policies, all Accepted, reports nothing", () => {
  expect(compileCommand(EXAMPLES)).toEqual({ code: 0, reported: [] });
});
