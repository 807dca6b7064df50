/** The paths an upstream matching routes in any letter case runs a path as (controller/authz/path-case-readings.ts). */
import { describe, expect, it } from "vitest";
import { MAX_CASE_READINGS, mayReadInOtherCase, TOO_MANY_PATHS, withCaseReadings } from "../../controller/authz/path-case-readings.ts";
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
  it("answers the paths themselves where none reads otherwise (regular expressions are not read so)", () => {
    const paths = ["/RE/x"];
    expect(withCaseReadings(routes, paths)).toBe(paths);
    const lower = ["/admin/x"];
    expect(withCaseReadings(routes, lower)).toBe(lower);
  });
  it("looks only where the path or a route's value has an upper-case letter", () => {
    expect(mayReadInOtherCase(routesOf({ admin: "/admin" }), "/admin/x")).toBe(false);
    expect(mayReadInOtherCase(routesOf({ admin: "/admin" }), "/Admin")).toBe(true);
    expect(mayReadInOtherCase(routes, "/x")).toBe(true);
  });
  it("answers TOO_MANY_PATHS past MAX_CASE_READINGS paths", () => {
    const many = Object.fromEntries(Array.from({ length: MAX_CASE_READINGS + 1 }, (_, i) => [`r${i}`, `/a${"/a".repeat(i)}`]));
    expect(withCaseReadings(routesOf(many), [`/A${"/A".repeat(MAX_CASE_READINGS)}`])).toBe(TOO_MANY_PATHS);
    expect(withCaseReadings(routesOf(many), [`/A${"/A".repeat(MAX_CASE_READINGS - 1)}`])).toHaveLength(MAX_CASE_READINGS + 1);
  });
});
