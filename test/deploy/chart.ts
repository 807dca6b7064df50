/**
 * Loads charts/portcullis and renders it like `helm template` would (values merged over values.yaml,
 * .Release, .Chart, .Capabilities), with the strict renderer in gotemplate.ts. Also: the paths of
 * every `.Values.x.y` a template mentions, for the "no reference to a value that does not exist" check.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { Renderer } from "./gotemplate.ts";

export type Obj = Record<string, any>;

export const ROOT = join(import.meta.dirname, "../..");
export const CHART = join(ROOT, "charts/portcullis");
export const TEMPLATES = join(CHART, "templates");

/** API versions of a current cluster with the Prometheus Operator, for renders without an API server. */
export const MODERN_API_VERSIONS = ["v1", "apps/v1", "policy/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "coordination.k8s.io/v1", "monitoring.coreos.com/v1"];

export interface RenderOptions {
  readonly releaseName?: string;
  readonly namespace?: string;
  /** "group/version" strings the cluster serves (.Capabilities.APIVersions.Has). */
  readonly apiVersions?: readonly string[];
}

export interface Rendered {
  /** Every object, with the template file it came from. */
  readonly objects: readonly { readonly file: string; readonly obj: Obj }[];
  readonly notes: string;
  /** `kubectl apply`-able multi-document YAML of all objects. */
  readonly yaml: string;
}

export function chartMeta(): Obj {
  return parse(readFileSync(join(CHART, "Chart.yaml"), "utf8")) as Obj;
}

export function defaultValues(): Obj {
  return parse(readFileSync(join(CHART, "values.yaml"), "utf8")) as Obj;
}

export function templateFiles(): string[] {
  return readdirSync(TEMPLATES).sort();
}

/** Helm's coalescing: maps merge key by key, anything else (lists included) replaces; null deletes. */
export function mergeValues(base: Obj, override: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(override)) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = mergeValues(out[k] as Obj, v);
    else out[k] = v;
  }
  return out;
}

const isMap = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

export function renderChart(overrides: Obj = {}, options: RenderOptions = {}): Rendered {
  const meta = chartMeta();
  const apiVersions = new Set(options.apiVersions ?? MODERN_API_VERSIONS);
  const context = {
    Values: mergeValues(defaultValues(), overrides),
    Release: { Name: options.releaseName ?? "portcullis", Namespace: options.namespace ?? "portcullis", Service: "Helm", IsInstall: true, IsUpgrade: false, Revision: 1 },
    Chart: { Name: meta.name, Version: meta.version, AppVersion: meta.appVersion },
    Capabilities: { APIVersions: { Has: (v: unknown) => apiVersions.has(String(v)) } },
  };
  const renderer = new Renderer();
  const bodies = new Map<string, ReturnType<Renderer["parse"]>>();
  for (const file of templateFiles()) {
    const body = renderer.parse(readFileSync(join(TEMPLATES, file), "utf8"), file);
    if (!file.startsWith("_")) bodies.set(file, body);
  }
  const objects: { file: string; obj: Obj }[] = [];
  const texts: string[] = [];
  let notes = "";
  for (const [file, body] of bodies) {
    const text = renderer.render(body, context);
    if (file === "NOTES.txt") {
      notes = text;
      continue;
    }
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new Error(`${file} does not render to valid YAML: ${doc.errors[0]!.message}\n${text}`);
      const obj = doc.toJS() as Obj | null;
      if (obj === null) continue;
      objects.push({ file, obj });
      texts.push(`# Source: portcullis/templates/${file}\n${doc.toString().replace(/^---\n/, "").trim()}`);
    }
  }
  return { objects, notes, yaml: `${texts.join("\n---\n")}\n` };
}

/** Every `.Values.a.b` (or `$.Values.a.b`) path a template mentions, with the files mentioning it. */
export function valuePathsInTemplates(): Map<string, string[]> {
  const paths = new Map<string, string[]>();
  for (const file of templateFiles()) {
    const src = readFileSync(join(TEMPLATES, file), "utf8");
    for (const action of src.match(/\{\{[\s\S]*?\}\}/g) ?? []) {
      for (const m of action.matchAll(/\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        const path = m[1]!.slice(1);
        paths.set(path, [...(paths.get(path) ?? []), file]);
      }
    }
  }
  return paths;
}

export function find(r: Rendered, kind: string, name?: string): Obj {
  const hit = r.objects.find((o) => o.obj.kind === kind && (name === undefined || o.obj.metadata?.name === name));
  if (!hit) throw new Error(`no ${kind}${name ? ` ${name}` : ""} in the rendered chart: ${r.objects.map((o) => `${o.obj.kind}/${o.obj.metadata?.name}`).join(", ")}`);
  return hit.obj;
}
