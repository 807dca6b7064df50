/** bin/portcullis as a user (or a CI pipeline) runs it: DESIGN §9's commands, output and exit codes. */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { FOLDER_KEEPS_NO_LABELS } from "../controller/compile/folder-labels.ts";
import { FEATURES } from "../controller/features/index.ts";
import { EPHEMERAL_PORTS, EXAMPLES, exampleToken } from "./support/app.ts";
import { send } from "./support/http.ts";
import { gatewayWithRoute } from "./support/manifests.ts";
import { writeMmdb } from "./support/mmdb.ts";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "bin/portcullis");
const ENV = { PATH: "/usr/bin:/bin" };
const run = (...args: string[]) => spawnSync(BIN, args, { encoding: "utf8", env: ENV });
const token = () => exampleToken("carol");
const HOST = "api.maas.example.com";
const ZOD_JARGON = /--url|--method|Invalid input|expected (string|number)|Too (big|small)|invalid_/;

const folders: string[] = [];
afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});
/** The example manifests plus `files`, in a fresh folder. */
function examplesWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-cli-"));
  folders.push(dir);
  cpSync(EXAMPLES, dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
const BROKEN_FILE = { "zz-broken.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n   bad: indent\n" };
const policy = (name: string, target: string, secret: string) =>
  `apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicy\nmetadata: {name: ${name}, namespace: maas-system}\nspec:\n  targetRefs: [{group: gateway.networking.k8s.io, ${target}}]\n  apiKeyAuth: {credentialRefs: [{name: ${secret}}], extractFrom: [{headers: [x-api-key]}]}\n`;

interface Served {
  readonly child: ChildProcess;
  /** Every log line so far, parsed. */
  readonly logs: { msg: string; [field: string]: unknown }[];
  readonly ports: { authz: number; admin: number };
  /** Resolves on the "ready:" line (the first snapshot is published after the ports listen). */
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}
/** Starts `bin/portcullis serve` with `args` (and every port on 0) and waits for its "listening" line. */
async function serve(args: readonly string[], cwd = ROOT): Promise<Served> {
  const child = spawn(BIN, [...args, "--authz-port", "0", "--forward-auth-port", "0", "--admin-port", "0", "--grpc-port", "0"], {
    cwd,
    env: ENV,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // "close", not "exit": the last log lines are read only once stdout has ended.
    child.once("close", (code, signal) => resolve({ code, signal })),
  );
  const logs: Served["logs"] = [];
  let onReady: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const listening = new Promise<Served["ports"]>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const entry = JSON.parse(line) as Served["logs"][number];
      logs.push(entry);
      if (entry.msg.startsWith("Portcullis listening")) resolve(entry as unknown as Served["ports"]);
      if (entry.msg.startsWith("ready:")) onReady();
    });
    void exited.then(({ code }) => reject(new Error(`serve exited with ${code} before listening`)));
  });
  return { child, logs, ports: await listening, ready, exited };
}

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
    const r = run(
      "check",
      "--manifests",
      EXAMPLES,
      "-H",
      `Authorization: Bearer ${token()}`,
      "POST",
      "http://api.maas.example.com/v1/chat/completions",
    );
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).headers).toMatchObject({ "x-user-id": "carol", "x-user-email": "carol@example.com" });
  });
  it("check: exit 1 on deny with the reason", () => {
    const r = run("check", "--manifests", EXAMPLES, "-H", "X-API-Key: wrong", "GET", "http://api.maas.example.com/v1/models");
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      status: 401,
      reason: "apikey_invalid: Client authentication failed: the API key is not valid",
      policy: "maas-system/maas-apikey-auth",
    });
  });
  it("compile prints one SecurityPolicy status document per policy, with transition times, and exits 0 when all are Accepted", () => {
    const r = run("compile", "--manifests", EXAMPLES);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
    expect(docs.map((d) => d.metadata.name)).toEqual(["maas-admin-auth", "maas-apikey-auth", "maas-jwt-auth"]);
    expect(docs[1].status.ancestors[0].conditions[0]).toMatchObject({
      type: "Accepted",
      status: "True",
      lastTransitionTime: expect.stringMatching(/Z$/),
    });
  });
  it("serve outside a cluster without --manifests or --kubeconfig says what it needs", () => {
    const r = run("serve", "--authz-port", "0", "--forward-auth-port", "0", "--admin-port", "0");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("serve needs --manifests DIR (standalone) or --kubeconfig FILE");
  });
});

