/**
 * `portcullis check` in-process (controller/commands/check.ts): the request built from -H lines as
 * serve's Envoy HTTP port builds it (one table decided by both), and --explain showing every reading
 * of the request that decided.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headersOf, runCheck } from "../../controller/commands/check.ts";
import { loadConfig, UsageError, type CheckConfig } from "../../controller/config.ts";
import type { TraceStep } from "../../controller/authz/trace.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { send, type HeaderLines } from "../support/http.ts";
import { toAuthzRequest } from "../../controller/server/grpc.ts";
import { POLICY_SELECTORS_IN_FOLDER } from "../../controller/compile/folder-labels.ts";
import { decider } from "../support/world.ts";
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

describe("headersOf: -H lines as Envoy's HTTP check hands them to serve's port", () => {
  it("a name given several times is its lines joined with ',' then read line by line; Cookie lines are joined with '; '", () => {
    expect(headersOf(["X-Role: user", "x-role: admin", "Cookie: a=1", "cookie: b=2"], "api.example.com")).toEqual({
      "x-role": ["user", "admin"],
      cookie: "a=1; b=2",
      host: "api.example.com",
    });
  });
  it("one line holding ',' is read as the lines Envoy may have joined, as the port reads it", () => {
    expect(headersOf(["x-role: user,admin"], "api.example.com")).toEqual({ "x-role": ["user", "admin"], host: "api.example.com" });
    expect(headersOf(["x-role: a,b", "x-role: c"], "api.example.com")).toEqual({ "x-role": ["a", "b", "c"], host: "api.example.com" });
  });
  it("Host is the URL's unless given, and given twice is bad usage (a request has one Host)", () => {
    expect(headersOf(["Host: other.example.com"], "api.example.com")).toEqual({ host: "other.example.com" });
    expect(() => headersOf(["Host: a.example.com", "Host: b.example.com"], "api.example.com")).toThrow(UsageError);
  });
});

/**
 * Rule admin (x-role: admin) wants an API key; rule open takes every other /api request; rule staff
 * denies x-role staff; rule cel-deny denies, by a CEL expression, x-role admin of x-team red; rule
 * cel-allow lets a guest in, by a CEL expression, only on x-plan paid.
 */
const ROLE_WORLD = `${gatewayWithRoute("api.example.com", {
  admin: "{path: {type: PathPrefix, value: /api}, headers: [{name: x-role, value: admin}]}",
  open: "/api",
  staff: "/staff",
  "cel-deny": "/cel-deny",
  "cel-allow": "/cel-allow",
})}---
${securityPolicy(
  "cel-deny",
  {
    authorization: {
      defaultAction: "Allow",
      rules: [{ action: "Deny", cel: "request.headers['x-role'] == 'admin' && request.headers['x-team'] == 'red'" }],
    },
  },
  "cel-deny",
)}---
${securityPolicy(
  "cel-allow",
  {
    authorization: {
      defaultAction: "Deny",
      rules: [{ action: "Allow", cel: "request.headers['x-role'] != 'guest' || request.headers['x-plan'] == 'paid'" }],
    },
  },
  "cel-allow",
)}---
${aliceKeyPolicy("admin", "admin")}---
${securityPolicy(
  "staff",
  {
    authorization: {
      defaultAction: "Allow",
      rules: [{ name: "no-staff", action: "Deny", principal: { headers: [{ name: "x-role", values: ["staff"] }] } }],
    },
  },
  "staff",
)}`;

/**
 * Each request as -H lines, decided by `portcullis check`, by serve's Envoy HTTP and forward-auth
 * ports and by the gRPC port's reading on the same folder: all must agree, and agree with `allowed`
 * (one reading of a header's lines and list elements, linesUpstreamMayRead, so the ports cannot drift).
 */
