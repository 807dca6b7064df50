import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type GeoField, type GeoIPDatabase, geoIPDatabaseOf, geoLocator, readGeoIPDatabase } from "../../controller/geoip/database.ts";
import { writeMmdb } from "../support/mmdb.ts";

const city = geoIPDatabaseOf(
  "city.mmdb",
  writeMmdb({
    databaseType: "GeoIP2-City",
    networks: [
      {
        network: "81.2.69.0/24",
        data: { country: { iso_code: "GB" }, subdivisions: [{ iso_code: "ENG" }], city: { names: { en: "London" } } },
      },
      { network: "2001:db8::/32", data: { country: { iso_code: "DE" } } },
      { network: "198.51.100.0/24", data: { country: { iso_code: ["AT"] }, city: { names: { de: "Wien" } } } },
    ],
  }),
);
const asn = geoIPDatabaseOf(
  "asn.mmdb",
  writeMmdb({
    databaseType: "GeoLite2-ASN",
    networks: [
      { network: "81.2.69.0/24", data: { autonomous_system_number: 20712, autonomous_system_organization: "Andrews & Arnold" } },
      { network: "198.51.100.0/24", data: { autonomous_system_number: 0 } },
    ],
  }),
);
const anonymous = geoIPDatabaseOf(
  "anon.mmdb",
  writeMmdb({
    databaseType: "GeoIP2-Anonymous-IP",
    networks: [{ network: "203.0.113.0/24", data: { is_anonymous: true, is_anonymous_vpn: true } }],
  }),
);

function locator(databases: readonly GeoIPDatabase[], fields: readonly GeoField[]) {
  const result = geoLocator(databases, fields);
  if (!result.ok) throw new Error(result.errors.join("; "));
  return result.value;
}

describe("geoLocator", () => {
  it("reports each field from the first database whose type answers it, as Envoy's MaxMind provider", () => {
    const l = locator([asn, city], ["country", "region", "city", "asn"]);
    expect(l.locate("81.2.69.160")).toEqual({ country: "GB", region: "ENG", city: "London", asn: "20712" });
    expect(l.locate("2001:db8::7")).toEqual({ country: "DE" });
  });
  it("reports nothing for an address in no network of the databases", () => {
    expect(locator([city], ["country"]).locate("192.0.2.1")).toEqual({});
  });
  it("leaves out a field held as a list or map, a city without an English name, or an ASN of 0 (Envoy sets no header for them)", () => {
    expect(locator([city, asn], ["country", "city", "asn"]).locate("198.51.100.9")).toEqual({});
  });
  it("locates an IPv4-mapped IPv6 address as its IPv4 address", () => {
    expect(locator([city], ["country"]).locate("::ffff:81.2.69.160")).toEqual({ country: "GB" });
  });
  it("reports the Anonymous IP flags as the text true/false, and none for an address the database does not list", () => {
    const l = locator([anonymous], ["isAnonymous", "isVPN", "isTor"]);
    expect(l.locate("203.0.113.5")).toEqual({ isAnonymous: "true", isVPN: "true" });
    expect(l.locate("81.2.69.160")).toEqual({});
  });
  it("knows nothing of text that is not an address", () => {
    expect(locator([city], ["country"]).locate("unknown")).toBeUndefined();
  });
  it("knows nothing when a lookup fails (a corrupt file), rather than reporting an empty location", () => {
    const broken: GeoIPDatabase = {
      ok: true,
      path: "broken.mmdb",
      type: "GeoIP2-Country",
      lookup: () => {
        throw new Error("corrupt search tree");
      },
      replace: () => "not replaceable",
    };
    expect(locator([broken], ["country"]).locate("81.2.69.160")).toBeUndefined();
  });
  it("names, per field no usable database answers, the types that would and what was given", () => {
    const missing = readGeoIPDatabase(join(tmpdir(), "portcullis-no-such-file.mmdb"));
    const result = geoLocator([asn, missing], ["country", "asn", "isp"]);
    expect(result).toEqual({
      ok: false,
      errors: [
        expect.stringMatching(
          /^country needs a Country, City or Enterprise database \(--geoip-database\); given: asn.mmdb \(GeoLite2-ASN\); .*portcullis-no-such-file.mmdb, which cannot be read \(ENOENT\)$/,
        ),
        expect.stringMatching(/^isp needs an ISP database/),
      ],
    });
    expect(geoLocator([], ["city"])).toEqual({
      ok: false,
      errors: ["city needs a City or Enterprise database (--geoip-database); none is given"],
    });
  });
});

describe("readGeoIPDatabase", () => {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-geoip-"));
  it("reads a MaxMind database and its type", () => {
    const path = join(dir, "country.mmdb");
    writeFileSync(
      path,
      writeMmdb({ databaseType: "GeoLite2-Country", networks: [{ network: "81.2.69.0/24", data: { country: { iso_code: "GB" } } }] }),
    );
    const database = readGeoIPDatabase(path);
    expect(database).toMatchObject({ ok: true, path, type: "GeoLite2-Country" });
  });
  it("refuses a file that is not a MaxMind database, and one whose type answers no field", () => {
    const text = join(dir, "text.mmdb");
    writeFileSync(text, "not a database");
    expect(readGeoIPDatabase(text)).toMatchObject({ ok: false, error: expect.stringMatching(/^is not a MaxMind database/) });
    const other = join(dir, "domain.mmdb");
    writeFileSync(
      other,
      writeMmdb({ databaseType: "GeoIP2-Domain", networks: [{ network: "81.2.69.0/24", data: { domain: "example.net" } }] }),
    );
    expect(readGeoIPDatabase(other)).toEqual({
      ok: false,
      path: other,
      error: 'is a "GeoIP2-Domain" database, which answers none of country, region, city, asn, isp or anonymous',
    });
  });
  it("reports a folder or a missing file as unreadable", () => {
    expect(readGeoIPDatabase(dir)).toMatchObject({ ok: false, error: "cannot be read (EISDIR)" });
    expect(readGeoIPDatabase(join(dir, "absent.mmdb"))).toMatchObject({ ok: false, error: "cannot be read (ENOENT)" });
  });
});
