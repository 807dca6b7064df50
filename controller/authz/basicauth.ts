/**
 * The basicAuth phase. `{SHA}` entries are compared in constant time; bcrypt entries cost tens of
 * milliseconds, so a password that verified is remembered (bounded, keyed by a digest of user,
 * password and hash: a changed Secret never matches an old entry). Failures are not remembered.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import bcrypt from "bcryptjs";
import type { CompiledBasicAuth } from "../snapshot/types.ts";
import { BoundedMap } from "./bounded-map.ts";
import { deny } from "./decision.ts";
import type { PhaseOutcome } from "./identity.ts";
import { realmOf, type NormalizedRequest } from "./request.ts";

export class VerifiedPasswords {
  readonly #seen: BoundedMap<string, true>;
  constructor(max = 10_000) {
    this.#seen = new BoundedMap(max);
  }
  has(key: string): boolean {
    return this.#seen.get(key) === true;
  }
  add(key: string): void {
    this.#seen.set(key, true);
  }
}

export async function checkBasicAuth(
  config: CompiledBasicAuth,
  request: NormalizedRequest,
  where: { route: string; policy: string },
  verified: VerifiedPasswords,
): Promise<PhaseOutcome> {
  const challenge = { "www-authenticate": `Basic realm="${realmOf(request)}"` };
  const header = request.header("authorization")?.trim();
  if (header === undefined || !/^basic /i.test(header)) {
    return { ok: false, deny: deny(401, "basic_missing", "User authentication failed: no Basic credentials in the request", where, challenge) };
  }
  const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  const entry = colon > 0 ? config.users[username] : undefined;
  const ok = entry !== undefined && (await passwordMatches(entry, username, password, verified));
  if (!ok) return { ok: false, deny: deny(401, "basic_invalid", "User authentication failed: wrong username or password", where, challenge) };
  const headers: Record<string, string> = {};
  if (config.forwardUsernameHeader !== undefined) headers[config.forwardUsernameHeader] = username;
  return { ok: true, value: { principal: `basic ${username}`, headers, strip: [], attributes: { basicAuth: { username } } } };
}

async function passwordMatches(entry: CompiledBasicAuth["users"][string], username: string, password: string, verified: VerifiedPasswords): Promise<boolean> {
  if (entry.kind === "sha1") {
    const expected = Buffer.from(entry.digest, "base64");
    return timingSafeEqual(createHash("sha1").update(password, "utf8").digest(), expected);
  }
  const key = createHash("sha256").update(`${username}\0${password}\0${entry.hash}`).digest("base64url");
  if (verified.has(key)) return true;
  // $2y$ (Apache) and $2b$ are the same algorithm; bcryptjs names it $2b$.
  const ok = await bcrypt.compare(password, entry.hash.replace(/^\$2y\$/, "$2b$"));
  if (ok) verified.add(key);
  return ok;
}