const SAME_VERDICT: readonly {
  readonly name: string;
  readonly path: string;
  readonly lines: readonly string[];
  readonly allowed: boolean;
}[] = [
  { name: "one role: the open rule", path: "/api", lines: ["x-role: user"], allowed: true },
  { name: "admin on one line, with its key", path: "/api", lines: ["x-role: admin", "x-api-key: alice-key"], allowed: true },
  { name: "admin on one line, without a key", path: "/api", lines: ["x-role: admin"], allowed: false },
  { name: "admin as the last of one line's list (user,admin)", path: "/api", lines: ["x-role: user,admin"], allowed: false },
  { name: "admin as the first of one line's list (admin,user)", path: "/api", lines: ["x-role: admin,user"], allowed: false },
  { name: "admin as the last of two lines", path: "/api", lines: ["x-role: user", "x-role: admin"], allowed: false },
  { name: "admin ending a list on the second of two lines", path: "/api", lines: ["x-role: user", "x-role: guest,admin"], allowed: false },
  { name: "staff alone on its rule", path: "/staff", lines: ["x-role: staff"], allowed: false },
  { name: "staff in one line's list", path: "/staff", lines: ["x-role: user,staff"], allowed: false },
  { name: "staff on the second of two lines", path: "/staff", lines: ["x-role: user", "x-role: staff"], allowed: false },
  { name: "no staff on the staff rule", path: "/staff", lines: ["x-role: user,guest"], allowed: true },
  {
    name: "admin between two elements of two lines (user,admin then user)",
    path: "/api",
    lines: ["x-role: user,admin", "x-role: user"],
    allowed: false,
  },
  { name: "admin after a comma and a space (user, admin)", path: "/api", lines: ["x-role: user, admin"], allowed: false },
  { name: "staff between the first and the last element", path: "/staff", lines: ["x-role: user,staff,guest"], allowed: false },
  {
    name: "CEL Deny: admin of team red at other elements of two lists (admin,user and blue,red)",
    path: "/cel-deny",
    lines: ["x-role: admin,user", "x-team: blue,red"],
    allowed: false,
  },
  {
    name: "CEL Deny: admin of team red on other lines of two headers",
    path: "/cel-deny",
    lines: ["x-role: admin", "x-role: user", "x-team: blue", "x-team: red"],
    allowed: false,
  },
  { name: "CEL Deny: no element reads team red", path: "/cel-deny", lines: ["x-role: admin,user", "x-team: blue,green"], allowed: true },
  {
    name: "CEL Deny: a browser's lists (Accept, Accept-Encoding, Accept-Language), which the expression does not read",
    path: "/cel-deny",
    lines: [
      "accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
      "accept-encoding: gzip, deflate, br, zstd",
      "accept-language: en-US,en;q=0.9,fr;q=0.8",
      "x-role: user",
    ],
    allowed: true,
  },
  {
    name: "CEL Allow: a guest on the free plan at other elements of two lists (guest,admin and paid,free)",
    path: "/cel-allow",
    lines: ["x-role: guest,admin", "x-plan: paid,free"],
    allowed: false,
  },
  { name: "CEL Allow: no element reads a guest", path: "/cel-allow", lines: ["x-role: admin,user", "x-plan: free"], allowed: true },
];

