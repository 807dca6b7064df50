/**
 * Newer editions of the GeoIP databases (a `geoipupdate` sidecar, a remounted volume): like Envoy's
 * MaxMind provider, which reloads a database file when it is replaced, Portcullis looks up in the
 * new contents once they are a valid database of the same type. A file that becomes unreadable,
 * is not a database, or changes type is reported and the last good contents stay in use. A file
 * that could not be used at start-up is not watched: the policies that need it were compiled
 * Invalid, and a restart reads it again.
 */
import { readFileSync, statSync } from "node:fs";
import type { UsableGeoIPDatabase } from "./database.ts";

/** What happened to one file: its new contents are in use, or why the last good ones stay. */
export interface GeoIPReload {
  readonly ok: boolean;
  readonly message: string;
}

/**
 * Checks each database file's (mtime, size, inode) every `pollMs` and replaces the database's
 * contents when they changed; `report` hears each outcome. Returns a stop function.
 */
export function watchGeoIPDatabases(
  databases: readonly UsableGeoIPDatabase[],
  report: (reload: GeoIPReload) => void,
  pollMs = 10_000,
): () => void {
  const signatures = new Map(databases.map((d) => [d, signatureOf(d.path)]));
  const timer = setInterval(() => {
    for (const database of databases) {
      const signature = signatureOf(database.path);
      if (signature === signatures.get(database)) continue;
      signatures.set(database, signature);
      report(reload(database));
    }
  }, pollMs);
  timer.unref();
  return () => clearInterval(timer);
}

function reload(database: UsableGeoIPDatabase): GeoIPReload {
  let bytes: Buffer;
  try {
    bytes = readFileSync(database.path);
  } catch (e) {
    const why = `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
    return { ok: false, message: `GeoIP database ${database.path} ${why}; its last good contents stay in use` };
  }
  const refused = database.replace(bytes);
  return refused === undefined
    ? { ok: true, message: `GeoIP database ${database.path}: new contents in use (${database.type})` }
    : { ok: false, message: `GeoIP database ${database.path} ${refused}; its last good contents stay in use` };
}

/** What changes when the file is rewritten or replaced, without reading it. */
function signatureOf(path: string): string {
  const s = statSync(path, { throwIfNoEntry: false });
  return s === undefined ? "gone" : `${s.mtimeMs} ${s.size} ${s.ino}`;
}
