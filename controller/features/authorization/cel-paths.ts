/**
 * The paths a CEL expression of an authorization rule may compare the request's path with
 * (CompiledCel.pathValues and pathPatterns), which the case and suffix readings read a path as
 * (authz/case-path-values.ts): the text literals of an expression that reads the path, the
 * `matches()` patterns it searches the path with, and the texts it tests the path with
 * (`contains`, `startsWith`, `==`...). Found by the expression's shape, not by evaluating it: a
 * path built at run time (`'/ad' + 'min'`) is not found (SECURITY.md, open item 4).
 */
import { RE2JS } from "re2js";
import { builtRe2, compileRe2 } from "../../lib/regex.ts";
import type { PathMatch } from "../../snapshot/types.ts";
import type { CompiledCel } from "./cel.ts";
import { type CelNode, COMPREHENSIONS } from "./cel-cost.ts";

/**
 * CompiledCel.pathValues and pathPatterns of the expression `ast`, whose reads of `request` are
 * `reads` and whose `matches()` searches are `searched` (RE2 patterns); none where it cannot read
 * the path.
 */
export function pathValuesOf(
  ast: CelNode,
  reads: Pick<CompiledCel, "requestFields" | "headersNamed">,
  searched: Iterable<string>,
): Pick<CompiledCel, "pathValues" | "pathPatterns"> {
  if (!readsPathOf(reads)) return { pathValues: [], pathPatterns: [] };
  const tested = textsTestedOnPath(ast, reads.requestFields === undefined);
  return {
    pathValues: [
      ...new Set(
        textsOf(ast)
          .filter((text) => text.startsWith("/"))
          .map((text) => text.split("?")[0]!),
      ),
    ],
    pathPatterns: [...[...searched].map(searchedPath), ...tested.flatMap((text) => textPaths(text.split("?")[0]!))],
  };
}

/** A RegularExpression path value of a CEL expression (CompiledCel.pathPatterns). */
export type SearchedPath = Extract<PathMatch, { type: "RegularExpression" }>;

/**
 * A path value that takes a path holding `text` (textPaths): the path holding it in another letter
 * case reads as the path with it spelt as written (path-case-readings.ts spellingFor), as an Exact or
 * PathPrefix value is spelt.
 */
export type CelTextPath = SearchedPath & { readonly text?: string };

/**
 * `pattern` (a `matches()` search, valid RE2) as a SearchedPath: `(?s:.*)(?:pattern)(?s:.*)`, which
 * RE2 matches in full exactly where it finds `pattern` (its `^`, `$` and `\b` still read the whole
 * text). A `\Q` left open quotes to the end of a pattern: it is closed (`\E`) before the group is.
 */
export function searchedPath(pattern: string): SearchedPath {
  const value = `(?s:.*)(?:${pattern})(?s:.*)`;
  const regex = compileRe2(value);
  if (regex.ok) return { type: "RegularExpression", value, regex: regex.value };
  const closed = `(?s:.*)(?:${pattern}\\E)(?s:.*)`;
  return { type: "RegularExpression", value: closed, regex: builtRe2(closed) };
}

/** The path values a text literal may be compared with the path as: a text it contains and one it ends with; none for "". */
function textPaths(text: string): CelTextPath[] {
  if (text === "") return [];
  const quoted = RE2JS.quote(text);
  return [`(?s:.*)${quoted}(?s:.*)`, `(?s:.*)${quoted}`].map((value) => ({
    type: "RegularExpression",
    value,
    regex: builtRe2(value),
    text,
  }));
}

/** The request fields that are its path (CompiledCel.pathValues): Envoy's `path` (with the query) and `url_path`, principal.cel's `path`. */
const PATH_FIELDS = ["path", "url_path"] as const;

/**
 * Whether an expression whose reads of `request` are `reads` may read its path: `request.path`,
 * `request.url_path`, `request.headers[':path']`, or `request` or its headers by keys that cannot be known.
 */
function readsPathOf({ requestFields, headersNamed }: Pick<CompiledCel, "requestFields" | "headersNamed">): boolean {
  return (
    requestFields === undefined ||
    PATH_FIELDS.some((field) => requestFields.has(field)) ||
    (requestFields.has("headers") && (headersNamed === undefined || headersNamed.has(":path")))
  );
}

/** The functions that look for a text in another: what `request.path.contains('/admin')` looks for is a path value. */
const TEXT_TESTS = new Set(["contains", "startsWith", "endsWith", "indexOf", "lastIndexOf"]);

