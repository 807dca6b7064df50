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
 */
import { readFileSync, statSync, watch, type FSWatcher } from "node:fs";
import { relative } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { isWatchedKind, KINDS } from "../api/kinds.ts";
import { keyOf, type ObjectMeta } from "../api/meta.ts";
import { toResources, type ConfigMap, type RawObject, type RejectedObject, type Resources, type Secret } from "../api/resources.ts";
import { scanFolder, signatureOf, type FolderScan } from "./folder-entries.ts";
import { parseManifests } from "./manifest-text.ts";
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

/**
 * `resources` (read from `raws`) as Envoy Gateway v1.9.0's file provider holds them: its loader
 * (internal/gatewayapi/resource/load.go) builds each object anew, keeping of its metadata only the
 * name and namespace and of a ConfigMap only `data`, and the in-memory client it stores them in sets
 * no creationTimestamp. So no label selects anything there (a listener's allowedRoutes selector, a
 * policy's targetSelectors), every object is as old as every other (a conflict or a tie in route
 * order goes by namespace and name), and a ConfigMap's `binaryData` keys do not exist. They are
 * dropped here too, after validation (Envoy Gateway refuses a label that is not a string, and
 * binaryData that is not base64); Portcullis' own annotations stay, being its configuration.
 * A Secret's `stringData` is kept beside `data` by that loader, and neither its in-memory client
 * (controller-runtime v0.24.1's fake client, which stores objects as given) nor its translator,
 * which reads only `data`, folds it in as the API server does: its keys do not exist there, and a
 * key in both has `data`'s value.
 */
function asEnvoyGatewayHoldsThem(resources: Resources, raws: readonly RawObject[]): Resources {
  const dataKeys = new Map<string, ReadonlySet<string>>();
  const secretData = new Map<string, Secret["data"]>();
  for (const raw of raws) {
    if (writesStringData(raw.object)) {
      const asData = toResources([{ ...raw, object: { ...raw.object, stringData: undefined } }]).resources.secrets[0];
      if (asData !== undefined) secretData.set(keyOf(asData.metadata), asData.data);
    }
  }
  for (const { object } of raws) {
    const o = object as {
      apiVersion?: unknown;
      kind?: unknown;
      metadata?: { name?: unknown; namespace?: unknown };
      data?: unknown;
      binaryData?: unknown;
    };
    if (o.kind !== "ConfigMap" || !isWatchedKind(o.apiVersion, o.kind) || typeof o.binaryData !== "object" || o.binaryData === null)
      continue;
    const namespace = typeof o.metadata?.namespace === "string" ? o.metadata.namespace : "default";
    dataKeys.set(
      `${namespace}/${String(o.metadata?.name)}`,
      new Set(typeof o.data === "object" && o.data !== null ? Object.keys(o.data) : []),
    );
  }
  const lists = Object.entries(resources).map(([list, objects]: [string, readonly { readonly metadata: ObjectMeta }[]]) => [
    list,
    objects.map((o) => {
      const metadata =
        o.metadata.labels === undefined && o.metadata.creationTimestamp === undefined
          ? o.metadata
          : { ...o.metadata, labels: undefined, creationTimestamp: undefined };
      const onlyData = list === "secrets" ? secretData.get(keyOf(o.metadata)) : undefined;
      if (onlyData !== undefined) return { ...o, metadata, data: onlyData };
      const kept = list === "configMaps" ? dataKeys.get(`${o.metadata.namespace}/${o.metadata.name}`) : undefined;
      if (kept === undefined) return metadata === o.metadata ? o : { ...o, metadata };
      const data = Object.fromEntries(Object.entries((o as unknown as ConfigMap).data).filter(([k]) => kept.has(k)));
      return { ...o, metadata, data };
    }),
  ]);
  return Object.fromEntries(lists) as unknown as Resources;
}

/** Whether `object` is a v1 Secret with a `stringData` key. */
function writesStringData(object: unknown): object is { metadata?: { name?: unknown; namespace?: unknown }; stringData: object } {
  const o = object as { apiVersion?: unknown; kind?: unknown; stringData?: unknown };
  return (
    o.kind === "Secret" &&
    isWatchedKind(o.apiVersion, o.kind) &&
    typeof o.stringData === "object" &&
    o.stringData !== null &&
    Object.keys(o.stringData).length > 0
  );
}

/** One line per Secret written with `stringData`: its origin, its keys (never their values) and what to write instead. */
function stringDataLines(raws: readonly RawObject[]): string[] {
  return raws.flatMap(({ object, origin }) => {
    if (!writesStringData(object)) return [];
    const namespace = typeof object.metadata?.namespace === "string" ? object.metadata.namespace : "default";
    return [
      `${origin} (Secret ${namespace}/${String(object.metadata?.name)}): stringData (${Object.keys(object.stringData).join(", ")}) is not read in a manifest folder, ` +
        "as Envoy Gateway's file provider reads only data: write each value base64-encoded under data",
    ];
  });
}

