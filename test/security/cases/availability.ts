/**
 * Availability: work one request makes that could hold the only decision thread and stall every
 * other tenant's checks (CEL regular expressions, bcrypt). Each case sends the costly request
 * together with another tenant's API-key check on the real server, and requires both answers.
 */
import type { Ctx } from "../context.ts";
import type { Case, Expected, Outcome } from "../outcome.ts";

const CATASTROPHIC_NAME = `${"a".repeat(29)}!`;

function c(id: string, title: string, expect: Expected, run: (ctx: Ctx) => Promise<Outcome>, fixed?: string): Case {
  return { id: `availability.${id}`, title, expect, run, ...(fixed === undefined ? {} : { fixed }) };
}

/** Sends `costly` and, at the same time, alice's key to /keys; the key check must be answered 200. */
async function alongsideAnotherTenant(ctx: Ctx, costly: Promise<Outcome>): Promise<Outcome> {
  const [outcome, neighbour] = await Promise.all([costly, ctx.envoy("/keys", { "x-api-key": "alice-key" })]);
  if (neighbour.status !== 200) throw new Error(`the other tenant's check was not answered: ${JSON.stringify(neighbour)}`);
  return outcome;
}

export const availabilityCases: readonly Case[] = [
  c("cel-redos", "a CEL rule `matches(\"^([a-zA-Z0-9]+-?)+$\")` over a 30-character header that backtracks, sent with another tenant's check",
    { status: 403, code: "authz_denied", reason: "Forbidden" },
    (ctx) => alongsideAnotherTenant(ctx, ctx.envoy("/cel", { "x-name": CATASTROPHIC_NAME })),
    "matches() ran on V8's backtracking engine and held the decision thread for seconds; CEL patterns must be literals the linear-time engine accepts, which V8 falls back to"),
  c("cel-redos-long", "the same rule over a 30 000-character header", { status: 403, code: "authz_denied" },
    (ctx) => alongsideAnotherTenant(ctx, ctx.envoy("/cel", { "x-name": `${"a1-".repeat(10_000)}!` }))),
  c("cel-match", "the same rule over a name it matches", { status: 200, code: "allowed" },
    (ctx) => ctx.envoy("/cel", { "x-name": "abc-def-1" })),
];
