/**
 * Strings that stand for bytes, one character per byte (Latin-1), as Node's HTTP parser hands
 * over a request and as Node writes a header value.
 */

/**
 * Whether a string holds only ASCII characters: its UTF-8 length is its length (V8 counts it in
 * native code, about three times as fast as a regular expression over a token-sized value).
 */
export const isAscii = (value: string): boolean => Buffer.byteLength(value, "utf8") === value.length;

/** `text`'s UTF-8 bytes, one character per byte; ASCII text is its own. */
export const utf8Bytes = (text: string): string => (isAscii(text) ? text : Buffer.from(text, "utf8").toString("latin1"));
