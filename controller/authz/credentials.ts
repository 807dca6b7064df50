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
export function readCredential(request: NormalizedRequest, source: CredentialSource): string[] {
  switch (source.in) {
    case "header": {
      const out: string[] = [];
      for (const line of request.headerLines(source.name)) {
        const value = line.trim();
        if (source.prefix === undefined || source.prefix === "") {
          if (value !== "") out.push(value);
          continue;
        }
        // Most lines begin with the prefix as configured ("Bearer "): found at 0 without folding the line.
        const at = value.startsWith(source.prefix) ? 0 : foldForPrefix(value).indexOf(foldForPrefix(source.prefix));
        if (at === -1) continue;
        const token = value.slice(at + source.prefix.length).search(/[A-Za-z0-9_.-]/);
        out.push(token === -1 ? value : value.slice(at + source.prefix.length + token));
      }
      return out;
    }
    case "param":
      return request.params(source.name).filter((v) => v !== "");
    case "cookie":
      return request.cookies(source.name).filter((v) => v !== "");
  }
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
