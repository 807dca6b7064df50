/**
 * Availability: work one request makes that could hold the only decision thread and stall every
 * other tenant's checks (CEL regular expressions, bcrypt). The CEL cases send the costly request
 * together with another tenant's API-key check on the real server and require both answers; the
 * bcrypt case requires the other tenant's check to be answered first.
 */
import type { Ctx } from "../context.ts";
import type { Case, Expected, Outcome } from "../outcome.ts";

const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}` });
const WRONG: Expected = { status: 401, code: "basic_invalid", reason: "wrong username or password" };
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

/**
 * Sends eight wrong passwords for carol (bcrypt, cost 10: tens of milliseconds each) and, with
 * them, another tenant's key check: the key check must be answered before any of them.
 */
async function eightWrongPasswords(ctx: Ctx): Promise<Outcome> {
  const order: string[] = [];
  const wrong = Array.from({ length: 8 }, (_, i) =>
    ctx.check({ path: "/basic", headers: basic("carol", `wrong-${i}`) }).then((o) => (order.push("bcrypt"), o)),
  );
  const neighbour = await ctx.check({ path: "/keys", headers: { "x-api-key": "alice-key" } }).then((o) => (order.push("api-key"), o));
  const outcomes = await Promise.all(wrong);
  if (neighbour.status !== 200 || order[0] !== "api-key") throw new Error(`the other tenant's check waited: ${order.join(", ")}`);
  if (outcomes.some((o) => o.code !== outcomes[0]!.code))
    throw new Error(`the eight answers differ: ${outcomes.map((o) => o.code).join(", ")}`);
  return outcomes[0]!;
}

/** An unknown username's check, which must run one bcrypt comparison on the decider's pool. */
async function unknownUser(ctx: Ctx): Promise<Outcome> {
  const pool = ctx.decider.ctx.passwords.pool;
  const before = pool.completed;
  const outcome = await ctx.check({ path: "/basic", headers: basic("mallory", "carol-pass") });
  if (pool.completed !== before + 1)
    throw new Error(`an unknown username ran ${pool.completed - before} bcrypt comparisons, a known one runs 1`);
  return outcome;
}

/** Eleven wrong passwords for erin: the eleventh is refused without comparing. */
async function elevenWrongPasswords(ctx: Ctx): Promise<Outcome> {
  for (let i = 0; i < 10; i++) {
    const o = await ctx.check({ path: "/basic", headers: basic("erin", `wrong-${i}`) });
    if (o.code !== "basic_invalid") throw new Error(`attempt ${i + 1}: ${o.code}`);
  }
  return ctx.check({ path: "/basic", headers: basic("erin", "erin-pass") });
}

export const availabilityCases: readonly Case[] = [
  c(
    "cel-redos",
    'a CEL rule `matches("^([a-zA-Z0-9]+-?)+$")` over a 30-character header that backtracks, sent with another tenant\'s check',
    { status: 403, code: "authz_denied", reason: "Forbidden" },
    (ctx) => alongsideAnotherTenant(ctx, ctx.envoy("/cel", { "x-name": CATASTROPHIC_NAME })),
    "matches() ran on V8's backtracking engine and held the decision thread for seconds; CEL patterns must be literals, and matches() runs them on RE2 (re2js), in linear time",
  ),
  c("cel-redos-long", "the same rule over a 30 000-character header", { status: 403, code: "authz_denied" }, (ctx) =>
    alongsideAnotherTenant(ctx, ctx.envoy("/cel", { "x-name": `${"a1-".repeat(10_000)}!` })),
  ),
  c("cel-match", "the same rule over a name it matches", { status: 200, code: "allowed" }, (ctx) =>
    ctx.envoy("/cel", { "x-name": "abc-def-1" }),
  ),
  c(
    "bcrypt-in-flight",
    "eight wrong bcrypt passwords at once, then another tenant's API-key check (answered first)",
    WRONG,
    eightWrongPasswords,
    "bcrypt ran on the decision thread, so eight wrong passwords at cost 12 delayed every tenant's answers past Envoy's timeout; comparisons now run on worker threads with a bounded queue (a full queue: 429 basic_busy)",
  ),
  c(
    "bcrypt-unknown-user",
    "an unknown username (one bcrypt comparison, as for a known one)",
    WRONG,
    unknownUser,
    "an unknown username was answered at once, a known one after bcrypt: a username oracle; it is now compared against a hash of the table's highest cost",
  ),
  c(
    "bcrypt-rate-limit",
    "erin's right password after ten wrong ones within a minute",
    { status: 429, code: "basic_rate_limited", reason: "too many failed attempts" },
    elevenWrongPasswords,
    "failed attempts were unlimited; ten per policy and username per minute, then 429 without comparing",
  ),
];
