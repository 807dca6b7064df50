/**
 * DESIGN §0: where a request can be read several ways and the readings lead to different
 * decisions, Portcullis allows only if every reading allows.
 */
import { deny, type Decision } from "./decision.ts";
import type { MaybePromise } from "./maybe-async.ts";

/**
 * One decision from the decisions of every reading (at least one), in reading order: the first
 * denial when any reading denies, else the one allow every reading agrees on (agreedAllow).
 * `readings` says, for the audit log, what the readings were; it becomes the answer's `detail`,
 * which is never sent to the client.
 */
export function everyReadingAllows(decisions: readonly MaybePromise<Decision>[], readings: string): MaybePromise<Decision> {
  if (decisions.some((d) => d instanceof Promise)) return Promise.all(decisions).then((all) => combine(all, readings));
  return combine(decisions as readonly Decision[], readings);
}

function combine(decisions: readonly Decision[], readings: string): Decision {
  const denial = decisions.find((d) => !d.allowed);
  if (denial === undefined) return agreedAllow(decisions, readings);
  const why = `${readings}, and not every reading is allowed`;
  return { ...denial, detail: denial.detail === undefined ? why : `${denial.detail}; ${why}` };
}

/**
 * The allow of readings that all allow. The upstream receives one request and acts on it as one of
 * the readings, which one Portcullis cannot know, so it receives no identity some reading did not
 * establish: a header goes upstream only when every reading sets it, to the same value, and is
 * removed otherwise (a reading without that identity lets the request through without it, as an
 * open route does); two readings that set one header to different values (an API key that is
 * alice's under one policy and partner-bob's under another) name two identities, and the request is
 * refused (403 `identity_unforwardable`). Every header any reading removes is removed; the response
 * headers kept are those every reading sends alike (a CORS grant one reading lacks is not given).
 * The first allow as it is when nothing differs (memoised allows stay shared).
 */
function agreedAllow(allows: readonly Decision[], readings: string): Decision {
  const first = allows[0]!;
  if (allows.every((a) => a === first)) return first;
  const sets = allows.map((a) => a.upstreamHeaders);
  const conflicting = [...new Set(sets.flatMap((s) => Object.keys(s)))].filter((name) => new Set(valuesOf(sets, name)).size > 1).sort();
  if (conflicting.length > 0) {
    return {
      ...deny(
        403,
        "identity_unforwardable",
        `the readings of the request would set ${conflicting.join(", ")} upstream to different values`,
        first,
      ),
      detail: `${readings}, and each reading is allowed with another identity upstream`,
    };
  }
  const upstreamHeaders = commonEntries(sets);
  const dropped = sets.flatMap((s) => Object.keys(s)).filter((name) => !Object.hasOwn(upstreamHeaders, name));
  const removeHeaders = [...new Set([...allows.flatMap((a) => a.removeHeaders), ...dropped])];
  const responseHeaders = commonEntries(allows.map((a) => a.responseHeaders));
  if (
    Object.keys(upstreamHeaders).length === Object.keys(first.upstreamHeaders).length &&
    removeHeaders.length === first.removeHeaders.length &&
    Object.keys(responseHeaders).length === Object.keys(first.responseHeaders).length
  )
    return first;
  return { ...first, upstreamHeaders, removeHeaders, responseHeaders };
}

/** The values the records that hold `name` hold for it. */
function valuesOf(records: readonly Readonly<Record<string, string>>[], name: string): string[] {
  return records.flatMap((r) => (Object.hasOwn(r, name) ? [r[name]!] : []));
}

/** The entries every one of `records` holds with the same value. */
function commonEntries(records: readonly Readonly<Record<string, string>>[]): Record<string, string> {
  const common: Record<string, string> = {};
  for (const [name, value] of Object.entries(records[0]!))
    if (records.every((r) => Object.hasOwn(r, name) && r[name] === value)) common[name] = value;
  return common;
}
