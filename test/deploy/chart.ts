/**
 * Renders charts/portcullis with the real helm (`helm template`: values merged over values.yaml by
 * helm, validated against values.schema.json by helm). With a kubeconfig, helm asks that API server
 * for its capabilities (`--validate`), as `helm install` would. Also: the paths of every `.Values.x.y`
 * a template mentions, for the "no reference to a value that does not exist" check.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { helm } from "./helm.ts";

export type Obj = Record<string, any>;

export const ROOT = join(import.meta.dirname, "../..");
export const CHART = join(ROOT, "charts/portcullis");
export const TEMPLATES = join(CHART, "templates");

/** API versions beyond Kubernetes' own that a production cluster serves (the Prometheus Operator's). */
const EXTRA_API_VERSIONS = ["monitoring.coreos.com/v1"];

export interface RenderOptions {
  readonly releaseName?: string;
  readonly namespace?: string;
  /** A kubeconfig: helm takes the API versions from that server instead of its built-in list. */
  readonly kubeconfig?: string;
}

export interface Rendered {
  /** Every object, with the template file it came from. */
  readonly objects: readonly { readonly file: string; readonly obj: Obj }[];
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

let valuesDir: string | undefined;

/** Writes `values` to a file for `helm -f` (helm coalesces it over values.yaml itself). */
export function valuesFile(values: Obj): string {
  valuesDir ??= mkdtempSync(join(tmpdir(), "portcullis-values-"));
  const file = join(valuesDir, `${readdirSync(valuesDir).length}.json`);
  writeFileSync(file, JSON.stringify(values));
  return file;
}

/** `helm template`; throws with helm's message when the chart refuses the values. */
export function renderChart(overrides: Obj = {}, options: RenderOptions = {}): Rendered {
  const args = [
    "template",
    options.releaseName ?? "portcullis",
    CHART,
    "--namespace",
    options.namespace ?? "portcullis",
    "-f",
    valuesFile(overrides),
  ];
  if (options.kubeconfig !== undefined) args.push("--validate", "--kubeconfig", options.kubeconfig);
  else for (const v of EXTRA_API_VERSIONS) args.push("--api-versions", v);
  const text = helm(args);
  const objects: { file: string; obj: Obj }[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`helm template printed invalid YAML: ${doc.errors[0]!.message}\n${text}`);
    const obj = doc.toJS() as Obj | null;
    if (obj === null) continue;
    const source =
      /^# Source: portcullis\/templates\/(\S+)/m.exec(doc.commentBefore ?? "")?.[1] ??
      /# Source: portcullis\/templates\/(\S+)/.exec(doc.toString())?.[1];
    if (source === undefined) throw new Error(`an object without helm's "# Source:" line: ${doc.toString().slice(0, 200)}`);
    objects.push({ file: source, obj });
  }
  return { objects, yaml: text };
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
  if (!hit)
    throw new Error(
      `no ${kind}${name ? ` ${name}` : ""} in the rendered chart: ${r.objects.map((o) => `${o.obj.kind}/${o.obj.metadata?.name}`).join(", ")}`,
    );
  return hit.obj;
}
