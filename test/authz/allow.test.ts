import { describe, expect, it } from "vitest";
import { allowOne, allowPassed, ANONYMOUS, memoizedAllow } from "../../controller/authz/allow.ts";
import { CheckMemo } from "../../controller/authz/check-memo.ts";
import type { Pass } from "../../controller/features/feature.ts";
import type { CompiledPolicy, RouteEntry } from "../../controller/snapshot/types.ts";

const policy: CompiledPolicy = { id: "apps/p", invalid: undefined, features: [], managedHeaders: ["x-user-id", "x-user-group"] };
const entry: RouteEntry = {
  gateway: "apps/gw",
  listener: "http",
  port: 80,
  kind: "HTTPRoute",
  route: "apps/r",
  rule: "apps/r rule 0",
  match: { path: { type: "PathPrefix", value: "" }, headers: [], queryParams: [] },
  policy,
  origin: undefined,
  managedHeaders: ["x-user-group", "x-user-id"],
};
const where = { route: entry.rule, policy: policy.id };
const identity = (headers: Record<string, string>, more: Partial<Pass> = {}): Pass => ({
  principal: "apiKey alice",
  headers,
  strip: [],
  attributes: {},
  ...more,
});

describe("allowPassed: the allow once every phase passed", () => {
  it("sets the identity's headers upstream and removes every other managed header", () => {
    const d = allowPassed(entry, policy, where, [identity({ "x-user-id": "alice" })], new CheckMemo());
    expect([d.allowed, d.status, d.principal, d.upstreamHeaders, d.removeHeaders]).toEqual([
      true,
      200,
      "apiKey alice",
      { "x-user-id": "alice" },
      ["x-user-group"],
    ]);
  });

  it("answers an identity again with the very decision it remembered, frozen; a per-request identity never", () => {
    const memo = new CheckMemo();
    const alice = identity({ "x-user-id": "alice" });
    const first = allowOne(entry, policy, where, alice, memo);
    expect(allowPassed(entry, policy, where, [alice], memo)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    const once = identity({ "x-user-id": "bob" }, { perRequest: true });
    const a = allowOne(entry, policy, where, once, memo);
    expect(allowOne(entry, policy, where, once, memo)).not.toBe(a);
    expect(Object.isFrozen(a)).toBe(false);
    expect(a.upstreamHeaders).toEqual({ "x-user-id": "bob" });
  });

  it("merges the identities of several phases in phase order, their strips sorted into what is removed", () => {
    const d = allowPassed(
      entry,
      policy,
      where,
      [identity({ "x-user-id": "alice" }, { strip: ["x-api-key"] }), identity({ "x-user-id": "bob" }, { principal: "jwt idp" })],
      new CheckMemo(),
    );
    expect([d.upstreamHeaders, d.removeHeaders, d.principal]).toEqual([
      { "x-user-id": "bob" },
      ["x-api-key", "x-user-group"],
      "apiKey alice, jwt idp",
    ]);
  });

  it("passes an identity's response headers to the client (an allow not remembered: it is built from them)", () => {
    const memo = new CheckMemo();
    const cors = identity({}, { responseHeaders: { "access-control-allow-origin": "https://app.example.com" } });
    const d = allowOne(entry, policy, where, cors, memo);
    expect(d.responseHeaders).toEqual({ "access-control-allow-origin": "https://app.example.com" });
    expect(memo.rememberedAllows).toBe(0);
  });

  it.each([
    ["a control character", "ali\u0001ce", "has a control character or leading or trailing whitespace"],
    ["a leading space", " alice", "has a control character or leading or trailing whitespace"],
    ["a trailing tab", "alice\t", "has a control character or leading or trailing whitespace"],
    ["8,193 bytes", "a".repeat(8193), "is longer than 8192 bytes"],
  ])("refuses (403) a value to set upstream with %s, which servers would read otherwise", (_, value, problem) => {
    const d = allowOne(entry, policy, where, identity({ "x-user-id": value }), new CheckMemo());
    expect([d.allowed, d.status, d.code, d.route, d.policy]).toEqual([false, 403, "identity_unforwardable", entry.rule, policy.id]);
    expect(d.message).toContain(problem);
  });
});

describe("memoizedAllow: the anonymous allow where no route or no policy applies", () => {
  it("removes every managed header, says why nothing was required, and is remembered per entry", () => {
    const memo = new CheckMemo();
    const none = memoizedAllow(memo, ANONYMOUS, undefined, ["x-user-id"], undefined);
    expect([none.allowed, none.message, none.removeHeaders, none.route]).toEqual([true, "no policy applies", ["x-user-id"], undefined]);
    expect(memoizedAllow(memo, ANONYMOUS, undefined, ["x-user-id"], undefined)).toBe(none);
    const onEntry = memoizedAllow(memo, ANONYMOUS, entry, entry.managedHeaders, policy);
    expect([onEntry.message, onEntry.route]).toEqual(["no credential required", entry.rule]);
    expect(onEntry).not.toBe(none);
  });
});
