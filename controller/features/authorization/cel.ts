/**
 * CEL expressions of authorization rules, over one of two sets of variables: a rule's `cel`
 * (Envoy Gateway v1.9.0) sees Envoy's attributes (ENVOY_ATTRIBUTES), Portcullis' own
 * `principal.cel` extension sees the identities (PRINCIPAL_VARIABLES). Expressions are type-checked
 * against their variables: a variable or field that does not exist, or a result that cannot be a
 * boolean, is refused when the policy is compiled, never a rule that silently never matches.
 * They run on the one decision thread, so an expression is accepted only if its worst case is
 * bounded (cel-cost.ts); at request time a variable that measures more than the bound assumed is
 * an evaluation error, which never allows (see features/authorization/check.ts). `matches()` runs
 * on RE2 (lib/regex.ts), not on cel-js' JavaScript RegExp.
 */
import { Environment } from "@marcbachmann/cel-js";
import { fail, ok, type Result } from "../../lib/result.ts";
import { foldedName } from "../../snapshot/query-readings.ts";
import { CEL_COST_LIMIT, CEL_INPUT_LIMIT, type CelNode, measure, type Searches, worstCase } from "./cel-cost.ts";
import { type CelTextPath, pathValuesOf } from "./cel-paths.ts";

/** The variables one kind of expression may name, and what Envoy has that Portcullis does not. */
export interface CelVariables {
  /** A cel-js environment declaring them, with their fields' types. */
  readonly environment: Environment;
  /** The most each variable measures, in units; unlisted: CEL_INPUT_LIMIT. */
  readonly limits: Readonly<Record<string, number>>;
  /** Envoy attributes ("source", "request.protocol") an expression may not name here, with why. */
  readonly unavailable: Readonly<Record<string, string>>;
}

/** cel-js field types of one variable: a type name, or the fields of a nested object. */
interface Schema {
  readonly [field: string]: string | Schema;
}

function celVariables(
  declarations: Readonly<Record<string, Schema>>,
  limits: CelVariables["limits"] = {},
  unavailable: CelVariables["unavailable"] = {},
): CelVariables {
  const environment = new Environment({
    limits: { maxAstNodes: 1024, maxDepth: 64, maxListElements: 256, maxMapEntries: 256, maxCallArguments: 8 },
  });
  for (const [name, schema] of Object.entries(declarations)) environment.registerVariable({ name, schema });
  return { environment, limits, unavailable };
}

const NOT_RECEIVED = "is an Envoy attribute of the connection or the response, which an authorization service is not told";

/**
 * Envoy's attributes for a rule's `cel` (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/advanced/attributes),
 * those Portcullis knows as Envoy does: `request` (path with its query, url_path, host, scheme,
 * method, headers by lower-case name with repeated lines joined by ",", referer, useragent, id,
 * query: the text after the first "?" as sent, never decoded, as Envoy's extractor cuts it from
 * `:path`; time) and `metadata.filter_metadata["envoy.filters.http.jwt_authn"][provider]`, the
 * verified JWT payload (`scope`/`scp` split into lists, as Envoy Gateway configures jwt_authn).
 */
export const ENVOY_ATTRIBUTES = celVariables(
  {
    request: {
      path: "string",
      url_path: "string",
      host: "string",
      scheme: "string",
      method: "string",
      headers: "map<string, string>",
      referer: "string",
      useragent: "string",
      id: "string",
      query: "string",
      time: "google.protobuf.Timestamp",
    },
    metadata: { filter_metadata: "map<string, dyn>" },
  },
  {},
  {
    source:
      "is Envoy's downstream address with its port, which Portcullis does not see: match the client address with principal.clientCIDRs",
    destination: NOT_RECEIVED,
    connection: NOT_RECEIVED,
    upstream: NOT_RECEIVED,
    response: NOT_RECEIVED,
    filter_state: NOT_RECEIVED,
    xds: NOT_RECEIVED,
    "request.protocol": NOT_RECEIVED,
    "request.duration": NOT_RECEIVED,
    "request.headers_bytes":
      "is the size of Envoy's own header map, counting pseudo-headers and the headers Envoy adds, which an authorization service is not told",
    "request.size": "is the request body's size; Portcullis is not given the body",
    "request.total_size": "is the request body's size; Portcullis is not given the body",
  },
);

