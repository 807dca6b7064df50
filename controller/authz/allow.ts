/**
 * Phase 3 of check(), the response once every phase passed: the allow that sets the identities'
 * headers upstream and removes every other managed header (and what a phase strips), remembered per
 * identity and route entry where it is always the same (check-memo.ts), or a 403 when a value to
 * set would not reach the upstream as it is.
 */
import { Buffer } from "node:buffer"; // not the global Buffer: a getter, about 17 ns a use (Node 24)
import { NOTHING, type Pass, type Where } from "../features/feature.ts";
import type { CompiledPolicy, RouteEntry } from "../snapshot/types.ts";
import type { CheckMemo } from "./check-memo.ts";
import { deny, type Decision } from "./decision.ts";

/** The allow once every phase passed, `passed` the identities they gave in phase order; `memo` remembers it where it is always the same. */
export function allowPassed(entry: RouteEntry, policy: CompiledPolicy, where: Where, passed: readonly Pass[], memo: CheckMemo): Decision {
  if (passed.length <= 1) return allowOne(entry, policy, where, passed[0] ?? ANONYMOUS, memo);
  return allowEvery(entry, policy, where, passed);
}

/** allowPassed where at most one phase gave an identity (`identity`; else ANONYMOUS). */
export function allowOne(entry: RouteEntry, policy: CompiledPolicy, where: Where, identity: Pass, memo: CheckMemo): Decision {
  if (identity.responseHeaders !== undefined) return allowEvery(entry, policy, where, [identity]);
  // Without response headers, one identity's answer on one rule is always the same.
  if (identity.perRequest !== true) return memoizedAllow(memo, identity, entry, entry.managedHeaders, policy);
  // An identity made for one request (a token's first sight) is not kept: its allow is built from it, nothing copied.
  return allow(where.route, entry.managedHeaders, policy, identity.strip, identity.headers, identity.principal);
}

/** The allow from every identity passed (their headers merged in phase order, response headers too). */
function allowEvery(entry: RouteEntry, policy: CompiledPolicy, where: Where, passed: readonly Pass[]): Decision {
  const headers: Record<string, string> = {};
  const responseHeaders: Record<string, string> = {};
  for (const r of passed) {
    Object.assign(headers, r.headers);
    if (r.responseHeaders !== undefined) Object.assign(responseHeaders, r.responseHeaders);
  }
  const principals = passed.flatMap((r) => (r.principal === undefined ? [] : [r.principal]));
  return allow(
    where.route,
    entry.managedHeaders,
    policy,
    passed.flatMap((r) => r.strip),
    headers,
    principals.length === 0 ? undefined : principals.join(", "),
    responseHeaders,
  );
}

/** The identity of a request no identity phase looked at. */
export const ANONYMOUS: Pass = NOTHING.value;

/** An allow on `entry` (undefined: no route matched) that removes `managed`, built once per identity and entry. */
export function memoizedAllow(
  memo: CheckMemo,
  identity: Pass,
  entry: RouteEntry | undefined,
  managed: readonly string[],
  policy: CompiledPolicy | undefined,
): Decision {
  const known = memo.allow(identity, entry);
  if (known !== undefined) return known;
  return memo.rememberAllow(identity, entry, allow(entry?.rule, managed, policy, identity.strip, identity.headers, identity.principal));
}

/**
 * A field value every HTTP parser reads as written (RFC 9110 §5.5): no control character, no
 * leading or trailing space or tab (which parsers strip, so " admin " would arrive as "admin"),
 * and no longer than the 8 KiB line common servers accept (nginx's default buffer).
 */
const FAITHFUL_VALUE = /^(?:[^\x00-\x20\x7f](?:[^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?)?$/;
const MAX_VALUE_BYTES = 8192;

/**
 * The allow, or a 403 when a value to set upstream would not be read as it is (never forwarded
 * altered, never dropped silently). `principal`: the identities' principals joined with ", ".
 */
function allow(
  route: string | undefined,
  managed: readonly string[],
  policy: CompiledPolicy | undefined,
  strip: readonly string[],
  headers: Record<string, string>,
  principal: string | undefined,
  responseHeaders: Readonly<Record<string, string>> = NO_HEADERS,
): Decision {
  for (const name in headers) {
    const value = headers[name]!;
    const problem = !FAITHFUL_VALUE.test(value)
      ? "has a control character or leading or trailing whitespace"
      : Buffer.byteLength(value) > MAX_VALUE_BYTES
        ? `is longer than ${MAX_VALUE_BYTES} bytes`
        : undefined;
    if (problem !== undefined) {
      return deny(403, "identity_unforwardable", `the value to set as ${name} ${problem}, which HTTP servers read differently or refuse`, {
        route,
        policy: policy?.id,
      });
    }
  }
  // A header we set replaces the client's copy; every other managed header is removed.
  const remove = strip.length === 0 ? notSetIn(headers, managed) : notSetIn(headers, [...new Set([...managed, ...strip])].sort());
  return {
    allowed: true,
    status: 200,
    code: "allowed",
    route,
    policy: policy?.id,
    message:
      principal !== undefined ? `authenticated as ${principal}` : policy === undefined ? "no policy applies" : "no credential required",
    principal,
    upstreamHeaders: headers,
    removeHeaders: remove,
    responseHeaders,
  };
}

/**
 * The names of `names` that `headers` does not set, in order: a list of its exact length, or one
 * shared empty list when `headers` sets them all (a token's claims usually do). Index loops: no
 * closure or iterator per decision.
 */
function notSetIn(headers: Record<string, string>, names: readonly string[]): readonly string[] {
  let count = 0;
  for (let i = 0; i < names.length; i++) if (!Object.hasOwn(headers, names[i]!)) count++;
  if (count === 0) return NOTHING_REMOVED;
  const out = new Array<string>(count);
  for (let i = 0, at = 0; i < names.length; i++) if (!Object.hasOwn(headers, names[i]!)) out[at++] = names[i]!;
  return out;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const NOTHING_REMOVED: readonly string[] = Object.freeze([]);
