/** CheckMemo's allow decisions: bounded by the heap their identities hold, not by their number. */
import { describe, expect, it } from "vitest";
import { CheckMemo } from "../../controller/authz/check-memo.ts";
import type { Decision } from "../../controller/authz/decision.ts";
import type { Pass } from "../../controller/features/feature.ts";
import { heapHeldBy } from "../support/heap.ts";

/** A token identity whose claims hold about 16 KiB (200 group names of its own). */
function identity(i: number): Pass {
  const claims = {
    sub: `user-${i}`,
    groups: Array.from({ length: 200 }, (_, g) => `engineering-group-${g}-of-user-${i}-`.padEnd(64, "x")),
  };
  return {
    principal: `jwt idp sub=user-${i}`,
    headers: { "x-user-id": `user-${i}` },
    strip: [],
    attributes: { jwt: { provider: "idp", claims } },
  };
}
const decision = { allowed: true, status: 200 } as Decision;

describe("CheckMemo", () => {
  it("keeps allow decisions within 32 MiB of estimated heap: the oldest identities (and the claims they hold) go first", () => {
    const count = 4000; // about 64 MiB of claims
    const { bytes: held, value: memo } = heapHeldBy(() => {
      const m = new CheckMemo();
      const identities = Array.from({ length: count }, (_, i) => identity(i));
      for (const id of identities) m.rememberAllow(id, undefined, decision);
      return { memo: m, first: identities[0]!, last: identities.at(-1)! };
    });
    expect(memo.memo.allow(memo.last, undefined)).toBe(decision);
    expect(memo.memo.allow(memo.first, undefined)).toBeUndefined();
    expect(memo.memo.rememberedAllows).toBeLessThan(count / 2);
    expect(held).toBeLessThanOrEqual(32 * 1024 * 1024);
  });
});
