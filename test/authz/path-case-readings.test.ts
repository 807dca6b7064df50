/** The paths an upstream matching routes in any letter case runs a path as (controller/authz/path-case-readings.ts). */
import { describe, expect, it } from "vitest";
import { casePathsFor, mayReadInOtherCase } from "../../controller/authz/case-path-values.ts";
import {
  MAX_CASE_READINGS,
  mayDropSuffix,
  TOO_MANY_PATHS,
  UNSPELT_PATHS,
  withCaseReadings,
  withSuffixReadings,
} from "../../controller/authz/path-case-readings.ts";
import type { Snapshot } from "../../controller/snapshot/types.ts";
import { crossNamespaceMerge, GATEWAY, gatewayWithRoute, policiesOnRules } from "../support/manifests.ts";
import { decider } from "../support/world.ts";

/** The request's Host: the one every route of these tests names. */
const H = { host: "h" };
/** The path values a request to Host `h` is read on, on any Gateway and port. */
const onH = (snapshot: Snapshot) => casePathsFor(snapshot, H, {});
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
    expect(withCaseReadings(onH(nested), ["/team/admin/keys"])).toEqual([
      "/team/admin/keys",
      "/Team/Admin/Keys",
      "/Team/Admin/keys",
      "/Team/admin/keys",
    ]);
  });
  it("adds the path spelt as a route's Exact or PathPrefix value spells the part it matches in another ASCII letter case", () => {
    expect(withCaseReadings(onH(snapshot), ["/ADMIN/Users"])).toEqual(["/ADMIN/Users", "/admin/Users"]);
    expect(withCaseReadings(onH(snapshot), ["/reports"])).toEqual(["/reports", "/Reports"]);
    expect(withCaseReadings(onH(snapshot), ["/a%2Fb", "/Admin"])).toEqual(["/a%2Fb", "/Admin", "/admin"]);
  });
  it("answers the paths themselves where none reads otherwise", () => {
    const paths = ["/RE"];
    expect(withCaseReadings(onH(snapshot), paths)).toBe(paths);
    const lower = ["/admin/x", "/re/x"];
    expect(withCaseReadings(onH(snapshot), lower)).toBe(lower);
  });
  it("adds the path spelt so that a RegularExpression value matching it only in another letter case matches it", () => {
    expect(withCaseReadings(onH(snapshot), ["/RE/X"])).toEqual(["/RE/X", "/re/x"]);
    const upper = snapshotOf({
      api: "{path: {type: RegularExpression, value: '/API/[a-z]+'}}",
      ops: "{path: {type: RegularExpression, value: '/Ops/v[0-9]+/[A-Z]+'}}",
    });
    expect(withCaseReadings(onH(upper), ["/api/x"])).toEqual(["/api/x", "/API/x"]);
    expect(withCaseReadings(onH(upper), ["/ops/v1/run"])).toEqual(["/ops/v1/run", "/Ops/v1/RUN"]);
  });
  it("spells a pattern's literal start past a leading `^` as written (no 400 for `^/Internal/[a-z]+`)", () => {
    const anchored = snapshotOf({ internal: "{path: {type: RegularExpression, value: '^/Internal/[a-z]+'}}" });
    expect(withCaseReadings(onH(anchored), ["/INTERNAL/x"])).toEqual(["/INTERNAL/x", "/Internal/x"]);
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
    expect(withCaseReadings(onH(ruled), ["/ADMIN/x"])).toEqual(["/ADMIN/x", "/admin/x"]);
    expect(withCaseReadings(onH(ruled), ["/RE/x"])).toEqual(["/RE/x", "/re/x"]);
  });
  it("answers UNSPELT_PATHS when a RegularExpression value matches the path in another letter case in no spelling tried", () => {
    const alternatives = snapshotOf({ jobs: "{path: {type: RegularExpression, value: '/(?:Jobs|Tasks)/[a-z]+'}}" });
    expect(withCaseReadings(onH(alternatives), ["/JOBS/x"])).toBe(UNSPELT_PATHS);
    // RE2 folds the Kelvin sign as k: no ASCII spelling matches, so the path is refused, never decided elsewhere.
    expect(withCaseReadings(onH(alternatives), ["/JOBS/\u212a"])).toBe(UNSPELT_PATHS);
    expect(withCaseReadings(onH(alternatives), ["/Jobs/x"])).toEqual(["/Jobs/x"]);
  });
  it("looks only where the path or a route's value or pattern has an upper-case letter", () => {
    expect(mayReadInOtherCase(snapshotOf({ admin: "/admin" }), H, {}, "/admin/x")).toBe(false);
    expect(mayReadInOtherCase(snapshotOf({ admin: "/admin" }), H, {}, "/Admin")).toBe(true);
    expect(mayReadInOtherCase(snapshot, H, {}, "/x")).toBe(true);
    expect(mayReadInOtherCase(snapshotOf({ re: "{path: {type: RegularExpression, value: '/re/.*'}}" }), H, {}, "/re/x")).toBe(false);
    expect(mayReadInOtherCase(snapshotOf({ re: "{path: {type: RegularExpression, value: '/Re/.*'}}" }), H, {}, "/re/x")).toBe(true);
  });
  it("answers TOO_MANY_PATHS past MAX_CASE_READINGS paths", () => {
    const many = Object.fromEntries(Array.from({ length: MAX_CASE_READINGS + 1 }, (_, i) => [`r${i}`, `/a${"/a".repeat(i)}`]));
    expect(withCaseReadings(onH(snapshotOf(many)), [`/A${"/A".repeat(MAX_CASE_READINGS)}`])).toBe(TOO_MANY_PATHS);
    expect(withCaseReadings(onH(snapshotOf(many)), [`/A${"/A".repeat(MAX_CASE_READINGS - 1)}`])).toHaveLength(MAX_CASE_READINGS + 1);
  });
});

