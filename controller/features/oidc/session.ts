/**
 * The browser's OIDC state, kept in one cookie that Portcullis alone can read or write: AES-256-GCM
 * over the deflated JSON, with the cookie's name as associated data, so a value that was altered,
 * made for another policy (another key) or moved to another cookie name does not open.
 *
 * The key is derived (HKDF-SHA256) from the policy's client secret and its "namespace/name": every
 * replica, and a restarted pod, derives the same key from the same Secret, so a session survives
 * both; rotating the client secret ends every session of that policy.
 *
 * One cookie holds either the pending login (state, nonce, PKCE verifier, the URL to return to) or
 * the session (tokens and their expiry), so the callback replaces the one with the other in a single
 * Set-Cookie: the login state is consumed by the login it completes. A value longer than one cookie
 * can hold (browsers keep 4096 bytes of name and value) is split into `<name>`, `<name>.1`, …, at
 * most MAX_CHUNKS cookies; a session that does not fit even so is refused at login (see flow.ts).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";

/** Version tag of the sealed format; a value with another tag never opens. */
const FORMAT = "v1";
/** Characters of cookie value per chunk: with the name and attributes, under the 4096 bytes browsers keep. */
export const CHUNK_CHARS = 3800;
/** Most cookies one session may span (about 15 KB): more would crowd out the site's own cookies. */
export const MAX_CHUNKS = 4;
/** Largest value accepted from a request before any decryption is tried. */
const MAX_SEALED_CHARS = CHUNK_CHARS * MAX_CHUNKS;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The pending login: what the callback must find to accept the provider's answer. */
export interface LoginState {
  readonly kind: "login";
  /** The `state` sent to the provider (CSRF). */
  readonly state: string;
  /** The `nonce` the ID token must carry (replay of an ID token). */
  readonly nonce: string;
  /** PKCE code verifier (RFC 7636); its S256 challenge went to the provider. */
  readonly verifier: string;
  /** The URL the login started at, returned to after the callback (same origin as the callback). */
  readonly returnTo: string;
  /** Epoch milliseconds after which the callback is refused (csrfTokenTTL). */
  readonly expiresAt: number;
}

/** A logged-in browser. */
export interface Session {
  readonly kind: "session";
  /** The ID token's `sub`, for the audit line. */
  readonly subject: string;
  /**
   * The Host the session was issued at, or the policy's cookieDomain: it opens there only, as Envoy's
   * oauth2 filter HMACs that (its `host_`, or `cookie_domain`) into its cookies.
   */
  readonly scope: string;
  readonly accessToken: string;
  readonly idToken: string | undefined;
  readonly refreshToken: string | undefined;
  /** Epoch milliseconds at which the tokens expire (expires_in, else defaultTokenTTL). */
  readonly expiresAt: number;
  /** Epoch milliseconds until which the refresh token may be used (defaultRefreshTokenTTL). */
  readonly refreshExpiresAt: number | undefined;
}

export type CookieState = LoginState | Session;

/** The 32-byte key of one policy's cookies. */
export function sessionKey(clientSecret: string, policyId: string): Buffer {
  return Buffer.from(hkdfSync("sha256", clientSecret, "portcullis oidc session", policyId, 32));
}

/** `state` sealed for the cookie `name`: "v1." and base64url of IV, ciphertext and tag. */
export function seal(key: Buffer, name: string, state: CookieState): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(`${FORMAT}:${name}`));
  const body = Buffer.concat([cipher.update(deflateRawSync(JSON.stringify(state))), cipher.final()]);
  return `${FORMAT}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url")}`;
}

/** What a sealed value of the cookie `name` holds; undefined when it was not sealed by `key` for that name, or is malformed. */
export function unseal(key: Buffer, name: string, sealed: string): CookieState | undefined {
  if (sealed.length > MAX_SEALED_CHARS || !sealed.startsWith(`${FORMAT}.`)) return undefined;
  const raw = Buffer.from(sealed.slice(FORMAT.length + 1), "base64url");
  if (raw.length < IV_BYTES + TAG_BYTES + 1) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(`${FORMAT}:${name}`));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
    const state = JSON.parse(inflateRawSync(plain, { maxOutputLength: MAX_SEALED_CHARS * 4 }).toString("utf8")) as CookieState;
    return state.kind === "login" || state.kind === "session" ? state : undefined;
  } catch {
    return undefined;
  }
}

