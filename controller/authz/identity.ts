/** What an identity phase hands on: who passed, and what to set and strip upstream. */
import type { Decision } from "./decision.ts";

export interface IdentityResult {
  readonly principal: string | undefined;
  /** Headers to set on the upstream request. */
  readonly headers: Readonly<Record<string, string>>;
  /** Credential headers to strip (sanitize). */
  readonly strip: readonly string[];
}

/** A phase either passes with an identity or ends the check with a denial. */
export type PhaseOutcome = { readonly ok: true; readonly value: IdentityResult } | { readonly ok: false; readonly deny: Decision };
