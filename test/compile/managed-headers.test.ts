/**
 * Managed headers per route (issue 12 situation 9): decisions on the golden world
 * testdata/managed-headers-scope.in.yaml, two tenants on two Gateways with one shared upstream.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decider } from "../support/world.ts";

const world = readFileSync(join(import.meta.dirname, "testdata/managed-headers-scope.in.yaml"), "utf8");
const d = decider(world);
const spoofed = { "x-user-id": "admin", "x-team": "root", authorization: "Bearer tenant-b-own-token", cookie: "session=b" };

describe("managed headers are per route's Gateway and upstream", () => {
  it("a tenant's policy strips its header on its own Gateway's open routes", async () => {
    const r = await d({ host: "a.example.com", path: "/open", headers: spoofed });
    expect([r.status, r.removeHeaders]).toEqual([200, ["x-user-id"]]);
  });
  it("another tenant's routes keep that header, and nobody's Authorization or Cookie is stripped", async () => {
    const r = await d({ host: "b.example.com", path: "/open", headers: spoofed });
    expect([r.status, r.removeHeaders]).toEqual([200, ["x-team"]]);
  });
  it("a route to an upstream that receives x-user-id from Portcullis elsewhere strips it, with no policy of its own", async () => {
    expect((await d({ host: "b.example.com", path: "/shared", headers: spoofed })).removeHeaders).toEqual(["x-team", "x-user-id"]);
  });
  it("a rule whose backendRefs cannot be read strips every managed header", async () => {
    expect((await d({ host: "b.example.com", path: "/unreadable", headers: spoofed })).removeHeaders).toEqual(["x-team", "x-user-id"]);
  });
  it("the header a policy sets replaces the client's copy; the others of its scope are removed", async () => {
    const r = await d({ host: "a.example.com", path: "/app", headers: { ...spoofed, "x-api-key": "alice-key" } });
    expect([r.upstreamHeaders, r.removeHeaders]).toEqual([{ "x-user-id": "alice" }, []]);
  });
  it("a policy claiming Authorization is Invalid: its route is denied and nothing of it is managed anywhere", async () => {
    expect((await d({ host: "b.example.com", path: "/denied", headers: { "x-api-key": "bob-key" } })).code).toBe("policy_invalid");
    expect(d.result.snapshot.managedHeaders).toEqual(["x-team", "x-user-id"]);
  });
  it("a policy on a rule whose backendRefs cannot be read still has its headers removed on its Gateway's other routes", async () => {
    const unreadable = decider(
      world.replace("backendRefs: [{name: b-app, port: 8080}]}\n    - {name: open", "backendRefs: [{port: 8080}]}\n    - {name: open"),
    );
    expect((await unreadable({ host: "b.example.com", path: "/open", headers: spoofed })).removeHeaders).toEqual(["x-team"]);
    expect((await unreadable({ host: "b.example.com", path: "/app", headers: { "x-api-key": "bob-key" } })).removeHeaders).toEqual([
      "x-user-id",
    ]);
  });
  it("the entries of one Gateway share one list (a Gateway of 10,000 tenants does not build 10,000)", () => {
    const entries = Object.values(d.result.snapshot.routes.byGateway["infra/b"]![0]!.vhosts.exact).flat();
    const lists = new Set(
      entries.filter((e) => e.rule.includes("open") || e.rule.includes("app") || e.rule.includes("denied")).map((e) => e.managedHeaders),
    );
    expect(lists.size).toBe(1);
  });
  it("a request that matches no route, allowed by --on-no-route allow, strips every managed header (its upstream is unknown)", async () => {
    const open = decider(world, { onNoRoute: "allow" });
    expect((await open({ host: "c.example.com", path: "/", headers: spoofed })).removeHeaders).toEqual(["x-team", "x-user-id"]);
  });
});
