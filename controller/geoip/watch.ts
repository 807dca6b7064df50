/**
 * Newer editions of the GeoIP databases (a `geoipupdate` sidecar, a remounted volume): like Envoy's
 * MaxMind provider, which reloads a database file when it is replaced, Portcullis looks up in the
 * new contents once they are a valid database of the same type. A file that becomes unreadable,
 * is not a database, or changes type is reported and the last good contents stay in use. A file
 * that could not be used at start-up (not there yet, half downloaded) is read again whenever it
 * changes: while it stays unusable the policies that need it stay Invalid (their routes denied),
 * and once it is a database it takes its place and the policies are compiled again.
 */
import { statSync } from "node:fs";
import { readDatabaseFile, readGeoIPDatabase, type GeoIPDatabase, type UsableGeoIPDatabase } from "./database.ts";

/** What happened to one file: its new contents are in use, or why the last good ones (or none) stay. */
export interface GeoIPReload {
  readonly ok: boolean;
  readonly message: string;
}

/**
 * Checks each database file's (mtime, size, inode) every `pollMs` (a second, as the manifest folder). A usable database's contents
 * are replaced when they changed; an unusable one is read again and replaces its entry in
 * `databases` (the array compile reads), usable or with its new error, and `onReplaced` is called
 * so the policies are compiled again. `report` hears each outcome. Returns a stop function.
 */
export function watchGeoIPDatabases(
  databases: GeoIPDatabase[],
  report: (reload: GeoIPReload) => void,
  onReplaced: () => void = () => {},
  pollMs = 1000,
): () => void {
  const signatures = databases.map((d) => signatureOf(d.path));
  const timer = setInterval(() => {
    for (const [i, database] of databases.entries()) {
      const signature = signatureOf(database.path);
      if (signature === signatures[i]) continue;
      signatures[i] = signature;
      if (database.ok) {
        report(reload(database));
        continue;
      }
      const next = readGeoIPDatabase(database.path);
      databases[i] = next;
      report(
        next.ok
          ? {
              ok: true,
              message: `GeoIP database ${database.path}: now usable (${next.type}); the policies that need it are compiled again`,
            }
          : { ok: false, message: `GeoIP database ${database.path} ${next.error}; the policies that need it stay Invalid` },
      );
      onReplaced();
    }
  }, pollMs);
  timer.unref();
  return () => clearInterval(timer);
}

function reload(database: UsableGeoIPDatabase): GeoIPReload {
  const bytes = readDatabaseFile(database.path);
  if (typeof bytes === "string")
    return { ok: false, message: `GeoIP database ${database.path} ${bytes}; its last good contents stay in use` };
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
