/** Pipeline: every published snapshot reaches the swap listeners, right after it replaces the served one; an unchanged input is not published again. */
import pino from "pino";
import { expect, it } from "vitest";
import { createKeyStore } from "../../controller/keys/store.ts";
import { headersDecisionsRead } from "../../controller/authz/headers-read.ts";
import { Pipeline, rulesWithoutPolicy, sameInput } from "../../controller/runtime/pipeline.ts";
import { createMetrics } from "../../controller/server/metrics.ts";
import type { Snapshot } from "../../controller/snapshot/types.ts";
import { aliceKeyPolicy, base64, GATEWAY, gatewayWithRoute, policiesOnRules } from "../support/manifests.ts";
import { decider, resourcesOf } from "../support/world.ts";

/** A pipeline that logs nothing, and its key store (to close). */
function silentPipeline(): { pipeline: Pipeline; keys: ReturnType<typeof createKeyStore> } {
  const logger = pino({ level: "silent" });
  const keys = createKeyStore({ logger });
  const compile = { controllerName: "portcullis.io/controller", gatewayClasses: [] };
  return { pipeline: new Pipeline({ compile, keys, logger, metrics: createMetrics() }), keys };
}

it("calls each swap listener with every new snapshot, and a late listener at once with the served one", async () => {
  const { pipeline, keys } = silentPipeline();
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

it("publishes again only when the input differs from the one served: the same objects, or equal ones read anew, publish nothing", async () => {
  const { pipeline, keys } = silentPipeline();
  const world = `${gatewayWithRoute("api.example.com")}---\n${aliceKeyPolicy("keys")}`;
  const first = resourcesOf(world);
  await pipeline.update(() => first);
  expect(pipeline.current?.generation).toBe(1);
  await pipeline.update(() => first);
  await pipeline.update(() => ({ ...first, secrets: [...first.secrets] }));
  // Every object new and equal, as a manifest folder read again hands them over.
  await pipeline.update(() => resourcesOf(world));
  expect(pipeline.current?.generation).toBe(1);
  // Only a Secret's value changed: its digest differs.
  await pipeline.update(() => resourcesOf(world.replace(base64("alice-key"), base64("alice-key-2"))));
  expect(pipeline.current?.generation).toBe(2);
  await pipeline.recompile();
  expect(pipeline.current?.generation).toBe(3);
  keys.close();
});

it("sameInput: the same objects, or objects of the same JSON, kind by kind and in order", () => {
  const world = `${gatewayWithRoute("api.example.com")}---\n${aliceKeyPolicy("keys")}`;
  const a = resourcesOf(world);
  expect(sameInput(a, a)).toBe(true);
  expect(sameInput(a, resourcesOf(world))).toBe(true);
  expect(sameInput(a, resourcesOf(world.replace(base64("alice-key"), base64("alice-key-2"))))).toBe(false);
  expect(sameInput(a, { ...a, securityPolicies: [] })).toBe(false);
  expect(sameInput(a, { ...a, httpRoutes: [...a.httpRoutes].reverse().concat(a.httpRoutes) })).toBe(false);
  // The same objects under another kind are another input.
  expect(sameInput({ ...a, secrets: [], configMaps: a.secrets as never[] }, { ...a, secrets: a.secrets, configMaps: [] })).toBe(false);
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

/** How many compiles `metrics` observed (portcullis_compile_duration_seconds_count). */
async function compiles(metrics: ReturnType<typeof createMetrics>): Promise<number> {
  const { values } = await metrics.compileDuration.get();
  return values.find((v) => v.metricName === "portcullis_compile_duration_seconds_count")?.value ?? 0;
}

it("compiles once before its first publish when the source holds referenced Secrets only once asked (Kubernetes mode)", async () => {
  const logger = pino({ level: "silent" });
  const keys = createKeyStore({ logger });
  const metrics = createMetrics();
  const world = resourcesOf(`${gatewayWithRoute("api.example.com")}---\n${aliceKeyPolicy("keys")}`);
  // As the Kubernetes source: no Secret held until loadReferences names it.
  let held = new Set<string>();
  const asked: string[][] = [];
  const loadReferences = async (references: { secrets: readonly string[] }) => {
    asked.push([...references.secrets]);
    const before = held;
    held = new Set(references.secrets);
    return [...held].some((k) => !before.has(k)) || [...before].some((k) => !held.has(k));
  };
  const read = () => ({ ...world, secrets: world.secrets.filter((s) => held.has(`${s.metadata.namespace}/${s.metadata.name}`)) });
  const compile = { controllerName: "portcullis.io/controller", gatewayClasses: [] };
  const pipeline = new Pipeline({ compile, keys, logger, metrics, loadReferences });
  await pipeline.update(read);
  expect(asked).toEqual([["apps/keys"], ["apps/keys"]]);
  expect(await compiles(metrics)).toBe(1);
  const [status] = pipeline.current!.statuses;
  expect(status!.ancestors[0]!.conditions.find((c) => c.type === "Accepted")).toMatchObject({ status: "True" });
  keys.close();
});
