/**
 * lastTransitionTime: stamped by the status writer only, when a condition's status flips.
 * compile() leaves it out (it has no clock); this is the one place that adds it.
 */
import { ancestorKey, type AncestorStatus } from "../api/status.ts";

export function stampTransitions(next: readonly AncestorStatus[], previous: readonly AncestorStatus[], now: string): AncestorStatus[] {
  const before = new Map(previous.map((a) => [ancestorKey(a.ancestorRef), a]));
  return next.map((ancestor) => {
    const old = before.get(ancestorKey(ancestor.ancestorRef));
    return {
      ...ancestor,
      conditions: ancestor.conditions.map((c) => {
        const prior = old?.conditions.find((p) => p.type === c.type);
        const unchanged = prior !== undefined && prior.status === c.status && prior.lastTransitionTime !== undefined;
        return { ...c, lastTransitionTime: unchanged ? prior.lastTransitionTime : now };
      }),
    };
  });
}
