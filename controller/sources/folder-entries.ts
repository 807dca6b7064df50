/** Which entries of a manifest folder are read, and what changes when any of them does. */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** Each directory's inode and each file's (inode, size, mtime): what changes when the folder does, without reading a file. */
export function signatureOf(scan: FolderScan): string {
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

export interface FolderScan {
  /** Manifest files (isManifestName), in read order. */
  readonly files: readonly string[];
  /** Every directory descended into, the folder first, with its inode (a symlinked directory's target's). */
  readonly directories: ReadonlyMap<string, number>;
}

/** Lists `dir` recursively, following symlinks. Throws when `dir` itself cannot be listed. */
export function scanFolder(dir: string): FolderScan {
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
