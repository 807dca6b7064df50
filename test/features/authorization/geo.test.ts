import { describe, expect, it } from "vitest";
import {
  ClientIPGeoLocationSchema,
  compileGeoLocations,
  describeGeoLocation,
  geoLocationsMatch,
} from "../../../controller/features/authorization/geo.ts";
import type { GeoField } from "../../../controller/geoip/database.ts";

const compiled = (...specs: object[]) => {
  const fields = new Set<GeoField>();
  return {
    entries: compileGeoLocations(
      specs.map((s) => ClientIPGeoLocationSchema.parse(s)),
      fields,
    ),
    fields,
  };
};

describe("clientIPGeoLocations", () => {
  it("matches when some entry matches, and an entry only when every field it sets does", () => {
    const { entries, fields } = compiled({ country: "US", city: "Seattle" }, { asn: 64500 });
    expect([...fields].sort()).toEqual(["asn", "city", "country"]);
    expect(geoLocationsMatch(entries, { country: "US", city: "Seattle" })).toBe(true);
    expect(geoLocationsMatch(entries, { country: "US", city: "Portland" })).toBe(false);
    expect(geoLocationsMatch(entries, { country: "GB", asn: "64500" })).toBe(true);
  });
  it("compares country, region, city and isp without ASCII letter case, as Envoy Gateway's ignore_case header matchers", () => {
    const { entries } = compiled({ country: "us", region: "wa", isp: "example isp" });
    expect(geoLocationsMatch(entries, { country: "US", region: "WA", isp: "Example ISP" })).toBe(true);
    // Envoy's ignore_case folds ASCII letters only.
    expect(geoLocationsMatch(compiled({ city: "zürich" }).entries, { city: "ZÜRICH" })).toBe(false);
    expect(geoLocationsMatch(compiled({ city: "zürich" }).entries, { city: "Zürich" })).toBe(true);
  });
  it("compares the ASN as decimal text and the anonymous flags as true/false", () => {
    const { entries, fields } = compiled({ anonymous: { isVPN: false, isTor: true } });
    expect([...fields].sort()).toEqual(["isTor", "isVPN"]);
    expect(geoLocationsMatch(entries, { isVPN: "false", isTor: "true" })).toBe(true);
    expect(geoLocationsMatch(entries, { isTor: "true" })).toBe(false);
    expect(geoLocationsMatch(compiled({ asn: 7 }).entries, { asn: "07" })).toBe(false);
  });
  it("never matches a field the location lacks (an address in no network of the database)", () => {
    expect(geoLocationsMatch(compiled({ country: "US" }).entries, {})).toBe(false);
    expect(geoLocationsMatch(compiled({ anonymous: { isAnonymous: false } }).entries, {})).toBe(false);
  });
  it("refuses entries Envoy Gateway's CRD refuses", () => {
    expect(ClientIPGeoLocationSchema.safeParse({}).success).toBe(false);
    expect(ClientIPGeoLocationSchema.safeParse({ anonymous: {} }).success).toBe(false);
    expect(ClientIPGeoLocationSchema.safeParse({ country: "USA" }).success).toBe(false);
    expect(ClientIPGeoLocationSchema.safeParse({ asn: 0 }).success).toBe(false);
    expect(ClientIPGeoLocationSchema.safeParse({ country: "US", continent: "NA" }).success).toBe(false);
  });
  it("describes an entry by its conditions", () => {
    expect(describeGeoLocation(compiled({ country: "US", asn: 64500, anonymous: { isProxy: true } }).entries[0]!)).toBe(
      "country US and asn 64500 and isProxy true",
    );
  });
});