describe("check --explain: why a request was denied, from its output alone", () => {
  const step = (trace: { phase: string }[], phase: string) => trace.find((t) => t.phase === phase) as Record<string, unknown>;

  it("a valid token without the admin role on the admin API: each step, the rule it does not meet, and never the token", () => {
    const jwt = token();
    const r = run(
      "check",
      "--manifests",
      EXAMPLES,
      "--explain",
      "-H",
      `Authorization: Bearer ${jwt}`,
      "GET",
      `http://${HOST}/v1/admin/users`,
    );
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ status: 403, policy: "maas-system/maas-admin-auth" });
    const trace = out.trace as { phase: string }[];
    expect(trace.map((t) => t.phase)).toEqual(["request", "route", "policy", "jwt", "authorization", "decision"]);
    expect(step(trace, "request")).toMatchObject({ headers: ["authorization", "host"] });
    expect(step(trace, "route").tables).toEqual([expect.objectContaining({ picked: "maas-system/admin rule 0 (PathPrefix /v1/admin)" })]);
    expect(step(trace, "policy")).toMatchObject({ level: "route", target: "HTTPRoute maas-system/admin" });
    expect(step(trace, "jwt")).toMatchObject({ result: "pass", principal: "jwt platform-idp sub=carol" });
    expect(step(trace, "authorization")).toMatchObject({
      rules: [
        "admins-only: Allow when jwt platform-idp with roles has admin: a jwt claim differs, so it does not apply",
        "no rule applies: defaultAction Deny",
      ],
      result: "deny",
      code: "authz_denied",
    });
    expect(r.stdout).not.toContain(jwt);
    expect(r.stdout).not.toContain(jwt.split(".")[2]);
  });

  it("without --explain there is no trace", () => {
    const r = run("check", "--manifests", EXAMPLES, "GET", `http://${HOST}/healthz`);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).not.toHaveProperty("trace");
  });

  it("a folder with a broken file: the trace names the file, and the decision is not_ready", () => {
    const dir = examplesWith({ "99-broken.yaml": "kind: [unclosed\n" });
    const r = run("check", "--manifests", dir, "--explain", "GET", `http://${HOST}/healthz`);
    expect(r.status).toBe(1);
    const trace = JSON.parse(r.stdout).trace as { phase: string }[];
    expect(trace.map((t) => t.phase)).toEqual(["manifests", "decision"]);
    expect(String(step(trace, "manifests").brokenFiles)).toContain("99-broken.yaml");
    expect(step(trace, "decision")).toMatchObject({ code: "not_ready" });
  });
});