/** The operators that compare a text with another, or look it up in a list: `request.path.substring(2) == '/admin'`. */
const TEXT_COMPARISONS = new Set(["==", "!=", "in"]);

/**
 * The texts an expression that reads the path may test the path with: every text literal of it
 * where a variable may stand for the path or for a text (`request` read whole, a `cel.bind` or a
 * comprehension's variable: `['/admin'].exists(p, request.path.contains(p))`); else the literals a
 * text that names the path (request.path, request.url_path, request.headers[':path'] or a header
 * by a key not written, or one computed from them: `substring(2)`) is compared with
 * (textsCompared: `contains()`, `indexOf()`, `==`, `in`...).
 * Not every literal: `request.method == 'GET'` beside a path test would read `/x/get` as `/X/GET`
 * too, which the routes and rules need not take.
 */
function textsTestedOnPath(ast: CelNode, wholeRequest: boolean): readonly string[] {
  if (wholeRequest || binds(ast)) return textsOf(ast);
  const texts = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) for (const n of node) visit(n);
    else if (node !== null && typeof node === "object" && "op" in node) {
      const n = node as CelNode;
      for (const compared of textsCompared(n)) if (namesPath(compared.on)) for (const text of textsOf(compared.with)) texts.add(text);
      visit(n.args);
    }
  };
  visit(ast);
  return [...texts];
}

/**
 * The texts `node` compares and what with, where it is a call of TEXT_TESTS (only the method form
 * type-checks) or a TEXT_COMPARISONS operator (either side may be the path's); none otherwise.
 */
function textsCompared(node: CelNode): readonly { on: CelNode; with: readonly CelNode[] }[] {
  if (TEXT_COMPARISONS.has(node.op)) {
    // The path itself compared: its literals are pathValues' Exact values already, which spell a reading as written.
    const [left, right] = (node.args as [CelNode, CelNode]).filter((side) => !isPath(side));
    return right === undefined
      ? []
      : [
          { on: left!, with: [right] },
          { on: right, with: [left!] },
        ];
  }
  if (node.op !== "rcall") return [];
  const [name, receiver, args] = node.args as [string, CelNode, CelNode[]];
  return TEXT_TESTS.has(name) ? [{ on: receiver, with: args }] : [];
}

/** Whether an expression binds a variable (`cel.bind`, a comprehension), which may then stand for the path. */
function binds(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(binds);
  if (node === null || typeof node !== "object" || !("op" in node)) return false;
  const { op, args } = node as CelNode;
  if (op === "rcall" && (COMPREHENSIONS.has((args as [string])[0]) || (args as [string])[0] === "bind")) return true;
  return binds(args);
}

/** Whether `node` is `request.<field>` for one of `fields`. */
function isRequestField(node: CelNode, fields: readonly string[]): boolean {
  if (node.op !== "." && node.op !== ".?") return false;
  const [object, field] = node.args as [CelNode, string];
  return object.op === "id" && object.args === "request" && fields.includes(field);
}

/** Whether `node` is the path itself: request.path, request.url_path or request.headers[':path']. */
function isPath(node: CelNode): boolean {
  if (isRequestField(node, PATH_FIELDS)) return true;
  if (node.op !== "[]" && node.op !== "[?]") return false;
  const [object, key] = node.args as [CelNode, CelNode];
  return isRequestField(object, ["headers"]) && key.op === "value" && key.args === ":path";
}

/** Whether `node` reads the path: request.path, request.url_path, or a header of request.headers by ':path' or by a key not written. */
function namesPath(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(namesPath);
  if (node === null || typeof node !== "object" || !("op" in node)) return false;
  const n = node as CelNode;
  if (n.op === "." || n.op === ".?") {
    const [object] = n.args as [CelNode, string];
    if (object.op === "id" && object.args === "request") return isRequestField(n, PATH_FIELDS);
  }
  if (n.op === "[]" || n.op === "[?]") {
    const [object, key] = n.args as [CelNode, CelNode];
    if (isRequestField(object, ["headers"]) && (key.op !== "value" || key.args === ":path")) return true;
  }
  if (n.op === "id" && n.args === "request") return true;
  return namesPath(n.args);
}

/** The text literals of an expression, each once. */
function textsOf(ast: unknown): readonly string[] {
  const texts = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) for (const n of node) visit(n);
    else if (node !== null && typeof node === "object" && "op" in node) {
      const { op, args } = node as CelNode;
      if (op === "value" && typeof args === "string") texts.add(args);
      else visit(args);
    }
  };
  visit(ast);
  return [...texts];
}
