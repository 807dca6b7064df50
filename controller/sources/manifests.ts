/**
 * The standalone source: a folder of YAML (or JSON) manifests, read recursively and watched.
 * A file that does not parse is reported and its last good contents are kept, so a typo in a
 * policy file never removes the policy (and so never opens its routes); at start-up, with no
 * last good contents, the file's objects are simply missing and the error says so.
 */
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from "node:fs";
import { join, relative } from "node:path";
import { Composer, LineCounter, Parser } from "yaml";
import { toResources, type RawObject, type RejectedObject, type Resources } from "../api/resources.ts";
import { readJsonStream } from "./json-stream.ts";
import { unreadable } from "./unreadable.ts";

/** Files larger than this are refused: a manifest folder is configuration, not data. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface FolderLoad {
  /** Every document read, as parsed, with its origin ("file#N"). */
  readonly objects: readonly RawObject[];
  /** The watched objects among them as compile reads them (the same value the Kubernetes source builds). */
  readonly resources: Resources;
  /** Objects left out because they are not valid. */
  readonly rejected: readonly RejectedObject[];
  /** Files that could not be read or parsed, with why; `keptLastGood` tells whether older contents stand in. */
  readonly errors: readonly { readonly file: string; readonly error: string; readonly keptLastGood: boolean }[];
}

export class ManifestFolder {
  readonly #dir: string;
  /** Last good parse of each file, by path relative to the folder. */
  readonly #lastGood = new Map<string, readonly RawObject[]>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Reads the whole folder now. Throws UnreadableInputError only when a folder cannot be listed. */
  load(): FolderLoad {
    const objects: RawObject[] = [];
    const errors: { file: string; error: string; keptLastGood: boolean }[] = [];
    const present = new Set<string>();
    let paths: string[];
    try {
      paths = listManifestFiles(this.#dir);
    } catch (e) {
      throw unreadable("the manifest folder", this.#dir, e);
    }
    for (const path of paths) {
      const file = relative(this.#dir, path);
      present.add(file);
      const parsed = parseFile(path, file);
      if ("error" in parsed) {
        const lastGood = this.#lastGood.get(file);
        errors.push({ file, error: parsed.error, keptLastGood: lastGood !== undefined });
        objects.push(...(lastGood ?? []));
        continue;
      }
      this.#lastGood.set(file, parsed.objects);
      objects.push(...parsed.objects);
    }
    for (const file of [...this.#lastGood.keys()]) if (!present.has(file)) this.#lastGood.delete(file);
    return { objects, ...toResources(objects), errors };
  }

  /**
   * Calls `onChange` (debounced) whenever something under the folder changes. Returns a stop
   * function. fs.watch reports most changes at once, but on Linux a recursive watch goes deaf to
   * a file once an editor or a ConfigMap mount has replaced it by rename; a poll of every file's
   * (mtime, size, inode) each `pollMs` catches what the watch misses.
   */
  watch(onChange: () => void, debounceMs = 100, pollMs = 1000): () => void {
    let timer: NodeJS.Timeout | undefined;
    let signature = this.#signature();
    const fire = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        signature = this.#signature();
        onChange();
      }, debounceMs);
    };
    const watcher: FSWatcher = watch(this.#dir, { recursive: true }, fire);
    watcher.on("error", fire);
    const poll = setInterval(() => {
      if (this.#signature() !== signature) fire();
    }, pollMs);
    poll.unref();
    return () => {
      clearTimeout(timer);
      clearInterval(poll);
      watcher.close();
    };
  }

  /** What changes when any manifest file changes, without reading the files. */
  #signature(): string {
    try {
      return listManifestFiles(this.#dir)
        .map((path) => {
          const s = statSync(path, { throwIfNoEntry: false });
          return s === undefined ? `${path} gone` : `${path} ${s.mtimeMs} ${s.size} ${s.ino}`;
        })
        .join("\n");
    } catch (e) {
      return `unreadable: ${(e as NodeJS.ErrnoException).code ?? ""}`;
    }
  }
}

function listManifestFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    // Hidden entries include Kubernetes' ..data / ..timestamp mount machinery; the visible names link into it.
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    const stats = statSync(path, { throwIfNoEntry: false });
    if (stats?.isDirectory()) out.push(...listManifestFiles(path));
    else if (stats?.isFile() && /\.(ya?ml|json)$/i.test(entry.name)) out.push(path);
  }
  return out;
}

function parseFile(path: string, file: string): { objects: RawObject[] } | { error: string } {
  let text: string;
  try {
    if (statSync(path).size > MAX_MANIFEST_BYTES) return { error: `larger than ${MAX_MANIFEST_BYTES} bytes` };
    text = readFileSync(path, "utf8");
  } catch (e) {
    return { error: `cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  return parseManifests(text, file);
}

/**
 * The objects of one manifest file's `text`, each with its origin ("`file`#N", N from 1), or why
 * the file cannot be read: its first YAML error (line and column), or a document whose aliases
 * expand past 100 (a "billion laughs"). Empty documents are skipped; JSON documents are read as
 * JSON when both readings agree. Tests build their worlds with it too, so that they are read
 * under the limits a manifest folder is.
 */
export function parseManifests(text: string, file: string): { objects: RawObject[] } | { error: string } {
  // A file of JSON documents means the same to YAML and reads far faster as JSON (json-stream.ts).
  const json = readJsonStream(text);
  if (json !== undefined) return { objects: json.map((d) => ({ object: d.object, origin: `${file}#${d.number}` })) };
  // One document at a time, each dropped once converted: a large file's syntax trees never all
  // live at once (parseAllDocuments keeps every one until the end, and the garbage collector then
  // has hundreds of MiB of them to move).
  const lines = new LineCounter();
  const documents = new Composer().compose(new Parser(lines.addNewLine).parse(text));
  const objects: RawObject[] = [];
  let i = -1;
  for (const doc of documents) {
    i++;
    const problem = doc.errors[0];
    if (problem !== undefined) {
      const at = problem.pos[0] === -1 ? undefined : lines.linePos(problem.pos[0]);
      const where = at === undefined ? `document ${i + 1}` : `line ${at.line}, column ${at.col}`;
      return { error: `${where}: ${problem.code}: ${problem.message.split("\n")[0]}` };
    }
    // A bounded alias count keeps a "billion laughs" document from exhausting memory.
    let object: unknown;
    try {
      object = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      return { error: `document ${i + 1}: ${(e as Error).message.split("\n")[0]}` };
    }
    if (object === null || object === undefined) continue;
    objects.push({ object, origin: `${file}#${i + 1}` });
  }
  return { objects };
}
