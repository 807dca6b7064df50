/**
 * A decision's trace, for `check --explain`, the admin page's explain form and the per-decision
 * debug log line: each step check() took, in order (the route lookup, the policy and where it came
 * from, each feature's phase in Envoy Gateway's filter order, the response), each with what it read
 * and found. Features describe their own phase through `CheckContext.trace` (`note`), so a new
 * feature is traced by what it notes, not by a switch here.
 *
 * Never a credential: steps name where a credential was read from and what it identified (a
 * client id, a token's issuer, key id and provider), never the key, password, token or cookie, and
 * name headers rather than give their values. A trace exists only when one was asked for: on the
 * hot path `ctx.trace` is undefined and `ctx.trace?.note({...})` evaluates nothing.
 */

/** One step: `phase` is "request", "reading", "route", "policy", a feature's spec field ("jwt"), or "response". */
export interface TraceStep {
  readonly phase: string;
  readonly [fact: string]: unknown;
}

export class Trace {
  readonly steps: TraceStep[] = [];

  /** Starts a step; later notes go into it. */
  step(phase: string, facts: Readonly<Record<string, unknown>> = {}): void {
    this.steps.push({ phase, ...facts });
  }

  /** Sets facts of the current step (a feature saying what it read). */
  note(facts: Readonly<Record<string, unknown>>): void {
    const current = this.steps.at(-1);
    if (current !== undefined) Object.assign(current, facts);
  }

  /** Appends `item` to the list `key` of the current step (each token tried, each rule tried). */
  add(key: string, item: unknown): void {
    const current = this.steps.at(-1) as Record<string, unknown> | undefined;
    if (current === undefined) return;
    const list = current[key];
    if (Array.isArray(list)) list.push(item);
    else current[key] = [item];
  }

  /** A trace of its own for one of several ways the request is decided at once (a reading of it, a route table), kept as a step of this one. */
  branch(facts: Readonly<Record<string, unknown>>): Trace {
    const trace = new Trace();
    this.steps.push({ phase: "branch", ...facts, steps: trace.steps });
    return trace;
  }
}
