/**
 * GeoIP databases in the MaxMind DB format (`--geoip-database`, read with the `maxmind` package) and
 * the location of a client address as Envoy's MaxMind geolocation provider reports it to Envoy
 * Gateway's `clientIPGeoLocations` rules: the country's ISO code (`country.iso_code`), the first
 * subdivision's ISO code (`subdivisions[0].iso_code`), the English city name (`city.names.en`),
 * `autonomous_system_number` (as decimal text, never 0), `isp`, and the Anonymous IP flags
 * (`is_anonymous`, `is_anonymous_vpn`, `is_hosting_provider`, `is_tor_exit_node`, `is_public_proxy`,
 * as "true"/"false"). A field the record lacks, or holds with another type, is absent, as in Envoy.
 * Which database answers which field follows from its metadata `database_type`.
 */
import { readFileSync } from "node:fs";
import { Reader } from "maxmind";
import { plainAddress } from "../lib/cidr.ts";

/** A field of Envoy Gateway's `ClientIPGeoLocation` (the anonymous ones by their flag names). */
export type GeoField = "country" | "region" | "city" | "asn" | "isp" | "isAnonymous" | "isVPN" | "isHosting" | "isTor" | "isProxy";

/** The text Envoy's provider reports for each field it found; absent fields were not found. */
export type GeoLocation = Readonly<Partial<Record<GeoField, string>>>;

interface FieldSource {
  /** Where the record holds it. */
  readonly path: readonly (string | number)[];
  /** Which `database_type`s hold it. */
  readonly answeredBy: RegExp;
  /** Those types in words, for a status condition. */
  readonly databases: string;
}

const CITY: Pick<FieldSource, "answeredBy" | "databases"> = { answeredBy: /City|Enterprise/, databases: "a City or Enterprise database" };
const ANONYMOUS: Pick<FieldSource, "answeredBy" | "databases"> = { answeredBy: /Anonymous-IP/, databases: "an Anonymous IP database" };

const FIELDS: Readonly<Record<GeoField, FieldSource>> = {
  country: { path: ["country", "iso_code"], answeredBy: /City|Country|Enterprise/, databases: "a Country, City or Enterprise database" },
  region: { path: ["subdivisions", 0, "iso_code"], ...CITY },
  city: { path: ["city", "names", "en"], ...CITY },
  asn: { path: ["autonomous_system_number"], answeredBy: /ASN|ISP/, databases: "an ASN or ISP database" },
  isp: { path: ["isp"], answeredBy: /ISP/, databases: "an ISP database" },
  isAnonymous: { path: ["is_anonymous"], ...ANONYMOUS },
  isVPN: { path: ["is_anonymous_vpn"], ...ANONYMOUS },
  isHosting: { path: ["is_hosting_provider"], ...ANONYMOUS },
  isTor: { path: ["is_tor_exit_node"], ...ANONYMOUS },
  isProxy: { path: ["is_public_proxy"], ...ANONYMOUS },
};

/** One `--geoip-database` file: usable (its type and a lookup), or why not. */
export type GeoIPDatabase = UsableGeoIPDatabase | { readonly ok: false; readonly path: string; readonly error: string };

export interface UsableGeoIPDatabase {
  readonly ok: true;
  readonly path: string;
  /** Its metadata `database_type` ("GeoIP2-City", "GeoLite2-ASN", …). */
  readonly type: string;
  /** The record of the network holding `address` (IPv4 or IPv6 text), null when none does. Throws on a corrupt file. */
  lookup(address: string): unknown;
  /**
   * Looks up in `bytes` from now on (a newer edition of the file), or says why not and keeps the
   * current contents: `bytes` are not a MaxMind database, or one of another type (policies were
   * checked against this one's fields).
   */
  replace(bytes: Buffer): string | undefined;
}

/** Reads `path` (at start-up, and when watch.ts sees it change). A missing, unreadable or malformed file is a database with its error. */
export function readGeoIPDatabase(path: string): GeoIPDatabase {
  const bytes = readDatabaseFile(path);
  return typeof bytes === "string" ? { ok: false, path, error: bytes } : geoIPDatabaseOf(path, bytes);
}

