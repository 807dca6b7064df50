/**
 * The worst case of a CEL expression (features/authorization/cel.ts), bounded in the manner of
 * Kubernetes' CEL cost limits, since expressions run on the one decision thread:
 * - parse limits (AST nodes, nesting, literal sizes, comprehensions nested at most 3 deep);
 * - only the functions below, each with a cost model; `cel.bind` values are tracked like variables;
 * - `matches()` takes a literal RE2 pattern, run by RE2 (lib/regex.ts) in time linear in the text;
 * - a static cost estimate, assuming each variable measures at most `CEL_INPUT_LIMIT`, at most
 *   `CEL_COST_LIMIT`.
 * Cost and size are in "units": one character, one list element or one map entry; a regular
 * expression costs the text's length times its program's instructions.
 */
import { compileRe2, programSize, type Re2 } from "../../lib/regex.ts";
import { fail, ok, type Result } from "../../lib/result.ts";

/**
 * The most a CEL variable (`request`, `jwt`, `apiKey`, `basicAuth`, `metadata`) may measure, in
 * units: the 64 KiB of headers the HTTP ports accept.
 */
export const CEL_INPUT_LIMIT = 64 * 1024;
/**
 * The most an expression may cost in the worst case, in units: a few milliseconds of one core,
 * tens on a loaded one (a 10-million-character comparison takes 20 to 50 ms).
 */
export const CEL_COST_LIMIT = 2_000_000;
const MAX_COMPREHENSION_DEPTH = 3;

/**
 * How big a value is, in units: a string its length, a list one plus its elements, a map (an
 * object or a Map) one plus its keys and values, anything else one. Stops counting once past `limit`.
 */
export function measure(value: unknown, limit: number): number {
  if (typeof value === "string") return Math.max(1, value.length);
  if (value === null || typeof value !== "object") return 1;
  let total = 1;
  const entries = Array.isArray(value) ? value.map((v) => ["", v] as const) : value instanceof Map ? [...value] : Object.entries(value);
  for (const [key, v] of entries) {
    total += key.length + measure(v, limit - total);
    if (total > limit) break;
  }
  return total;
}

/** The AST of @marcbachmann/cel-js (index.d.ts `ASTNode`): an operator, its operands, where it is in the source. */
export interface CelNode {
  readonly op: string;
  readonly args: unknown;
  readonly range: { readonly start: number; readonly end: number };
}

/**
 * The `text.matches("pattern")` calls of an expression: each pattern compiled by RE2, and where
 * each call's `.matches(` is in the source: from the receiver's end (the key) to the pattern's start.
 */
export interface Searches {
  readonly patterns: Map<string, Re2>;
  readonly calls: Map<number, number>;
}

/** What estimating finds on the way (the matches() calls) and the variables' limits. */
interface Analysis {
  readonly searches: Searches;
  readonly limits: Readonly<Record<string, number>>;
}

/**
 * The worst-case cost of `ast` when each variable measures at most its entry in `limits` (else
 * CEL_INPUT_LIMIT), with its `matches()` calls; or why the expression is refused (an operator,
 * a function or a pattern without a cost model, a pattern RE2 refuses, comprehensions nested too
 * deep).
 */
export function worstCase(
  ast: CelNode,
  limits: Readonly<Record<string, number>>,
): Result<{ readonly cost: number; readonly searches: Searches }, string> {
  const analysis: Analysis = { searches: { patterns: new Map(), calls: new Map() }, limits };
  try {
    return ok({ cost: estimate(ast, new Map(), 0, analysis).cost, searches: analysis.searches });
  } catch (e) {
    if (e instanceof Refused) return fail(e.message);
    throw e;
  }
}

/** A worst case: the work to evaluate a node and the largest value it can produce. */
interface Estimate {
  readonly cost: number;
  readonly size: number;
}

class Refused extends Error {}

