/**
 * The chart's PrometheusRule and Grafana dashboard, checked with Prometheus' own promtool (Debian's
 * `prometheus` package): the rendered rules load (`promtool check rules`), each alert fires on the
 * series that should fire it and stays silent on healthy ones (`promtool test rules`), every
 * dashboard query parses as PromQL, and every metric the rules and the dashboard name is one a
 * running Portcullis exports.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { EXAMPLES, startTestApp, type TestApp } from "../support/app.ts";
import { CHART, find, renderChart, type Obj } from "./chart.ts";

const JOB = "portcullis";
const dir = mkdtempSync(join(tmpdir(), "portcullis-alerts-"));
const rules = find(renderChart({ prometheusRule: { enabled: true } }), "PrometheusRule").spec as Obj;
const rulesFile = join(dir, "rules.yaml");
writeFileSync(rulesFile, stringify(rules));
const dashboard = JSON.parse(readFileSync(join(CHART, "files/dashboard.json"), "utf8")) as Obj;
const dashboardExprs: string[] = (dashboard.panels as Obj[]).flatMap((p) => (p.targets as Obj[]).map((t) => t.expr as string));
const alertExprs: string[] = (rules.groups as Obj[]).flatMap((g) => (g.rules as Obj[]).map((r) => r.expr as string));

function promtool(args: string[]): string {
  try {
    return execFileSync("promtool", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string; code?: string };
    if (err.code === "ENOENT")
      throw new Error("promtool is missing: install Debian's prometheus package (test/e2e/ensure-packages.sh does)");
    throw new Error(`promtool ${args.join(" ")} failed:\n${err.stdout ?? ""}${err.stderr ?? err.message}`);
  }
}

/** One `promtool test rules` case: input series (Prometheus' expanding notation) and the alerts expected at `at`. */
interface AlertCase {
  readonly alert: string;
  readonly series: readonly { readonly series: string; readonly values: string }[];
  readonly at: string;
  /** The labels of each firing alert (besides alertname and severity); [] expects silence. */
  readonly firing: readonly Record<string, string>[];
  /** The firing alert's summary, as Prometheus renders it. */
  readonly summary?: string;
}

const instance = "10.0.0.7:9090";
const up = (v: string) => ({ series: `up{job="${JOB}", instance="${instance}"}`, values: v });
const decisions = (code: string, values: string) => ({
  series: `portcullis_decisions_total{job="${JOB}", instance="${instance}", protocol="envoy-http", code="${code}", status="403"}`,
  values,
});
const gauge = (name: string, values: string, labels = "") => ({ series: `${name}{job="${JOB}", instance="${instance}"${labels}}`, values });
const bucket = (le: string, values: string) => ({
  series: `portcullis_check_duration_seconds_bucket{job="${JOB}", instance="${instance}", protocol="envoy-http", le="${le}"}`,
  values,
});

const CASES: readonly AlertCase[] = [
  {
    alert: "PortcullisDown",
    series: [up("1x5 0x10")],
    at: "12m",
    firing: [{}],
    summary: "No Portcullis instance is up; the proxy denies every request it must check.",
  },
  { alert: "PortcullisDown", series: [up("1x15")], at: "12m", firing: [] },
  {
    alert: "PortcullisDown",
    series: [{ series: `up{job="other", instance="${instance}"}`, values: "1x15" }],
    at: "12m",
    firing: [{ job: JOB }],
    summary: "No Portcullis instance is up; the proxy denies every request it must check.",
  },
  {
    alert: "PortcullisNotReady",
    series: [decisions("not_ready", "0+10x15")],
    at: "12m",
    firing: [{ job: JOB, instance }],
    summary: `${instance} answers checks before it has loaded its policies: every such request is denied.`,
  },
  { alert: "PortcullisNotReady", series: [decisions("not_ready", "5x15")], at: "12m", firing: [] },
  {
    alert: "PortcullisCheckFailures",
    series: [decisions("internal_error", "0+1x15")],
    at: "12m",
    firing: [{ job: JOB, instance }],
    summary: `${instance} fails to decide some requests (denied, code internal_error).`,
  },
  { alert: "PortcullisCheckFailures", series: [decisions("allowed", "0+100x15")], at: "12m", firing: [] },
  {
    alert: "PortcullisServingLastGoodConfig",
    series: [gauge("portcullis_serving_last_good_config", "0x3 1x12", ', source="manifests"')],
    at: "12m",
    firing: [{ job: JOB, instance, source: "manifests" }],
    summary: `${instance} cannot use the newest configuration from manifests: edits are not enforced (it serves the last good one, or nothing before there is one).`,
  },
  {
    alert: "PortcullisServingLastGoodConfig",
    series: [gauge("portcullis_serving_last_good_config", "1x3 0x12", ', source="manifests"')],
    at: "12m",
    firing: [],
  },
  {
    alert: "PortcullisPoliciesNotAccepted",
    series: [gauge("portcullis_policies", "2x30", ', accepted="false"')],
    at: "20m",
    firing: [{ job: JOB }],
    summary: "2 SecurityPolicies are not Accepted; the routes they govern are denied.",
  },
  { alert: "PortcullisPoliciesNotAccepted", series: [gauge("portcullis_policies", "0x30", ', accepted="false"')], at: "20m", firing: [] },
  {
    alert: "PortcullisJwksWithoutKeys",
    series: [gauge("portcullis_jwks_without_keys", "1x15")],
    at: "12m",
    firing: [{ job: JOB, instance }],
    summary: `${instance} has 1 remote JWKS without keys: tokens of those issuers are refused.`,
  },
  { alert: "PortcullisJwksWithoutKeys", series: [gauge("portcullis_jwks_without_keys", "0x15")], at: "12m", firing: [] },
  {
    alert: "PortcullisJwksKeysStale",
    series: [gauge("portcullis_jwks_keys_age_seconds", "3500+60x30")],
    at: "20m",
    firing: [{ job: JOB, instance }],
    summary: `${instance} has not refreshed a remote JWKS for over an hour; a rotated signing key would be refused.`,
  },
  { alert: "PortcullisJwksKeysStale", series: [gauge("portcullis_jwks_keys_age_seconds", "300x20")], at: "20m", firing: [] },
  // 100 checks a minute: the slow case puts them all above 0.25 s (the quantile reads the highest finite bound), the healthy one below 0.005 s.
  {
    alert: "PortcullisSlowChecks",
    series: [bucket("0.005", "0x20"), bucket("0.25", "0x20"), bucket("+Inf", "0+100x20")],
    at: "18m",
    firing: [{ job: JOB }],
    summary: "The 99th percentile check takes 250ms; near the proxy's timeout, requests fail.",
  },
  {
    alert: "PortcullisSlowChecks",
    series: [bucket("0.005", "0+100x20"), bucket("0.25", "0+100x20"), bucket("+Inf", "0+100x20")],
    at: "18m",
    firing: [],
  },
];

