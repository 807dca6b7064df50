/** deploy/demo-issuer/mint-example-token.ts, as README's "Try it" runs it. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { decodeJwt } from "jose";
import { expect, it } from "vitest";
import { ROOT } from "./chart.ts";

const mint = (...args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, "deploy/demo-issuer/mint-example-token.ts"), ...args], { encoding: "utf8" });

it("mints alice's token for maas-gateway without arguments, and the subject, audience and roles given", () => {
  expect(decodeJwt(mint().stdout.trim())).toMatchObject({ sub: "alice", aud: "maas-gateway", roles: [] });
  expect(decodeJwt(mint("bob", "billing", "admin,user").stdout.trim())).toMatchObject({
    sub: "bob",
    aud: "billing",
    roles: ["admin", "user"],
  });
});

it("--help prints its usage (no token for a user named --help); another flag is refused with exit 2", () => {
  for (const help of ["--help", "-h"]) {
    const r = mint(help);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      /^usage: node_modules\/\.bin\/node deploy\/demo-issuer\/mint-example-token\.ts \[subject\] \[audience\] \[role,role\.\.\.\]\n/,
    );
  }
  const r = mint("--sub", "alice");
  expect([r.status, r.stdout]).toEqual([2, ""]);
  expect(r.stderr).toMatch(/^mint-example-token: unknown option --sub\nusage: /);
});
