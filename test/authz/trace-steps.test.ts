/**
 * What check() writes into a trace (controller/authz/trace-steps.ts): the facts of the request, the
 * policy, each phase and the decision, by name only. A trace is shown on the admin page and in debug
 * logs, so no credential, query value or header value may ever reach it.
 */
import { describe, expect, it } from "vitest";
import type { CheckContext } from "../../controller/authz/context.ts";
import { deny, type Decision } from "../../controller/authz/decision.ts";
import { phaseOutcome, policyFacts, requestFacts, withDecision } from "../../controller/authz/trace-steps.ts";
import { Trace } from "../../controller/authz/trace.ts";
import { NOTHING } from "../../controller/features/feature.ts";
import type { RouteEntry } from "../../controller/snapshot/types.ts";

const SECRET = "s3cr3t-value";

describe("requestFacts", () => {
  it("names query parameters and headers, once each and sorted, without their values", () => {
    const facts = requestFacts({
      method: "GET",
      scheme: "https",
      host: "api.example.com",
      path: `/v1/items?api_key=${SECRET}&page=2&api_key=${SECRET}`,
      headers: { "x-api-key": SECRET, authorization: `Bearer ${SECRET}`, accept: "*/*" },
      gateway: "apps/gw",
      port: 443,
    });
    expect(facts).toEqual({
      method: "GET",
      host: "api.example.com",
      path: "/v1/items",
      queryParameters: ["api_key", "page"],
      headers: ["accept", "authorization", "x-api-key"],
      gateway: "apps/gw",
      port: 443,
    });
    expect(JSON.stringify(facts)).not.toContain(SECRET);
  });

  it("leaves out what the proxy did not state", () => {
    const facts = requestFacts({ method: "GET", scheme: "http", host: "h", path: "/", headers: {}, gateway: undefined });
    expect(facts).toEqual({ method: "GET", host: "h", path: "/", queryParameters: [], headers: [] });
  });
});

describe("phaseOutcome", () => {
  it("gives a denial's code, status and reason", () => {
    const outcome = phaseOutcome({ ok: false, error: deny(401, "apikey_invalid", "the API key is not valid", {}) });
    expect(outcome).toEqual({ result: "deny", code: "apikey_invalid", status: 401, reason: "the API key is not valid" });
  });

  it("gives a pass the names of the headers it sets, strips and answers with, never their values", () => {
    const outcome = phaseOutcome({
      ok: true,
      value: {
        principal: "apiKey alice",
        headers: { "x-client-id": SECRET },
        strip: ["x-api-key"],
        attributes: {},
        responseHeaders: { "set-cookie": SECRET },
      },
    });
    expect(outcome).toEqual({
      result: "pass",
      principal: "apiKey alice",
      sets: ["x-client-id"],
      strips: ["x-api-key"],
      responseHeaders: ["set-cookie"],
    });
    expect(phaseOutcome(NOTHING)).toEqual({ result: "pass" });
  });
});

describe("policyFacts", () => {
  const ctx = { onNoPolicy: "deny" } as CheckContext;
  const entry = (over: Partial<RouteEntry>): RouteEntry =>
    ({ rule: "apps/api rule 0", policy: undefined, origin: undefined, ...over }) as RouteEntry;

  it("says why there is no policy and what the flag then does", () => {
    expect(policyFacts(entry({}), ctx)).toEqual({
      policy: null,
      because: "no SecurityPolicy governs apps/api rule 0: --on-no-policy deny",
    });
  });

  it("gives the policy, the level and target that won, and its phases or why it is invalid", () => {
    const origin = { level: "route", target: "HTTPRoute apps/api", overrides: ["apps/gw-wide (Gateway apps/gw)"], merged: undefined };
    const features = [{ feature: { field: "jwt" } }, { feature: { field: "authorization" } }];
    const valid = entry({ policy: { id: "apps/p", features } as never, origin });
    expect(policyFacts(valid, ctx)).toEqual({
      policy: "apps/p",
      level: "route",
      target: "HTTPRoute apps/api",
      overrides: ["apps/gw-wide (Gateway apps/gw)"],
      phases: ["jwt", "authorization"],
    });
    const invalid = entry({ policy: { id: "apps/p", features, invalid: "the Secret apps/keys is missing" } as never, origin: undefined });
    expect(policyFacts(invalid, ctx)).toEqual({ policy: "apps/p", invalid: "the Secret apps/keys is missing" });
  });
});

describe("withDecision", () => {
  it("ends the trace with the decision and the names of the headers it sets, removes and answers with", () => {
    const trace = new Trace();
    const decision: Decision = {
      allowed: true,
      status: 200,
      code: "allowed",
      message: "allowed",
      route: "apps/api rule 0",
      policy: "apps/p",
      principal: "apiKey alice",
      upstreamHeaders: { "x-client-id": SECRET },
      removeHeaders: ["x-api-key"],
      responseHeaders: { "access-control-allow-origin": SECRET },
    };
    const explained = withDecision(trace, decision);
    expect(explained.decision).toBe(decision);
    expect(trace.steps.at(-1)).toEqual({
      phase: "decision",
      allowed: true,
      status: 200,
      code: "allowed",
      reason: "allowed",
      route: "apps/api rule 0",
      policy: "apps/p",
      principal: "apiKey alice",
      setsUpstream: ["x-client-id"],
      removesUpstream: ["x-api-key"],
      responseHeaders: ["access-control-allow-origin"],
    });
    expect(JSON.stringify(trace.steps)).not.toContain(SECRET);
  });
});
