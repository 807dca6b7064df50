/**
 * Request paths as Envoy Gateway has Envoy read them before routing (`normalize_path`, then
 * `merge_slashes`), and the other ways components on a request's way read the same path
 * (pathReadings): every reading must allow (DESIGN §0). Paths here hold one character per byte.
 */
import { utf8Bytes } from "../lib/bytes.ts";

/** What a path needs normalizePath for: an escape, a character Envoy escapes, a repeated slash, a dot segment. */
const ABNORMAL_PATH = /[%"<>`{|}^\x00-\x20\x7f-\uffff]|\/\/|\/\.\.?(?:\/|$)/;

/**
 * The path and query as one character per byte: as received when `byteStrings` (Node hands bytes
 * over as Latin-1), else the text's UTF-8 bytes (gRPC strings); the query is cut off at the first "?".
 */
export function pathBytesOf(target: string, byteStrings: boolean | undefined): string {
  const bytes = byteStrings === true ? target : utf8Bytes(target);
  const q = bytes.indexOf("?");
  return q === -1 ? bytes : bytes.slice(0, q);
}

/**
 * Characters Envoy's path normalisation (`normalize_path`, which Envoy Gateway always sets: its
 * Chromium-derived canonicaliser) percent-encodes where they appear raw: controls, space,
 * `"`, `#`, `<`, `>`, `^`, backquote, `{`, `|`, `}`, DEL and every byte from 0x80, each byte on its
 * own (invalid UTF-8 too). A route then sees `/caf%C3%A9` for a raw `/café`, and `/a%22b` for `/a"b`.
 */
const RAW_ESCAPED_BY_ENVOY = /[\x00-\x20"#<>^`{|}\x7f-\xff]/g;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;
const isHex = (c: string | undefined) => c !== undefined && /^[0-9A-Fa-f]$/.test(c);
const escapeByte = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;

/**
 * Normalises a path the way Envoy Gateway has Envoy normalise it before routing (`normalize_path`,
 * then `merge_slashes`): the raw characters Envoy escapes percent-encoded (RAW_ESCAPED_BY_ENVOY),
 * escapes of unreserved characters decoded, other escapes kept as written (`%c3` stays `%c3`:
 * Envoy keeps the case, and its route matches compare case-sensitively), a "%" that began no
 * escape but would once its neighbours are decoded (`%%30%30`) written `%25`, slashes merged, "."
 * and ".." segments removed. Encoded "/" (%2F) stays encoded, so it never creates a path segment.
 * `path` holds one character per byte (pathBytesOf).
 */
export function normalizePath(path: string): string {
  // Most paths are already normal: no escapes, no empty, "." or ".." segments.
  if (isPlainPath(path) || (path.startsWith("/") && !ABNORMAL_PATH.test(path))) return path;
  return resolveSegments(canonicalEscapes(path));
}

/**
 * Whether a path (without its query) is one every component reads as it is, already normal: "/"
 * then letters, digits, "-", "_", "~", and "/" or "." anywhere but right after a "/" (so no empty,
 * "." or ".." segment), nothing escaped, no control character. Such a path is its own only
 * reading (what `pathReadings` returns for it) and normalizePath leaves it alone. A loop over its
 * characters, cheaper than the regular expressions it spares on most requests.
 */
export function isPlainPath(path: string): boolean {
  if (path.charCodeAt(0) !== 47) return false;
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i);
    // a-z, A-Z, 0-9, "-", "_", "~"
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 95 || c === 126) continue;
    if ((c === 47 || c === 46) && path.charCodeAt(i - 1) !== 47) continue;
    return false;
  }
  return true;
}

/**
 * RAW_ESCAPED_BY_ENVOY percent-encoded and escapes of unreserved characters decoded, as Envoy's
 * canonicaliser does, including its guard against nested escapes: a "%" that began no valid escape
 * in the input, and would begin one after its neighbours are decoded, is written "%25".
 */