/** Portcullis' `principal.cel`: the request, the identities the phases before authorization passed, the client address. */
export const PRINCIPAL_VARIABLES = celVariables(
  {
    request: { method: "string", host: "string", path: "string", headers: "map<string, string>", query: "map<string, string>" },
    jwt: { provider: "string", claims: "map<string, dyn>" },
    apiKey: { client: "string", metadata: "map<string, string>" },
    basicAuth: { username: "string" },
    source: { address: "string" },
  },
  // `source` holds one address.
  { source: 64 },
);

/** A CEL expression compiled once. */
export interface CompiledCel {
  readonly source: string;
  /**
   * The fields of the `request` variable the expression names (`request.path` → "path"), or
   * undefined when it reads `request` otherwise (`request["path"]`, passed whole): all of them.
   * A value read as text from bytes that are not UTF-8 is compared otherwise than Envoy compares
   * the bytes, so check.ts needs to know which values an expression reads.
   */
  readonly requestFields: ReadonlySet<string> | undefined;
  /**
   * The lower-case names of the headers whose value the expression reads, each by a literal key
   * (`request.headers['X-Role']`, `request.headers.x_role`, Envoy's `request.useragent` for
   * User-Agent, `referer`, `id` for X-Request-Id); undefined when it reads `request.headers` with
   * keys that cannot be known from it (a computed key, the map passed to a function or macro such
   * as `size()`, `exists()` or `cel.bind`, or `request` whole). `key in request.headers` and
   * `has(request.headers.x)` ask whether a header is there, which no reading of its lines changes.
   * check.ts reads each line of these headers as a reading of its own (all of them: undefined).
   */
  readonly headersNamed: ReadonlySet<string> | undefined;
  /**
   * Whether it may look a `request.query` parameter up by a name with an upper-case letter: a
   * literal one (`request.query.userId`, `'userId' in request.query`), a key it computes, or any
   * name, the map being passed on (to `size()`, a macro, `cel.bind`) or `request` read whole.
   * Only then does a reading of names in any letter case differ from one of names as sent for a
   * query sent in lower case (authorization/line-readings.ts otherReadings).
   */
  readonly queryNamesInUpperCase: boolean;
  /**
   * The paths it may compare the request's path with: its text literals that start with "/", cut
   * at a "?" (`request.path` holds the query), when it reads the path (`request.path`,
   * `request.url_path`, `request.headers[':path']`, or `request` or its headers by keys that cannot
   * be known); empty otherwise. An upstream may run a request's path as one of them in another
   * letter case or without a suffix (authz/path-case-readings.ts), which the path as sent does not
   * show the expression.
   */
  readonly pathValues: readonly string[];
  /**
   * The RegularExpression path values its text may take the path as, when it reads the path (as
   * pathValues); empty otherwise: each pattern of its `matches()` calls as the search it is
   * (searchedPath), and each text it compares the path, or a text computed from it, with
   * (`contains()`, `startsWith()`, `endsWith()`, `indexOf()`, `==`, `in`: textsTestedOnPath; cut
   * at a "?") as a text the path contains and one it ends with (textPaths). `request.url_path.matches('^/admin')`,
   * `request.url_path.contains('/admin')` and `request.url_path.endsWith('admin')` hold for none
   * of `/ADMIN`, `/x/Admin` and `/admin.json`, which upstreams matching routes in any letter case
   * or without a suffix run as a path they hold for (authz/path-case-readings.ts).
   */
  readonly pathPatterns: readonly CelTextPath[];
  /** Whether it names `source` (principal.cel's client address): such an expression cannot be decided where the address cannot be determined. */
  readonly readsSource: boolean;
  /** Its value over `context` (the variables it was compiled for); throws when it cannot be evaluated. */
  readonly evaluate: (context: Record<string, unknown>) => unknown;
}

