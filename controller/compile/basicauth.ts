/** Compiles `basicAuth`: the users Secret's `.htpasswd` into a username → hash table. */
import type { BasicAuthSpec } from "../api/securitypolicy.ts";
import type { CompiledBasicAuth, HtpasswdHash } from "../snapshot/types.ts";
import type { FeatureResult } from "./apikey.ts";
import { upstreamHeaderName } from "./headers.ts";
import type { References } from "./references.ts";

/** The Secret key Envoy Gateway reads the users from. */
export const HTPASSWD_KEY = ".htpasswd";
const SHA = /^\{SHA\}([A-Za-z0-9+/]{27}=)$/;
const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

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
    if (sha) users[user] = { kind: "sha1", digest: sha[1]! };
    else if (BCRYPT.test(hash)) users[user] = { kind: "bcrypt", hash };
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
  return { ok: true, value: { users, usernames, forwardUsernameHeader } };
}
