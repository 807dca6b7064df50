/**
 * DESIGN §0: where a request can be read several ways and the readings lead to different
 * decisions, Portcullis allows only if every reading allows.
 */
import type { Decision } from "./decision.ts";
import type { MaybePromise } from "./maybe-async.ts";

/**
 * One decision from the decisions of every reading (at least one), in reading order: the first
 * denial when any reading denies, else the first allow. `why` says, for the audit log, what the
 * readings were; it becomes the denial's `detail`, which is never sent to the client.
 */
export function everyReadingAllows(decisions: readonly MaybePromise<Decision>[], why: string): MaybePromise<Decision> {
  if (decisions.some((d) => d instanceof Promise)) return Promise.all(decisions).then((all) => combine(all, why));
  return combine(decisions as readonly Decision[], why);
}

function combine(decisions: readonly Decision[], why: string): Decision {
  const denial = decisions.find((d) => !d.allowed);
  if (denial === undefined) return decisions[0]!;
  return { ...denial, detail: denial.detail === undefined ? why : `${denial.detail}; ${why}` };
}
