/** What an identity phase hands on: who passed, what to set and strip upstream, and what rules may read. */
import type { Decision } from "./decision.ts";

/** What authorization rules and CEL expressions can see about the caller. */
export interface IdentityAttributes {
  readonly jwt?: { readonly provider: string; readonly claims: Readonly<Record<string, unknown>> };
  readonly apiKey?: { readonly client: string; readonly metadata: Readonly<Record<string, string>> };
  readonly basicAuth?: { readonly username: string };
}

export interface IdentityResult {
  readonly principal: string | undefined;
  /** Headers to set on the upstream request. */
  readonly headers: Readonly<Record<string, string>>;
  /** Credential headers to strip (sanitize). */
  readonly strip: readonly string[];
  readonly attributes: IdentityAttributes;
}

/** A phase either passes with an identity or ends the check with a denial. */
export type PhaseOutcome = { readonly ok: true; readonly value: IdentityResult } | { readonly ok: false; readonly deny: Decision };
