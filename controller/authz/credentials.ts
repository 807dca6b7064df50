/** Reading credentials from the places a policy names: headers (with a prefix), query params, cookies. */
import type { CredentialSource } from "../snapshot/types.ts";
import type { NormalizedRequest } from "./request.ts";

/** Every value a source yields (a query parameter or a cookie may repeat); empty when absent. */
export function readCredential(request: NormalizedRequest, source: CredentialSource): string[] {
  switch (source.in) {
    case "header": {
      const raw = request.header(source.name);
      if (raw === undefined) return [];
      let value = raw.trim();
      if (source.prefix !== undefined) {
        // Auth schemes are case-insensitive (RFC 9110 §11.1): "bearer x" is a Bearer token.
        if (value.slice(0, source.prefix.length).toLowerCase() !== source.prefix.toLowerCase()) return [];
        value = value.slice(source.prefix.length).trim();
      }
      return value === "" ? [] : [value];
    }
    case "param":
      return request.params(source.name).filter((v) => v !== "");
    case "cookie":
      return request.cookies(source.name).filter((v) => v !== "");
  }
}

/** The Cookie header without the named cookies; undefined when nothing remains. */
export function cookieHeaderWithout(header: string | undefined, names: ReadonlySet<string>): string | undefined {
  const kept = (header ?? "")
    .split(";")
    .map((p) => p.trim())
    .filter((p) => p !== "" && !names.has(p.slice(0, Math.max(0, p.indexOf("="))).trim()));
  return kept.length === 0 ? undefined : kept.join("; ");
}