describe("compile gates CI", () => {
  it("exits 1 when a policy is Invalid, naming the policy, the ancestor and the reason", () => {
    const r = run(
      "compile",
      "--manifests",
      examplesWith({ "60-invalid.yaml": policy("no-secret", "kind: Gateway, name: maas-gateway", "missing-secret") }),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      "error: SecurityPolicy maas-system/no-secret is not Accepted for Gateway maas-system/maas-gateway: Invalid:",
    );
    expect(r.stderr).toContain("compile failed: 1 policy is not Accepted");
    // The statuses are still printed, the failing one included.
    expect(parseAllDocuments(r.stdout).map((d) => d.toJS().metadata.name)).toContain("no-secret");
  });
  it("a policy that targetSelectors leave without a target says a manifest folder keeps no labels, as Envoy Gateway's file provider", () => {
    const byLabel = policy("by-label", "kind: Gateway, name: maas-gateway", "maas-api-keys").replace(
      "targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: maas-gateway}]",
      "targetSelectors: [{kind: Gateway, matchLabels: {app: maas}}]",
    );
    const r = run("compile", "--manifests", examplesWith({ "60-by-label.yaml": byLabel }));
    expect(r.status).toBe(1);
    const why = `${FOLDER_KEEPS_NO_LABELS}; name its targets with targetRefs`;
    expect(r.stderr).toContain(
      `error: SecurityPolicy maas-system/by-label applies to no Gateway or route that Portcullis serves, so it protects nothing: ${why}`,
    );
    expect(r.stderr).toContain(`warning: SecurityPolicy maas-system/by-label: its targetSelectors select nothing: ${why}`);
  });
  it("exits 1 when a policy's target does not exist (TargetNotFound)", () => {
    const r = run(
      "compile",
      "--manifests",
      examplesWith({ "60-nowhere.yaml": policy("nowhere", "kind: HTTPRoute, name: no-such-route", "maas-api-keys") }),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      "error: SecurityPolicy maas-system/nowhere is not Accepted for HTTPRoute maas-system/no-such-route: TargetNotFound",
    );
  });
  it("exits 1 when an object's kind is not a kind of its API group, naming the file, line, kind and nearest kind", () => {
    const r = run(
      "compile",
      "--manifests",
      examplesWith({
        "60-misspelt.yaml":
          "# a policy misspelt out of existence\napiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicies\nmetadata: {name: p, namespace: maas-system}\nspec: {}\n",
      }),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      'error: 60-misspelt.yaml: document 1 at line 2 (SecurityPolicies maas-system/p) is not valid: gateway.envoyproxy.io has no kind "SecurityPolicies" (the nearest is SecurityPolicy)',
    );
  });
  it("exits 1 when a file does not parse, naming the file, line and column", () => {
    const r = run("compile", "--manifests", examplesWith(BROKEN_FILE));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: zz-broken\.yaml: line 4, column 9: BLOCK_AS_IMPLICIT_KEY: /m);
    expect(r.stderr).toContain(
      "compile failed: 1 manifest folder error (a file not parsed or holding an invalid object, or an entry Envoy Gateway would not read)",
    );
  });
  it("a copy of an object alike to one read earlier is a warning and exit 0 (serve reads it once); a copy that differs exits 1", () => {
    const apiKeyPolicy = readFileSync(join(EXAMPLES, "40-apikey-policy.yaml"), "utf8");
    const alike = run("compile", "--manifests", examplesWith({ "60-copy.yaml": apiKeyPolicy }));
    expect(alike.stderr).toBe(
      "warning: 60-copy.yaml#1 (SecurityPolicy maas-system/maas-apikey-auth): duplicate of the object from 40-apikey-policy.yaml#1; the first one is used\n",
    );
    expect(alike.status).toBe(0);
    const differing = run(
      "compile",
      "--manifests",
      examplesWith({ "60-copy.yaml": apiKeyPolicy.replace("sanitize: true", "sanitize: false") }),
    );
    expect(differing.status).toBe(1);
    expect(differing.stderr).toContain(
      "error: 60-copy.yaml: document 1 at line 3 (SecurityPolicy maas-system/maas-apikey-auth) differs from its other copy in 40-apikey-policy.yaml#1: which one is meant is not known",
    );
  });
  it("exits 1 on a subfolder that holds a file, naming both (Envoy Gateway's file provider reads no subfolder)", () => {
    const dir = examplesWith({});
    mkdirSync(join(dir, "team"));
    writeFileSync(join(dir, "team", "60-route.yaml"), readFileSync(join(EXAMPLES, "10-routes.yaml"), "utf8"));
    const r = run("compile", "--manifests", dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^error: team\/: is a subfolder holding team\/60-route\.yaml: Envoy Gateway's file provider reads no subfolder/m,
    );
    expect(r.stderr).toContain("compile failed: 1 manifest folder error");
  });
  it("exits 1 when an object is not valid (its file is broken for serve too)", () => {
    const r = run(
      "compile",
      "--manifests",
      examplesWith({
        "60-bad-route.yaml":
          "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: bad, namespace: maas-system}\nspec: {rules: 7}\n",
      }),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: 60-bad-route\.yaml: document 1 at line 1 \(HTTPRoute maas-system\/bad\) is not valid: /m);
    expect(r.stderr).toContain(
      "compile failed: 1 manifest folder error (a file not parsed or holding an invalid object, or an entry Envoy Gateway would not read)",
    );
  });
});

