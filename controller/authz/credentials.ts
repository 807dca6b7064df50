/** Reading credentials from the places a policy names: headers (with a prefix), query params, cookies. */
import type { CredentialSource } from "../snapshot/types.ts";
import type { NormalizedRequest } from "./request.ts";

/**
 * Every value a source yields, in order; empty when absent. A header yields one value per line:
 * the whole line, or with a `prefix`, as Envoy's jwt_authn extractor reads it: the prefix found
 * anywhere in the line (here in any letter case: an auth scheme is case-insensitive, RFC 9110
 * §11.1, and a token Envoy would skip must still not pass unverified) and with any whitespace
 * where the prefix has a space (`Bearer\t<t>`: Python's `str.split()`, which Django REST
 * framework and Flask-JWT-Extended use, reads the token there), then everything from the first
 * base64url or "." character after it; a line holding the prefix and no such character
 * yields the whole line (which then fails to verify). A query parameter or a cookie may repeat.
 */
export function readCredential(request: NormalizedRequest, source: CredentialSource): readonly string[] {
  switch (source.in) {
    case "header": {
      // Usually one value: an array of one, not an empty array grown by push (which reserves 17 slots);
      // an index loop, as an iterator would be allocated on every request.
      const lines = request.headerLines(source.name);
      let out: string[] | undefined;
      for (let i = 0; i < lines.length; i++) {
        const credential = credentialIn(lines[i]!.trim(), source.prefix);
        if (credential === undefined) continue;
        if (out === undefined) out = [credential];
        else out.push(credential);
      }
      return out ?? NONE;
    }
    case "param":
      return nonEmpty(request.params(source.name));
    case "cookie":
      return nonEmpty(request.cookies(source.name));
  }
}

const NONE: readonly string[] = Object.freeze([]);

/** The values that are not empty; no copy when there are none (most requests carry no such parameter or cookie). */
const nonEmpty = (values: readonly string[]): readonly string[] => (values.length === 0 ? NONE : values.filter((v) => v !== ""));

/** What one header line (trimmed) yields, as readCredential describes; undefined for nothing. */
function credentialIn(value: string, prefix: string | undefined): string | undefined {
  if (prefix === undefined || prefix === "") return value === "" ? undefined : value;
  // Most lines begin with the prefix as configured ("Bearer "): found at 0 without folding the line.
  const at = value.startsWith(prefix) ? 0 : foldForPrefix(value).indexOf(foldForPrefix(prefix));
  if (at === -1) return undefined;
  const token = tokenStart(value, at + prefix.length);
  return token === -1 ? value : value.slice(token);
}

/** The index of the first base64url or "." character of `value` from `from` on, or -1 (a loop: no copy of a token-sized string). */
function tokenStart(value: string, from: number): number {
  for (let i = from; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // A-Z, a-z, 0-9, "_", ".", "-"
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 45) return i;
  }
  return -1;
}

/** Lower case, every whitespace character a space: one character for one, so indexes carry over. */
const foldForPrefix = (text: string) => text.toLowerCase().replace(/\s/g, " ");

/** The Cookie header without the named cookies; undefined when nothing remains. */
export function cookieHeaderWithout(header: string | undefined, names: ReadonlySet<string>): string | undefined {
  const kept = (header ?? "")
    .split(";")
    .map((p) => p.trim())
    .filter((p) => p !== "" && !names.has(p.slice(0, Math.max(0, p.indexOf("="))).trim()));
  return kept.length === 0 ? undefined : kept.join("; ");
}
