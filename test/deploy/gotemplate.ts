/**
 * A small, strict interpreter for the subset of Go text/template + Sprig that charts/portcullis uses,
 * so the chart can be rendered and checked without a helm binary. Strict on purpose: a function,
 * keyword or syntax it does not know is an error (never silently empty), and so is a map key that
 * does not exist, which is how "every template references only values that exist" is enforced at
 * render time. Semantics follow Go where they show in output: truthiness, `with`/`range` rebinding
 * dot, `$`, whitespace trimming with `{{-`/`-}}`, numbers printed as Go prints float64, and Helm's
 * `toYaml` (sorted keys, no trailing newline).
 */
import { stringify } from "yaml";

type Value = unknown;
type Fn = (...args: Value[]) => Value;
type Operand =
  | { k: "lit"; v: Value }
  | { k: "field"; base: string; path: string[] } // base "." (dot) or "$name"
  | { k: "ident"; name: string }
  | { k: "sub"; pipe: Pipe };
interface Pipe { decl?: { names: string[]; assign: boolean }; cmds: Operand[][] }
type Node =
  | { k: "text"; s: string }
  | { k: "out"; pipe: Pipe }
  | { k: "if"; branches: { pipe: Pipe; body: Node[] }[]; els: Node[] }
  | { k: "with" | "range"; pipe: Pipe; body: Node[]; els: Node[] };

export class TemplateError extends Error {}

// ---------- lexing ----------

interface Action { text: string; line: number }
type Piece = { t: "text"; s: string } | { t: "action"; a: Action };

function split(src: string, file: string): Piece[] {
  const out: Piece[] = [];
  let i = 0;
  for (;;) {
    const open = src.indexOf("{{", i);
    if (open < 0) {
      out.push({ t: "text", s: src.slice(i) });
      return out;
    }
    const close = src.indexOf("}}", open);
    if (close < 0) throw new TemplateError(`${file}: unclosed action`);
    let text = src.slice(i, open);
    let inner = src.slice(open + 2, close);
    if (/^-\s/.test(inner)) { text = text.replace(/\s+$/, ""); inner = inner.slice(1); }
    let next = close + 2;
    if (/\s-$/.test(inner)) { inner = inner.slice(0, -1); next += /^\s*/.exec(src.slice(next))![0].length; }
    out.push({ t: "text", s: text });
    const trimmed = inner.trim();
    if (!(trimmed.startsWith("/*") && trimmed.endsWith("*/"))) out.push({ t: "action", a: { text: trimmed, line: src.slice(0, open).split("\n").length } });
    i = next;
  }
}

type Tok = { t: "str" | "num" | "ident" | "field" | "var" | "punct"; v: string; path?: string[] };

function tokenize(s: string): Tok[] {
  const toks: Tok[] = [];
  const re = /\s+|"(?:[^"\\]|\\.)*"|`[^`]*`|-?\d+(?:\.\d+)?|:=|[()|,=]|\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.|[A-Za-z_][A-Za-z0-9_]*/y;
  let m: RegExpExecArray | null;
  while (re.lastIndex < s.length && (m = re.exec(s)) !== null) {
    const v = m[0];
    if (/^\s/.test(v)) continue;
    if (v.startsWith('"')) toks.push({ t: "str", v: JSON.parse(v) as string });
    else if (v.startsWith("`")) toks.push({ t: "str", v: v.slice(1, -1) });
    else if (/^-?\d/.test(v)) toks.push({ t: "num", v });
    else if (v.startsWith("$")) { const [name, ...path] = v.split("."); toks.push({ t: "var", v: name!, path }); }
    else if (v.startsWith(".")) toks.push({ t: "field", v, path: v === "." ? [] : v.slice(1).split(".") });
    else if (/^[A-Za-z_]/.test(v)) toks.push({ t: "ident", v });
    else toks.push({ t: "punct", v });
  }
  if (re.lastIndex < s.length) throw new TemplateError(`cannot read "${s.slice(re.lastIndex)}"`);
  return toks;
}

