/**
 * Runs the hostile-input catalogue (test/security/cases/*.ts): every case must produce exactly its
 * expected outcome, and a denial must forward nothing. Decision cases call check() directly;
 * wire cases go through the real server over raw sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CATALOGUE } from "./catalogue.ts";
import { createCtx, type Ctx } from "./context.ts";
import { assertOutcome } from "./outcome.ts";

let ctx: Ctx;
beforeAll(async () => {
  ctx = await createCtx();
});
afterAll(() => ctx?.close());

it("has at least 50 named cases with unique ids", () => {
  const ids = CATALOGUE.flatMap((a) => a.cases.map((c) => c.id));
  expect(ids.length).toBeGreaterThanOrEqual(50);
  expect(new Set(ids).size).toBe(ids.length);
});

for (const { area, cases } of CATALOGUE) {
  describe(area, () => {
    for (const c of cases) {
      it(`${c.id}: ${c.title}`, async () => assertOutcome(c.id, c.expect, await c.run(ctx)));
    }
  });
}
