/**
 * Which entries of a manifest folder are read, as Envoy Gateway v1.9.0's file provider reads its
 * folder (internal/provider/file/resources.go, loadFromDir), and what changes when any of them does.
 * That provider reads every entry whose name does not begin with "." and that is not itself a folder,
 * whatever its name ends with (`policy.txt`, `README.md`, `x.yaml~`), as a file of manifests: a link
 * is read through (a ConfigMap volume's keys are links into its hidden `..data`), so a link to a
 * folder is read as a file and fails its whole load. It reads no subfolder.
 */
import { type Dirent, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** An entry of the folder that decides what is enforced. */
export type FolderEntry =
  /**
   * Not hidden and not itself a folder (a file, or a link to anything): read as a file of manifests.
   * `opens` is its path as bytes when its name is not UTF-8 (`path` then shows it with U+FFFD, a
   * name no entry has): what to open, as Envoy Gateway's file provider opens a name's bytes.
   */
  | { readonly kind: "file"; readonly path: string; readonly opens?: Buffer }
  /**
   * A subfolder that holds a file (`holds`, the first in name order, depth first; hidden entries
   * aside): Envoy Gateway would not read it, so what the user put there would vanish unsaid.
   */
  | { readonly kind: "subfolder"; readonly path: string; readonly holds: string };

export interface FolderScan {
  /** The folder's files and the subfolders that hold a file, in the code-unit order of their names. */
  readonly entries: readonly FolderEntry[];
  /** The folder (first, its inode a link's target's) and each subfolder listed, with its inode: what to watch. */
  readonly directories: ReadonlyMap<string, number>;
}

/**
 * Lists `dir` (following a link to it) as Envoy Gateway's file provider reads it: its visible entries
 * that are not folders, and its visible subfolders that hold a visible file at any depth. An empty
 * subfolder, and one that cannot be listed (a volume's root-owned `lost+found`), is passed over, as
 * that provider passes over every subfolder. Throws when `dir` itself cannot be listed.
 */
export function scanFolder(dir: string): FolderScan {
  const directories = new Map<string, number>([[dir, statSync(dir).ino]]);
  const entries: FolderEntry[] = [];
  const listed = readdirSync(dir, { withFileTypes: true, encoding: "buffer" }).map((e) => ({ entry: e, name: e.name.toString("utf8") }));
  for (const { entry, name } of visibleEntries(listed)) {
    const path = join(dir, name);
    if (!entry.isDirectory()) {
      const utf8 = Buffer.from(name, "utf8").equals(entry.name);
      entries.push(utf8 ? { kind: "file", path } : { kind: "file", path, opens: Buffer.concat([Buffer.from(join(dir, "/")), entry.name]) });
    } else {
      const holds = firstFileUnder(path, directories);
      if (holds !== undefined) entries.push({ kind: "subfolder", path, holds });
    }
  }
  return { entries, directories };
}

/**
 * The first visible entry that is not a folder under the folder `path`, depth first in name order,
 * or undefined; records each folder listed in `directories`. A folder that cannot be listed, or is
 * gone, holds nothing (a change since the listing is in the signature, which brings another read).
 */
function firstFileUnder(path: string, directories: Map<string, number>): string | undefined {
  let listed: Dirent[];
  let ino: number;
  try {
    listed = readdirSync(path, { withFileTypes: true });
    ino = statSync(path).ino;
  } catch {
    return undefined;
  }
  directories.set(path, ino);
  for (const { entry, name } of visibleEntries(listed.map((e) => ({ entry: e, name: e.name })))) {
    const child = join(path, name);
    const found = entry.isDirectory() ? firstFileUnder(child, directories) : child;
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The entries whose names do not begin with "." (Kubernetes' `..data` / `..2026_…` volume machinery
 * among them), in the order of their names' UTF-16 code units, the same on every machine
 * (localeCompare follows the process locale: Swedish puts "ä" after "z", English before "b").
 * A Dirent's type is the entry's own, not a link's target's, as Go's DirEntry.IsDir() is. `name` is
 * the entry's name as text (a name that is not UTF-8 decoded with U+FFFD).
 */
function visibleEntries<T>(
  listed: readonly { readonly entry: T; readonly name: string }[],
): { readonly entry: T; readonly name: string }[] {
  return listed.filter((e) => !e.name.startsWith(".")).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * What changes when anything read changes, without reading a file: each folder's inode, each file's
 * (inode, size, mtime) through its links, and which file each subfolder holds.
 */
export function signatureOf(scan: FolderScan): string {
  const directories = [...scan.directories].map(([path, ino]) => `${path}/ ${ino}`);
  const entries = scan.entries.map((entry) => {
    if (entry.kind === "subfolder") return `${entry.path}/ holds ${entry.holds}`;
    try {
      const s = statSync(entry.opens ?? entry.path);
      return `${entry.path} ${s.ino} ${s.size} ${s.mtimeMs}`;
    } catch (e) {
      // Gone, a link to nothing or a loop of links: its read fails, and so does this line until it changes.
      return `${entry.path} ${(e as NodeJS.ErrnoException).code ?? "unreadable"}`;
    }
  });
  return [...directories, ...entries].join("\n");
}
