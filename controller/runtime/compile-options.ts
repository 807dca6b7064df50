/** The CompileOptions every command derives from its flags, with the GeoIP databases read once. */
import type { CompileOptions } from "../compile/index.ts";
import { readGeoIPDatabase } from "../geoip/database.ts";

/**
 * Reads each `--geoip-database` file (a file that cannot be used is kept with its error: the
 * policies that need it become Invalid and name it, nothing else changes) and calls `report` once
 * per file with what was found.
 */
export function compileOptionsOf(
  config: { readonly controllerName: string; readonly gatewayClass: readonly string[]; readonly geoipDatabase: readonly string[] },
  report: (line: { readonly ok: boolean; readonly message: string }) => void,
): CompileOptions {
  const geoipDatabases = config.geoipDatabase.map(readGeoIPDatabase);
  for (const d of geoipDatabases)
    report(
      d.ok ? { ok: true, message: `GeoIP database ${d.path}: ${d.type}` } : { ok: false, message: `GeoIP database ${d.path} ${d.error}` },
    );
  return { controllerName: config.controllerName, gatewayClasses: config.gatewayClass, geoipDatabases };
}
