/** The conditions of one ancestor (controller/compile/conditions.ts); the statuses compile gives are tested in status.test.ts. */
import { describe, expect, it } from "vitest";
import { deprecationOf } from "../../controller/compile/conditions.ts";

describe("deprecationOf", () => {
  it("names every deprecated field Envoy Gateway lists, sorted and joined with '; '", () => {
    expect(deprecationOf({ targetRef: {}, extAuth: { http: { backendRef: {} }, grpc: { backendRef: {} } } })).toBe(
      "spec.extAuth.grpc.backendRef is deprecated, use spec.extAuth.grpc.backendRefs instead; " +
        "spec.extAuth.http.backendRef is deprecated, use spec.extAuth.http.backendRefs instead; " +
        "spec.targetRef is deprecated, use spec.targetRefs instead",
    );
    expect(deprecationOf({ targetRefs: [] })).toBeUndefined();
    expect(deprecationOf("not a spec")).toBeUndefined();
  });
});