describe("exit 2 for unreadable input", () => {
  it.each([
    ["check", "/nonexistent", "/nonexistent does not exist"],
    ["compile", "/nonexistent", "/nonexistent does not exist"],
    ["compile", join(EXAMPLES, "00-gateway.yaml"), "00-gateway.yaml is not a folder"],
  ])("%s --manifests %s", (command, dir, message) => {
    const r = command === "check" ? run(command, "--manifests", dir, "GET", `http://${HOST}/`) : run(command, "--manifests", dir);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      `portcullis: cannot read the manifest folder: ${dir.startsWith("/nonexistent") ? "" : EXAMPLES + "/"}${message}`,
    );
  });
  it.each([
    ["/nonexistent", "/nonexistent does not exist"],
    ["/", "/ is a folder, not a file"],
  ])("serve --kubeconfig %s fails at once with exit 2", (file, message) => {
    const r = run("serve", "--kubeconfig", file, ...EPHEMERAL_PORTS);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`portcullis: cannot read the kubeconfig: ${message}\n`);
  });
  it("serve --manifests /nonexistent fails at once with exit 2, never listening", () => {
    const r = run("serve", "--manifests", "/nonexistent", ...EPHEMERAL_PORTS);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("portcullis: cannot read the manifest folder: /nonexistent does not exist");
    expect(r.stdout).not.toMatch(/listening|serving/);
  });
});

describe("a folder with a file that never parsed: check decides as serve does", () => {
  it("serve is not ready, denies every check, and never logs serving after not ready; check denies with the same reason", async () => {
    const dir = examplesWith(BROKEN_FILE);
    const served = await serve(["serve", "--manifests", dir, "--bind-address", "127.0.0.1", "--shutdown-delay-seconds", "0"]);
    try {
      expect((await send(`http://127.0.0.1:${served.ports.admin}/readyz`)).status).toBe(503);
      const answer = await send(`http://127.0.0.1:${served.ports.authz}/healthz`, { headers: { host: HOST } });
      expect(answer.status).toBe(403);
      const notReady = served.logs.findIndex((l) => l.msg.startsWith("not ready"));
      expect(notReady).toBeGreaterThanOrEqual(0);
      expect(served.logs.slice(notReady).filter((l) => /\bserving\b|^ready/.test(l.msg))).toEqual([]);

      const r = run("check", "--manifests", dir, "GET", `http://${HOST}/healthz`);
      expect(r.status).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({
        status: answer.status,
        reason: "not_ready: Portcullis has not loaded its policies yet",
        route: null,
        policy: null,
      });
      expect(r.stderr).toMatch(
        /^error: zz-broken\.yaml: line 4, column 9: .*\(until it is fixed, a serve started on this folder is not ready and denies every check, and a running one keeps enforcing the folder's last good contents\)$/m,
      );
    } finally {
      served.child.kill("SIGINT");
      await served.exited;
    }
  });
});

describe("check --geoip-database", () => {
  const GEO = `${gatewayWithRoute("geo.example.com")}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: us-only, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}]
  authorization: {rules: [{action: Allow, principal: {clientIPGeoLocations: [{country: US}]}}]}
`;
  it("decides clientIPGeoLocations on the databases given; a database that cannot be read is a warning and the policy denies", () => {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-cli-"));
    folders.push(dir);
    writeFileSync(join(dir, "geo.yaml"), GEO);
    // Beside the manifest folder, not in it: every file of the folder is read as manifests.
    const databases = mkdtempSync(join(tmpdir(), "portcullis-geoip-"));
    folders.push(databases);
    const database = join(databases, "GeoLite2-Country.mmdb");
    writeFileSync(
      database,
      writeMmdb({ databaseType: "GeoLite2-Country", networks: [{ network: "50.114.0.0/16", data: { country: { iso_code: "US" } } }] }),
    );
    const ask = (address: string, ...flags: string[]) =>
      run("check", "--manifests", dir, ...flags, "-H", `X-Forwarded-For: ${address}`, "GET", "http://geo.example.com/");
    expect(ask("50.114.0.1", "--geoip-database", database).status).toBe(0);
    expect(ask("81.2.69.160", "--geoip-database", database).status).toBe(1);
    const missing = ask("50.114.0.1", "--geoip-database", join(databases, "absent.mmdb"));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`warning: GeoIP database ${join(databases, "absent.mmdb")} cannot be read (ENOENT)`);
    expect(JSON.parse(missing.stdout).reason).toContain("country needs a Country, City or Enterprise database");
    // Three `check` processes, one after the other: a busy host took more than the default 20 s without a hang.
  }, 60_000);
});

