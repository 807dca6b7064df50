/**
 * Strict decoding of a JWS segment into a JSON object (RFC 7515 §5.2, RFC 7519 §7.2): canonical
 * base64url, valid UTF-8, no escaped surrogate without its partner, no number beyond a double, at
 * most 100 levels of nesting (as protobuf's JSON parser in Envoy's jwt_authn), and no member name twice. JSON.parse silently keeps the last of two
 * duplicate members, while other parsers keep the first: a token such as
 * {"sub":"alice","sub":"admin"} would then name two different users to two different readers, so
 * it is refused instead (RFC 7515 lets a recipient reject duplicate names; Portcullis does).
 */
import { Buffer } from "node:buffer"; // not the global Buffer: a getter, about 17 ns a use (Node 24)

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

/** Where a segment's bytes are decoded: a token's (at most 16 KiB of base64url) fit; a longer segment gets a buffer of its own. */
const DECODED = Buffer.allocUnsafe(12 * 1024);

/**
 * The text a segment's bytes spell in UTF-8; throws (TypeError) when they are not valid UTF-8. Decoded
 * into DECODED, with no buffer made per segment: Node's lenient decoder replaces every invalid sequence
 * with U+FFFD, so a text without one is the strict decoder's text, and one with it is decoded strictly.
 */
function utf8TextOf(segment: string): string {
  if (segment.length > (DECODED.length / 3) * 4) return UTF8.decode(Buffer.from(segment, "base64url"));
  const length = DECODED.write(segment, 0, "base64url");
  const text = DECODED.toString("utf8", 0, length);
  return text.includes("\uFFFD") ? UTF8.decode(DECODED.subarray(0, length)) : text;
}

/** The JSON object a segment encodes; undefined when it is not strictly one. Never throws. */
export function parseStrictJsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    return strictObjectOf(utf8TextOf(segment));
  } catch {
    return undefined;
  }
}

/**
 * The JSON object `text` holds, read as protobuf's JSON parser reads it (Envoy's, a JWKS's too): no
 * member named twice, at most 100 levels, no lone surrogate, no number beyond a double; undefined
 * otherwise. Never throws.
 */
export function parseStrictJsonText(text: string): Record<string, unknown> | undefined {
  try {
    return strictObjectOf(text);
  } catch {
    return undefined;
  }
}

/** parseStrictJsonText, throwing where `text` is not JSON at all. */
function strictObjectOf(text: string): Record<string, unknown> | undefined {
  const value: unknown = JSON.parse(text);
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const members = membersNamedIn(text);
  const object =
    members === ESCAPED_NAME ? readObject(text) : members === membersHeldBy(value) ? (value as Record<string, unknown>) : undefined;
  if (object === undefined || nestedDeeperThan(text, MAX_DEPTH)) return undefined;
  // Only an escape can write a surrogate (strict UTF-8 holds none), only a long number overflow: tokens rarely have either.
  const suspect = (text.includes("\\u") && SURROGATE_ESCAPE.test(text)) || BIG_EXPONENT.test(text) || MANY_DIGITS.test(text);
  return suspect && !holdsOnlyWhatEnvoyReads(object) ? undefined : object;
}

/** A `\u` escape of a UTF-16 surrogate (D800 to DFFF), perhaps one that stands for itself (`\\ud800`): a filter only. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
/** What a number beyond a double needs, an exponent of three digits or 309 digits in a row: filters only (apart, each is faster). */
const BIG_EXPONENT = /[eE]\+?\d{3}/;
const MANY_DIGITS = /\d{309}/;
/** The nesting protobuf's JSON parser (Envoy's jwt_authn) reads: "JSON content was too deeply nested" beyond it. */
const MAX_DEPTH = 100;

/**
 * Whether `text` (valid JSON) opens more than `max` objects and arrays inside one another. Counted
 * only when it holds more than `max` "{" and "[" at all (in strings too), which tokens rarely do.
 */
function nestedDeeperThan(text: string, max: number): boolean {
  // indexOf steps from bracket to bracket (about four times faster than a loop over every character).
  let opening = 0;
  for (let i = text.indexOf("{"); i !== -1 && opening <= max; i = text.indexOf("{", i + 1)) opening++;
  for (let i = text.indexOf("["); i !== -1 && opening <= max; i = text.indexOf("[", i + 1)) opening++;
  if (opening <= max) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) i = closingQuote(text, i);
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Whether every string in `value` (JSON.parse or readObject output), member names included, is
 * well-formed UTF-16, and every number finite, as Envoy's jwt_authn reads a token: JSON.parse reads
 * an escaped surrogate without its partner (`"\ud800"`) as half a character and `1e999` as
 * Infinity, where protobuf's JSON parser refuses both ("invalid low surrogate", "unpaired low
 * surrogate", "invalid number"). Iterative, so deep nesting cannot exhaust the stack.
 */
function holdsOnlyWhatEnvoyReads(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current === "string") {
      if (!current.isWellFormed()) return false;
    } else if (typeof current === "number") {
      if (!Number.isFinite(current)) return false;
    } else if (Array.isArray(current)) pending.push(...current);
    else if (typeof current === "object" && current !== null) {
      for (const name of Object.keys(current)) {
        if (!name.isWellFormed()) return false;
        pending.push((current as Record<string, unknown>)[name]);
      }
    }
  }
  return true;
}

/**
 * Whether any object in `text` (valid JSON; JSON.parse's error otherwise) names a member twice, at
 * any depth. Names are compared after unescaping ("a" and "\u0061" are the same name).
 */