/** The file's bytes, or why they cannot be read ("cannot be read (ENOENT)"). */
export function readDatabaseFile(path: string): Buffer | string {
  try {
    return readFileSync(path);
  } catch (e) {
    return `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
}

/** The database in `bytes`, or why they are not a MaxMind database whose type answers some field. */
export function geoIPDatabaseOf(path: string, bytes: Buffer): GeoIPDatabase {
  const first = readerOf(bytes);
  if (typeof first === "string") return { ok: false, path, error: first };
  let reader = first;
  const type = String(reader.metadata.databaseType);
  return {
    ok: true,
    path,
    type,
    lookup: (address) => reader.get(address),
    replace(bytes) {
      const next = readerOf(bytes);
      if (typeof next === "string") return next;
      const nextType = String(next.metadata.databaseType);
      if (nextType !== type) return `is now a ${JSON.stringify(nextType)} database, not a ${JSON.stringify(type)} one`;
      reader = next;
      return undefined;
    },
  };
}

/** A reader of `bytes`, or why they are not a MaxMind database whose type answers some field. */
function readerOf(bytes: Buffer): Reader<Record<string, unknown>> | string {
  let reader: Reader<Record<string, unknown>>;
  try {
    reader = new Reader(bytes);
  } catch (e) {
    return `is not a MaxMind database (${(e as Error).message})`;
  }
  const type = String(reader.metadata.databaseType);
  if (!Object.values(FIELDS).some((f) => f.answeredBy.test(type)))
    return `is a ${JSON.stringify(type)} database, which answers none of country, region, city, asn, isp or anonymous`;
  return reader;
}

/** Finds the location of addresses for a set of fields, each from the first database that answers it. */
export interface GeoLocator {
  /**
   * The location of `address`, with the fields asked for that its databases hold (none: the
   * address is in no network of theirs). undefined when `address` is not an address or a
   * database could not be read at that point: then nothing is known.
   */
  locate(address: string): GeoLocation | undefined;
}

/**
 * A locator for `fields`, or, per field no usable database answers, why: which database types
 * would, and what was given (with each unusable file's error).
 */
export function geoLocator(
  databases: readonly GeoIPDatabase[],
  fields: Iterable<GeoField>,
): { ok: true; value: GeoLocator } | { ok: false; errors: string[] } {
  const plan = new Map<UsableGeoIPDatabase, [GeoField, FieldSource][]>();
  const errors: string[] = [];
  for (const field of new Set(fields)) {
    const source = FIELDS[field];
    const database = databases.find((d): d is UsableGeoIPDatabase => d.ok && source.answeredBy.test(d.type));
    if (database === undefined) errors.push(`${field} needs ${source.databases} (--geoip-database); ${describe(databases)}`);
    else plan.set(database, [...(plan.get(database) ?? []), [field, source]]);
  }
  if (errors.length > 0) return { ok: false, errors };
  const steps = [...plan];
  return {
    ok: true,
    value: {
      locate(address) {
        const plain = plainAddress(address);
        if (plain === undefined) return undefined;
        const location: Partial<Record<GeoField, string>> = {};
        for (const [database, wanted] of steps) {
          let record: unknown;
          try {
            record = database.lookup(plain);
          } catch {
            return undefined;
          }
          for (const [field, source] of wanted) {
            const value = reported(valueAt(record, source.path));
            if (value !== undefined) location[field] = value;
          }
        }
        return location;
      },
    },
  };
}

function describe(databases: readonly GeoIPDatabase[]): string {
  if (databases.length === 0) return "none is given";
  return `given: ${databases.map((d) => (d.ok ? `${d.path} (${d.type})` : `${d.path}, which ${d.error}`)).join("; ")}`;
}

function valueAt(record: unknown, path: readonly (string | number)[]): unknown {
  let value = record;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

/** As Envoy's provider: UTF-8 text as is, an unsigned 32-bit integer above 0 in decimal, a boolean as "true"/"false". */
function reported(value: unknown): string | undefined {
  if (typeof value === "string") return value === "" ? undefined : value;
  if (typeof value === "number") return Number.isInteger(value) && value > 0 && value <= 0xffff_ffff ? String(value) : undefined;
  if (typeof value === "boolean") return String(value);
  return undefined;
}