/** The firing alert's annotations: the case's summary, and the rule's runbook (plain text). */
function annotations(c: AlertCase): Record<string, string> {
  const rule = ((rules.groups as Obj[])[0]!.rules as Obj[]).find((r) => r.alert === c.alert)!;
  return { summary: c.summary!, runbook: rule.annotations.runbook as string };
}

describe("the PrometheusRule's alerts (promtool)", () => {
  it("load as Prometheus rules", () => {
    expect(promtool(["check", "rules", rulesFile])).toContain(`SUCCESS: ${alertExprs.length} rules found`);
  });

  it("every alert has a firing and a silent case below", () => {
    const alerts = (rules.groups as Obj[]).flatMap((g) => (g.rules as Obj[]).map((r) => r.alert as string));
    for (const alert of alerts)
      expect(new Set(CASES.filter((c) => c.alert === alert).map((c) => c.firing.length > 0)), alert).toEqual(new Set([true, false]));
  });

  it.each(CASES.map((c, i) => [`${c.alert} ${c.firing.length > 0 ? "fires" : "stays silent"}`, i] as const))("%s (case %i)", (_name, i) => {
    const c = CASES[i]!;
    const severity = ((rules.groups as Obj[])[0]!.rules as Obj[]).find((r) => r.alert === c.alert)!.labels.severity as string;
    const file = join(dir, `test-${i}.yaml`);
    writeFileSync(
      file,
      stringify({
        rule_files: [rulesFile],
        evaluation_interval: "1m",
        tests: [
          {
            interval: "1m",
            input_series: c.series,
            alert_rule_test: [
              {
                eval_time: c.at,
                alertname: c.alert,
                exp_alerts: c.firing.map((labels) => ({ exp_labels: { severity, ...labels }, exp_annotations: annotations(c) })),
              },
            ],
          },
        ],
      }),
    );
    // promtool compares labels and rendered annotations; a mismatch prints what it got.
    promtool(["test", "rules", file]);
  });
});

describe("the Grafana dashboard", () => {
  it("every query parses as PromQL (Grafana's variables filled in)", () => {
    const filled = dashboardExprs.map((e) => e.replaceAll("$__rate_interval", "5m").replaceAll("$job", ".*"));
    const file = join(dir, "dashboard-queries.yaml");
    writeFileSync(
      file,
      stringify({ groups: [{ name: "dashboard", rules: filled.map((expr, i) => ({ record: `dashboard:query:${i}`, expr })) }] }),
    );
    expect(promtool(["check", "rules", file])).toContain(`SUCCESS: ${filled.length} rules found`);
  });

  it("every panel reads a data source variable and has a unique id", () => {
    const ids = (dashboard.panels as Obj[]).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels as Obj[]) expect(p.datasource.uid, p.title).toBe("${datasource}");
  });
});

describe("metric names in the rules and the dashboard", () => {
  let app: TestApp;
  let exported: Set<string>;
  beforeAll(async () => {
    app = await startTestApp({}, EXAMPLES);
    await fetch(`${app.authz}/healthz`, { headers: { host: "api.maas.example.com" } });
    const text = await (await fetch(`${app.admin}/metrics`)).text();
    exported = new Set();
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exported.add(name!);
      if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) exported.add(`${name}${suffix}`);
    }
  });
  afterAll(() => app?.close());

  it("are all exported by a running Portcullis", () => {
    const named = new Set([...dashboardExprs, ...alertExprs].flatMap((e) => [...e.matchAll(/\bportcullis_[a-z0-9_]+/g)].map((m) => m[0])));
    expect(named.size).toBeGreaterThan(8);
    expect([...named].filter((n) => !exported.has(n))).toEqual([]);
  });
});
