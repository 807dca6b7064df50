/**
 * Strict decoding of a JWS segment into a JSON object (RFC 7515 §5.2, RFC 7519 §7.2): canonical
 * base64url, valid UTF-8, and no member name twice. JSON.parse silently keeps the last of two
 * duplicate members, while other parsers keep the first: a token such as
 * {"sub":"alice","sub":"admin"} would then name two different users to two different readers, so
 * it is refused instead (RFC 7515 lets a recipient reject duplicate names; Portcullis does).
 */

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
/** The 6-bit value of a base64url character. */
function sextet(c: number): number {
  return c >= 97 ? c - 71 : c >= 65 ? c - 65 : c >= 48 ? c + 4 : c === 45 ? 62 : 63;
}

/**
 * For a string of base64url characters only (the caller checks): true when it is the one
 * canonical spelling of its bytes, that is without padding, with a length that encodes whole
 * bytes (not 4n + 1), and with no bit set in the last character beyond those bytes. Decided
 * without decoding.
 */
export function isCanonicalBase64urlText(segment: string): boolean {
  const rest = segment.length % 4;
  if (rest === 0) return true;
  if (rest === 1) return false;
  // 2 characters carry 1 byte (4 spare bits), 3 characters carry 2 bytes (2 spare bits).
  return (sextet(segment.charCodeAt(segment.length - 1)) & (rest === 2 ? 0x0f : 0x03)) === 0;
}

/** The JSON object a segment encodes; undefined when it is not strictly one. Never throws. */
export function parseStrictJsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const text = UTF8.decode(Buffer.from(segment, "base64url"));
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    return hasDuplicateMembers(text) ? undefined : (value as Record<string, unknown>);
  } catch {
    return undefined;
  }
}

/**
 * Whether any object in `text` (already known to be valid JSON) names a member twice, at any depth.
 * Names are compared after unescaping ("a" and "\u0061" are the same name). Iterative, so deep
 * nesting cannot exhaust the stack.
 */
export function hasDuplicateMembers(text: string): boolean {
  // One entry per open container: the names seen so far for an object, null for an array.
  const open: (Set<string> | null)[] = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b) {
      open.push(new Set());
      expectName = true;
    } else if (c === 0x5b) {
      open.push(null);
      expectName = false;
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
      expectName = false;
    } else if (c === 0x2c) {
      expectName = open.at(-1) instanceof Set;
    } else if (c === 0x22) {
      let end = i + 1;
      let escaped = false;
      while (text.charCodeAt(end) !== 0x22) {
        if (text.charCodeAt(end) === 0x5c) {
          escaped = true;
          end += 2;
        } else end += 1;
      }
      if (expectName) {
        const names = open.at(-1) as Set<string>;
        // Only a name with escapes needs unescaping to compare ("a" and "\u0061" are one name).
        const name = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
        if (names.has(name)) return true;
        names.add(name);
        expectName = false;
      }
      i = end;
    }
  }
  return false;
}
