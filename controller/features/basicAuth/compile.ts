/** Compiles `basicAuth`: the users Secret's `.htpasswd` into a username → hash table. */
import type { BasicAuthSpec } from "../../api/securitypolicy.ts";
import type { CompiledBasicAuth, HtpasswdHash } from "../../snapshot/types.ts";
import type { FeatureResult } from "../apiKeyAuth/compile.ts";
import { upstreamHeaderName } from "../../lib/headers.ts";
import type { References } from "../../compile/references.ts";

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

export function compileBasicAuth(spec: BasicAuthSpec, namespace: string, refs: References): FeatureResult<CompiledBasicAuth> {
  const secret = refs.secret(namespace, spec.users);
  if (!secret.ok) return { ok: false, error: `basicAuth.users: ${secret.error}` };
  const where = `Secret ${secret.value.metadata.namespace}/${secret.value.metadata.name}`;
  const text = secret.value.data[HTPASSWD_KEY];
  if (text === undefined) return { ok: false, error: `${where} has no ${HTPASSWD_KEY} key` };
  const users: Record<string, HtpasswdHash> = Object.create(null);
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (colon <= 0) return { ok: false, error: `${where} ${HTPASSWD_KEY} line ${i + 1} is not "user:hash"` };
    if (Object.hasOwn(users, user)) return { ok: false, error: `${where} ${HTPASSWD_KEY}: user ${user} appears twice` };
    const sha = SHA.exec(hash);
    const bcrypt = BCRYPT.exec(hash);
    if (sha) users[user] = { kind: "sha1", digest: sha[1]! };
    else if (bcrypt) {
      const cost = Number(bcrypt[1]);
      if (cost < MIN_BCRYPT_COST || cost > MAX_BCRYPT_COST) {
        return {
          ok: false,
          error: `${where} ${HTPASSWD_KEY}: user ${user} has bcrypt cost ${cost}; Portcullis accepts ${MIN_BCRYPT_COST} to ${MAX_BCRYPT_COST}`,
        };
      }
      users[user] = { kind: "bcrypt", hash };
    }
    // Never echo the line: it holds a password hash.
    else return { ok: false, error: `${where} ${HTPASSWD_KEY}: user ${user} has an unsupported hash; use {SHA} or bcrypt ($2y$, $2b$)` };
  }
  const usernames = Object.keys(users).sort();
  if (usernames.length === 0) return { ok: false, error: `${where} ${HTPASSWD_KEY} holds no users` };
  let forwardUsernameHeader: string | undefined;
  if (spec.forwardUsernameHeader !== undefined) {
    const h = upstreamHeaderName(spec.forwardUsernameHeader, "basicAuth.forwardUsernameHeader");
    if (!h.ok) return h;
    forwardUsernameHeader = h.name;
  }
  return { ok: true, value: { users, usernames, unknownUser: unknownUserHash(Object.values(users)), forwardUsernameHeader } };
}

/** The hash an unknown username is compared against: as costly as the costliest known one. */
function unknownUserHash(entries: readonly HtpasswdHash[]): HtpasswdHash {
  const costs = entries.flatMap((e) => (e.kind === "bcrypt" ? [Number(e.hash.slice(4, 6))] : []));
  if (costs.length === 0) return { kind: "sha1", digest: Buffer.from("portcullis-unknown-u").toString("base64") };
  return { kind: "bcrypt", hash: `$2b$${String(Math.max(...costs)).padStart(2, "0")}$${UNKNOWN_USER_SALT_AND_DIGEST}` };
}
