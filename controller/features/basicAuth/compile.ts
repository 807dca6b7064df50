/** Compiles `basicAuth`: the users Secret's `.htpasswd` into a username → hash table. */
import { z } from "zod";
import { SecretRefSchema } from "../../api/meta.ts";
import { upstreamHeaderName } from "../../lib/headers.ts";
import { ok, problem, type Result } from "../../lib/result.ts";
import type { CompileContext } from "../feature.ts";

/** Envoy Gateway's BasicAuth (api/v1alpha1/basic_auth_types.go). */
export const BasicAuthSchema = z.object({ users: SecretRefSchema, forwardUsernameHeader: z.string().min(1).optional() }).strict();
export type BasicAuthSpec = z.infer<typeof BasicAuthSchema>;

/** An htpasswd entry: `{SHA}` (SHA-1, base64) or bcrypt (`$2y$`/`$2b$`/`$2a$`). */
export type HtpasswdHash = { readonly kind: "sha1"; readonly digest: string } | { readonly kind: "bcrypt"; readonly hash: string };

export interface CompiledBasicAuth {
  /** Username → hash (null prototype: any username is a safe key). */
  readonly users: Readonly<Record<string, HtpasswdHash>>;
  readonly usernames: readonly string[];
  /**
   * What a username not in the table is compared against, so that it costs what a known one does
   * (no username oracle): a bcrypt hash (matching no password) of the table's highest cost, or a
   * `{SHA}` digest when the table has no bcrypt entry.
   */
  readonly unknownUser: HtpasswdHash;
  /** Lower-case header that carries the authenticated username upstream. */
  readonly forwardUsernameHeader: string | undefined;
}

/** The Secret key Envoy Gateway reads the users from. */
export const HTPASSWD_KEY = ".htpasswd";
const SHA = /^\{SHA\}([A-Za-z0-9+/]{27}=)$/;
const BCRYPT = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
/**
 * The highest bcrypt cost accepted: one comparison at 12 takes about 0.3 s of a CPU (2^12 rounds),
 * and each step up doubles it. bcrypt's own lowest is 4. (Envoy's basic_auth filter reads only
 * `{SHA}`; bcrypt is a Portcullis addition.)
 */
export const MAX_BCRYPT_COST = 12;
const MIN_BCRYPT_COST = 4;
/** A well-formed bcrypt salt and digest that no password produces in practice; the cost is filled in. */
const UNKNOWN_USER_SALT_AND_DIGEST = "portcullisUnknownUser.Portcullis.Unknown.User.Nobody.";

export function compileBasicAuth(spec: BasicAuthSpec, { ownerOf, refs }: CompileContext): Result<CompiledBasicAuth> {
  const secret = refs.secret(ownerOf("basicAuth.users").namespace, spec.users);
  if (!secret.ok) return problem(`users: ${secret.error}`);
  const where = `Secret ${secret.value.metadata.namespace}/${secret.value.metadata.name}`;
  const text = secret.value.data[HTPASSWD_KEY];
  if (text === undefined) return problem(`${where} has no ${HTPASSWD_KEY} key`);
  const users: Record<string, HtpasswdHash> = Object.create(null);
  /** Every username read, those not served included (a user listed twice is refused either way). */
  const seen = new Set<string>();
  const warnings: string[] = [];
  // Lines as Envoy's basic_auth reads them (Envoy Gateway turns CRLF into LF first), not trimmed:
  // ` carol:{SHA}…` is the user " carol" there, and a hash followed by a space no hash at all.
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (line === "" || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (colon <= 0) return problem(`${where} ${HTPASSWD_KEY} line ${i + 1} is not "user:hash"`);
    if (seen.has(user)) return problem(`${where} ${HTPASSWD_KEY}: user ${user} appears twice`);
    seen.add(user);
    const sha = SHA.exec(hash);
    const bcrypt = BCRYPT.exec(hash);
    const unserved = sha || bcrypt ? neverAuthenticates(user, sha?.[1]) : undefined;
    if (unserved !== undefined)
      warnings.push(`${where} ${HTPASSWD_KEY}: user ${user} ${unserved}, so it is not served and can never authenticate`);
    else if (sha) users[user] = { kind: "sha1", digest: sha[1]! };
    else if (bcrypt) {
      const cost = Number(bcrypt[1]);
      if (cost < MIN_BCRYPT_COST || cost > MAX_BCRYPT_COST) {
        return problem(
          `${where} ${HTPASSWD_KEY}: user ${user} has bcrypt cost ${cost}; Portcullis accepts ${MIN_BCRYPT_COST} to ${MAX_BCRYPT_COST}`,
        );
      }
      users[user] = { kind: "bcrypt", hash };
    }
    // Never echo the line: it holds a password hash.
    else return problem(`${where} ${HTPASSWD_KEY}: user ${user} has an unsupported hash; use {SHA} or bcrypt ($2y$, $2b$)`);
  }
  const usernames = Object.keys(users).sort();
  if (usernames.length === 0) return problem(`${where} ${HTPASSWD_KEY} holds no users`);
  let forwardUsernameHeader: string | undefined;
  if (spec.forwardUsernameHeader !== undefined) {
    const h = upstreamHeaderName(spec.forwardUsernameHeader, "forwardUsernameHeader");
    if (!h.ok) return h;
    forwardUsernameHeader = h.value;
  }
  return ok({ users, usernames, unknownUser: unknownUserHash(Object.values(users)), forwardUsernameHeader }, warnings);
}

/**
 * Why Envoy's basic_auth would never authenticate a user this line names, though its hash is of a
 * kind Portcullis reads: undefined when it would. A username holding U+FFFD stands for Secret bytes
 * that are not UTF-8 (Envoy compares a client's bytes with those, and any invalid bytes read as
 * U+FFFD alike); a `{SHA}` digest whose last character has unused bits set is the same 20 bytes to a
 * base64 decoder, but Envoy compares the digest it computes, canonical base64, with the text as written.
 */
function neverAuthenticates(user: string, shaDigest: string | undefined): string | undefined {
  if (user.includes("\uFFFD")) return "is not valid UTF-8 in the Secret";
  if (shaDigest !== undefined && Buffer.from(shaDigest, "base64").toString("base64") !== shaDigest)
    return "has a {SHA} digest that is not canonical base64 (its last character has unused bits set), which Envoy's basic_auth never matches";
  return undefined;
}

/** The hash an unknown username is compared against: as costly as the costliest known one. */
function unknownUserHash(entries: readonly HtpasswdHash[]): HtpasswdHash {
  const costs = entries.flatMap((e) => (e.kind === "bcrypt" ? [Number(e.hash.slice(4, 6))] : []));
  if (costs.length === 0) return { kind: "sha1", digest: Buffer.from("portcullis-unknown-u").toString("base64") };
  return { kind: "bcrypt", hash: `$2b$${String(Math.max(...costs)).padStart(2, "0")}$${UNKNOWN_USER_SALT_AND_DIGEST}` };
}