export function hasDuplicateMembers(text: string): boolean {
  // Parsed first: the scan below assumes valid JSON (every string closed), and JSON.parse throws otherwise.
  const value: unknown = JSON.parse(text);
  const members = membersNamedIn(text);
  return members === ESCAPED_NAME ? readObject(text) === undefined : members !== membersHeldBy(value);
}

/*
 * Duplicates are found by counting, without collecting names: JSON.parse keeps one property per
 * distinct name of an object, so an object naming a member twice holds fewer properties than it
 * has members in the text, and the totals over every object differ exactly when one object's do.
 *
 * JSON.parse is trusted with names written without escapes only. Node 24's V8 (13.6) can read an
 * escaped name as a name holding a backslash that an object built earlier had at the same place
 * (V8 follows the earlier object's hidden class): once a payload {"sub":"x","em\\u0":1} has been
 * read (a client's unverified token will do), the member "em\u0061il" of {"sub":"x","em\u0061il":…}
 * is read as "em\u0" and the email claim is lost. A text with an escape in a member name is
 * therefore read by readObject instead, which decodes every name by itself.
 */

/** membersNamedIn's answer for a text with an escape in a member name. */
const ESCAPED_NAME = -1;

/** Members written in `text` (valid JSON): one ":" outside strings each; ESCAPED_NAME when a name holds a "\". */
function membersNamedIn(text: string): number {
  let members = 0;
  let from = 0;
  let backslash = text.indexOf("\\");
  for (;;) {
    const open = text.indexOf('"', from);
    const end = open === -1 ? text.length : open;
    for (let i = from; i < end; i++) if (text.charCodeAt(i) === 0x3a) members++;
    if (open === -1) return members;
    const close = closingQuote(text, open);
    while (backslash !== -1 && backslash < open) backslash = text.indexOf("\\", backslash + 1);
    if (backslash !== -1 && backslash < close && isName(text, close)) return ESCAPED_NAME;
    from = close + 1;
  }
}

/** Where the string opened at `open` ends: the next quote after an even number of backslashes. */
function closingQuote(text: string, open: number): number {
  let close = open;
  for (;;) {
    close = text.indexOf('"', close + 1);
    let before = close - 1;
    while (text.charCodeAt(before) === 0x5c) before--;
    if ((close - 1 - before) % 2 === 0) return close;
  }
}

/** Whether the string closed at `close` is a member name: a ":" follows it, after JSON whitespace. */
function isName(text: string, close: number): boolean {
  let i = close + 1;
  while (isJsonSpace(text.charCodeAt(i))) i++;
  return text.charCodeAt(i) === 0x3a;
}

const isJsonSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** Own properties of every object in `value` (JSON.parse output), at any depth; iterative, so deep nesting cannot exhaust the stack. */
function membersHeldBy(value: unknown): number {
  let members = 0;
  // Containers still to count: none at all for a flat object, the usual payload.
  let pending: object[] | undefined;
  let current = value;
  for (;;) {
    if (Array.isArray(current)) {
      for (const item of current) if (typeof item === "object" && item !== null) (pending ??= []).push(item);
    } else if (typeof current === "object" && current !== null) {
      for (const name in current) {
        if (!Object.hasOwn(current, name)) continue;
        members++;
        const member = (current as Record<string, unknown>)[name];
        if (typeof member === "object" && member !== null) (pending ??= []).push(member);
      }
    }
    if (pending === undefined || pending.length === 0) return members;
    current = pending.pop();
  }
}

/**
 * The object `text` (valid JSON, an object) writes, read without JSON.parse's object reader: each
 * string (name or value) and each number or literal is parsed on its own, and objects are built
 * here as JSON.parse builds them (own data properties, "__proto__" included). Undefined when an
 * object names a member twice. Iterative, so deep nesting cannot exhaust the stack.
 */
function readObject(text: string): Record<string, unknown> | undefined {
  /** Open containers, innermost last, each with the name read for its next member (objects). */
  const open: { readonly container: Record<string, unknown> | unknown[]; name: string | undefined }[] = [];
  let root: Record<string, unknown> | undefined;
  const place = (value: unknown): boolean => {
    const top = open.at(-1);
    if (top === undefined) root = value as Record<string, unknown>;
    else if (Array.isArray(top.container)) top.container.push(value);
    else {
      const name = top.name!;
      if (Object.hasOwn(top.container, name)) return false;
      Object.defineProperty(top.container, name, { value, writable: true, enumerable: true, configurable: true });
      top.name = undefined;
    }
    return true;
  };
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) {
      const container = c === 0x7b ? {} : [];
      if (!place(container)) return undefined;
      open.push({ container, name: undefined });
      i++;
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
      i++;
    } else if (c === 0x22) {
      const close = closingQuote(text, i);
      const value = JSON.parse(text.slice(i, close + 1)) as string;
      const top = open.at(-1);
      if (top !== undefined && !Array.isArray(top.container) && top.name === undefined) top.name = value;
      else if (!place(value)) return undefined;
      i = close + 1;
    } else if (c === 0x3a || c === 0x2c || isJsonSpace(c)) {
      i++;
    } else {
      // A number, true, false or null: up to the next delimiter.
      let end = i + 1;
      while (end < text.length && !isDelimiter(text.charCodeAt(end))) end++;
      if (!place(JSON.parse(text.slice(i, end)))) return undefined;
      i = end;
    }
  }
  return root;
}

const isDelimiter = (c: number) => c === 0x2c || c === 0x7d || c === 0x5d || isJsonSpace(c);
