/** One-shot loading of a manifest folder for the check and compile commands; problems go to stderr. */
import { toResources, type Resources } from "../api/resources.ts";
import { compile, type CompileResult } from "../compile/index.ts";
import { ManifestFolder } from "../sources/manifests.ts";

export function compileFolder(dir: string, controllerName: string, gatewayClasses: readonly string[], warn: (line: string) => void): CompileResult & { resources: Resources } {
  const load = new ManifestFolder(dir).load();
  for (const e of load.errors) warn(`${e.file}: ${e.error}`);
  const { resources, rejected } = toResources(load.objects);
  for (const r of rejected) warn(`${r.origin} (${r.object}): ${r.reason}`);
  const result = compile(resources, { controllerName, gatewayClasses });
  for (const p of result.problems) warn(p);
  return { ...result, resources };
}