function parsePipe(toks: Tok[], pos = { i: 0 }, inParen = false): Pipe {
  const pipe: Pipe = { cmds: [] };
  const t0 = toks[pos.i], t1 = toks[pos.i + 1], t2 = toks[pos.i + 2];
  if (t0?.t === "var" && t1?.t === "punct" && (t1.v === ":=" || t1.v === "=")) {
    pipe.decl = { names: [t0.v], assign: t1.v === "=" };
    pos.i += 2;
  } else if (t0?.t === "var" && t1?.v === "," && t2?.t === "var" && toks[pos.i + 3]?.v === ":=") {
    pipe.decl = { names: [t0.v, t2.v], assign: false };
    pos.i += 4;
  }
  let cmd: Operand[] = [];
  while (pos.i < toks.length) {
    const t = toks[pos.i++]!;
    if (t.t === "punct" && t.v === ")") {
      if (!inParen) throw new TemplateError("unexpected )");
      pos.i--;
      break;
    }
    if (t.t === "punct" && t.v === "|") { pipe.cmds.push(cmd); cmd = []; continue; }
    if (t.t === "punct" && t.v === "(") {
      cmd.push({ k: "sub", pipe: parsePipe(toks, pos, true) });
      if (toks[pos.i++]?.v !== ")") throw new TemplateError("missing )");
      continue;
    }
    if (t.t === "str") cmd.push({ k: "lit", v: t.v });
    else if (t.t === "num") cmd.push({ k: "lit", v: Number(t.v) });
    else if (t.t === "field") cmd.push({ k: "field", base: ".", path: t.path! });
    else if (t.t === "var") cmd.push({ k: "field", base: t.v, path: t.path! });
    else if (t.t === "ident" && (t.v === "true" || t.v === "false")) cmd.push({ k: "lit", v: t.v === "true" });
    else if (t.t === "ident" && t.v === "nil") cmd.push({ k: "lit", v: null });
    else if (t.t === "ident") cmd.push({ k: "ident", name: t.v });
    else throw new TemplateError(`unexpected "${t.v}"`);
  }
  if (cmd.length === 0) throw new TemplateError("empty command in pipeline");
  pipe.cmds.push(cmd);
  return pipe;
}

/** Parses a file into its body and the templates it `define`s. */
export function parseTemplate(src: string, file: string, defines: Map<string, Node[]>): Node[] {
  const pieces = split(src, file);
  let i = 0;
  const where = (a: Action) => `${file}:${a.line}`;
  const block = (ends: string[]): { nodes: Node[]; end: string; rest: string; a?: Action } => {
    const nodes: Node[] = [];
    while (i < pieces.length) {
      const p = pieces[i++]!;
      if (p.t === "text") { if (p.s) nodes.push({ k: "text", s: p.s }); continue; }
      const a = p.a;
      const kw = a.text.split(/\s+/)[0];
      const rest = a.text.slice(kw!.length).trim();
      try {
        if (kw === "end" || kw === "else") {
          if (!ends.includes(kw)) throw new TemplateError(`unexpected {{${kw}}}`);
          return { nodes, end: kw, rest, a };
        }
        if (kw === "if") {
          const branches = [{ pipe: parsePipe(tokenize(rest)), body: [] as Node[] }];
          let els: Node[] = [];
          for (;;) {
            const b = block(["else", "end"]);
            branches[branches.length - 1]!.body = b.nodes;
            if (b.end === "end") break;
            if (b.rest.startsWith("if ")) { branches.push({ pipe: parsePipe(tokenize(b.rest.slice(3))), body: [] }); continue; }
            if (b.rest !== "") throw new TemplateError(`unsupported {{else ${b.rest}}}`);
            const e = block(["end"]);
            els = e.nodes;
            break;
          }
          nodes.push({ k: "if", branches, els });
        } else if (kw === "with" || kw === "range") {
          const pipe = parsePipe(tokenize(rest));
          const b = block(["else", "end"]);
          const els = b.end === "else" ? block(["end"]).nodes : [];
          nodes.push({ k: kw, pipe, body: b.nodes, els });
        } else if (kw === "define") {
          const name = JSON.parse(rest) as string;
          defines.set(name, block(["end"]).nodes);
        } else if (["template", "block", "break", "continue"].includes(kw!)) {
          throw new TemplateError(`{{${kw}}} is not supported by this renderer; use include`);
        } else {
          nodes.push({ k: "out", pipe: parsePipe(tokenize(a.text)) });
        }
      } catch (e) {
        throw e instanceof TemplateError && !e.message.startsWith(file) ? new TemplateError(`${where(a)}: ${e.message}`) : e;
      }
    }
    if (ends.length > 0) throw new TemplateError(`${file}: missing {{end}}`);
    return { nodes, end: "", rest: "" };
  };
  return block([]).nodes;
}