describe("withSuffixReadings", () => {
  it("adds the path without its trailing slash, its last segment's extension, or both, where a value takes it in any letter case", () => {
    expect(withSuffixReadings(onH(snapshot), ["/admin.json"])).toEqual(["/admin.json", "/admin"]);
    expect(withSuffixReadings(onH(snapshot), ["/admin.v2.json"])).toEqual(["/admin.v2.json", "/admin"]);
    expect(withSuffixReadings(onH(snapshot), ["/reports/"])).toEqual(["/reports/", "/reports"]);
    expect(withSuffixReadings(onH(snapshot), ["/w/x.html/"])).toEqual(["/w/x.html/", "/w/x"]);
    expect(withSuffixReadings(onH(snapshot), ["/ADMIN.json"])).toEqual(["/ADMIN.json", "/ADMIN"]);
  });
  it("answers the paths themselves where no value takes a path without its suffix that it does not take with it", () => {
    for (const path of ["/administration.json", "/docs/", "/w/x1.json", "/admin.d/x", "/.json", "/admin/x.json", "/admin/"]) {
      const paths = [path];
      expect(withSuffixReadings(onH(snapshot), paths)).toBe(paths);
    }
  });
  it("looks only at paths ending in a slash or whose last segment has a dot after its first character", () => {
    expect(mayDropSuffix("/admin.json")).toBe(true);
    expect(mayDropSuffix("/admin/")).toBe(true);
    expect(mayDropSuffix("/")).toBe(false);
    expect(mayDropSuffix("/a.b/c")).toBe(false);
    expect(mayDropSuffix("/.well-known")).toBe(false);
    expect(mayDropSuffix("/api/v1/users")).toBe(false);
    expect(mayDropSuffix("/a/.b.json")).toBe(true);
    expect(mayDropSuffix("/a/b.")).toBe(true);
    expect(mayDropSuffix("/a/.")).toBe(false);
    expect(mayDropSuffix("a.json")).toBe(true);
    expect(mayDropSuffix(".json")).toBe(false);
    expect(mayDropSuffix("")).toBe(false);
  });
  it("answers as the search from the last slash does, on every path of a few characters", () => {
    const chars = ["/", ".", "a"];
    const paths = [""];
    for (let n = 0; n < 6; n++) for (const p of paths.splice(0)) for (const c of ["", ...chars]) paths.push(p + c);
    for (const path of new Set(paths)) {
      const bySearch = (path.length > 1 && path.endsWith("/")) || path.indexOf(".", path.lastIndexOf("/") + 2) !== -1;
      expect(mayDropSuffix(path), path).toBe(bySearch);
    }
  });
});

