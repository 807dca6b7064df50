/** The commands as a user runs them, in-process: exit codes and what they report. */
import { runCompile } from "../../controller/commands/compile.ts";
import { loadConfig, type CompileConfig } from "../../controller/config.ts";

/** `portcullis compile --manifests dir`, in-process: its exit code and the lines it reported (statuses not kept). */
export function compileCommand(dir: string): { code: number; reported: string[] } {
  const reported: string[] = [];
  const config = loadConfig(["compile", "--manifests", dir], {}) as CompileConfig;
  const code = runCompile(
    config,
    () => {},
    (line) => void reported.push(line),
    new Date(),
  );
  return { code, reported };
}