/** The expression compiled, or why it is refused (parse or type error, an unknown variable, an unsupported function, cost). */
export function compileCel(source: string, variables: CelVariables): Result<CompiledCel, string> {
  const first = parse(source, variables);
  if (!first.ok) return first;
  const missing = unavailableIn(first.value.ast, variables);
  if (missing !== undefined) return fail(`${missing} ${variables.unavailable[missing]}`);
  const bounded = worstCase(first.value.ast, variables.limits);
  if (!bounded.ok) return bounded;
  const { cost, searches } = bounded.value;
  const typed = variables.environment.check(source);
  if (!typed.valid) return fail((typed.error?.message ?? "it does not type-check").split("\n")[0]!);
  if (typed.type !== "bool" && typed.type !== "dyn") return fail(`it evaluates to ${typed.type}, not to a boolean`);
  if (!(cost <= CEL_COST_LIMIT)) {
    return fail(
      `its worst case costs more than ${CEL_COST_LIMIT} units on inputs of ${CEL_INPUT_LIMIT} characters (for example a comprehension that scans another variable at each step, or a value doubled again and again)`,
    );
  }
  let parsed = first.value;
  if (searches.calls.size > 0) {
    const onRe2 = withRe2Search(source, searches, variables);
    if (!onRe2.ok) return onRe2;
    parsed = onRe2.value;
  }
  const checked = new WeakSet<object>();
  const evaluate = (context: Record<string, unknown>) => {
    if (!checked.has(context)) {
      for (const [name, value] of Object.entries(context)) {
        const limit = variables.limits[name] ?? CEL_INPUT_LIMIT;
        if (measure(value, limit) > limit) throw new Error(`CEL variable ${name} exceeds ${limit} units`);
      }
      checked.add(context);
    }
    return parsed(context);
  };
  const reads = requestReadsOf(first.value.ast);
  return ok({
    source,
    evaluate,
    readsSource: namesSource(first.value.ast),
    ...pathValuesOf(first.value.ast, reads, searches.patterns.keys()),
    ...reads,
  });
}

/** Envoy's attributes of `request` that are a header's value (lower-case name) when it is sent (cel-context.ts envoyAttributesOf). */
export const HEADER_ATTRIBUTES: Readonly<Record<string, string>> = { referer: "referer", useragent: "user-agent", id: "x-request-id" };

/** A name with its ASCII letters lower-cased (Envoy's LowerCaseString); a key that is not a string as it is. */
export const asciiLowerCase = <T>(name: T): T =>
  typeof name === "string" ? (name.replace(/[A-Z]+/g, (upper) => upper.toLowerCase()) as T) : name;

/** Whether an expression names the variable `source` anywhere (CompiledCel.readsSource). */
function namesSource(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(namesSource);
  if (node === null || typeof node !== "object" || !("op" in node)) return false;
  const n = node as CelNode;
  return (n.op === "id" && n.args === "source") || namesSource(n.args);
}

/** CompiledCel.requestFields, CompiledCel.headersNamed and CompiledCel.queryNamesInUpperCase of an expression. */
function requestReadsOf(ast: CelNode): Pick<CompiledCel, "requestFields" | "headersNamed" | "queryNamesInUpperCase"> {
  const fields = new Set<string>();
  const headers = new Set<string>();
  let wholeRequest = false;
  let anyHeader = false;
  let queryNamesInUpperCase = false;
  const isRequest = (node: CelNode) => node.op === "id" && node.args === "request";
  const isField = (node: CelNode) => node.op === "." || node.op === ".?";
  const isHeaderMap = (node: CelNode) =>
    isField(node) && isRequest((node.args as [CelNode, string])[0]) && (node.args as [CelNode, string])[1] === "headers";
  const isText = (node: CelNode) => node.op === "value" && typeof node.args === "string";
  /** A header read by a literal key: its lower-case name, or undefined when `node` is no such read. */
  const headerNamedBy = (node: CelNode): string | undefined => {
    if (isField(node)) {
      const [object, field] = node.args as [CelNode, string];
      return isHeaderMap(object) ? asciiLowerCase(field) : undefined;
    }
    if (node.op !== "[]" && node.op !== "[?]") return undefined;
    const [object, key] = node.args as [CelNode, CelNode];
    return isHeaderMap(object) && isText(key) ? asciiLowerCase(key.args as string) : undefined;
  };
  const isQueryMap = (node: CelNode) =>
    isField(node) && isRequest((node.args as [CelNode, string])[0]) && (node.args as [CelNode, string])[1] === "query";
  /** The key `node` looks `request.query` up by (a field's name, or the key's node), or undefined when `node` is no such look-up. */
  const queryKeyOf = (node: CelNode): string | CelNode | undefined => {
    if (isField(node) || node.op === "[]" || node.op === "[?]") {
      const [object, key] = node.args as [CelNode, CelNode | string];
      return isQueryMap(object) ? key : undefined;
    }
    if (node.op !== "in") return undefined;
    const [key, map] = node.args as [CelNode, CelNode];
    return isQueryMap(map) ? key : undefined;
  };
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n);
      return;
    }
    if (node === null || typeof node !== "object" || !("op" in node)) return;
    const n = node as CelNode;
    const queryKey = queryKeyOf(n);
    if (queryKey !== undefined) {
      fields.add("query");
      const name = typeof queryKey === "string" ? queryKey : isText(queryKey) ? (queryKey.args as string) : undefined;
      if (name === undefined || foldedName(name) !== name) queryNamesInUpperCase = true;
      // A computed key may itself read the request.
      if (typeof queryKey !== "string") visit(queryKey);
      return;
    }
    const named = headerNamedBy(n);
    if (named !== undefined) {
      fields.add("headers");
      headers.add(named);
      return;
    }
    if (isPresenceTest(n)) {
      fields.add("headers");
      // The key of `key in request.headers` may itself read headers.
      if (n.op === "in") visit((n.args as [CelNode])[0]);
      return;
    }
    if (isRequest(n)) wholeRequest = true;
    else if (isField(n) && isRequest((n.args as [CelNode, string])[0])) {
      const field = (n.args as [CelNode, string])[1];
      fields.add(field);
      // The header or query map itself, not one of the forms above: read by keys that cannot be known.
      if (field === "headers") anyHeader = true;
      if (field === "query") queryNamesInUpperCase = true;
      if (Object.hasOwn(HEADER_ATTRIBUTES, field)) headers.add(HEADER_ATTRIBUTES[field]!);
    } else visit(n.args);
  };
  /** `key in request.headers` or `has(request.headers.x)`: whether a header is there, the same on every reading of its lines. */
  const isPresenceTest = (node: CelNode): boolean => {
    if (node.op === "in") return isHeaderMap((node.args as [CelNode, CelNode])[1]);
    if (node.op !== "call") return false;
    const [name, callArgs] = node.args as [string, CelNode[]];
    return name === "has" && callArgs.length === 1 && isField(callArgs[0]!) && isHeaderMap((callArgs[0]!.args as [CelNode])[0]);
  };
  visit(ast);
  return {
    requestFields: wholeRequest ? undefined : fields,
    headersNamed: anyHeader || wholeRequest ? undefined : headers,
    queryNamesInUpperCase: queryNamesInUpperCase || wholeRequest,
  };
}