describe("make run", () => {
  /** The run target's command line, as make would run it. */
  const makeRunArgs = () => {
    const recipe = /^run:.*\n\t(.+)$/m
      .exec(readFileSync(join(ROOT, "Makefile"), "utf8"))![1]!
      .trim()
      .split(/\s+/);
    expect(recipe[0]).toBe("bin/portcullis");
    return recipe.slice(1);
  };
  it("binds 127.0.0.1 and stops at once on SIGINT (Ctrl-C) with exit code 0", async () => {
    const served = await serve(makeRunArgs());
    await served.ready;
    expect(served.logs.find((l) => l.msg.startsWith("Portcullis listening"))).toMatchObject({ bindAddress: "127.0.0.1" });
    expect((await send(`http://127.0.0.1:${served.ports.admin}/readyz`)).status).toBe(200);
    served.child.kill("SIGINT");
    // No shutdown delay: the test's own timeout is the bound, not a timing threshold here.
    expect(await served.exited).toEqual({ code: 0, signal: null });
    expect(served.logs.at(-1)?.msg).toBe("stopped");
  });
  it("serves on a Node whose heap is sized as BENCHMARKS.md measured it (semi-spaces of 32 MiB from the start, old space growing by 70%; no --single-threaded-gc)", async () => {
    const served = await serve(makeRunArgs());
    try {
      // bin/portcullis execs Node, so the child is the Node process itself.
      const argv = readFileSync(`/proc/${served.child.pid}/cmdline`, "utf8").split("\0");
      expect(argv).toEqual(expect.arrayContaining(["--max-semi-space-size=32", "--min-semi-space-size=32", "--heap-growing-percent=70"]));
      expect(argv.indexOf("--heap-growing-percent=70")).toBeLessThan(argv.findIndex((a) => a.endsWith("controller/main.ts")));
      expect(argv).not.toContain("--single-threaded-gc");
    } finally {
      served.child.kill("SIGINT");
      await served.exited;
    }
  });
  it("keeps the 5 s shutdown delay as serve's default for Kubernetes endpoint propagation", () => {
    expect(run("help", "serve").stdout).toMatch(/--shutdown-delay-seconds SECONDS .*\[default 5;/);
    expect(makeRunArgs().join(" ")).toContain("--shutdown-delay-seconds 0");
  });
});

describe("version, help and completion", () => {
  const pkgVersion = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
  it.each([["version"], ["--version"], ["serve", "--version"]])("%s prints the version and exits 0", (...args) => {
    const r = run(...args);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`portcullis ${pkgVersion}\n`);
  });
  it.each([["help"], ["--help"], ["-h"]])("%s prints every command and flag on stdout and exits 0", (arg) => {
    const r = run(arg);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    for (const word of [
      "serve",
      "check",
      "compile",
      "version",
      "completion bash|zsh",
      "--manifests DIR",
      "--grpc-port PORT",
      "-H, --header",
    ])
      expect(r.stdout).toContain(word);
  });
  it.each([
    ["help", "check"],
    ["check", "--help"],
  ])("%s %s prints only check's help", (...args) => {
    const r = run(...args);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^portcullis check --manifests DIR/);
    expect(r.stdout).not.toContain("--admin-port");
  });
  it("no command: exit 2 with the list of commands", () => {
    const r = run();
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("portcullis: a command is required: serve, check, compile, version, help or completion");
  });

  let bashScript: string | undefined;
  /** Runs `script` in a bash that loaded the completion (printed once, then kept in a file). */
  const bash = (script: string) => {
    if (bashScript === undefined) {
      const dir = mkdtempSync(join(tmpdir(), "portcullis-bash-"));
      folders.push(dir);
      bashScript = join(dir, "portcullis.bash");
      writeFileSync(bashScript, run("completion", "bash").stdout);
    }
    // stdin is not a socket: bash would take itself for an rshd session and read ~/.bashrc.
    return spawnSync("bash", ["-c", `source ${bashScript}\n${script}`], {
      encoding: "utf8",
      cwd: ROOT,
      env: ENV,
      stdio: ["ignore", "pipe", "pipe"],
    });
  };
  /** COMPREPLY for the command line `words`, the last word being the one completed. */
  const bashComplete = (...words: string[]) => {
    const r = bash(
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _portcullis; printf '%s\\n' "\${COMPREPLY[@]}"`,
    );
    expect(r.stderr).toBe("");
    return r.stdout.split("\n").filter((l) => l !== "");
  };
  it("completion bash registers itself for portcullis", () => {
    const r = spawnSync("bash", ["-c", `source <(${BIN} completion bash); complete -p portcullis`], {
      encoding: "utf8",
      env: ENV,
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe("complete -F _portcullis portcullis");
  });
  it.each([
    [["portcullis", "se"], ["serve"]],
    [
      ["portcullis", "c"],
      ["check", "compile", "completion"],
    ],
    [["portcullis", "check", "--mani"], ["--manifests"]],
    [["portcullis", "serve", "--on-no-route", "a"], ["allow"]],
    [["portcullis", "serve", "--log-level", "d"], ["debug"]],
    [["portcullis", "check", "--manifests", "deploy/exa"], ["deploy/examples"]],
    [["portcullis", "check", "--manifests", "d", "PO"], ["POST"]],
    [
      ["portcullis", "check", "-H", "X-Api-Key: k", "--manifests", "d", "P"],
      ["POST", "PUT", "PATCH"],
    ],
    [["portcullis", "check", "--manifests", "d", "GET", "h"], []],
    [
      ["portcullis", "check", "--manifests", "d", "GET", "http://x/", "--gate"],
      ["--gateway-class", "--gateway"],
    ],
    [["portcullis", "compile", "--admin"], []],
    [["portcullis", "completion", "z"], ["zsh"]],
  ])("completion bash: %j offers %j", (words, expected) => {
    expect(bashComplete(...words)).toEqual(expected);
  });
  it("completion zsh completes commands, flags, choices and folders in a real zsh", () => {
    const script = join(mkdtempSync(join(tmpdir(), "portcullis-zsh-")), "portcullis.zsh");
    folders.push(join(script, ".."));
    writeFileSync(script, run("completion", "zsh").stdout);
    const lines = [
      "portcullis se",
      "portcullis check --mani",
      "portcullis serve --on-no-route al",
      "portcullis serve --log-level deb",
      "portcullis check --manifests deploy/exa",
      "portcullis completion z",
    ];
    // An interactive zsh in a pseudo-terminal (zsh/zpty): type each line and Tab, then a key bound to a
    // widget that writes the completed line to a file.
    const driver = `
      zmodload zsh/zpty
      out=${JSON.stringify(join(script, "../buffer"))}
      zpty -b z "zsh -f -i"
      zpty -w z "PS1=''; autoload -Uz compinit && compinit -u -D; source ${script}; dump() { print -r -- \\"\\$BUFFER\\" > \\$out; }; out=$out; zle -N dump; bindkey '^X' dump"
      for line in "$@"; do
        rm -f $out
        zpty -w -n z "$line"$'\\t'$'\\x18'
        for i in {1..400}; do [[ -s $out ]] && break; sleep 0.05; done
        print -r -- "$(<$out)"
        zpty -w -n z $'\\x15'
      done
      zpty -d z`;
    const r = spawnSync("zsh", ["-f", "-c", driver, "zsh", ...lines], {
      encoding: "utf8",
      cwd: ROOT,
      env: { ...ENV, PATH: `${join(ROOT, "bin")}:${ENV.PATH}` },
    });
    expect(r.error, "zsh is missing: bash test/e2e/ensure-packages.sh installs it").toBeUndefined();
    expect(r.stdout.split("\n").slice(0, lines.length)).toEqual([
      "portcullis serve ",
      "portcullis check --manifests ",
      "portcullis serve --on-no-route allow ",
      "portcullis serve --log-level debug ",
      "portcullis check --manifests deploy/examples/",
      "portcullis completion zsh ",
    ]);
  });
});

describe("plain-language errors, exit 2", () => {
  it.each([
    [["check", "--manifests", EXAMPLES, "GET"], "missing URL", "usage: portcullis check --manifests DIR"],
    [["check", "--manifests", EXAMPLES], "missing METHOD and URL", "usage: portcullis check"],
    [
      ["check", "--manifests", EXAMPLES, "GET", "ftp://x"],
      'URL must be an absolute http(s) URL such as http://api.example.com/v1/models (got "ftp://x")',
      "usage: portcullis check",
    ],
    [
      ["check", "--manifests", EXAMPLES, "1", "http://x/"],
      'METHOD must be an HTTP method such as GET (got "1")',
      "usage: portcullis check",
    ],
    [
      ["check", "--manifests", EXAMPLES, "-H", "novalue", "GET", "http://x/"],
      `--header must be written 'Name: value' (got "novalue")`,
      "usage: portcullis check",
    ],
    [["check", "GET", "http://x/"], "missing --manifests DIR", "usage: portcullis check"],
    [
      ["check", "--admin-port", "1", "--manifests", EXAMPLES, "GET", "http://x/"],
      "check takes no --admin-port",
      "run 'portcullis help check' for every flag",
    ],
    [
      ["serve", "--manifests", EXAMPLES, "--authz-port", "70000"],
      '--authz-port must be a port number from 0 to 65535 (got "70000")',
      "usage: portcullis serve",
    ],
    [
      ["serve", "--manifests", EXAMPLES, "--on-no-route", "maybe"],
      '--on-no-route must be one of deny, allow (got "maybe")',
      "usage: portcullis serve",
    ],
    [["serve", "--bogus"], "unknown flag --bogus", "usage: portcullis serve"],
    [["compile", "--manifests"], "--manifests needs a value", "usage: portcullis compile"],
    [
      ["frobnicate"],
      'there is no command "frobnicate"; the commands are serve, check, compile, version, help or completion',
      "run 'portcullis help' for every command and flag",
    ],
    [["completion", "fish"], 'no completion for "fish": the shells are bash or zsh', "usage: portcullis COMMAND"],
  ])("%j", (args, message, usage) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`portcullis: ${message}\n`);
    expect(r.stderr).toContain(usage);
    expect(r.stderr).not.toMatch(ZOD_JARGON);
  });
  it("names the environment variable when the bad value came from it", () => {
    const r = spawnSync(BIN, ["check", "--manifests", EXAMPLES, "GET", "http://x/"], {
      encoding: "utf8",
      env: { ...ENV, PORTCULLIS_XFF_TRUSTED_HOPS: "many" },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('portcullis: PORTCULLIS_XFF_TRUSTED_HOPS must be a whole number from 0 to 10 (got "many")');
  });
});

describe("README's command-line section", () => {
  const flagsIn = (text: string) => new Set(text.match(/(?<![\w-])--?[a-zA-Z][\w-]*/g));
  it("lists exactly the flags --help prints", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = /^## Command line\n([\s\S]*?)^## /m.exec(readme)![1]!;
    const help = run("--help").stdout;
    expect([...flagsIn(section)].sort()).toEqual([...flagsIn(help)].sort());
  });
  it("names every phase --explain can trace, with its order", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = /^## Command line\n([\s\S]*?)^## /m.exec(readme)![1]!;
    const listed = /filter\s+order \(([^)]*)\)/.exec(section)![1]!;
    const phases = [...listed.matchAll(/`(\w+)` (\d+)/g)].map(([, name, order]) => `${name} ${order}`);
    expect(phases).toEqual(FEATURES.map((f) => `${f.field} ${f.order}`));
  });
});