describe("check decides as serve's ports on the same folder", () => {
  const dir = folderOf(ROLE_WORLD);
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ "world.yaml": ROLE_WORLD });
  });
  afterAll(() => app.close());

  /** What Envoy's HTTP check sends the port for these client lines: each name once, its lines joined with ",". */
  const asEnvoySends = (lines: readonly string[]): Record<string, string> => {
    const joined: Record<string, string> = { host: "api.example.com" };
    for (const line of lines) {
      const [name, value] = line.split(/:\s*/, 2) as [string, string];
      joined[name] = joined[name] === undefined ? value : `${joined[name]},${value}`;
    }
    return joined;
  };

  /** What nginx or Caddy sends the forward-auth port: the request described, then the client's lines as they came. */
  const asForwardAuthSends = (path: string, lines: readonly string[]): HeaderLines => [
    ["host", "portcullis.internal"],
    ["x-forwarded-method", "GET"],
    ["x-forwarded-proto", "http"],
    ["x-forwarded-host", "api.example.com"],
    ["x-forwarded-uri", path],
    ...lines.map((line) => line.split(/:\s*/, 2) as [string, string]),
  ];
  /** Envoy's `header_map` (encode_raw_headers): one entry per line. */
  const asHeaderMap = (lines: readonly string[]) =>
    lines.map((line) => {
      const [key, value] = line.split(/:\s*/, 2) as [string, string];
      return { key, value };
    });
  const grpcDecides = decider(ROLE_WORLD);

  it.each(SAME_VERDICT)("$name", async ({ path, lines, allowed }) => {
    const config = loadConfig(
      ["check", "--manifests", dir, ...lines.flatMap((l) => ["-H", l]), "GET", `http://api.example.com${path}`],
      {},
    );
    const code = await runCheck(
      config as CheckConfig,
      () => {},
      () => {},
    );
    const envoy = await send(`${app.authz}${path}`, { headers: asEnvoySends(lines) });
    const forwarded = await send(`${app.forwardAuth}/auth`, { headers: asForwardAuthSends(path, lines) });
    const http = { method: "GET", host: "api.example.com", path };
    const grpc = await Promise.all([
      grpcDecides(toAuthzRequest({ attributes: { request: { http: { ...http, headers: asEnvoySends(lines) } } } })),
      grpcDecides(toAuthzRequest({ attributes: { request: { http: { ...http, header_map: { headers: asHeaderMap(lines) } } } } })),
    ]);
    expect({
      check: code === 0,
      envoy: envoy.status === 200,
      forwardAuth: forwarded.status === 200,
      grpcHeaders: grpc[0].allowed,
      grpcHeaderMap: grpc[1].allowed,
    }).toEqual({ check: allowed, envoy: allowed, forwardAuth: allowed, grpcHeaders: allowed, grpcHeaderMap: allowed });
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
    expect(out.reason).toContain("the request also reads as the last line (or list element) of a header, which takes apps/api rule admin");
    const route = out.trace.find((s) => s.phase === "route")!;
    expect(route.reading).toContain("Envoy's");
    expect(JSON.stringify(route.tables)).toContain('"picked":"apps/api rule open (PathPrefix /api)"');
    const [last, ...none] = branches(out.trace);
    expect(none).toEqual([]);
    expect(last!.reading).toBe("the last line (or list element) of a header");
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

describe("check warns of what a manifest folder does not read, as Envoy Gateway's file provider", () => {
  it("a Secret's stringData (its keys named, never a value) and a policy's targetSelectors: the key is refused, the selector selects nothing", async () => {
    const dir = folderOf(
      `${gatewayWithRoute("api.example.com")}---
apiVersion: v1
kind: Secret
metadata: {name: typed, namespace: apps}
stringData: {alice: alice-key}
---
${securityPolicy("keys", { apiKeyAuth: { credentialRefs: [{ name: "typed" }], extractFrom: [{ headers: ["X-API-Key"] }] } })}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: by-label, namespace: apps}
spec:
  targetSelectors: [{kind: HTTPRoute, matchLabels: {team: a}}]
  cors: {allowOrigins: ["https://a.example.com"]}
`,
    );
    const reported: string[] = [];
    const config = loadConfig(["check", "--manifests", dir, "-H", "X-API-Key: alice-key", "GET", "http://api.example.com/"], {});
    expect(
      await runCheck(
        config as CheckConfig,
        () => {},
        (line) => reported.push(line),
      ),
    ).toBe(1);
    expect(reported).toEqual([
      "warning: world.yaml#3 (Secret apps/typed): stringData (alice) is not read in a manifest folder, as Envoy Gateway's file provider reads only data: write each value base64-encoded under data",
      `warning: SecurityPolicy apps/by-label: its targetSelectors select nothing: ${POLICY_SELECTORS_IN_FOLDER}`,
    ]);
  });
});

describe("check refuses a folder whose ClientTrafficPolicy the client address flags contradict", () => {
  const folderWith = (cidr: string) =>
    folderOf(
      `${gatewayWithRoute("api.example.com")}---
${securityPolicy("by-address", { authorization: { defaultAction: "Deny", rules: [{ action: "Allow", principal: { clientCIDRs: [cidr] } }] } })}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: enable-client-ip-detection, namespace: apps}
spec:
  clientIPDetection: {xForwardedFor: {numTrustedHops: 1}}
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
`,
    );
  const run = async (dir: string, flags: string[]) => {
    const reported: string[] = [];
    const argv = ["check", "--manifests", dir, ...flags, "-H", "X-Forwarded-For: 203.0.113.9,172.18.0.5", "GET", "http://api.example.com/"];
    const code = await runCheck(
      loadConfig(argv, {}) as CheckConfig,
      () => {},
      (line) => reported.push(line),
    );
    return { code, reported };
  };
  const refusal =
    "error: world.yaml#4 (ClientTrafficPolicy apps/enable-client-ip-detection): Envoy finds the client address as its clientIPDetection says, which Portcullis does not read: Portcullis runs with --xff-trusted-hops 0; start it with --xff-trusted-hops 1 (until then, a serve started on this folder is not ready and denies every check, and a running one keeps enforcing the folder's last good contents)";

  it("an Allow rule for the proxies' network, checked without --xff-trusted-hops: every client would be the proxy, so nothing is decided (denied), and the error names the flag", async () => {
    const dir = folderWith("172.18.0.0/16");
    expect(await run(dir, [])).toEqual({ code: 1, reported: [refusal] });
    // With the flag, the client is 203.0.113.9, outside the proxies' network: denied by the rule, as Envoy denies it.
    expect(await run(dir, ["--xff-trusted-hops", "1"])).toEqual({ code: 1, reported: [] });
  });

  it("restrict-ip-access as Envoy Gateway's page writes it: allowed once the flags say what the ClientTrafficPolicy says", async () => {
    const dir = folderWith("203.0.113.0/24");
    expect(await run(dir, [])).toEqual({ code: 1, reported: [refusal] });
    expect(await run(dir, ["--xff-trusted-hops", "1"])).toEqual({ code: 0, reported: [] });
  });
});
