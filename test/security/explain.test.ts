/**
 * Every hostile-input case the catalogue decides with check() (cases/*.ts), decided again with its
 * trace (check --explain): the trace ends in the same decision, names the step that decided a
 * denial (the phase that denied, the route lookup that found nothing, the invalid policy), and
 * holds none of the request's credentials (API keys, passwords, tokens, cookies, query values).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Explained } from "../../controller/authz/trace-steps.ts";
import type { AuthzRequest } from "../../controller/authz/request.ts";
import type { TraceStep } from "../../controller/authz/trace.ts";
import { CATALOGUE } from "./catalogue.ts";
import { createCtx, type Ctx } from "./context.ts";
import { fromDecision, managedHeadersOf } from "./outcome.ts";

let ctx: Ctx;
/** The requests the running case decided with check(), with their traces. */
let explained: { request: Partial<AuthzRequest> & { path: string }; result: Explained }[] = [];
let explaining: Ctx;
/** Every phase some case's trace went through. */
const phasesSeen = new Set<string>();

beforeAll(async () => {
  ctx = await createCtx();
  const managed = managedHeadersOf(ctx.decider.result.snapshot.policies);
  explaining = {
    ...ctx,
    check: async (request) => {
      const result = await ctx.decider.explain(request);
      explained.push({ request, result });
      return fromDecision(result.decision, managed);
    },
  };
});
afterAll(() => ctx?.close());

/** Every step, those of branches (readings, route tables) included. */
function allSteps(steps: readonly TraceStep[]): TraceStep[] {
  return steps.flatMap((s) => [s, ...(Array.isArray(s.steps) ? allSteps(s.steps as TraceStep[]) : [])]);
}

/** Values a request carries that may be credentials: these headers' values and every query value. */
function secretsOf(request: Partial<AuthzRequest> & { path: string }): string[] {
  const headers = Object.entries(request.headers ?? {}).flatMap(([name, value]) =>
    ["authorization", "proxy-authorization", "x-api-key", "cookie", "api-key"].includes(name.toLowerCase())
      ? [value].flat().map((v) => String(v))
      : [],
  );
  const q = request.path.indexOf("?");
  const query = q === -1 ? [] : [...new URLSearchParams(request.path.slice(q + 1)).values()];
  const parts = [...headers, ...query].flatMap((v) => [v, ...v.split(/[ ;=]/)]);
  // Short fragments ("Bearer", "a") are words, not secrets.
  return [...new Set(parts.filter((p) => p.length >= 8 && !/^(Bearer|Basic)$/i.test(p)))];
}

/** Whether the trace says which step decided this denial. */
function namesTheDecidingStep(steps: readonly TraceStep[], code: string): boolean {
  const every = allSteps(steps);
  if (every.some((s) => s.result === "deny" && s.code === code)) return true;
  switch (code) {
    case "route_not_found":
      return every.some(
        (s) => s.phase === "route" && (s.tables as { picked?: string }[]).every((t) => t.picked?.startsWith("none") ?? true),
      );
    case "policy_invalid":
      return every.some((s) => s.phase === "policy" && typeof s.invalid === "string");
    case "policy_missing":
      return every.some((s) => s.phase === "policy" && s.policy === null);
    default:
      // Decided by check() itself (a refused header or path, a value that cannot be forwarded, the proxy's route): its reason says why.
      return typeof steps.at(-1)?.reason === "string" && (steps.at(-1)!.reason as string).length > 0;
  }
}

for (const { area, cases } of CATALOGUE) {
  describe(area, () => {
    for (const c of cases) {
      it(`${c.id}: the trace explains the decision and holds no credential`, async () => {
        explained = [];
        await c.run(explaining);
        for (const { request, result } of explained) {
          const { decision, trace } = result;
          const last = trace.steps.at(-1)!;
          expect(last).toMatchObject({ phase: "decision", code: decision.code, status: decision.status });
          if (!decision.allowed) expect(namesTheDecidingStep(trace.steps, decision.code), JSON.stringify(trace.steps)).toBe(true);
          for (const s of allSteps(trace.steps)) phasesSeen.add(s.phase);
          const text = JSON.stringify(trace.steps);
          for (const secret of secretsOf(request)) expect(text, `${c.id}: ${secret}`).not.toContain(secret);
        }
      });
    }
  });
}

it("went through the phases of every identity method, authorization and the readings (so the loop above means something)", () => {
  expect([...phasesSeen]).toEqual(expect.arrayContaining(["route", "policy", "apiKeyAuth", "basicAuth", "jwt", "authorization", "branch"]));
});
