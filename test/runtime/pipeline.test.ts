/** Pipeline.onSwap: every published snapshot reaches the listeners, right after it replaces the served one. */
import pino from "pino";
import { expect, it } from "vitest";
import { createKeyStore } from "../../controller/keys/store.ts";
import { headersDecisionsRead, Pipeline, rulesWithoutPolicy } from "../../controller/runtime/pipeline.ts";
import { createMetrics } from "../../controller/server/metrics.ts";
import type { Snapshot } from "../../controller/snapshot/types.ts";
import { aliceKeyPolicy, GATEWAY, gatewayWithRoute, policiesOnRules } from "../support/manifests.ts";
import { decider, resourcesOf } from "../support/world.ts";

it("calls each swap listener with every new snapshot, and a late listener at once with the served one", async () => {
  const logger = pino({ level: "silent" });
  const keys = createKeyStore({ logger });
  const pipeline = new Pipeline({
    compile: { controllerName: "portcullis.io/controller", gatewayClasses: [] },
    keys,
    logger,
    metrics: createMetrics(),
  });
  const seen: Snapshot[] = [];
  pipeline.onSwap((snapshot) => {
    // The listener runs once the snapshot is the one served.
    expect(pipeline.current?.snapshot).toBe(snapshot);
    seen.push(snapshot);
  });
  await pipeline.update(() => resourcesOf(gatewayWithRoute("api.example.com")));
  await pipeline.update(() => resourcesOf(`${gatewayWithRoute("api.example.com")}---\n${aliceKeyPolicy("keys")}`));
  expect(seen).toHaveLength(2);
  expect(Object.keys(seen[1]!.policies)).toEqual(["apps/keys"]);

  const late: Snapshot[] = [];
  pipeline.onSwap((snapshot) => late.push(snapshot));
  expect(late).toEqual([seen[1]]);
  keys.close();
});

it("counts a rule with only an HTTPRoute CORS filter as a rule without a policy (portcullis_route_rules_without_policy)", () => {
  const world = `${GATEWAY}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  rules: [{filters: [{type: CORS, cors: {allowOrigins: ["https://app.example.com"]}}]}]
`;
  expect(rulesWithoutPolicy(decider(world).result.snapshot)).toBe(1);
});

it("names the headers route matches and authorization rules read, which a proxy sending only some headers to its check must send", () => {
  const world = policiesOnRules("api.example.com", {
    gold: { path: "{path: {value: /api}, headers: [{name: X-Tier, value: gold}], method: GET}" },
    api: {
      path: "/api",
      features:
        "authorization: {defaultAction: Allow, rules: [{action: Deny, principal: {headers: [{name: x-role, values: [admin]}]}}, {action: Deny, cel: \"request.headers['x-team'] == 'red' && request.host == 'h'\"}]}",
    },
  });
  expect(headersDecisionsRead(decider(world).result.snapshot)).toEqual({ headersRead: ["x-role", "x-team", "x-tier"] });
  const anyHeader = policiesOnRules("api.example.com", {
    api: {
      path: "/api",
      features: "authorization: {defaultAction: Allow, rules: [{action: Deny, cel: \"cel.bind(h, request.headers, h['x-a'] == 'b')\"}]}",
    },
  });
  expect(headersDecisionsRead(decider(anyHeader).result.snapshot)).toEqual({ headersRead: [], anyHeaderRead: true });
});