/** A rejected object as its file's error: the file from its origin ("file#N"), the document and the line it begins on, what is wrong and why. */
function objectError(
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
function parseFile(path: string | Buffer, file: string): { objects: RawObject[] } | { error: string } {
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
function withNotManifestsHint(e: { file: string; error: string }): { file: string; error: string } {
  if (/\.(ya?ml|json)$/i.test(e.file)) return e;
  return { file: e.file, error: `${e.error} (${NOT_MANIFESTS_HINT})` };
}

/** Why a file named like a note or a backup is read at all, and what to do. */
const NOT_MANIFESTS_HINT =
  "every entry of the folder that is not hidden or a folder is read as a file of manifests whatever its name, as Envoy Gateway's file provider reads it: if this file is not manifests, move it out of the folder";

/** Why a subfolder that holds `holds` (relative to the folder) breaks the folder. */
const subfolderError = (holds: string): string =>
  `is a subfolder holding ${holds}: Envoy Gateway's file provider reads no subfolder, so it would enforce nothing there; move its files into the folder itself, or the subfolder out of it`;

/**
 * Why Envoy Gateway v1.9.0's file provider would not load `raw`, an object of a kind Portcullis reads,
 * as its file's error; undefined when it would. Its loader (internal/gatewayapi/resource/load.go) has
 * no case for a ListenerSet (gateway.networking.k8s.io, any version) nor for a list (a `v1 List` is
 * decoded, matches none of its kinds and is dropped whole), so a ListenerSet's listeners, and a list's
 * items, do not exist for Envoy Gateway in a manifest folder: read, a listener, route, Secret or policy
 * there would let a route be chosen or a policy apply where Envoy Gateway has none. Kubernetes mode
 * reads ListenerSets, as Envoy Gateway's Kubernetes provider does, and kubectl applies a list's items.
 */
function unloadedError(raw: RawObject): { file: string; error: string } | undefined {
  const o = raw.object as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
  if (typeof o !== "object" || o === null || !isWatchedKind(o.apiVersion, o.kind)) return undefined;
  const meta = o.metadata;
  const name = typeof meta?.name === "string" ? ` ${typeof meta.namespace === "string" ? meta.namespace : "default"}/${meta.name}` : "";
  const object = { origin: raw.origin, object: `${String(o.kind)}${name}` };
  if (raw.origin.slice(raw.origin.lastIndexOf("#")).includes(".items[")) {
    return objectError(
      object,
      raw.line,
      "is an item of a list",
      "Envoy Gateway's file provider drops a list whole (kubectl apply would apply its items), so it would not exist for Envoy Gateway; write it as a document of its own",
    );
  }
  if (o.kind !== "ListenerSet") return undefined;
  return objectError(
    object,
    raw.line,
    "is not loaded",
    "Envoy Gateway's file provider does not load ListenerSet, so its listeners would not exist for Envoy Gateway; put them on the Gateway itself (ListenerSets are read in Kubernetes mode)",
  );
}

/** The namespace Envoy Gateway v1.9.0's file provider gives an object without one (config.DefaultNamespace). */
const ENVOY_GATEWAY_NAMESPACE = "envoy-gateway-system";

/**
 * An object without a namespace is in `default` for Portcullis (as kubectl applies it) and in
 * envoy-gateway-system for Envoy Gateway's file provider. Alone, that only renames a namespace; but
 * beside an object or reference that names either namespace, the two readings join different objects
 * (a policy without a namespace targets a route in envoy-gateway-system for Envoy Gateway only, and
 * that route is open here), so each such naming is an error of its file.
 */
function namespaceReadings(objects: readonly RawObject[]): { file: string; error: string }[] {
  const unsaid = objects.find((raw) => {
    const o = raw.object as { apiVersion?: unknown; kind?: unknown; metadata?: { namespace?: unknown } };
    return isWatchedKind(o.apiVersion, o.kind) && KINDS[o.kind as string]!.clusterScoped !== true && o.metadata?.namespace === undefined;
  });
  if (unsaid === undefined) return [];
  const errors: { file: string; error: string }[] = [];
  for (const raw of objects) {
    const o = raw.object as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown }; spec?: unknown };
    if (!isWatchedKind(o.apiVersion, o.kind)) continue;
    const named = o.kind === "Namespace" ? o.metadata?.name : (namespaceNamedIn(o.metadata?.namespace) ?? namespaceNamedIn(o.spec, true));
    if (named !== "default" && named !== ENVOY_GATEWAY_NAMESPACE) continue;
    const name = typeof o.metadata?.name === "string" ? ` ${o.metadata.name}` : "";
    errors.push(
      objectError(
        { origin: raw.origin, object: `${String(o.kind)}${name}` },
        raw.line,
        `names namespace ${named} while ${unsaid.origin} has none`,
        `Envoy Gateway's file provider puts an object without a namespace in ${ENVOY_GATEWAY_NAMESPACE}, kubectl (and Portcullis) in default, so which objects share a namespace is not known; write the namespace out on every object`,
      ),
    );
  }
  return errors;
}

/**
 * `value` when it is "default" or envoy-gateway-system; with `deep`, the first such value of a
 * `namespace` key anywhere inside it (a parentRef, backendRef, credentialRef, ReferenceGrant `from`).
 */
function namespaceNamedIn(value: unknown, deep = false): string | undefined {
  if (value === "default" || value === ENVOY_GATEWAY_NAMESPACE) return value;
  if (!deep || typeof value !== "object" || value === null) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const named = key === "namespace" ? namespaceNamedIn(inner) : namespaceNamedIn(inner, true);
    if (named !== undefined) return named;
  }
  return undefined;
}
