/** One-shot loading of a manifest folder for the check and compile commands. */
import type { Resources } from "../api/resources.ts";
import { compile, type CompileOptions, type CompileResult } from "../compile/index.ts";
import type { ClientAddressOptions } from "../authz/client-address.ts";
import { clientIPDetectionLines } from "../sources/client-traffic-policies.ts";
import { ManifestFolder } from "../sources/manifests.ts";

export interface FolderCompile extends CompileResult {
  readonly resources: Resources;
  /**
   * Files that do not parse or cannot be read, or hold an object that is not valid, as
   * `file: line N, column M: why` (`file: document N at line L (kind namespace/name) is not valid: why`).
   */
  readonly brokenFiles: readonly string[];
  /**
   * Copies alike (same kind, namespace, name and contents) of an object read earlier, read once: only a
   * warning, as `file#document (kind namespace/name): why`. A copy that differs is a broken file.
   */
  readonly duplicateObjects: readonly string[];
  /** Fields not read, as Envoy Gateway's file provider does not read them (a Secret's stringData), one line each. */
  readonly unreadFields: readonly string[];
  /** ClientTrafficPolicies whose clientIPDetection the client address flags do not give (sources/client-traffic-policies.ts), one line each. */
  readonly clientIPDetection: readonly string[];
}

/**
 * The lines check and compile print as warnings: duplicates read once, fields not read, problems of
 * objects that are not policies; compile's ClientTrafficPolicy lines too (check's are errors).
 */
export function folderWarnings(folder: FolderCompile, clientIPDetection: "warnings" | "errors"): string[] {
  const detection = clientIPDetection === "warnings" ? folder.clientIPDetection : [];
  return [...folder.duplicateObjects, ...folder.unreadFields, ...detection, ...folder.problems];
}

/**
 * Reads and compiles `dir`; `clientAddress`: the client address flags decisions are made with (check),
 * absent where none are (compile). Throws UnreadableInputError when the folder cannot be listed.
 */
export function compileFolder(dir: string, options: CompileOptions, clientAddress?: ClientAddressOptions): FolderCompile {
  const { resources, rejected, unread, errors, objects } = new ManifestFolder(dir).read().latest;
  return {
    ...compile(resources, options),
    resources,
    brokenFiles: errors.map((e) => `${e.file}: ${e.error}`),
    duplicateObjects: rejected.map((r) => `${r.origin} (${r.object}): ${r.reason}`),
    unreadFields: unread,
    clientIPDetection: clientIPDetectionLines(objects, clientAddress),
  };
}