/** Cookie attributes (RFC 6265bis) of every cookie Portcullis sets. */
export interface CookieAttributes {
  readonly domain: string | undefined;
  readonly sameSite: "Lax" | "Strict" | "None" | undefined;
  /** Sent only over HTTPS (always with SameSite=None, which browsers require it for). */
  readonly secure: boolean;
}

/**
 * The Set-Cookie values that store `sealed` under `name` for `maxAgeSeconds` (0 clears), splitting
 * it over `<name>.1`, `<name>.2`, … when needed and clearing chunks of an earlier, longer value
 * (`present`: the chunk names the request carried). Undefined when the value needs more than
 * MAX_CHUNKS cookies.
 */
export function setCookies(
  name: string,
  sealed: string,
  maxAgeSeconds: number,
  attributes: CookieAttributes,
  present: ReadonlySet<string> = new Set(),
): string[] | undefined {
  const count = Math.max(1, Math.ceil(sealed.length / CHUNK_CHARS));
  if (count > MAX_CHUNKS) return undefined;
  const pieces = Array.from({ length: count }, (_, i) => sealed.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS));
  // The first cookie says how many follow, so a reader never joins a stale chunk.
  const values = count === 1 ? pieces : [`${count}~${pieces[0]}`, ...pieces.slice(1)];
  const out = values.map((v, i) => cookieLine(chunkName(name, i), v, maxAgeSeconds, attributes));
  for (let i = count; i < MAX_CHUNKS; i++) if (present.has(chunkName(name, i))) out.push(cookieLine(chunkName(name, i), "", 0, attributes));
  return out;
}

/** Set-Cookie values that delete `name` and every chunk of it the request carried. */
export function clearCookies(name: string, attributes: CookieAttributes, present: ReadonlySet<string>): string[] {
  const out = [cookieLine(name, "", 0, attributes)];
  for (let i = 1; i < MAX_CHUNKS; i++) if (present.has(chunkName(name, i))) out.push(cookieLine(chunkName(name, i), "", 0, attributes));
  return out;
}

/**
 * Every sealed value the request carries under `name` (one per copy of the first cookie; a browser
 * may hold two, e.g. with and without a Domain), chunks joined. `cookies` reads a cookie's values.
 */
export function sealedValues(name: string, cookies: (name: string) => readonly string[]): string[] {
  return cookies(name).flatMap((first) => {
    const split = /^([2-9])~/.exec(first);
    if (split === null) return [first];
    const count = Number(split[1]);
    if (count > MAX_CHUNKS) return [];
    let joined = first.slice(split[0].length);
    for (let i = 1; i < count; i++) {
      const chunk = cookies(chunkName(name, i));
      // A chunk sent twice cannot be joined one way only.
      if (chunk.length !== 1) return [];
      joined += chunk[0];
    }
    return [joined];
  });
}

/** The names of `name`'s chunk cookies the request carries. */
export function chunksPresent(name: string, cookies: (name: string) => readonly string[]): Set<string> {
  const present = new Set<string>();
  for (let i = 0; i < MAX_CHUNKS; i++) if (cookies(chunkName(name, i)).length > 0) present.add(chunkName(name, i));
  return present;
}

export function chunkName(name: string, index: number): string {
  return index === 0 ? name : `${name}.${index}`;
}

function cookieLine(name: string, value: string, maxAgeSeconds: number, a: CookieAttributes): string {
  let line = `${name}=${value}; Path=/; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; HttpOnly`;
  if (a.domain !== undefined) line += `; Domain=${a.domain}`;
  if (a.secure || a.sameSite === "None") line += "; Secure";
  if (a.sameSite !== undefined) line += `; SameSite=${a.sameSite}`;
  return line;
}
