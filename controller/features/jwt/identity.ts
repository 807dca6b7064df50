/**
 * A verified jwt's identity, as the phase passes it on: the claim headers (Envoy's claim_to_headers),
 * the principal and the claims for the rules, held as the token cache's verdict.
 */
import { Buffer } from "node:buffer"; // not the global Buffer: a getter, about 17 ns a use (Node 24)
import type { VerificationKey } from "../../api/jwks.ts";
import { claimAt } from "../../lib/claims.ts";
import type { CompiledJwt } from "./compile.ts";
import type { CachedToken, TokenCache } from "./token-cache.ts";
import { CLOCK_SKEW_SECONDS, type DecodedJwt } from "./verify.ts";

/** A verified token strips nothing (claimToHeaders' names are managed headers, removed anyway): one array for all. */
const NO_STRIP: readonly string[] = Object.freeze([]);

/**
 * A verified token's verdict, with the claim headers and principal the phase passes on. On the
 * token's second sight (`seen`) it is admitted into the cache; on its first, the doorkeeper records
 * it and the verdict serves this request only (its pass is `perRequest`: no allow is remembered for it).
 */
export function remember(
  token: string,
  jwt: DecodedJwt,
  config: CompiledJwt,
  index: number,
  keys: readonly VerificationKey[],
  cache: TokenCache,
  now: number,
  seen: boolean,
): CachedToken {
  const provider = config.providers[index]!;
  const claims = jwt.payload;
  const headers: Record<string, string> = {};
  // An index loop: for…of allocated an iterator and a result object per claim header, on every new token.
  const claimToHeaders = provider.claimToHeaders;
  for (let c = 0; c < claimToHeaders.length; c++) {
    const { header, claim } = claimToHeaders[c]!;
    const value = headerValueOf(claimAt(claims, claim));
    if (value !== undefined) headers[header] = value;
  }
  const sub = claims.sub;
  const principal = typeof sub === "string" ? `jwt ${provider.name} sub=${sub}` : `jwt ${provider.name}`;
  const attributes = { jwt: { provider: provider.name, claims } };
  const exp = claims.exp;
  const expiresAt = typeof exp === "number" ? (exp + CLOCK_SKEW_SECONDS) * 1000 : undefined;
  if (seen) {
    const passed = { ok: true, value: { principal, headers, strip: NO_STRIP, attributes } } as const;
    return cache.set({ token, config, provider: index, kid: jwt.kid, keys, claims, passed }, now, expiresAt);
  }
  cache.recordVerified(token, keys, now, expiresAt);
  const passed = { ok: true, value: { principal, headers, strip: NO_STRIP, attributes, perRequest: true } } as const;
  return { token, config, provider: index, kid: jwt.kid, keys, claims, passed, validUntil: now, bytes: 0 };
}

/**
 * A claim as Envoy's claim_to_headers writes it: a string as it is (non-ASCII included: it goes
 * upstream as UTF-8 bytes, as from Envoy), a number as envoyNumber, a boolean as text; an object, or an array
 * holding anything but scalars, as base64 of its JSON. Unlike Envoy, for upstreams to read it
 * (README, "Differences"): an array of scalars is joined with "," (Envoy sends base64 JSON), unless an
 * element holds a "," itself, which a list reader would split: then base64 JSON as well.
 * undefined (nothing set, the client's copy still removed) for an absent, null or empty claim.
 * A value a parser would read differently (padding, control characters) is refused in check().
 */
export function headerValueOf(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text =
    typeof value === "string"
      ? value
      : typeof value === "number"
        ? envoyNumber(value)
        : typeof value === "object"
          ? listOrJson(value)
          : String(value);
  return text === "" ? undefined : text;
}

/**
 * A number as Envoy's jwt_authn writes a claim (convertClaimDoubleToString): a whole number from 0
 * to below 2^64 as that integer, exactly ("18446744073709549568", where String() shortens it to
 * "18446744073709550000"); any other as C's std::to_string of a double, printf's "%f": the exact
 * value with six decimals, rounded to nearest, a tie to even (glibc), so -1 is "-1.000000", 0.1
 * "0.100000" and 1e-7 "0.000000". An upstream or a rule written for Envoy reads these spellings.
 */
export function envoyNumber(n: number): string {
  if (n >= 0 && n < 2 ** 64 && Number.isInteger(n)) return BigInt(n).toString();
  const sign = n < 0 ? "-" : "";
  const magnitude = Math.abs(n);
  // Doubles from 1e21 on are whole numbers, which toFixed writes with an exponent.
  if (magnitude >= 1e21) return `${sign}${BigInt(magnitude)}.000000`;
  const nearest = magnitude.toFixed(6);
  // toFixed takes the larger of two equally near results. A tie needs the exact value to end at the
  // seventh decimal with a 5: a multiple of 2^-7, whose seven decimals toFixed(7) writes exactly.
  if (!Number.isInteger(magnitude * 128)) return sign + nearest;
  const seven = magnitude.toFixed(7);
  const lower = seven.slice(0, -1);
  const even = seven.endsWith("5") && Number(lower.at(-1)) % 2 === 0;
  return sign + (even ? lower : nearest);
}

function listOrJson(value: object): string {
  if (Array.isArray(value) && value.every((v) => ["string", "number", "boolean"].includes(typeof v) && !String(v).includes(",")))
    return value.join(",");
  return Buffer.from(JSON.stringify(value)).toString("base64");
}