/** The macros that bind a variable of their own to each element of a list or map. */
export const COMPREHENSIONS = new Set(["all", "exists", "exists_one", "map", "filter"]);
const COMPARISONS = new Set(["==", "!=", "<", "<=", ">", ">=", "in"]);
const ARITHMETIC = new Set(["-", "*", "/", "%"]);
/** Functions whose work and result are proportional to their operands. */
const LINEAR = new Set([
  "size",
  "contains",
  "startsWith",
  "endsWith",
  "indexOf",
  "lastIndexOf",
  "lowerAscii",
  "upperAscii",
  "trim",
  "substring",
  "string",
  "bytes",
  "int",
  "uint",
  "double",
  "bool",
  "dyn",
  "type",
  "timestamp",
  "duration",
  "at",
  "json",
]);
/** Functions that at most double their operand (hex, base64) or split it into a list of pieces. */
const DOUBLING = new Set(["hex", "base64", "split"]);
const TIMESTAMP_FIELDS = /^get(Date|DayOfMonth|DayOfWeek|DayOfYear|FullYear|Hours|Milliseconds|Minutes|Month|Seconds)$/;

/**
 * The worst case of `node`, with `scope` the sizes of comprehension and `cel.bind` variables. A
 * comprehension over a value of size S runs its step once per element whose sizes add up to at
 * most S; every cost below grows convexly with a variable's size, so the steps together cost at
 * most S × step(1) + step(S).
 */
function estimate(node: CelNode, scope: ReadonlyMap<string, number>, depth: number, analysis: Analysis): Estimate {
  const a = node.args;
  const sub = (n: unknown) => estimate(n as CelNode, scope, depth, analysis);
  switch (node.op) {
    case "value":
      return { cost: 1, size: typeof a === "string" ? Math.max(1, a.length) : a instanceof Uint8Array ? Math.max(1, a.length) : 1 };
    case "id": {
      const name = a as string;
      return { cost: 1, size: scope.get(name) ?? analysis.limits[name] ?? CEL_INPUT_LIMIT };
    }
    case ".":
    case ".?": {
      const object = sub((a as unknown[])[0]);
      return { cost: object.cost + 1, size: object.size };
    }
    case "[]":
    case "[?]": {
      const [object, key] = (a as unknown[]).map(sub) as [Estimate, Estimate];
      return { cost: object.cost + key.cost + key.size, size: object.size };
    }
    case "list":
      return aggregate((a as unknown[]).map(sub));
    case "map":
      return aggregate((a as unknown[][]).flat().map(sub));
    case "?:": {
      const [c, t, f] = (a as unknown[]).map(sub) as [Estimate, Estimate, Estimate];
      return { cost: c.cost + t.cost + f.cost, size: Math.max(t.size, f.size) };
    }
    case "&&":
    case "||": {
      const [l, r] = (a as unknown[]).map(sub) as [Estimate, Estimate];
      return { cost: l.cost + r.cost, size: 1 };
    }
    case "!_":
    case "-_":
      return { cost: sub(a).cost + 1, size: 1 };
    case "+": {
      const [l, r] = (a as unknown[]).map(sub) as [Estimate, Estimate];
      return { cost: l.cost + r.cost + l.size + r.size, size: l.size + r.size };
    }
    case "call":
    case "rcall":
      return call(node, scope, depth, analysis);
  }
  if (COMPARISONS.has(node.op)) {
    const [l, r] = (a as unknown[]).map(sub) as [Estimate, Estimate];
    return { cost: l.cost + r.cost + l.size + r.size, size: 1 };
  }
  if (ARITHMETIC.has(node.op)) {
    const [l, r] = (a as unknown[]).map(sub) as [Estimate, Estimate];
    return { cost: l.cost + r.cost + 1, size: 1 };
  }
  throw new Refused(`the operator ${node.op} is not supported`);
}

function aggregate(parts: readonly Estimate[]): Estimate {
  return { cost: parts.reduce((n, p) => n + p.cost, 1), size: parts.reduce((n, p) => n + p.size, 1) };
}