function canonicalEscapes(path: string): string {
  let out = "";
  // Where in `out` the last "%" that began no valid escape in the input is.
  let strayPercent = -1;
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c !== "%") {
      out += c.replace(RAW_ESCAPED_BY_ENVOY, escapeByte);
      continue;
    }
    const hex = path.slice(i + 1, i + 3);
    if (!HEX_PAIR.test(hex)) {
      strayPercent = out.length;
      out += "%";
      continue;
    }
    i += 2;
    const decoded = String.fromCharCode(parseInt(hex, 16));
    if (!UNRESERVED.test(decoded)) {
      out += `%${hex}`;
      continue;
    }
    out += decoded;
    const nested =
      strayPercent !== -1 &&
      ((strayPercent === out.length - 3 && isHex(out[out.length - 2]) && isHex(decoded)) ||
        (strayPercent === out.length - 2 && isHex(decoded) && isHex(path[i + 1])));
    if (nested) {
      out = `${out.slice(0, strayPercent)}%25${out.slice(strayPercent + 1)}`;
      strayPercent = -1;
    }
  }
  return out;
}

/** `path` (one character per byte) with the raw characters Envoy escapes percent-encoded, and nothing else changed. */
export const escapeRawLikeEnvoy = (path: string) => path.replace(RAW_ESCAPED_BY_ENVOY, escapeByte);

/**
 * What makes components read a path differently: an escape (%2F, %5C, %2E…), a backslash, a ";"
 * parameter, a raw character Envoy escapes (others pass `é` on as sent).
 */
const READ_DIFFERENTLY = /[%\\;"<>^`{|}\x00-\x20\x7f-\xff]/;

/**
 * Every way a component on the request's way may read `path` (no query), each normalised as
 * `normalizePath` leaves it, the first being Envoy's default reading (`normalizePath`):
 * - Envoy with `path_with_escaped_slashes_action` UNESCAPE_AND_REDIRECT or UNESCAPE_AND_FORWARD
 *   (Envoy Gateway's default): %2F and %5C decoded before the dot segments are removed;
 * - nginx, Caddy and Go servers: every escape decoded, then dot segments removed;
 * - servers that take "\\" for "/" (IIS, some frameworks) and that drop ";" path parameters
 *   (Tomcat, Jetty, Spring) before decoding.
 * A path without escapes, backslashes, ";" or raw characters Envoy escapes reads the same
 * everywhere: one reading. `rawPath` holds one character per byte (pathBytesOf); a raw character
 * Envoy escapes is read as its escape by every reading (so decoded where escapes are).
 */
export function pathReadings(rawPath: string): readonly string[] {
  const envoy = normalizePath(rawPath);
  if (!READ_DIFFERENTLY.test(rawPath)) return [envoy];
  const path = escapeRawLikeEnvoy(rawPath);
  const unescapedSlashes = path.replace(/%2f/gi, "/").replace(/%5c/gi, "\\");
  const decoded = decodeEscapes(path);
  const withoutParams = decodeEscapes(path.replace(/;[^/]*/g, ""));
  const readings = new Set([
    envoy,
    normalizePath(unescapedSlashes),
    normalizePath(unescapedSlashes.replace(/\\/g, "/")),
    resolveSegments(decoded),
    resolveSegments(decoded.replace(/\\/g, "/")),
    resolveSegments(withoutParams),
    resolveSegments(withoutParams.replace(/\\/g, "/")),
  ]);
  return [...readings];
}

/**
 * An escaped (or raw) control character in a path (%00 to %1F, %7F): C servers and file APIs cut
 * the path at a decoded NUL, others trim a trailing CR, LF or tab, so the path an upstream runs
 * may be a shorter one that another rule governs. No component reads such a path one way only.
 */
export const CONTROL_IN_PATH = /[\x00-\x1f\x7f]|%(?:[01][0-9a-f]|7f)/i;

/** Every escape decoded (runs of escapes as UTF-8 bytes), as nginx and Go do; escapes that decode to "%" are not decoded again. */
function decodeEscapes(path: string): string {
  return path.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ""), "hex").toString("utf8"));
}

/** A leading "/", merged slashes, "." and ".." segments removed (RFC 3986 §5.2.4); nothing decoded. */
function resolveSegments(path: string): string {
  const p = path.startsWith("/") ? path : `/${path}`;
  const out: string[] = [];
  const segments = p.split("/").slice(1);
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    if (seg === "..") out.pop();
    if (seg === "." || seg === "..") {
      if (last) out.push("");
      return;
    }
    if (seg === "" && !last) return;
    out.push(seg);
  });
  return `/${out.join("/")}`;
}
