/**
 * `principal.clientIPGeoLocations` (Envoy Gateway v1.9.0 api/v1alpha1/authorization_types.go,
 * ClientIPGeoLocation): any entry may match (OR); within an entry every field set must (AND), each
 * compared as Envoy Gateway's RBAC header matchers compare the values Envoy's geoip filter sets
 * (internal/xds/translator/authorization.go, buildGeoIPPredicate): country, region, city and isp
 * exactly but for ASCII letter case, asn as its decimal text, the anonymous flags as "true"/"false".
 * A field the location lacks (an address in no network of the database) never matches.
 */
import { z } from "zod";
import type { GeoField, GeoLocation } from "../../geoip/database.ts";

const AnonymousSchema = z
  .object({
    isAnonymous: z.boolean().optional(),
    isVPN: z.boolean().optional(),
    isHosting: z.boolean().optional(),
    isTor: z.boolean().optional(),
    isProxy: z.boolean().optional(),
  })
  .strict()
  .refine((a) => Object.values(a).some((v) => v !== undefined), "set at least one of isAnonymous, isVPN, isHosting, isTor or isProxy");

/** One ClientIPGeoLocation, with the bounds of Envoy Gateway's CRD. */
export const ClientIPGeoLocationSchema = z
  .object({
    country: z
      .string()
      .regex(/^[A-Za-z]{2}$/, "a two-letter ISO country code")
      .optional(),
    region: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,16}$/, "an ISO region code (letters, digits and -, at most 16)")
      .optional(),
    city: z.string().min(1).max(128).optional(),
    asn: z.number().int().min(1).max(0xffff_ffff).optional(),
    isp: z.string().min(1).max(256).optional(),
    anonymous: AnonymousSchema.optional(),
  })
  .strict()
  .refine((g) => Object.values(g).some((v) => v !== undefined), "set at least one of country, region, city, asn, isp or anonymous");
export type ClientIPGeoLocationSpec = z.infer<typeof ClientIPGeoLocationSchema>;

/** One entry: the fields it sets, each with the text the location must hold. */
export interface CompiledGeoLocation {
  readonly conditions: readonly { readonly field: GeoField; readonly value: string; readonly ignoreCase: boolean }[];
}

const ANONYMOUS_FIELDS = ["isAnonymous", "isVPN", "isHosting", "isTor", "isProxy"] as const;

/** The entries as conditions; `fields` gets every field they read. */
export function compileGeoLocations(specs: readonly ClientIPGeoLocationSpec[], fields: Set<GeoField>): CompiledGeoLocation[] {
  return specs.map((spec) => {
    const conditions: { field: GeoField; value: string; ignoreCase: boolean }[] = [];
    for (const field of ["country", "region", "city", "isp"] as const) {
      const value = spec[field];
      if (value !== undefined) conditions.push({ field, value, ignoreCase: true });
    }
    if (spec.asn !== undefined) conditions.push({ field: "asn", value: String(spec.asn), ignoreCase: false });
    for (const field of ANONYMOUS_FIELDS) {
      const flag = spec.anonymous?.[field];
      if (flag !== undefined) conditions.push({ field, value: String(flag), ignoreCase: false });
    }
    for (const c of conditions) fields.add(c.field);
    return { conditions };
  });
}

/** Whether some entry matches `location`. */
export function geoLocationsMatch(entries: readonly CompiledGeoLocation[], location: GeoLocation): boolean {
  return entries.some((entry) =>
    entry.conditions.every((c) => {
      const actual = location[c.field];
      return actual !== undefined && (c.ignoreCase ? asciiLower(actual) === asciiLower(c.value) : actual === c.value);
    }),
  );
}

/** "country US and city Seattle", one entry, for summaries. */
export function describeGeoLocation(entry: CompiledGeoLocation): string {
  return entry.conditions.map((c) => `${c.field} ${c.value}`).join(" and ");
}

/** Envoy's ignore_case compares ASCII letters without case and every other character exactly. */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
