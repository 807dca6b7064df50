/** Pipeline.onSwap: every published snapshot reaches the listeners, right after it replaces the served one. */
import pino from "pino";
import { expect, it } from "vitest";
import { createKeyStore } from "../../controller/keys/store.ts";
import { Pipeline } from "../../controller/runtime/pipeline.ts";
import { createMetrics } from "../../controller/server/metrics.ts";
import type { Snapshot } from "../../controller/snapshot/types.ts";
import { aliceKeyPolicy, gatewayWithRoute } from "../support/manifests.ts";
import { resourcesOf } from "../support/world.ts";

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
