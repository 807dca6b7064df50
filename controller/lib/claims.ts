/** Reading a JWT's claims: shared by jwt (claimToHeaders) and authorization (principal.jwt.claims). */

/** A claim by dot path ("realm.roles"); own members of objects only, never through arrays. */
export function claimAt(claims: Readonly<Record<string, unknown>>, path: readonly string[]): unknown {
  let value: unknown = claims;
  // An index loop: it runs per claim header of every new token, and for…of allocates an iterator.
  for (let i = 0; i < path.length; i++) {
    const part = path[i]!;
    if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}
