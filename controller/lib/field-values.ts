/** HTTP field values as a recipient reads them (RFC 9110 §5.5, §5.6). */

/**
 * A header line without the spaces and tabs at either end (HTTP's optional whitespace, RFC 9110
 * §5.5), which is all a proxy's codec removes, and all a recipient trims from a list's element
 * (§5.6.1): String.trim also drops Unicode spaces (U+00A0, U+FEFF, U+3000, …) that Envoy keeps in
 * the value, and then in the credential it looks up. A loop: the usual line has none, and comes
 * back as it is.
 */
export function withoutOws(line: string): string {
  let start = 0;
  let end = line.length;
  while (start < end && isOws(line.charCodeAt(start))) start++;
  while (end > start && isOws(line.charCodeAt(end - 1))) end--;
  return start === 0 && end === line.length ? line : line.slice(start, end);
}

const isOws = (c: number) => c === 0x20 || c === 0x09;
