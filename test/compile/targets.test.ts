/** The "did you mean" suffix of TargetNotFound messages. */
import { describe, expect, it } from "vitest";
import { didYouMean } from "../../controller/compile/targets.ts";

describe("didYouMean", () => {
  it("names the closest candidate within two edits", () => {
    expect(didYouMean("shpo", ["shop", "orders", "shopping"])).toBe(' (did you mean "shop"?)');
    expect(didYouMean("maas-gatway", ["maas-gateway", "other"])).toBe(' (did you mean "maas-gateway"?)');
  });
  it("suggests nothing for a name unlike every candidate, or too short to tell a typo from another name", () => {
    expect(didYouMean("payments", ["shop", "orders"])).toBe("");
    expect(didYouMean("a", ["b"])).toBe("");
    expect(didYouMean("abc", ["xyz"])).toBe("");
    expect(didYouMean("anything", [])).toBe("");
  });
  it("prefers the nearer candidate, then the first in byte order", () => {
    expect(didYouMean("gatewy", ["gateways", "gateway"])).toBe(' (did you mean "gateway"?)');
    expect(didYouMean("abcd", ["abce", "abcf"])).toBe(' (did you mean "abce"?)');
  });
});
