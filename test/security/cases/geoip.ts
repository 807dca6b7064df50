/**
 * GeoIP: `clientIPGeoLocations` rules decide on the client address Portcullis determines (as
 * clientCIDRs do), located in the `--geoip-database` files. /us: Allow country US, default Deny;
 * /not-gb: Deny country GB, default Allow. The database (written by the test) places 50.114.0.0/16
 * in the US and 81.2.69.0/24 in GB, and has no `::ffff:0:0/96` alias, so an IPv4-mapped address is
 * found only if Portcullis maps it to IPv4 itself. A database that is missing, unreadable or of the
 * wrong type makes the policies that need it Invalid: never an allow.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clientAddressDetection } from "../../../controller/authz/client-address.ts";
import { type GeoIPDatabase, geoIPDatabaseOf, readGeoIPDatabase } from "../../../controller/geoip/database.ts";
import { parse } from "yaml";
import { gatewayWithRoute, securityPolicy } from "../../support/manifests.ts";
import { writeMmdb } from "../../support/mmdb.ts";
import { decider } from "../../support/world.ts";
import { fromDecision, managedHeadersOf, type Case, type Expected, type Outcome } from "../outcome.ts";

/** "---" and a policy on the route rule of its name with this `authorization` (a YAML flow map). */
const policy = (name: string, authorization: string) => `---\n${securityPolicy(name, { authorization: parse(authorization) }, name)}`;

const WORLD = `${gatewayWithRoute("api.example.com", { us: "/us", "not-gb": "/not-gb" })}${policy(
  "us",
  "{rules: [{name: us, action: Allow, principal: {clientIPGeoLocations: [{country: US}]}}]}",
)}${policy("not-gb", "{defaultAction: Allow, rules: [{name: no-gb, action: Deny, principal: {clientIPGeoLocations: [{country: GB}]}}]}")}`;

const COUNTRIES = writeMmdb({
  databaseType: "GeoLite2-Country",
  networks: [
    { network: "50.114.0.0/16", data: { country: { iso_code: "US" } } },
    { network: "81.2.69.0/24", data: { country: { iso_code: "GB" } } },
  ],
});

const OPEN: Expected = { status: 200, code: "allowed" };
const NOT_US: Expected = { status: 403, code: "authz_denied", reason: "no authorization rule allows the request" };
const GB_DENIED: Expected = { status: 403, code: "authz_denied", reason: "denied by authorization rule no-gb" };
const invalid = (condition: string): Expected => ({ status: 403, code: "policy_invalid", condition });

function c(id: string, title: string, expect: Expected, run: () => Promise<Outcome>, fixed?: string): Case {
  return { id: `geoip.${id}`, title, expect, run, ...(fixed === undefined ? {} : { fixed }) };
}

/** GET `path` with this X-Forwarded-For, the databases given, `trustedHops` proxies trusted. */
function located(
  path: string,
  xff: string | undefined,
  databases: readonly GeoIPDatabase[] = [geoIPDatabaseOf("countries.mmdb", COUNTRIES)],
  trustedHops = 0,
) {
  return async (): Promise<Outcome> => {
    const d = decider(WORLD, { clientAddress: clientAddressDetection({ trustedHops, trustedCidrs: [] }) }, { geoipDatabases: databases });
    const invalid = Object.values(d.result.snapshot.policies)
      .map((p) => p.invalid)
      .filter((m) => m !== undefined);
    const decision = await d({ path, headers: xff === undefined ? {} : { "x-forwarded-for": xff } });
    return fromDecision(decision, managedHeadersOf(d.result.snapshot.policies), invalid.join("; ") || undefined);
  };
}

/** A database file as `--geoip-database` reads it. */
function file(name: string, bytes: Buffer | string): GeoIPDatabase {
  const path = join(mkdtempSync(join(tmpdir(), "portcullis-geoip-")), name);
  writeFileSync(path, bytes);
  return readGeoIPDatabase(path);
}

export const geoipCases: readonly Case[] = [
  c("allowed-country", "a client at 50.114.0.1 (US) on /us", OPEN, located("/us", "50.114.0.1")),
  c(
    "not-in-database",
    "a client at 198.51.100.7, an address in no network of the database, on /us (Allow US)",
    NOT_US,
    located("/us", "198.51.100.7"),
  ),
  c(
    "ipv4-mapped",
    "a client at `::ffff:81.2.69.160` (GB, written as IPv4-mapped IPv6) on /not-gb (Deny GB)",
    GB_DENIED,
    located("/not-gb", "::ffff:81.2.69.160"),
  ),
  c(
    "ipv4-mapped-hex",
    "a client at `::ffff:5102:45a0` (81.2.69.160, GB, its mapped form in hexadecimal) on /not-gb",
    GB_DENIED,
    located("/not-gb", "::ffff:5102:45a0"),
    "only `::ffff:` followed by a dotted quad was read as IPv4, so the hexadecimal spelling was looked up as an IPv6 address the database does not hold, and the Deny rule did not match (allowed); every spelling of an IPv4-mapped address is now read as its IPv4 address, for clientCIDRs too",
  ),
  c(
    "spoofed-xff-country",
    "no trusted hops; a client at 81.2.69.160 (GB) writes `X-Forwarded-For: 50.114.0.1` (US) on /us",
    NOT_US,
    located("/us", "50.114.0.1, 81.2.69.160"),
  ),
  c(
    "spoofed-xff-deny",
    "one trusted hop; the load balancer saw 81.2.69.160 (GB), the client wrote 50.114.0.1 (US) further left, on /not-gb",
    GB_DENIED,
    located("/not-gb", "50.114.0.1, 81.2.69.160, 10.0.0.2", undefined, 1),
  ),
  c(
    "undetermined-deny",
    "no X-Forwarded-For: where the client is cannot be known; a Deny rule on location matches",
    GB_DENIED,
    located("/not-gb", undefined),
  ),
  c("undetermined-allow", "no X-Forwarded-For: an Allow rule on location does not match", NOT_US, located("/us", undefined)),
  c(
    "database-missing",
    "`--geoip-database` names a file that does not exist",
    invalid("country needs a Country, City or Enterprise database (--geoip-database); given: "),
    async () => {
      const missing = readGeoIPDatabase(join(tmpdir(), "portcullis-absent", "GeoLite2-Country.mmdb"));
      return located("/not-gb", "81.2.69.160", [missing])();
    },
  ),
  c(
    "database-not-mmdb",
    "`--geoip-database` names a file that is not a MaxMind database",
    invalid("which is not a MaxMind database"),
    located("/not-gb", "81.2.69.160", [file("GeoLite2-Country.mmdb", "<html>not found</html>")]),
  ),
  c(
    "database-wrong-type",
    "`--geoip-database` gives an ASN database to a country rule",
    invalid("country needs a Country, City or Enterprise database (--geoip-database); given: "),
    located("/not-gb", "81.2.69.160", [
      file(
        "GeoLite2-ASN.mmdb",
        writeMmdb({ databaseType: "GeoLite2-ASN", networks: [{ network: "81.2.69.0/24", data: { autonomous_system_number: 20712 } }] }),
      ),
    ]),
  ),
  c("no-database", "no `--geoip-database` at all", invalid("none is given"), located("/us", "50.114.0.1", [])),
];
