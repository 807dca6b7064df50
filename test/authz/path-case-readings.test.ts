/** The paths an upstream matching routes in any letter case runs a path as (controller/authz/path-case-readings.ts). */
import { describe, expect, it } from "vitest";
import {
  MAX_CASE_READINGS,
  mayDropSuffix,
  mayReadInOtherCase,
  TOO_MANY_PATHS,
  UNSPELT_PATHS,
  withCaseReadings,
  withSuffixReadings,
} from "../../controller/authz/path-case-readings.ts";
import { gatewayWithRoute, policiesOnRules } from "../support/manifests.ts";
import { decider } from "../support/world.ts";

const snapshotOf = (rules: Record<string, string>) => decider(gatewayWithRoute("h", rules)).result.snapshot;

const snapshot = snapshotOf({
  admin: "/admin",
  reports: "{path: {type: Exact, value: /Reports}}",
  re: "{path: {type: RegularExpression, value: /re/.*}}",
  word: "{path: {type: RegularExpression, value: '/w/[a-z]+'}}",
  open: "/",
});

describe("withCaseReadings", () => {
  it("finds every value that begins the path, of every length, in the snapshot's order (looked up by length, not scanned)", () => {
    const nested = snapshotOf({
      deep: "{path: {type: PathPrefix, value: /Team/Admin}}",
      team: "/Team",
      exact: "{path: {type: Exact, value: /Team/Admin/Keys}}",
      other: "/Other",
    });
    expect(withCaseReadings(nested, ["/team/admin/keys"])).toEqual([
      "/team/admin/keys",
      "/Team/Admin/Keys",
      "/Team/Admin/keys",
      "/Team/admin/keys",
    ]);
  });
  it("adds the path spelt as a route's Exact or PathPrefix value spells the part it matches in another ASCII letter case", () => {
    expect(withCaseReadings(snapshot, ["/ADMIN/Users"])).toEqual(["/ADMIN/Users", "/admin/Users"]);
    expect(withCaseReadings(snapshot, ["/reports"])).toEqual(["/reports", "/Reports"]);
    expect(withCaseReadings(snapshot, ["/a%2Fb", "/Admin"])).toEqual(["/a%2Fb", "/Admin", "/admin"]);
  });
  it("answers the paths themselves where none reads otherwise", () => {
    const paths = ["/RE"];
    expect(withCaseReadings(snapshot, paths)).toBe(paths);
    const lower = ["/admin/x", "/re/x"];
    expect(withCaseReadings(snapshot, lower)).toBe(lower);
  });
  it("adds the path spelt so that a RegularExpression value matching it only in another letter case matches it", () => {
    expect(withCaseReadings(snapshot, ["/RE/X"])).toEqual(["/RE/X", "/re/x"]);
    const upper = snapshotOf({
      api: "{path: {type: RegularExpression, value: '/API/[a-z]+'}}",
      ops: "{path: {type: RegularExpression, value: '/Ops/v[0-9]+/[A-Z]+'}}",
    });
    expect(withCaseReadings(upper, ["/api/x"])).toEqual(["/api/x", "/API/x"]);
    expect(withCaseReadings(upper, ["/ops/v1/run"])).toEqual(["/ops/v1/run", "/Ops/v1/RUN"]);
  });
  it("reads authorization rules' operation paths as route paths", () => {
    const ruled = decider(
      policiesOnRules("h", {
        all: {
          path: "/",
          features:
            "authorization: {defaultAction: Allow, rules: [{action: Deny, operation: {path: {value: /admin}}, cel: 'true'}, {action: Deny, operation: {path: {type: RegularExpression, value: '/re/[a-z]+'}}, cel: 'true'}]}",
        },
      }),
    ).result.snapshot;
    expect(withCaseReadings(ruled, ["/ADMIN/x"])).toEqual(["/ADMIN/x", "/admin/x"]);
    expect(withCaseReadings(ruled, ["/RE/x"])).toEqual(["/RE/x", "/re/x"]);
  });
  it("answers UNSPELT_PATHS when a RegularExpression value matches the path in another letter case in no spelling tried", () => {
    const alternatives = snapshotOf({ jobs: "{path: {type: RegularExpression, value: '/(?:Jobs|Tasks)/[a-z]+'}}" });
    expect(withCaseReadings(alternatives, ["/JOBS/x"])).toBe(UNSPELT_PATHS);
    // RE2 folds the Kelvin sign as k: no ASCII spelling matches, so the path is refused, never decided elsewhere.
    expect(withCaseReadings(alternatives, ["/JOBS/\u212a"])).toBe(UNSPELT_PATHS);
    expect(withCaseReadings(alternatives, ["/Jobs/x"])).toEqual(["/Jobs/x"]);
  });
  it("looks only where the path or a route's value or pattern has an upper-case letter", () => {
    expect(mayReadInOtherCase(snapshotOf({ admin: "/admin" }), "/admin/x")).toBe(false);
    expect(mayReadInOtherCase(snapshotOf({ admin: "/admin" }), "/Admin")).toBe(true);
    expect(mayReadInOtherCase(snapshot, "/x")).toBe(true);
    expect(mayReadInOtherCase(snapshotOf({ re: "{path: {type: RegularExpression, value: '/re/.*'}}" }), "/re/x")).toBe(false);
    expect(mayReadInOtherCase(snapshotOf({ re: "{path: {type: RegularExpression, value: '/Re/.*'}}" }), "/re/x")).toBe(true);
  });
  it("answers TOO_MANY_PATHS past MAX_CASE_READINGS paths", () => {
    const many = Object.fromEntries(Array.from({ length: MAX_CASE_READINGS + 1 }, (_, i) => [`r${i}`, `/a${"/a".repeat(i)}`]));
    expect(withCaseReadings(snapshotOf(many), [`/A${"/A".repeat(MAX_CASE_READINGS)}`])).toBe(TOO_MANY_PATHS);
    expect(withCaseReadings(snapshotOf(many), [`/A${"/A".repeat(MAX_CASE_READINGS - 1)}`])).toHaveLength(MAX_CASE_READINGS + 1);
  });
});

