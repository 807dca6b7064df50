/**
 * The standalone source: a folder of YAML (or JSON) manifests, read recursively and watched.
 *
 * The folder is enforced whole, as Envoy Gateway's file provider reloads it: while any file does
 * not parse (or holds an object of a kind Portcullis reads that is not valid, of a kind or version
 * its API group does not serve: a misspelt `kind: Securitypolicy`, or of a group Envoy Gateway does
 * not know, over which its file provider refuses the whole load), what it holds is
 * unknown (an object moved into it from another file, or a file
 * renamed while broken, would otherwise vanish from both and open its routes), so the last read in
 * which every file parsed stays in force, the other files' changes included; before any such
 * read there is nothing to enforce (serve is not ready and denies every check).
 */
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from "node:fs";
import { join, relative } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { Composer, type Document, isNode, isScalar, LineCounter, Parser, visit } from "yaml";
import { isWatchedKind } from "../api/kinds.ts";
import { toResources, type RawObject, type RejectedObject, type Resources } from "../api/resources.ts";
import { readJsonStream } from "./json-stream.ts";
import { unreadable } from "./unreadable.ts";

/** Files larger than this are refused: a manifest folder is configuration, not data. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * How often watch() compares every file's (inode, size, mtime) with the last read, in ms: the bound
 * on noticing a change the directory watches cannot see (a file edited in place behind a symlink).
 */
export const POLL_INTERVAL_MS = 1000;

/** One read of the folder. */
export interface FolderLoad {
  /** Every object read from the files that parse, as parsed, with its origin ("file#N"; a list's items in its place, "file#N.items[i]"). */
  readonly objects: readonly RawObject[];
  /** The watched objects among them as compile reads them (the same value the Kubernetes source builds). */
  readonly resources: Resources;
  /**
   * Objects left out because a copy alike (same kind, namespace, name and contents) came first; an
   * invalid object, or a copy that differs, is an error of its file.
   */
  readonly rejected: readonly RejectedObject[];
  /**
   * Files that could not be read or parsed, or that hold an object of a kind Portcullis reads that
   * is not valid or differs from its copy in another file, by path relative to the folder, with why
   * ("line 3, column 7: …", "document 2 at line 14 (…) is not valid: …").
   */
  readonly errors: readonly { readonly file: string; readonly error: string }[];
}

/** What read() gives: the folder as it is now, and what to enforce. */
export interface FolderRead {
  readonly latest: FolderLoad;
  /**
   * `latest` when every file parses and nothing changed during the read; else the last such read
   * (the same object as that read's `latest`); undefined while there has been none.
   */
  readonly inForce: FolderLoad | undefined;
  /**
   * A file or directory changed while the folder was being read, so `latest` may mix two versions
   * (some files read before a ConfigMap volume's swap, some after: a policy moved between them is
   * then in neither); the change's own event, or the poll, brings another read.
   */
  readonly changedWhileRead: boolean;
}

