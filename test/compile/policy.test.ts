/** analysePolicy: a SecurityPolicy's spec validated once per spec object, however many rebuilds read it. */
import { describe, expect, it, vi } from "vitest";
import { compile } from "../../controller/compile/index.ts";
import { SecurityPolicySpecSchema } from "../../controller/features/index.ts";
import { ALICE_KEY_AUTH, ALICE_KEYS, gatewayWithRoute, securityPolicy } from "../support/manifests.ts";
import { resourcesOf } from "../support/world.ts";

const options = { controllerName: "portcullis.io/controller", gatewayClasses: [] };

describe("spec validation across rebuilds", () => {
  it("validates an unchanged policy's spec once, and a changed policy (a new object) again", () => {
    const world = `${gatewayWithRoute("api.example.com")}---\n${ALICE_KEYS}---\n${securityPolicy("p", ALICE_KEY_AUTH)}`;
    const resources = resourcesOf(world);
    const parse = vi.spyOn(SecurityPolicySpecSchema, "safeParse");
    try {
      compile(resources, options);
      const first = parse.mock.calls.length;
      compile(resources, options);
      expect([first, parse.mock.calls.length]).toEqual([1, 1]);
      const changed = compile(resourcesOf(world.replace("X-API-Key", "X-Other-Key")), options);
      expect(parse.mock.calls.length).toBe(2);
      expect(changed.statuses[0]!.ancestors[0]!.conditions[0]!.status).toBe("True");
    } finally {
      parse.mockRestore();
    }
  });

  it("keeps reporting an invalid spec on every rebuild", () => {
    const resources = resourcesOf(`${gatewayWithRoute("api.example.com")}---\n${securityPolicy("p", { apiKeyAuth: { extractFrom: [] } })}`);
    const reasons = [compile(resources, options), compile(resources, options)].map(
      (r) => r.statuses[0]!.ancestors[0]!.conditions.find((c) => c.type === "Accepted")!,
    );
    expect(reasons[0]!.reason).toBe("Invalid");
    expect(reasons[1]).toEqual(reasons[0]);
  });
});