describe("withSuffixReadings", () => {
  it("adds the path without its trailing slash, its last segment's extension, or both, where a value takes it in any letter case", () => {
    expect(withSuffixReadings(snapshot, ["/admin.json"])).toEqual(["/admin.json", "/admin"]);
    expect(withSuffixReadings(snapshot, ["/admin.v2.json"])).toEqual(["/admin.v2.json", "/admin"]);
    expect(withSuffixReadings(snapshot, ["/reports/"])).toEqual(["/reports/", "/reports"]);
    expect(withSuffixReadings(snapshot, ["/w/x.html/"])).toEqual(["/w/x.html/", "/w/x"]);
    expect(withSuffixReadings(snapshot, ["/ADMIN.json"])).toEqual(["/ADMIN.json", "/ADMIN"]);
  });
  it("answers the paths themselves where no value takes a path without its suffix that it does not take with it", () => {
    for (const path of ["/administration.json", "/docs/", "/w/x1.json", "/admin.d/x", "/.json", "/admin/x.json", "/admin/"]) {
      const paths = [path];
      expect(withSuffixReadings(snapshot, paths)).toBe(paths);
    }
  });
  it("looks only at paths ending in a slash or whose last segment has a dot after its first character", () => {
    expect(mayDropSuffix("/admin.json")).toBe(true);
    expect(mayDropSuffix("/admin/")).toBe(true);
    expect(mayDropSuffix("/")).toBe(false);
    expect(mayDropSuffix("/a.b/c")).toBe(false);
    expect(mayDropSuffix("/.well-known")).toBe(false);
    expect(mayDropSuffix("/api/v1/users")).toBe(false);
  });
});
