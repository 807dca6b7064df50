/**
 * One file of a manifest folder, read: its objects, or why it breaks the folder (it cannot be read,
 * is too large, is a link to a folder or not a regular file, or does not parse), in the words each
 * error of a folder read is given in (objectError: the file, the document and its line, what is wrong
 * and why), with a hint when the file's name does not say it holds manifests.
 */
import { readFileSync, statSync } from "node:fs";
import type { RawObject, RejectedObject } from "../api/resources.ts";
import { parseManifests } from "./manifest-text.ts";

/** Files larger than this are refused: a manifest folder is configuration, not data. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** A rejected object as its file's error: the file from its origin ("file#N"), the document and the line it begins on, what is wrong and why. */
export function objectError(
  r: Pick<RejectedObject, "origin" | "object">,
  line: number | undefined,
  what: string,
  why: string,
): { file: string; error: string } {
  const hash = r.origin.lastIndexOf("#");
  const at = line === undefined ? "" : ` at line ${line}`;
  return { file: r.origin.slice(0, hash), error: `document ${r.origin.slice(hash + 1)}${at} (${r.object}) ${what}: ${why}` };
}

/**
 * The objects of the folder's entry `path` (named `file`), read as Envoy Gateway's file provider
 * reads every entry that is not itself a folder: as a file of manifests, through a link. A link to a
 * folder, and a pipe, socket or device, fail that provider's whole load (or, a pipe, hang it), and
 * break the folder here.
 */
export function parseFile(path: string | Buffer, file: string): { objects: RawObject[] } | { error: string } {
  let text: string;
  try {
    const stats = statSync(path);
    if (stats.isDirectory()) {
      return {
        error:
          "is a link to a folder: Envoy Gateway's file provider reads each entry of its folder that is not itself a folder as a file, so it fails its whole load over this one; link to the files themselves, or move them into the folder",
      };
    }
    if (!stats.isFile()) {
      return {
        error:
          "is not a regular file (a pipe, socket or device): Envoy Gateway's file provider would read it as a file of manifests; remove it from the folder",
      };
    }
    if (stats.size > MAX_MANIFEST_BYTES) {
      return {
        error: `larger than ${MAX_MANIFEST_BYTES} bytes, the most Portcullis reads of one manifest file (Envoy Gateway's file provider reads any size): split it`,
      };
    }
    text = readFileSync(path, "utf8");
  } catch (e) {
    return { error: `cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  const parsed = parseManifests(text, file);
  return "error" in parsed ? withNotManifestsHint({ file, error: parsed.error }) : parsed;
}

/**
 * The YAML error or invalid document `e`, with a hint when its file's name does not say manifests
 * (`README.md`, `NOTES`, `a.yaml~`): the error alone does not tell the file's owner that the folder,
 * not the file, is the problem.
 */
export function withNotManifestsHint(e: { file: string; error: string }): { file: string; error: string } {
  if (/\.(ya?ml|json)$/i.test(e.file)) return e;
  return { file: e.file, error: `${e.error} (${NOT_MANIFESTS_HINT})` };
}

/** Why a file named like a note or a backup is read at all, and what to do. */
const NOT_MANIFESTS_HINT =
  "every entry of the folder that is not hidden or a folder is read as a file of manifests whatever its name, as Envoy Gateway's file provider reads it: if this file is not manifests, move it out of the folder";
