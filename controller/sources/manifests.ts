/**
 * The standalone source: a folder of YAML (or JSON) manifests, read and watched. Its entries are
 * the ones Envoy Gateway's file provider reads (folder-entries.ts: every visible entry that is not a
 * folder, whatever its name; no subfolder), and what that provider would not enforce breaks the
 * folder rather than vanish: a subfolder holding a file, a link to a folder, a ListenerSet, an item
 * of a list; so does an object without a namespace beside one naming `default` or
 * `envoy-gateway-system`, the namespaces kubectl's and that provider's readings give it.
 *
 * The folder is enforced whole, as Envoy Gateway's file provider reloads it: while any file does
 * not parse (or holds an object of a kind Portcullis reads that is not valid, of a kind or version
 * its API group does not serve: a misspelt `kind: Securitypolicy`, or of a group Envoy Gateway does
 * not know, over which its file provider refuses the whole load), what it holds is
 * unknown (an object moved into it from another file, or a file
 * renamed while broken, would otherwise vanish from both and open its routes), so the last read in
 * which every file parsed stays in force, the other files' changes included; before any such
 * read there is nothing to enforce (serve is not ready and denies every check).
 *
 * One file is read in manifest-file.ts; where Envoy Gateway's file provider reads the folder
 * otherwise than the API server would hold it is worked out in file-provider.ts.
 */
import { watch, type FSWatcher } from "node:fs";
import { relative } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { toResources, type RawObject, type RejectedObject, type Resources } from "../api/resources.ts";
import { asEnvoyGatewayHoldsThem, namespaceReadings, stringDataLines, unloadedError } from "./file-provider.ts";
import { scanFolder, signatureOf, type FolderScan } from "./folder-entries.ts";
import { objectError, parseFile, withNotManifestsHint } from "./manifest-file.ts";
import { unreadable } from "./unreadable.ts";

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
   * Fields read as Envoy Gateway's file provider reads them rather than as written, one line each:
   * a Secret's `stringData`, which only `data` stands for there (stringDataLines).
   */
  readonly unread: readonly string[];
  /**
   * Files that could not be read or parsed, or that hold an object of a kind Portcullis reads that
   * is not valid, differs from its copy in another file, is a ListenerSet or a list's item, or names
   * a namespace an object without one may be in (namespaceReadings), and subfolders that hold a file ("team/"), by path relative to the folder, with why ("line 3, column 7: …",
   * "document 2 at line 14 (…) is not valid: …", "is a subfolder holding team/p.yaml: …").
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
    for (const entry of scan.entries) {
      const file = relative(this.#dir, entry.path);
      if (entry.kind === "subfolder") {
        errors.push({ file: `${file}/`, error: subfolderError(relative(this.#dir, entry.holds)) });
        continue;
      }
      const parsed = parseFile(entry.opens ?? entry.path, file);
      if ("error" in parsed) errors.push({ file, error: parsed.error });
      else objects.push(...parsed.objects);
    }
    const changedWhileRead = this.#observe().signature !== before;
    const unloaded = objects.map((o) => unloadedError(o));
    for (const error of unloaded) if (error !== undefined) errors.push(error);
    const loaded = objects.filter((_, i) => unloaded[i] === undefined);
    errors.push(...namespaceReadings(loaded));
    const { resources: read, rejected } = toResources(loaded.length === objects.length ? objects : loaded);
    const resources = asEnvoyGatewayHoldsThem(read, loaded);
    const unread = stringDataLines(loaded);
    // An object of a kind Portcullis reads that is not valid leaves its file's meaning as unknown as a
    // YAML error does (a policy whose label is a number would be left out, opening its route), and so
    // does a second copy of an object that differs from the first (which one is meant is unknown):
    // the file is broken. A copy alike is only a duplicate.
    const byOrigin = new Map(objects.map((o) => [o.origin, o]));
    const duplicates: RejectedObject[] = [];
    for (const r of rejected) {
      const raw = byOrigin.get(r.origin);
      if (r.duplicateOf === undefined) errors.push(withNotManifestsHint(objectError(r, raw?.line, "is not valid", r.reason)));
      else if (!isDeepStrictEqual(raw?.object, byOrigin.get(r.duplicateOf)?.object))
        errors.push(objectError(r, raw?.line, `differs from its other copy in ${r.duplicateOf}`, "which one is meant is not known"));
      else duplicates.push(r);
    }
    const latest: FolderLoad = { objects, resources, rejected: duplicates, unread, errors };
    if (errors.length === 0 && !changedWhileRead) this.#lastWhole = latest;
    return { latest, inForce: this.#lastWhole, changedWhileRead };
  }

  /**
   * Calls `onChange` once per burst of changes (`debounceMs` after the last) under the folder until
   * the returned function is called. The folder, and each subfolder read() lists to learn whether it
   * holds a file, is watched on its own (inotify on Linux): an entry of any name added, removed or
   * changed is reported, and a directory watch keeps reporting its entries however often a file is
   * replaced by rename (an editor's save, a ConfigMap volume's `..data` swap), where Node 24's
   * recursive watch goes deaf to a file after its first replacement. The watched set follows each
   * change. Every `pollMs` the files' (inode, size, mtime), the directories' inodes and the file
   * each subfolder holds are compared with the last change's, which catches what no directory watch reports.
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

/** Why a subfolder that holds `holds` (relative to the folder) breaks the folder. */
const subfolderError = (holds: string): string =>
  `is a subfolder holding ${holds}: Envoy Gateway's file provider reads no subfolder, so it would enforce nothing there; move its files into the folder itself, or the subfolder out of it`;