/** HTTPRoute apps/`name` on Gateway apps/gw for `host`, one rule of `match` (a YAML flow map). */
const route = (name: string, host: string, match: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: ['${host}']
  rules: [{matches: [${match}]}]
`;
/** SecurityPolicy apps/`name` on `target` (a targetRef's kind and name) denying the operation path `path` (a YAML flow map). */
const denying = (name: string, target: string, path: string) => `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: ${name}, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, ${target}}]
  authorization: {defaultAction: Allow, rules: [{action: Deny, operation: {path: ${path}}, cel: 'true'}]}
`;
const regex = (value: string) => `{type: RegularExpression, value: '${value}'}`;
const worldOf = (...objects: string[]) => decider([GATEWAY, ...objects].join("---\n")).result.snapshot;
const A = { host: "a.example.com" };
const B = { host: "b.example.com" };

describe("casePathsFor", () => {
  const hosts = worldOf(
    route("a", "a.example.com", "{path: {type: PathPrefix, value: /api}}"),
    route("b", "b.example.com", `{path: ${regex("/Re/[a-z]+")}}`),
    route("w", "*.wild.example.com", `{path: ${regex("/Wild/[a-z]+")}}`),
  );
  it("leaves out the values of other virtual hosts: a pattern in upper case there makes no lower-case path here read otherwise", () => {
    expect(mayReadInOtherCase(hosts, A, {}, "/re/x")).toBe(false);
    expect(mayReadInOtherCase(hosts, B, {}, "/re/x")).toBe(true);
    const upper = ["/RE/x"];
    expect(withCaseReadings(casePathsFor(hosts, A, {}), upper)).toBe(upper);
    expect(withCaseReadings(casePathsFor(hosts, B, {}), upper)).toEqual(["/RE/x", "/Re/x"]);
    const suffixed = ["/Re/x.json"];
    expect(withSuffixReadings(casePathsFor(hosts, A, {}), suffixed)).toBe(suffixed);
    expect(withSuffixReadings(casePathsFor(hosts, B, {}), suffixed)).toEqual(["/Re/x.json", "/Re/x"]);
  });
  it("reads the values of every virtual host a reading of the Host selects, wildcard hosts as Envoy selects them", () => {
    const both = { host: "a.example.com", hosts: ["a.example.com", "b.example.com"] };
    expect(mayReadInOtherCase(hosts, both, {}, "/re/x")).toBe(true);
    expect(withCaseReadings(casePathsFor(hosts, both, {}), ["/RE/x"])).toEqual(["/RE/x", "/Re/x"]);
    expect(withCaseReadings(casePathsFor(hosts, { host: "x.wild.example.com" }, {}), ["/WILD/x"])).toEqual(["/WILD/x", "/Wild/x"]);
    // The wildcard stands for at least one label: the bare name selects no virtual host here.
    expect(withCaseReadings(casePathsFor(hosts, { host: "wild.example.com" }, {}), ["/WILD/x"])).toEqual(["/WILD/x"]);
  });
  it("reads the route tables of the Gateway and port in scope only, and nothing where that Gateway is not served", () => {
    expect(withCaseReadings(casePathsFor(hosts, B, { gateway: "apps/gw", port: 80 }), ["/RE/x"])).toEqual(["/RE/x", "/Re/x"]);
    expect(casePathsFor(hosts, B, { gateway: "apps/gw", port: 8080 })).toEqual([]);
    expect(casePathsFor(hosts, B, { gateway: "apps/other" })).toEqual([]);
    expect(mayReadInOtherCase(hosts, B, { gateway: "apps/other" }, "/re/x")).toBe(false);
  });
  it("reads the operation paths of every policy governing the host's entries: on the Gateway, on a route, merged into a parent", () => {
    const ruled = worldOf(
      route("a", "a.example.com", "{path: {type: PathPrefix, value: /}}"),
      route("b", "b.example.com", "{path: {type: PathPrefix, value: /}}"),
      denying("everywhere", "kind: Gateway, name: gw", regex("/Admin/[a-z]+")),
      denying("on-b", "kind: HTTPRoute, name: b", regex("/Secret/[a-z]+")),
    );
    expect(withCaseReadings(casePathsFor(ruled, A, {}), ["/ADMIN/x"])).toEqual(["/ADMIN/x", "/Admin/x"]);
    // On b the route's own policy replaces the Gateway's (precedence): the Gateway's rules decide nothing there.
    expect(withCaseReadings(casePathsFor(ruled, B, {}), ["/ADMIN/x"])).toEqual(["/ADMIN/x"]);
    expect(withCaseReadings(casePathsFor(ruled, A, {}), ["/SECRET/x"])).toEqual(["/SECRET/x"]);
    expect(withCaseReadings(casePathsFor(ruled, B, {}), ["/SECRET/x"])).toEqual(["/SECRET/x", "/Secret/x"]);
    const merged = decider(
      crossNamespaceMerge(
        "  authorization: {defaultAction: Allow, rules: [{action: Deny, operation: {path: {type: RegularExpression, value: '/Ops/[a-z]+'}}, cel: 'true'}]}\n",
        "  cors: {allowOrigins: ['https://app.example.com']}\n",
      ),
    ).result.snapshot;
    expect(withCaseReadings(casePathsFor(merged, { host: "api.example.com" }, {}), ["/OPS/x"])).toEqual(["/OPS/x", "/Ops/x"]);
  });
  it("denies a path that a Gateway policy's rule takes in another letter case on any host (a wrong allow stays closed)", async () => {
    const decide = decider(
      [
        GATEWAY,
        route("a", "a.example.com", "{path: {type: PathPrefix, value: /}}"),
        route("b", "b.example.com", `{path: ${regex("/Other/[a-z]+")}}`),
        denying("everywhere", "kind: Gateway, name: gw", regex("/admin/[a-z]+")),
      ].join("---\n"),
    );
    expect((await decide({ host: "a.example.com", path: "/ADMIN/x" })).status).toBe(403);
    expect((await decide({ host: "a.example.com", path: "/admin/x" })).status).toBe(403);
    expect((await decide({ host: "a.example.com", path: "/ADMINS/x" })).status).toBe(200);
  });
});

describe("patterns looked up by their literal start", () => {
  const many = Object.fromEntries([
    ...Array.from({ length: 20 }, (_, i) => [`p${i}`, `{path: ${regex(`/P${i}/[a-z]+`)}}`]),
    ["kube", `{path: ${regex("/Kube/[a-z]+")}}`],
    ["anywhere", `{path: ${regex(".*/ab/[a-z]+")}}`],
    ["kelvin", `{path: ${regex("/\u212aelvin/[a-z]+")}}`],
  ]);
  const values = onH(snapshotOf(many));
  it("tries the patterns whose start begins the path in any ASCII letter case, and those without a start", () => {
    expect(withCaseReadings(values, ["/KUBE/x"])).toEqual(["/KUBE/x", "/Kube/x"]);
    expect(withCaseReadings(values, ["/p7/x"])).toEqual(["/p7/x", "/P7/x"]);
    expect(withCaseReadings(values, ["/x/AB/y"])).toEqual(["/x/AB/y", "/x/ab/y"]);
    expect(withSuffixReadings(values, ["/kube/x.json"])).toEqual(["/kube/x.json", "/kube/x"]);
  });
  it("tries every pattern on a path that is not all ASCII, and a pattern whose start is not all ASCII on every path", () => {
    // RE2 folds the Kelvin sign as k: `/Kube/` takes the path in no ASCII spelling, so it is refused.
    expect(withCaseReadings(values, ["/\u212aUBE/x"])).toBe(UNSPELT_PATHS);
    // `/\u212aelvin/` takes `/kelvin/x` in no spelling tried (its start is not ASCII): refused, where a lookup by start would skip it.
    expect(withCaseReadings(values, ["/kelvin/x"])).toBe(UNSPELT_PATHS);
    expect(withCaseReadings(values, ["/\u212aelvin/x"])).toEqual(["/\u212aelvin/x"]);
  });
});
