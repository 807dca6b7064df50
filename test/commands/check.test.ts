/**
 * `portcullis check` in-process (controller/commands/check.ts): the request built from -H lines as
 * serve's HTTP port builds it, and --explain showing every reading of the request that decided.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { headersOf, runCheck } from "../../controller/commands/check.ts";
import { loadConfig, UsageError, type CheckConfig } from "../../controller/config.ts";
import type { TraceStep } from "../../controller/authz/trace.ts";
import { aliceKeyPolicy, gatewayWithRoute, securityPolicy } from "../support/manifests.ts";

const folders: string[] = [];
afterAll(() => {
  for (const f of folders) rmSync(f, { recursive: true, force: true });
});

/** A manifest folder holding `yaml`. */
function folderOf(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-check-"));
  folders.push(dir);
  writeFileSync(join(dir, "world.yaml"), yaml);
  return dir;
}

/** `check --explain` on `dir` with these arguments: its exit code and printed JSON. */
async function explain(dir: string, ...args: string[]): Promise<{ code: number; out: { reason: string; trace: TraceStep[] } }> {
  const config = loadConfig(["check", "--manifests", dir, "--explain", ...args], {}) as CheckConfig;
  let text = "";
  const code = await runCheck(
    config,
    (t) => (text += t),
    () => {},
  );
  return { code, out: JSON.parse(text) };
}

const branches = (trace: readonly TraceStep[]) => trace.filter((s) => s.phase === "branch") as (TraceStep & { steps: TraceStep[] })[];

describe("headersOf: -H lines as serve's HTTP port hands them over", () => {
  it("a name given several times keeps every line, in order; Cookie lines are joined with '; '", () => {
    expect(headersOf(["X-Role: user", "x-role: admin", "Cookie: a=1", "cookie: b=2"], "api.example.com")).toEqual({
      "x-role": ["user", "admin"],
      cookie: "a=1; b=2",
      host: "api.example.com",
    });
  });
  it("Host is the URL's unless given, and given twice is bad usage (a request has one Host)", () => {
    expect(headersOf(["Host: other.example.com"], "api.example.com")).toEqual({ host: "other.example.com" });
    expect(() => headersOf(["Host: a.example.com", "Host: b.example.com"], "api.example.com")).toThrow(UsageError);
  });
});

describe("check --explain shows every reading of the request that decided", () => {
  // Rule admin (x-role: admin) wants an API key; rule open takes every other /api request.
  const routes = folderOf(
    `${gatewayWithRoute("api.example.com", { admin: "{path: {type: PathPrefix, value: /api}, headers: [{name: x-role, value: admin}]}", open: "/api" })}---\n${aliceKeyPolicy("admin", "admin")}`,
  );
  it("a repeated header: Envoy's reading (the open rule) and the last line's (rule admin), each with its route tables", async () => {
    const { code, out } = await explain(routes, "-H", "x-role: user", "-H", "x-role: admin", "GET", "http://api.example.com/api");
    expect(code).toBe(1);
    expect(out.reason).toContain("the request also reads as the last line of a repeated header, which takes apps/api rule admin");
    const route = out.trace.find((s) => s.phase === "route")!;
    expect(route.reading).toContain("Envoy's");
    expect(JSON.stringify(route.tables)).toContain('"picked":"apps/api rule open (PathPrefix /api)"');
    const [last, ...none] = branches(out.trace);
    expect(none).toEqual([]);
    expect(last!.reading).toBe("the last line of a repeated header");
    expect(last!.steps.map((s) => s.phase)).toEqual(["route", "policy", "apiKeyAuth"]);
    expect(JSON.stringify(last!.steps[0]!.tables)).toContain('"picked":"apps/api rule admin');
    expect(last!.steps[2]).toMatchObject({ result: "deny", code: "apikey_missing" });
  });
  it("one reading only: no branch, no reading named", async () => {
    const { out } = await explain(routes, "-H", "x-role: user", "GET", "http://api.example.com/api");
    expect(branches(out.trace)).toEqual([]);
    expect(out.trace.find((s) => s.phase === "route")!.reading).toBeUndefined();
  });

  it("principal.cel on the query: the rules of each reading that decided, under the authorization step", async () => {
    const cel = folderOf(
      `${gatewayWithRoute("api.example.com", { q: "/q" })}---\n${securityPolicy(
        "p",
        {
          authorization: {
            defaultAction: "Allow",
            rules: [{ name: "no-admin", action: "Deny", principal: { cel: "'role' in request.query && request.query.role == 'admin'" } }],
          },
        },
        "q",
      )}`,
    );
    const { code, out } = await explain(cel, "GET", "http://api.example.com/q?role=%61dmin");
    expect(code).toBe(1);
    const authorization = out.trace.find((s) => s.phase === "authorization")!;
    expect(authorization.rules).toEqual([
      "no-admin: Deny when cel 'role' in request.query && request.query.role == 'admin': the principal's CEL expression is not true, so it does not apply",
      "no rule applies: defaultAction Allow",
    ]);
    expect(authorization.otherReadings).toEqual([
      {
        reading: "the first value of a name in the query split at &, percent-decoded",
        rules: [expect.stringMatching(/^no-admin: .*: matches, and decides$/)],
      },
    ]);
    expect(authorization).toMatchObject({ result: "deny", code: "authz_denied" });
  });
});
