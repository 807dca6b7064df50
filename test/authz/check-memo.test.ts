/** CheckMemo's allow decisions: bounded by the heap their identities hold, not by their number. */
import { randomBytes } from "node:crypto";
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
/** A realistic new-token allow: 2 KB of claim headers of its own. */
const allowOf = (i: number): Decision =>
  ({
    allowed: true,
    status: 200,
    code: "allowed",
    message: "allowed",
    route: `tenant-${i}/route rule 0`,
    policy: `tenant-${i}/policy`,
    principal: `jwt idp sub=user-${i}`,
    upstreamHeaders: { "x-user-id": `user-${i}`, "x-groups": randomBytes(1000).toString("hex") },
    removeHeaders: [],
    responseHeaders: {},
  }) as unknown as Decision;
/** Renders as the Envoy port does: a copy of the headers and their lines. */
const render = (d: Decision) => ({
  status: 200,
  headers: { ...d.upstreamHeaders },
  body: "",
  rawHeaders: Object.entries(d.upstreamHeaders).flat(),
});

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
  it("keeps wire renderings of remembered allows within 16 MiB of measured heap: the oldest go first (issue 17)", () => {
    const count = 20_000; // about 90 MiB of decisions and renderings
    const identities = Array.from({ length: 8 }, (_, i) => identity(i));
    const { bytes: held, value } = heapHeldBy(() => {
      const m = new CheckMemo();
      // Each identity's latest allow stays remembered; the earlier ones live on only through their renderings.
      const decisions = Array.from({ length: count }, (_, i) => m.rememberAllow(identities[i % 8]!, undefined, allowOf(i)));
      const renderings = decisions.map((d) => m.rendered(d, render));
      return { memo: m, first: decisions[0]!, firstRendering: renderings[0], last: decisions.at(-1)!, lastRendering: renderings.at(-1) };
    });
    expect(value.memo.rendered(value.last, render)).toBe(value.lastRendering);
    expect(value.memo.rendered(value.first, render)).not.toBe(value.firstRendering);
    expect(held).toBeLessThanOrEqual(16 * 1024 * 1024);
  });
  it("keeps no rendering of an allow it does not remember (a token's first sight): rendered each time, nothing held (issue 17)", () => {
    const { bytes: held, value } = heapHeldBy(() => {
      const m = new CheckMemo();
      const once = allowOf(0);
      const renderings = Array.from({ length: 2000 }, (_, i) => m.rendered(allowOf(i), render));
      return { memo: m, once, renderings: renderings.length };
    });
    const first = value.memo.rendered(value.once, render);
    expect(value.memo.rendered(value.once, render)).not.toBe(first);
    expect(value.memo.rendered(value.once, render)).toEqual(first);
    // 2,000 renderings of 2 KB each went through; what the memo holds is its own few maps.
    expect(held).toBeLessThan(64 * 1024);
  });
});