function call(node: CelNode, scope: ReadonlyMap<string, number>, depth: number, analysis: Analysis): Estimate {
  const rcall = node.op === "rcall";
  const name = (node.args as unknown[])[0] as string;
  const receiver = rcall ? ((node.args as unknown[])[1] as CelNode) : undefined;
  const args = (node.args as unknown[])[rcall ? 2 : 1] as CelNode[];
  const sub = (n: CelNode) => estimate(n, scope, depth, analysis);

  if (rcall && COMPREHENSIONS.has(name)) return comprehension(name, receiver!, args, scope, depth, analysis);
  if (rcall && name === "bind" && receiver!.op === "id" && receiver!.args === "cel") {
    const [variable, value, body] = args as [CelNode, CelNode, CelNode];
    const bound = sub(value);
    const inner = estimate(body, new Map([...scope, [variable.args as string, bound.size]]), depth, analysis);
    return { cost: bound.cost + inner.cost, size: inner.size };
  }
  if (!rcall && name === "has") return { cost: sub(args[0]!).cost + 1, size: 1 };
  if (name === "matches") return matches(receiver, args, scope, depth, analysis);

  const operands = (receiver === undefined ? args : [receiver, ...args]).map(sub);
  const cost = operands.reduce((n, o) => n + o.cost, 1);
  const size = operands.reduce((n, o) => n + o.size, 0);
  if (LINEAR.has(name) || TIMESTAMP_FIELDS.test(name)) return { cost: cost + size, size: Math.max(size, 32) };
  if (DOUBLING.has(name)) return { cost: cost + 2 * size, size: 2 * size };
  if (name === "join") {
    // Every element may be followed by the separator: at most (list) × (1 + separator).
    const [list, separator = { cost: 0, size: 0 }] = operands as [Estimate, Estimate?];
    const joined = list.size * (1 + separator.size);
    return { cost: cost + joined, size: joined };
  }
  throw new Refused(`the function ${name}() is not supported`);
}

/**
 * `text.matches(pattern)`: a literal pattern RE2 accepts; time text × the pattern's program. The
 * global form `matches(text, pattern)` has no overload in cel-js and is refused by its type check.
 */
function matches(
  receiver: CelNode | undefined,
  args: readonly CelNode[],
  scope: ReadonlyMap<string, number>,
  depth: number,
  analysis: Analysis,
): Estimate {
  const [text, pattern] = (receiver === undefined ? args : [receiver, ...args]) as [CelNode, CelNode?];
  if (pattern?.op !== "value" || typeof pattern.args !== "string") throw new Refused("matches() takes a string literal as its pattern");
  const re = compileRe2(pattern.args);
  if (!re.ok) throw new Refused(`matches(${JSON.stringify(pattern.args)}): the pattern ${re.error}`);
  const { searches } = analysis;
  searches.patterns.set(pattern.args, re.value);
  // A comprehension's body is estimated more than once: each call is kept once, by where it is.
  if (receiver !== undefined) searches.calls.set(receiver.range.end, pattern.range.start);
  const t = estimate(text, scope, depth, analysis);
  return { cost: t.cost + t.size * (programSize(re.value) + 1), size: 1 };
}

function comprehension(
  name: string,
  range: CelNode,
  args: readonly CelNode[],
  scope: ReadonlyMap<string, number>,
  depth: number,
  analysis: Analysis,
): Estimate {
  if (depth >= MAX_COMPREHENSION_DEPTH) throw new Refused(`comprehensions nest at most ${MAX_COMPREHENSION_DEPTH} deep`);
  const [variable, ...steps] = args as [CelNode, ...CelNode[]];
  const r = estimate(range, scope, depth, analysis);
  // The last step (map's transform) is the element a map produces.
  const step = (size: number) => {
    const inner = new Map([...scope, [variable.args as string, size]]);
    return steps.map((s) => estimate(s, inner, depth + 1, analysis)).reduce((x, y) => ({ cost: x.cost + y.cost, size: y.size }));
  };
  const one = step(1);
  const all = step(r.size);
  const cost = r.cost + r.size * one.cost + all.cost;
  if (name === "map") return { cost, size: r.size + r.size * one.size + all.size };
  if (name === "filter") return { cost, size: r.size };
  return { cost, size: 1 };
}