type Parsed = ((context: Record<string, unknown>) => unknown) & { ast: CelNode };

/** The function `text.matches("pattern")` is rewritten to; refused in expressions as written (cel-cost.ts knows no such function). */
const RE2_SEARCH = "re2Search";

/**
 * The expression parsed with each `text.matches("pattern")` run by RE2 (a search, as CEL's
 * matches()) instead of cel-js' JavaScript RegExp, which reads RE2 syntax another way and may
 * backtrack: cel-js' own `matches` cannot be replaced, so the calls are renamed to a function of
 * an environment of this expression's own, which runs the patterns compiled while estimating.
 */
function withRe2Search(source: string, searches: Searches, variables: CelVariables): Result<Parsed, string> {
  let written = source;
  // From the end, so that the offsets of the calls before stay valid.
  for (const [start, end] of [...searches.calls].sort(([a], [b]) => b - a)) {
    // Between the receiver and the pattern: the receiver's closing parentheses, `.matches(`, spaces.
    const call = /^([\s)]*\.\s*)matches(\s*\(\s*)$/.exec(source.slice(start, end));
    if (call === null) return fail('write matches() as text.matches("pattern"), without comments inside the call');
    written = `${written.slice(0, start)}${call[1]}${RE2_SEARCH}${call[2]}${written.slice(end)}`;
  }
  const environment = variables.environment.clone();
  environment.registerFunction(`string.${RE2_SEARCH}(string): bool`, (text: string, pattern: string) =>
    searches.patterns.get(pattern)!.test(text),
  );
  return parse(written, { ...variables, environment });
}

function parse(source: string, variables: CelVariables): Result<Parsed, string> {
  try {
    return ok(variables.environment.parse(source) as Parsed);
  } catch (e) {
    return fail((e as Error).message.split("\n")[0]!);
  }
}

/**
 * The first Envoy attribute `ast` names that `variables` lists as unavailable (a variable, or a
 * field of one); a comprehension or `cel.bind` variable may not take such a name either.
 */
function unavailableIn(ast: CelNode, variables: CelVariables): string | undefined {
  const visit = (node: unknown): string | undefined => {
    if (Array.isArray(node)) {
      for (const n of node) {
        const found = visit(n);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    if (node === null || typeof node !== "object" || !("op" in node)) return undefined;
    const { op, args } = node as CelNode;
    if (op === "id" && Object.hasOwn(variables.unavailable, args as string)) return args as string;
    if (op === "." || op === ".?") {
      const [object, field] = args as [CelNode, string];
      const name = object.op === "id" ? `${object.args as string}.${field}` : undefined;
      if (name !== undefined && Object.hasOwn(variables.unavailable, name)) return name;
    }
    return visit(args);
  };
  return visit(ast);
}
