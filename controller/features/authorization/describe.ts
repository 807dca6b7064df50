/** A rule in one line, for the snapshot summary and decision traces. */
import type { CompiledRule } from "./compile.ts";
import { describeGeoLocation } from "./geo.ts";

/** "admins: Allow when method GET and jwt idp with groups has admin". */
export function describeRule(r: CompiledRule): string {
  const when: string[] = [];
  if (r.methods !== undefined) when.push(`method ${r.methods.join("|")}`);
  if (r.path !== undefined) when.push(`path ${r.path.invert ? "not " : ""}${r.path.type} ${r.path.value}`);
  const who = r.principal;
  if (who?.clientCIDRs !== undefined) when.push(`client in ${who.clientCIDRs.cidrs.join(", ")}`);
  if (who?.jwt !== undefined) {
    const claims = who.jwt.claims.map((c) => `${c.claim.join(".")} ${c.valueType === "StringArray" ? "has" : "is"} ${c.values.join("|")}`);
    when.push(
      `jwt ${who.jwt.provider}${claims.length > 0 ? ` with ${claims.join(" and ")}` : ""}${who.jwt.scopes.length > 0 ? ` scopes ${who.jwt.scopes.join(" ")}` : ""}`,
    );
  }
  for (const h of who?.headers ?? []) when.push(`header ${h.name} in ${h.values.join("|")}`);
  if (who?.geoLocations !== undefined) when.push(`client located at ${who.geoLocations.map(describeGeoLocation).join(" or ")}`);
  if (who?.cel !== undefined) when.push(`cel ${who.cel.source}`);
  if (r.cel !== undefined) when.push(`rule cel ${r.cel.source}`);
  return `${r.name}: ${r.action} when ${when.join(" and ")}`;
}
