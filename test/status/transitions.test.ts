import { expect, it } from "vitest";
import type { AncestorStatus } from "../../controller/api/status.ts";
import { stampTransitions } from "../../controller/status/transitions.ts";

const ancestor = (status: "True" | "False", time?: string): AncestorStatus => ({
  ancestorRef: { group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "a", name: "gw" },
  controllerName: "c",
  conditions: [{ type: "Accepted", status, reason: status === "True" ? "Accepted" : "Invalid", message: "m", lastTransitionTime: time }],
});

it("keeps lastTransitionTime while the status holds and stamps it when it flips", () => {
  expect(stampTransitions([ancestor("True")], [], "T1")[0]!.conditions[0]!.lastTransitionTime).toBe("T1");
  expect(stampTransitions([ancestor("True")], [ancestor("True", "T0")], "T1")[0]!.conditions[0]!.lastTransitionTime).toBe("T0");
  expect(stampTransitions([ancestor("False")], [ancestor("True", "T0")], "T1")[0]!.conditions[0]!.lastTransitionTime).toBe("T1");
});
