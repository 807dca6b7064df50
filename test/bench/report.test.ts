import { describe, expect, it } from "vitest";
import { proxyScenarios, type ProxyResult } from "../../bench/proxy-bench.ts";
import { noiseFloor, proxyRows, signed, worstRound } from "../../bench/report.ts";
import { summarize, type Run, type WorldResult } from "../../bench/serve-bench.ts";
import { spreadOf } from "../../bench/spread.ts";

describe("worstRound", () => {
  it("meets a target only when every round meets it, however good the median", () => {
    expect(worstRound("x", spreadOf([0.95, 0.96, 0.89], true), 0.9, true, true).met).toBe(false);
    expect(worstRound("x", spreadOf([0.95, 0.96, 0.9], true), 0.9, true, true).met).toBe(true);
    expect(worstRound("p99", spreadOf([1.0, 1.1, 1.21], false), 1.2, false, true).met).toBe(false);
  });

  it("never meets a target measured on errors or reused tokens", () => {
    expect(worstRound("x", spreadOf([1, 1], true), 0.9, true, false).met).toBe(false);
  });

  it("says the worst round, the median and the best", () => {
    expect(worstRound("x", spreadOf([0.95, 0.97, 0.89], true), 0.9, true, true).measured).toBe(
      "worst round 0.89× (median 0.95×, best 0.97×, 3 rounds)",
    );
  });
});

describe("signed", () => {
  it("signs a difference either way, never as '+-'", () => {
    expect(signed(1.25, (x) => x.toFixed(1))).toBe("+1.3");
    expect(signed(-52.91, (x) => x.toFixed(1))).toBe("−52.9");
    expect(signed(0, (x) => x.toFixed(1))).toBe("+0.0");
  });
});

describe("proxyRows", () => {
  const run: Run = {
    requests: 1000,
    durationS: 1,
    rps: 1000,
    p50Ms: 1,
    p90Ms: 2,
    p99Ms: 3,
    p999Ms: 4,
    maxMs: 5,
    errors: 0,
    wraps: 0,
    cpuUsPerReq: 50,
    waitPct: 0,
  };
  const result = (withSid: boolean): ProxyResult => {
    const spread = spreadOf([1], true);
    return {
      scenarios: Object.fromEntries(proxyScenarios(withSid).map((s) => [s, summarize([run])])),
      added: {},
      caddy: { bookworm: { binary: "/usr/bin/caddy", version: "2.6.2" } },
      nginxVsHaproxy: spread,
      caddyVsHaproxy: spread,
      newTokensVsHaproxy: spread,
      aloneVsHaproxy: { nginx: spread, caddy: spread },
    };
  };

  it("has a row per scenario the run measured: Debian sid's Caddy only when it took part", () => {
    const names = (r: ProxyResult) => proxyRows(r).map((row) => row[0]);
    expect(names(result(false)).filter((n) => n!.includes("sid"))).toEqual([]);
    expect(names(result(true)).filter((n) => n!.includes("sid"))).toEqual([
      "Caddy (Debian sid), no auth",
      "Caddy (Debian sid) forward_auth → Portcullis, API key",
      "Caddy (Debian sid) forward_auth → Portcullis, JWT (repeated token)",
    ]);
    expect(names(result(true)).length).toBe(names(result(false)).length + 3);
  });

  it("shows Portcullis' collections per 1,000 requests and its GC pause per request where they were counted, blanks elsewhere", () => {
    const counted = { ...run, gc: { scavenges: 3, markCompacts: 0.02, pauseMs: 4 } };
    const r = result(false);
    const withGc: ProxyResult = {
      ...r,
      scenarios: { ...r.scenarios, nginxJwt: summarize([counted]), haproxy: summarize([run]) },
    };
    const rows = Object.fromEntries(proxyRows(withGc).map((row) => [row[0], row]));
    const nginxJwt = rows["nginx auth_request → Portcullis, JWT (repeated token)"]!;
    const haproxy = rows["HAProxy, no auth"]!;
    expect(nginxJwt.slice(5, 8)).toEqual(["3.00", "0.020", "4.00"]);
    expect(haproxy.slice(5, 8)).toEqual(["", "", ""]);
    expect(haproxy.length).toBe(nginxJwt.length);
    // Without any counted collections (an older results.json), the table has no such columns.
    expect(proxyRows(r)[0]!.length).toBe(nginxJwt.length - 3);
  });
});

describe("noiseFloor", () => {
  it("gives the A/A control's ratios by world, worst round first and then read either way, so a target's worst round can be read against them", () => {
    const comparison = (cpu: number[]) => ({
      reference: "baseline" as const,
      cpu: spreadOf(cpu, true),
      rps: spreadOf([1, 0.97], true),
      p99: spreadOf([1.3, 0.9], false),
    });
    const world = (label: string, cpu: number[]) => ({ label, comparisons: { baselineAgain: comparison(cpu) } }) as unknown as WorldResult;
    const text = noiseFloor([world("10 routes", [0.91, 1.04, 0.98]), world("10,000 routes", [0.99, 1.25])]).join(" ");
    expect(text).toContain(
      "10 routes: CPU worst round 0.91× (median 0.98×, best 1.04×, 3 rounds), 0.91× either way; req/s worst round 0.97× (median 0.98×, best 1.00×, 2 rounds), 0.97× either way; p99 worst round 1.30×",
    );
    // p99's best round 0.90× is 1.11× upside down, nearer than its worst 1.30×; CPU's best round 1.25× is 0.80× upside down, further than its worst.
    expect(text).toContain("p99 worst round 1.30× (median 1.10×, best 0.90×, 2 rounds), 1.30× either way");
    expect(text).toContain("10,000 routes: CPU worst round 0.99× (median 1.12×, best 1.25×, 2 rounds), 0.80× either way");
    expect(noiseFloor([])).toEqual([]);
  });
});
