/** The paths an upstream matching routes in any letter case runs a path as (controller/authz/path-case-readings.ts). */
import { describe, expect, it } from "vitest";
import {
  MAX_CASE_READINGS,
  mayReadInOtherCase,
  TOO_MANY_PATHS,
  UNSPELT_PATHS,
  withCaseReadings,
} from "../../controller/authz/path-case-readings.ts";
import { gatewayWithRoute } from "../support/manifests.ts";
import { decider } from "../support/world.ts";

const routesOf = (rules: Record<string, string>) => decider(gatewayWithRoute("h", rules)).result.snapshot.routes;

describe("withCaseReadings", () => {
  const routes = routesOf({
    admin: "/admin",
    reports: "{path: {type: Exact, value: /Reports}}",
    re: "{path: {type: RegularExpression, value: /re/.*}}",
    open: "/",
  });
  it("adds the path spelt as a route's Exact or PathPrefix value spells the part it matches in another ASCII letter case", () => {
    expect(withCaseReadings(routes, ["/ADMIN/Users"])).toEqual(["/ADMIN/Users", "/admin/Users"]);
    expect(withCaseReadings(routes, ["/reports"])).toEqual(["/reports", "/Reports"]);
    expect(withCaseReadings(routes, ["/a%2Fb", "/Admin"])).toEqual(["/a%2Fb", "/Admin", "/admin"]);
  });
  it("answers the paths themselves where none reads otherwise", () => {
    const paths = ["/RE"];
    expect(withCaseReadings(routes, paths)).toBe(paths);
    const lower = ["/admin/x", "/re/x"];
    expect(withCaseReadings(routes, lower)).toBe(lower);
  });
  it("adds the path spelt so that a RegularExpression value matching it only in another letter case matches it", () => {
    expect(withCaseReadings(routes, ["/RE/X"])).toEqual(["/RE/X", "/re/x"]);
    const upper = routesOf({
      api: "{path: {type: RegularExpression, value: '/API/[a-z]+'}}",
      ops: "{path: {type: RegularExpression, value: '/Ops/v[0-9]+/[A-Z]+'}}",
    });
    expect(withCaseReadings(upper, ["/api/x"])).toEqual(["/api/x", "/API/x"]);
    expect(withCaseReadings(upper, ["/ops/v1/run"])).toEqual(["/ops/v1/run", "/Ops/v1/RUN"]);
  });
  it("answers UNSPELT_PATHS when a RegularExpression value matches the path in another letter case in no spelling tried", () => {
    const alternatives = routesOf({ jobs: "{path: {type: RegularExpression, value: '/(?:Jobs|Tasks)/[a-z]+'}}" });
    expect(withCaseReadings(alternatives, ["/JOBS/x"])).toBe(UNSPELT_PATHS);
    // RE2 folds the Kelvin sign as k: no ASCII spelling matches, so the path is refused, never decided elsewhere.
    expect(withCaseReadings(alternatives, ["/JOBS/\u212a"])).toBe(UNSPELT_PATHS);
    expect(withCaseReadings(alternatives, ["/Jobs/x"])).toEqual(["/Jobs/x"]);
  });
  it("looks only where the path or a route's value or pattern has an upper-case letter", () => {
    expect(mayReadInOtherCase(routesOf({ admin: "/admin" }), "/admin/x")).toBe(false);
    expect(mayReadInOtherCase(routesOf({ admin: "/admin" }), "/Admin")).toBe(true);
    expect(mayReadInOtherCase(routes, "/x")).toBe(true);
    expect(mayReadInOtherCase(routesOf({ re: "{path: {type: RegularExpression, value: '/re/.*'}}" }), "/re/x")).toBe(false);
    expect(mayReadInOtherCase(routesOf({ re: "{path: {type: RegularExpression, value: '/Re/.*'}}" }), "/re/x")).toBe(true);
  });
  it("answers TOO_MANY_PATHS past MAX_CASE_READINGS paths", () => {
    const many = Object.fromEntries(Array.from({ length: MAX_CASE_READINGS + 1 }, (_, i) => [`r${i}`, `/a${"/a".repeat(i)}`]));
    expect(withCaseReadings(routesOf(many), [`/A${"/A".repeat(MAX_CASE_READINGS)}`])).toBe(TOO_MANY_PATHS);
    expect(withCaseReadings(routesOf(many), [`/A${"/A".repeat(MAX_CASE_READINGS - 1)}`])).toHaveLength(MAX_CASE_READINGS + 1);
  });
});
