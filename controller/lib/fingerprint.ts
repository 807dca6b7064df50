/**
 * FNV-1a (32-bit) over a string's UTF-16 code units: a cheap fingerprint to find things by, where
 * two strings with one fingerprint cost a comparison or an estimate, never a decision.
 */

/** FNV-1a's offset basis: the fingerprint of the empty string. */
export const FNV_OFFSET = 0x811c9dc5;

/** `hash` carried on over `text`'s code units [from, to), as a signed 32-bit integer (`>>> 0` for the unsigned value). */
export function fnv1a(hash: number, text: string, from = 0, to = text.length): number {
  for (let i = from; i < to; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash;
}
