/**
 * The import graph of controller/ (read with the TypeScript compiler's parser): no module imports
 * itself back through others (type-only imports, erased before Node runs, are left out of that),
 * and the pure parts (features/, compile/, authz/) import nothing from the edges that do I/O and
 * wiring (sources/, server/, runtime/), type imports included; server/ does not import runtime/;
 * a feature reaches another feature only through that feature's index.ts (its `Feature` and spec
 * types), never its internals: what several features share lives in compile/ or lib/.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../controller");

interface Edge {
  readonly to: string;
  /** Erased at run time (`import type`, or every named import marked `type`). */
  readonly typeOnly: boolean;
}

/** Each module's relative imports and re-exports (and dynamic `import()`s), by path below `root`. */
function importGraph(root: string): Map<string, Edge[]> {
  const graph = new Map<string, Edge[]>();
  const files = readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
  for (const file of files) {
    const source = ts.createSourceFile(file, readFileSync(path.join(root, file), "utf8"), ts.ScriptTarget.Latest);
    const edges: Edge[] = [];
    const add = (specifier: ts.Expression | undefined, typeOnly: boolean) => {
      if (specifier === undefined || !ts.isStringLiteral(specifier) || !specifier.text.startsWith(".")) return;
      edges.push({ to: path.relative(root, path.resolve(root, path.dirname(file), specifier.text)), typeOnly });
    };
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node)) add(node.moduleSpecifier, isTypeOnlyImport(node));
      else if (ts.isExportDeclaration(node)) add(node.moduleSpecifier, node.isTypeOnly);
      else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0], false);
      ts.forEachChild(node, visit);
    };
    visit(source);
    graph.set(file, edges);
  }
  return graph;
}

function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (clause === undefined) return false;
  if (clause.isTypeOnly) return true;
  const bindings = clause.namedBindings;
  return clause.name === undefined && bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.every((e) => e.isTypeOnly);
}

/** Every cycle of run-time imports, each as the modules on it (the first repeated at the end). */
function cyclesOf(graph: ReadonlyMap<string, readonly Edge[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const walk = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const { to, typeOnly } of graph.get(file) ?? []) {
      if (typeOnly) continue;
      if (state.get(to) === "open") cycles.push([...stack.slice(stack.indexOf(to)), to]);
      else if (state.get(to) === undefined) walk(to);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) walk(file);
  return cycles;
}

/** Imports from a module under one of `from` into one under `to`, as "module -> import". */
function crossings(graph: ReadonlyMap<string, readonly Edge[]>, from: readonly string[], to: readonly string[]): string[] {
  const under = (file: string, dirs: readonly string[]) => dirs.some((d) => file.startsWith(`${d}/`));
  return [...graph].flatMap(([file, edges]) =>
    under(file, from) ? edges.filter((e) => under(e.to, to)).map((e) => `${file} -> ${e.to}`) : [],
  );
}

/** Imports from one feature's folder into another's files other than its index.ts, as "module -> import". */
function featureInternals(graph: ReadonlyMap<string, readonly Edge[]>): string[] {
  const featureOf = (file: string) => /^features\/([^/]+)\//.exec(file)?.[1];
  return [...graph].flatMap(([file, edges]) => {
    const own = featureOf(file);
    if (own === undefined) return [];
    return edges
      .filter((e) => {
        const other = featureOf(e.to);
        return other !== undefined && other !== own && e.to !== `features/${other}/index.ts`;
      })
      .map((e) => `${file} -> ${e.to}`);
  });
}

describe("the import graph of controller/", () => {
  const graph = importGraph(ROOT);

  it("is read from every module, with the imports written there", () => {
    expect(graph.get("authz/feature-phases.ts")).toContainEqual({ to: "features/feature.ts", typeOnly: false });
    expect(graph.get("authz/check.ts")).toContainEqual({ to: "snapshot/types.ts", typeOnly: true });
    expect(graph.get("runtime/app.ts")).toContainEqual({ to: "runtime/kube.ts", typeOnly: false });
  });

  it("has no cycle of run-time imports", () => {
    expect(cyclesOf(graph)).toEqual([]);
  });

  it("keeps features/, compile/ and authz/ free of sources/, server/ and runtime/", () => {
    expect(crossings(graph, ["features", "compile", "authz"], ["sources", "server", "runtime"])).toEqual([]);
  });

  it("has server/ import nothing from runtime/ (runtime/ wires the servers)", () => {
    expect(crossings(graph, ["server"], ["runtime"])).toEqual([]);
  });

  it("has a feature import another feature only through its index.ts, type imports included", () => {
    expect(featureInternals(graph)).toEqual([]);
  });
});

describe("the checks themselves", () => {
  const graph = new Map<string, Edge[]>([
    ["a/x.ts", [{ to: "b/y.ts", typeOnly: false }]],
    ["b/y.ts", [{ to: "a/x.ts", typeOnly: false }]],
    ["c/z.ts", [{ to: "a/x.ts", typeOnly: true }]],
    ["a/w.ts", [{ to: "c/z.ts", typeOnly: true }]],
  ]);

  it("find a cycle of run-time imports, and not one closed by a type-only import", () => {
    expect(cyclesOf(graph)).toEqual([["a/x.ts", "b/y.ts", "a/x.ts"]]);
  });

  it("find an import across folders whether or not it is type-only", () => {
    expect(crossings(graph, ["c"], ["a"])).toEqual(["c/z.ts -> a/x.ts"]);
  });

  it("find a feature's import of another feature's internals, and not of its index.ts or its own files", () => {
    const features = new Map<string, Edge[]>([
      [
        "features/a/check.ts",
        [
          { to: "features/b/check.ts", typeOnly: true },
          { to: "features/b/index.ts", typeOnly: false },
        ],
      ],
      [
        "features/a/index.ts",
        [
          { to: "features/a/check.ts", typeOnly: false },
          { to: "features/feature.ts", typeOnly: true },
        ],
      ],
      ["features/index.ts", [{ to: "features/a/index.ts", typeOnly: false }]],
      ["compile/policy.ts", [{ to: "features/b/check.ts", typeOnly: false }]],
    ]);
    expect(featureInternals(features)).toEqual(["features/a/check.ts -> features/b/check.ts"]);
  });
});