export class ManifestFolder {
  readonly #dir: string;
  #lastWhole: FolderLoad | undefined;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Reads the whole folder now. Throws UnreadableInputError only when the folder cannot be listed. */
  read(): FolderRead {
    const objects: RawObject[] = [];
    const errors: { file: string; error: string }[] = [];
    const scan = this.#scan();
    const before = signatureOf(scan);
    for (const path of scan.files) {
      const file = relative(this.#dir, path);
      const parsed = parseFile(path, file);
      if ("error" in parsed) errors.push({ file, error: parsed.error });
      else objects.push(...parsed.objects);
    }
    const changedWhileRead = this.#observe().signature !== before;
    const { resources, rejected } = toResources(objects);
    // An object of a kind Portcullis reads that is not valid leaves its file's meaning as unknown as a
    // YAML error does (a policy whose label is a number would be left out, opening its route), and so
    // does a second copy of an object that differs from the first (which one is meant is unknown):
    // the file is broken. A copy alike is only a duplicate.
    const byOrigin = new Map(objects.map((o) => [o.origin, o]));
    const duplicates: RejectedObject[] = [];
    for (const r of rejected) {
      const raw = byOrigin.get(r.origin);
      if (r.duplicateOf === undefined) errors.push(objectError(r, raw?.line, "is not valid", r.reason));
      else if (!isDeepStrictEqual(raw?.object, byOrigin.get(r.duplicateOf)?.object))
        errors.push(objectError(r, raw?.line, `differs from its other copy in ${r.duplicateOf}`, "which one is meant is not known"));
      else duplicates.push(r);
    }
    const latest: FolderLoad = { objects, resources, rejected: duplicates, errors };
    if (errors.length === 0 && !changedWhileRead) this.#lastWhole = latest;
    return { latest, inForce: this.#lastWhole, changedWhileRead };
  }

  /**
   * Calls `onChange` once per burst of changes (`debounceMs` after the last) under the folder until
   * the returned function is called. Each directory read() descends into is watched on its own
   * (inotify on Linux): a directory watch keeps reporting its entries however often a file is
   * replaced by rename (an editor's save, a ConfigMap volume's `..data` swap), where Node 24's
   * recursive watch goes deaf to a file after its first replacement. The watched set follows each
   * change. Every `pollMs` the files' (inode, size, mtime) and the directories' inodes are compared
   * with the last change's, which catches what no directory watch reports.
   */
  watch(onChange: () => void, { debounceMs = 100, pollMs = POLL_INTERVAL_MS }: { debounceMs?: number; pollMs?: number } = {}): () => void {
    const watchers = new Map<string, { readonly watcher: FSWatcher; readonly ino: number }>();
    let timer: NodeJS.Timeout | undefined;
    const fire = () => {
      clearTimeout(timer);
      timer = setTimeout(changed, debounceMs);
    };
    const rewatch = (directories: ReadonlyMap<string, number>) => {
      for (const [path, w] of watchers) {
        if (directories.get(path) === w.ino) continue;
        w.watcher.close();
        watchers.delete(path);
      }
      for (const [path, ino] of directories) {
        if (watchers.has(path)) continue;
        try {
          const watcher = watch(path, fire);
          watcher.on("error", fire);
          watchers.set(path, { watcher, ino });
        } catch {
          // Gone since it was listed: its parent's watch or the poll reports that.
        }
      }
    };
    let seen = this.#observe();
    rewatch(seen.directories);
    const changed = () => {
      seen = this.#observe();
      rewatch(seen.directories);
      onChange();
    };
    const poll = setInterval(() => {
      if (this.#observe().signature !== seen.signature) fire();
    }, pollMs);
    poll.unref();
    return () => {
      clearTimeout(timer);
      clearInterval(poll);
      for (const w of watchers.values()) w.watcher.close();
      watchers.clear();
    };
  }

  #scan(): FolderScan {
    try {
      return scanFolder(this.#dir);
    } catch (e) {
      throw unreadable("the manifest folder", this.#dir, e);
    }
  }

  /** The directories to watch, and what changes when any manifest file or directory changes, without reading a file. */
  #observe(): { readonly directories: ReadonlyMap<string, number>; readonly signature: string } {
    let scan: FolderScan;
    try {
      scan = scanFolder(this.#dir);
    } catch (e) {
      return { directories: new Map(), signature: `unreadable: ${(e as NodeJS.ErrnoException).code ?? ""}` };
    }
    return { directories: scan.directories, signature: signatureOf(scan) };
  }
}

/** A rejected object as its file's error: the file from its origin ("file#N"), the document and the line it begins on, what is wrong and why. */
function objectError(r: RejectedObject, line: number | undefined, what: string, why: string): { file: string; error: string } {
  const hash = r.origin.lastIndexOf("#");
  const at = line === undefined ? "" : ` at line ${line}`;
  return { file: r.origin.slice(0, hash), error: `document ${r.origin.slice(hash + 1)}${at} (${r.object}) ${what}: ${why}` };
}

/** Each directory's inode and each file's (inode, size, mtime): what changes when the folder does, without reading a file. */
function signatureOf(scan: FolderScan): string {
  const files = scan.files.map((path) => {
    const s = statSync(path, { throwIfNoEntry: false });
    return s === undefined ? `${path} gone` : `${path} ${s.ino} ${s.size} ${s.mtimeMs}`;
  });
  const directories = [...scan.directories].map(([path, ino]) => `${path}/ ${ino}`);
  return [...directories, ...files].join("\n");
}

/**
 * Whether a file is read as manifests: `.yaml`, `.yml` and `.json` files, and files without an
 * extension, which Envoy Gateway's file provider reads as it reads every file of its folder (a
 * ConfigMap or Helm values key `policies` is mounted as such a file: left out, its policies would
 * vanish and open their routes). Files with another extension (`.md`, `.txt`, `.bak`) are not.
 */
const isManifestName = (name: string): boolean => /\.(ya?ml|json)$/i.test(name) || !name.includes(".");

interface FolderScan {
  /** Manifest files (isManifestName), in read order. */
  readonly files: readonly string[];
  /** Every directory descended into, the folder first, with its inode (a symlinked directory's target's). */
  readonly directories: ReadonlyMap<string, number>;
}

/** Lists `dir` recursively, following symlinks. Throws when `dir` itself cannot be listed. */
function scanFolder(dir: string): FolderScan {
  const files: string[] = [];
  const directories = new Map<string, number>();
  const visit = (path: string, ino: number) => {
    directories.set(path, ino);
    for (const entry of readdirSync(path, { withFileTypes: true }).sort(byCodeUnits)) {
      // Hidden entries include Kubernetes' ..data / ..timestamp mount machinery; the visible names link into it.
      if (entry.name.startsWith(".")) continue;
      const child = join(path, entry.name);
      const stats = statSync(child, { throwIfNoEntry: false });
      if (stats?.isDirectory()) visit(child, stats.ino);
      else if (stats?.isFile() && isManifestName(entry.name)) files.push(child);
    }
  };
  visit(dir, statSync(dir).ino);
  return { files, directories };
}

/**
 * Entries in the order of their names' UTF-16 code units, the same on every machine (localeCompare
 * follows the process locale: Swedish puts "ä" after "z", English before "b").
 */
const byCodeUnits = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

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
 * The objects of one manifest file's `text`, each with its origin ("`file`#N", N from 1; a list's
 * items are expanded as expandList says, "`file`#N.items[i]"), or why
 * the file cannot be read: its first YAML error (line and column), a document whose aliases
 * expand past 100 (a "billion laughs"), or what Envoy Gateway's file provider and kubectl (whose
 * reader is Kubernetes': YAML 1.1, documents split at lines of `---` alone) would read otherwise
 * (readsOtherwiseInKubernetes). Empty documents are skipped; JSON documents are read as JSON when
 * both readings agree. Tests build their worlds with it too, so that they are read under the
 * limits a manifest folder is.
 */
export function parseManifests(text: string, file: string): { objects: RawObject[] } | { error: string } {
  // A file of JSON documents means the same to YAML and reads far faster as JSON (json-stream.ts).
  const json = readJsonStream(text);
  if (json !== undefined) {
    const objects: RawObject[] = [];
    for (const d of json) {
      // JSON documents carry only their own line: an item is named by its index in the origin.
      const expanded = expandList({ object: d.object, origin: `${file}#${d.number}`, line: d.line }, () => undefined);
      if ("error" in expanded) return expanded;
      objects.push(...expanded.objects);
    }
    return { objects };
  }
  // One document at a time, each dropped once converted: a large file's syntax trees never all
  // live at once (parseAllDocuments keeps every one until the end, and the garbage collector then
  // has hundreds of MiB of them to move).
  const lines = new LineCounter();
  const documents = new Composer().compose(new Parser(lines.addNewLine).parse(text));
  const parts = kubernetesParts(text);
  if ("refused" in parts) {
    // The documents are parsed lazily: the line counter has seen no line yet.
    const line = text.slice(0, parts.refused).split("\n").length;
    return {
      error: `line ${line}: a line beginning with '---' holds more than a document marker, which Kubernetes' YAML reader (Envoy Gateway's file provider, kubectl) refuses; put '---' on a line of its own`,
    };
  }
  const objects: RawObject[] = [];
  let i = -1;
  let lastPart = -1;
  for (const doc of documents) {
    i++;
    const problem = doc.errors[0];
    if (problem !== undefined) {
      const at = problem.pos[0] === -1 ? undefined : lines.linePos(problem.pos[0]);
      const where = at === undefined ? `document ${i + 1}` : `line ${at.line}, column ${at.col}`;
      return { error: `${where}: ${problem.code}: ${problem.message.split("\n")[0]}` };
    }
    const otherwise = readsOtherwiseInKubernetes(doc, parts.starts, lastPart);
    if (otherwise !== undefined) {
      const at = lines.linePos(otherwise.at);
      return { error: `line ${at.line}, column ${at.col}: ${otherwise.why}` };
    }
    if (doc.contents !== null) lastPart = partAt(parts.starts, doc.contents.range[0], lastPart);
    // A bounded alias count keeps a "billion laughs" document from exhausting memory.
    let object: unknown;
    try {
      object = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      return { error: `document ${i + 1}: ${(e as Error).message.split("\n")[0]}` };
    }
    if (object === null || object === undefined) continue;
    const lineAt = (path: readonly (string | number)[]): number | undefined => {
      const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
      const start = isNode(node) ? node.range?.[0] : undefined;
      return start === undefined ? undefined : lines.linePos(start).line;
    };
    const line = lineAt([]);
    const expanded = expandList({ object, origin: `${file}#${i + 1}`, ...(line === undefined ? {} : { line }) }, lineAt);
    if ("error" in expanded) return expanded;
    objects.push(...expanded.objects);
  }
  return { objects };
}

/**
 * How Kubernetes' YAML reader (k8s.io/apimachinery's YAMLReader, which Envoy Gateway's file
 * provider and kubectl use) cuts `text`: `starts`, the offsets of its parts (the file's start and
 * each line that begins with `---` and holds nothing else but white space or a comment), each then
 * read by a YAML 1.1 parser (sigs.k8s.io/yaml) that takes its first document and drops the rest;
 * or `refused`, the offset of the first line that begins with `---` and holds something else
 * (`--- {kind: …}`, `---foo`), for which that reader refuses the whole file.
 */
function kubernetesParts(text: string): { readonly starts: readonly number[] } | { readonly refused: number } {
  const starts = [0];
  // Lines end at "\n" only, as that reader's: a regular expression's ^ would also begin one after U+2028.
  for (let line = 0; line < text.length; ) {
    const end = text.indexOf("\n", line);
    const next = end === -1 ? text.length : end + 1;
    if (text.startsWith("---", line)) {
      const rest = text.slice(line + 3, next).trim();
      if (rest !== "" && !rest.startsWith("#")) return { refused: line };
      starts.push(line);
    }
    line = next;
  }
  return { starts };
}

/**
 * Which part (kubernetesParts) the text at `offset` is in, looked for from part `from` on (documents
 * come in order: a file of many documents is not scanned from its start for each).
 */
function partAt(parts: readonly number[], offset: number, from: number): number {
  let part = Math.max(from, 0);
  while (part + 1 < parts.length && parts[part + 1]! <= offset) part++;
  return part;
}

/**
 * Where and why Envoy Gateway's file provider and kubectl read `doc` otherwise than YAML 1.2 does,
 * else undefined: a document that begins in the part of Kubernetes' reader where the document
 * before it (whose part is `previousPart`) began (after a `...` that ends it), which that reader
 * drops; a merge key (`<<`), which that reader's YAML 1.1 merges and
 * YAML 1.2 keeps as a key, and where the two would not agree which of two values of a key wins
 * (YAML 1.1's parser lets the later one win, the merge rule the explicit one). Either could hide or
 * add a route match, a route or a policy.
 */
function readsOtherwiseInKubernetes(
  doc: Document.Parsed,
  parts: readonly number[],
  previousPart: number,
): { at: number; why: string } | undefined {
  if (doc.contents === null) return undefined;
  if (partAt(parts, doc.contents.range[0], previousPart) === previousPart) {
    return {
      at: doc.contents.range[0],
      why: "Kubernetes' YAML reader (Envoy Gateway's file provider, kubectl) would drop this document: it splits documents only at a line holding '---' alone and reads the first of each part, so '...' does not end one for it; begin it with such a line",
    };
  }
  let merge: number | undefined;
  visit(doc, {
    Pair(_, pair) {
      const key = pair.key;
      if (!isScalar(key) || key.source !== "<<") return undefined;
      if ((key.type === "PLAIN" && key.tag === undefined) || key.tag === "tag:yaml.org,2002:merge") {
        merge = key.range?.[0] ?? doc.contents!.range[0];
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return merge === undefined
    ? undefined
    : {
        at: merge,
        why: "a merge key (<<) is not read: Kubernetes' YAML 1.1 reader merges it, YAML 1.2 keeps it as a key, and they differ on which of two values wins; write the keys out",
      };
}

/** How deep lists may nest in one document: kubectl output never nests them, so deeper is refused rather than walked. */
export const MAX_LIST_DEPTH = 8;

/**
 * A document as `kubectl apply -f` reads it: one with an `items` key is a list (whatever its kind:
 * `v1 List`, `SecurityPolicyList`, `HTTPRouteList`), and what is applied is its items, each read as
 * a top-level object, nested lists expanded too; the list itself is not applied. An item with
 * neither `apiVersion` nor `kind` gets the list's apiVersion and its kind less "List" (what kubectl
 * does for a typed list's items). Each item's origin is the document's plus `.items[i]` (from 0),
 * with its line from `lineAt` (the path of keys and indices from the document's root) where known.
 * A list whose items are not all mappings, a list nested deeper than MAX_LIST_DEPTH, and an object of
 * a kind Portcullis reads that also holds `items` (kubectl would apply its items and drop it) are
 * errors of the file: what it enforces is not known.
 */
function expandList(
  raw: RawObject,
  lineAt: (path: readonly (string | number)[]) => number | undefined,
  path: readonly (string | number)[] = [],
): { objects: RawObject[] } | { error: string } {
  const o = raw.object;
  if (typeof o !== "object" || o === null || Array.isArray(o) || !Object.hasOwn(o, "items")) return { objects: [raw] };
  const list = o as Record<string, unknown>;
  const hash = raw.origin.lastIndexOf("#");
  const at = raw.line === undefined ? "" : ` at line ${raw.line}`;
  const where = `document ${raw.origin.slice(hash + 1)}${at}`;
  if (isWatchedKind(list.apiVersion, list.kind)) {
    return {
      error: `${where} (${String(list.kind)}) has items: kubectl apply would read it as a list, apply its items and drop the object itself`,
    };
  }
  if (path.length >= 2 * MAX_LIST_DEPTH) return { error: `${where}: lists nested more than ${MAX_LIST_DEPTH} deep` };
  if (list.items === null) return { objects: [] };
  if (!Array.isArray(list.items)) return { error: `${where}: items of a list must be a sequence of objects` };
  const itemKind = typeof list.kind === "string" && list.kind.endsWith("List") ? list.kind.slice(0, -"List".length) : undefined;
  const objects: RawObject[] = [];
  for (const [i, item] of list.items.entries()) {
    const itemPath = [...path, "items", i];
    const origin = `${raw.origin}.items[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      return { error: `${where}: items[${i}] is not an object: a list's items must be objects` };
    }
    const typed = item as Record<string, unknown>;
    const object =
      typed.apiVersion === undefined && typed.kind === undefined && itemKind !== undefined
        ? { ...typed, apiVersion: list.apiVersion, kind: itemKind }
        : item;
    const line = lineAt(itemPath);
    const expanded = expandList({ object, origin, ...(line === undefined ? {} : { line }) }, lineAt, itemPath);
    if ("error" in expanded) return expanded;
    objects.push(...expanded.objects);
  }
  return { objects };
}