// ---------- evaluation ----------

export function truthy(v: Value): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return true;
}

/** Go's %v for the values Helm has: numbers are float64 (1e+06 for a million, as Helm shows it). */
export function goString(v: Value): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return String(v);
  if (typeof v === "number") {
    if (v === 0) return "0";
    const [mant, e] = v.toExponential().split("e") as [string, string];
    const exp = Number(e);
    // strconv 'g' with the shortest precision switches to an exponent at 1e-5 and at 1e+06.
    if (exp < -4 || exp >= 6) return `${mant}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
    return String(v);
  }
  throw new TemplateError(`cannot print a ${Array.isArray(v) ? "list" : "map"} directly (use toYaml): ${JSON.stringify(v)}`);
}

const isMap = (v: Value): v is Record<string, Value> => typeof v === "object" && v !== null && !Array.isArray(v);

export class Renderer {
  readonly defines = new Map<string, Node[]>();
  readonly #funcs: Record<string, Fn>;

  constructor() {
    const toYaml = (v: Value) => (v === null || v === undefined ? "null" : stringify(v, { sortMapEntries: true, lineWidth: 0 }).replace(/\n$/, ""));
    const indent = (n: Value, s: Value) => goString(s).split("\n").map((l) => " ".repeat(Number(n)) + l).join("\n");
    this.#funcs = {
      include: (name, ctx) => this.#run(this.#define(String(name)), ctx),
      toYaml,
      indent,
      nindent: (n, s) => `\n${indent(n, s)}`,
      quote: (...xs) => xs.map((x) => JSON.stringify(goString(x))).join(" "),
      default: (d, v) => (truthy(v) ? v : d),
      required: (msg, v) => { if (v === null || v === undefined || v === "") throw new TemplateError(String(msg)); return v; },
      fail: (msg) => { throw new TemplateError(String(msg)); },
      empty: (v) => !truthy(v),
      not: (v) => !truthy(v),
      and: (...xs) => xs.find((x) => !truthy(x)) ?? xs[xs.length - 1],
      or: (...xs) => xs.find((x) => truthy(x)) ?? xs[xs.length - 1],
      eq: (a, ...bs) => bs.some((b) => a === b),
      ne: (a, b) => a !== b,
      contains: (sub, s) => goString(s).includes(goString(sub)),
      trunc: (n, s) => goString(s).slice(0, Number(n)),
      trimSuffix: (suf, s) => (goString(s).endsWith(goString(suf)) ? goString(s).slice(0, -goString(suf).length || undefined) : goString(s)),
      join: (sep, list) => (list as Value[]).map(goString).join(goString(sep)),
      printf: (fmt, ...args) => goString(fmt).replace(/%[sdv]/g, () => goString(args.shift())),
    };
  }

  /** Adds a file: its `define`s become available to every file; returns its body. */
  parse(src: string, file: string): Node[] {
    return parseTemplate(src, file, this.defines);
  }

  render(body: Node[], data: Value): string {
    return this.#run(body, data);
  }

  #define(name: string): Node[] {
    const t = this.defines.get(name);
    if (t === undefined) throw new TemplateError(`no template named "${name}"`);
    return t;
  }

  #run(body: Node[], data: Value): string {
    const scopes: Map<string, Value>[] = [new Map([["$", data]])];
    return this.#exec(body, data, scopes);
  }

  #exec(nodes: Node[], dot: Value, scopes: Map<string, Value>[]): string {
    let out = "";
    for (const n of nodes) {
      if (n.k === "text") out += n.s;
      else if (n.k === "out") {
        const v = this.#pipe(n.pipe, dot, scopes);
        if (!n.pipe.decl) out += goString(v);
      } else if (n.k === "if") {
        const hit = n.branches.find((b) => truthy(this.#pipe(b.pipe, dot, [...scopes, new Map()])));
        out += this.#exec(hit ? hit.body : n.els, dot, [...scopes, new Map()]);
      } else if (n.k === "with") {
        const v = this.#pipe(n.pipe, dot, scopes);
        out += truthy(v) ? this.#exec(n.body, v, [...scopes, new Map()]) : this.#exec(n.els, dot, [...scopes, new Map()]);
      } else {
        const inner = [...scopes, new Map<string, Value>()];
        const decl = n.pipe.decl;
        const v = this.#pipe({ cmds: n.pipe.cmds }, dot, inner);
        const entries: [Value, Value][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : isMap(v) ? Object.keys(v).sort().map((k) => [k, v[k]]) : [];
        if (v !== null && v !== undefined && !Array.isArray(v) && !isMap(v)) throw new TemplateError(`range over ${typeof v}`);
        if (entries.length === 0) out += this.#exec(n.els, dot, inner);
        for (const [k, x] of entries) {
          const scope = new Map<string, Value>();
          if (decl?.names.length === 1) scope.set(decl.names[0]!, x);
          if (decl?.names.length === 2) { scope.set(decl.names[0]!, k); scope.set(decl.names[1]!, x); }
          out += this.#exec(n.body, x, [...inner, scope]);
        }
      }
    }
    return out;
  }

  #pipe(pipe: Pipe, dot: Value, scopes: Map<string, Value>[]): Value {
    let v: Value = undefined;
    pipe.cmds.forEach((cmd, i) => (v = this.#cmd(cmd, dot, scopes, i === 0 ? [] : [v])));
    if (pipe.decl) {
      const name = pipe.decl.names[0]!;
      const target = pipe.decl.assign ? [...scopes].reverse().find((s) => s.has(name)) : scopes[scopes.length - 1];
      if (!target) throw new TemplateError(`undefined variable ${name}`);
      target.set(name, v);
    }
    return v;
  }

  #cmd(cmd: Operand[], dot: Value, scopes: Map<string, Value>[], piped: Value[]): Value {
    const [head, ...rest] = cmd;
    const args = () => [...rest.map((o) => this.#operand(o, dot, scopes)), ...piped];
    if (head!.k === "ident") {
      const fn = this.#funcs[head!.name];
      if (!fn) throw new TemplateError(`function "${head!.name}" is not supported by this renderer`);
      return fn(...args());
    }
    const v = this.#operand(head!, dot, scopes);
    if (typeof v === "function") return (v as Fn)(...args());
    if (rest.length > 0 || piped.length > 0) throw new TemplateError("cannot give arguments to a non-function");
    return v;
  }

  #operand(o: Operand, dot: Value, scopes: Map<string, Value>[]): Value {
    if (o.k === "lit") return o.v;
    if (o.k === "sub") return this.#pipe(o.pipe, dot, scopes);
    if (o.k === "ident") {
      const fn = this.#funcs[o.name];
      if (!fn) throw new TemplateError(`function "${o.name}" is not supported by this renderer`);
      return fn();
    }
    let v: Value = dot;
    if (o.base !== ".") {
      const scope = [...scopes].reverse().find((s) => s.has(o.base));
      if (!scope) throw new TemplateError(`undefined variable ${o.base}`);
      v = scope.get(o.base);
    }
    let at = o.base === "." ? "" : o.base;
    for (const key of o.path) {
      if (!isMap(v)) throw new TemplateError(`${at || "."} is ${v === null || v === undefined ? "nil" : typeof v}, cannot read .${key}`);
      if (!(key in v)) throw new TemplateError(`${at}.${key} does not exist`);
      v = v[key];
      at += `.${key}`;
    }
    return v;
  }
}
