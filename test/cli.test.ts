/** bin/portcullis as a user runs it: DESIGN §9's commands, output and exit codes. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { EXAMPLES } from "./support/app.ts";

const BIN = join(import.meta.dirname, "../bin/portcullis");
const run = (...args: string[]) => spawnSync(BIN, args, { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
const token = () => spawnSync(process.execPath, [join(EXAMPLES, "mint-example-token.ts"), "carol"], { encoding: "utf8" }).stdout.trim();

describe("bin/portcullis", () => {
  it("runs on the project's Node 24 whatever node is first on PATH", () => {
    const r = run("check", "--manifests", EXAMPLES, "GET", "http://api.maas.example.com/healthz");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      status: 200,
      headers: { "x-envoy-auth-headers-to-remove": "x-user-email,x-user-group,x-user-id" },
      reason: "no policy applies",
      route: "maas-system/health rule 0",
      policy: null,
    });
  });
  it("check: exit 0 on allow with the upstream headers", () => {
    const r = run("check", "--manifests", EXAMPLES, "-H", `Authorization: Bearer ${token()}`, "POST", "http://api.maas.example.com/v1/chat/completions");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).headers).toMatchObject({ "x-user-id": "carol", "x-user-email": "carol@example.com" });
  });
  it("check: exit 1 on deny with the reason", () => {
    const r = run("check", "--manifests", EXAMPLES, "-H", "X-API-Key: wrong", "GET", "http://api.maas.example.com/v1/models");
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 401, reason: "apikey_invalid: Client authentication failed: the API key is not valid", policy: "maas-system/maas-apikey-auth" });
  });
  it("exit 2 with usage on bad usage", () => {
    const r = run("check", "--manifests", EXAMPLES, "GET");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Usage:");
  });
  it("compile prints one SecurityPolicy status document per policy, with transition times", () => {
    const r = run("compile", "--manifests", EXAMPLES);
    expect(r.status).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
    expect(docs.map((d) => d.metadata.name)).toEqual(["maas-admin-auth", "maas-apikey-auth", "maas-oidc-auth"]);
    expect(docs[1].status.ancestors[0].conditions[0]).toMatchObject({ type: "Accepted", status: "True", lastTransitionTime: expect.stringMatching(/Z$/) });
  });
  it("serve outside a cluster without --manifests or --kubeconfig says what it needs", () => {
    const r = run("serve", "--authz-port", "0", "--forward-auth-port", "0", "--admin-port", "0");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("serve needs --manifests DIR (standalone) or --kubeconfig FILE");
  });
});
