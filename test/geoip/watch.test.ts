import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type GeoIPDatabase, readGeoIPDatabase, type UsableGeoIPDatabase } from "../../controller/geoip/database.ts";
import { type GeoIPReload, watchGeoIPDatabases } from "../../controller/geoip/watch.ts";
import { writeMmdb } from "../support/mmdb.ts";

const countries = (code: string) =>
  writeMmdb({ databaseType: "GeoLite2-Country", networks: [{ network: "81.2.69.0/24", data: { country: { iso_code: code } } }] });

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

/** The database at a fresh path, watched every 10 ms, with the reloads it reports. */
function watched(): { path: string; database: UsableGeoIPDatabase; reloads: GeoIPReload[]; replaceWith(bytes: Buffer | string): void } {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-geoip-watch-"));
  const path = join(dir, "GeoLite2-Country.mmdb");
  writeFileSync(path, countries("GB"));
  const database = readGeoIPDatabase(path) as GeoIPDatabase & { ok: true };
  const reloads: GeoIPReload[] = [];
  stops.push(
    watchGeoIPDatabases([database], (r) => reloads.push(r), undefined, 10),
    () => rmSync(dir, { recursive: true, force: true }),
  );
  return {
    path,
    database,
    reloads,
    // As geoipupdate and volume mounts do: a new file renamed over the old one.
    replaceWith(bytes) {
      writeFileSync(`${path}.new`, bytes);
      renameSync(`${path}.new`, path);
    },
  };
}

const settle = async (reloads: GeoIPReload[], count: number) => {
  for (let i = 0; i < 200 && reloads.length < count; i++) await new Promise((r) => setTimeout(r, 10));
};

describe("watchGeoIPDatabases", () => {
  it("looks up in a replaced file's new contents, as Envoy's MaxMind provider reloads them", async () => {
    const w = watched();
    expect(w.database.lookup("81.2.69.160")).toEqual({ country: { iso_code: "GB" } });
    w.replaceWith(countries("IE"));
    await settle(w.reloads, 1);
    expect(w.reloads).toEqual([{ ok: true, message: `GeoIP database ${w.path}: new contents in use (GeoLite2-Country)` }]);
    expect(w.database.lookup("81.2.69.160")).toEqual({ country: { iso_code: "IE" } });
  });
  it("keeps the last good contents when the file stops being a database, changes type or disappears", async () => {
    const w = watched();
    w.replaceWith("truncated download");
    await settle(w.reloads, 1);
    w.replaceWith(writeMmdb({ databaseType: "GeoLite2-ASN", networks: [] }));
    await settle(w.reloads, 2);
    rmSync(w.path);
    await settle(w.reloads, 3);
    expect(w.reloads.map((r) => [r.ok, r.message.slice(`GeoIP database ${w.path} `.length)])).toEqual([
      [false, expect.stringMatching(/^is not a MaxMind database .*; its last good contents stay in use$/)],
      [false, 'is now a "GeoLite2-ASN" database, not a "GeoLite2-Country" one; its last good contents stay in use'],
      [false, "cannot be read (ENOENT); its last good contents stay in use"],
    ]);
    expect(w.database.lookup("81.2.69.160")).toEqual({ country: { iso_code: "GB" } });
  });
});

describe("a database file unusable at start-up", () => {
  it("is read again whenever it changes: its entry says why while it stays unusable, then it takes its place, and each time compile is asked again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-geoip-watch-"));
    const path = join(dir, "GeoLite2-Country.mmdb");
    const databases: GeoIPDatabase[] = [readGeoIPDatabase(path)];
    const reloads: GeoIPReload[] = [];
    let recompiles = 0;
    stops.push(
      watchGeoIPDatabases(
        databases,
        (r) => reloads.push(r),
        () => recompiles++,
        10,
      ),
      () => rmSync(dir, { recursive: true, force: true }),
    );
    expect(databases[0]).toMatchObject({ ok: false, error: "cannot be read (ENOENT)" });
    // Each edition arrives whole (renamed into place), so each change is seen once.
    const arrive = (bytes: Buffer | string) => {
      writeFileSync(`${path}.new`, bytes);
      renameSync(`${path}.new`, path);
    };
    arrive("half a download");
    await settle(reloads, 1);
    expect(databases[0]).toMatchObject({ ok: false, error: expect.stringMatching(/^is not a MaxMind database/) });
    arrive(countries("GB"));
    await settle(reloads, 2);
    expect(reloads.map((r) => r.ok)).toEqual([false, true]);
    expect(reloads[0]!.message).toMatch(/is not a MaxMind database .*; the policies that need it stay Invalid$/);
    expect(reloads[1]!.message).toBe(`GeoIP database ${path}: now usable (GeoLite2-Country); the policies that need it are compiled again`);
    expect(recompiles).toBe(2);
    expect((databases[0] as UsableGeoIPDatabase).lookup("81.2.69.160")).toEqual({ country: { iso_code: "GB" } });
  });
});
