/** The oidc cookie: sealed (AES-256-GCM, bound to its name and policy key), bounded, split when long. */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  CHUNK_CHARS,
  chunksPresent,
  clearCookies,
  MAX_CHUNKS,
  type Session,
  seal,
  sealedValues,
  sessionKey,
  setCookies,
  unseal,
} from "../../../controller/features/oidc/session.ts";

const key = sessionKey("client-secret-of-app", "apps/web-login");
const session = (accessToken = "at"): Session => ({
  kind: "session",
  subject: "alice",
  scope: "app.example.test",
  accessToken,
  idToken: "id",
  refreshToken: "rt",
  expiresAt: 1_000,
  refreshExpiresAt: 2_000,
});
const attributes = { domain: undefined, sameSite: undefined, secure: true } as const;

/** A cookie jar as a browser would send it back: each Set-Cookie's name=value. */
function jar(lines: readonly string[]): (name: string) => readonly string[] {
  const cookies = new Map<string, string[]>();
  for (const line of lines) {
    const [pair] = line.split(";");
    const eq = pair!.indexOf("=");
    cookies.set(pair!.slice(0, eq), [pair!.slice(eq + 1)]);
  }
  return (name) => cookies.get(name) ?? [];
}

describe("sealed cookie values", () => {
  it("opens what it sealed, for the same name and key", () => {
    expect(unseal(key, "OauthSession-x", seal(key, "OauthSession-x", session()))).toEqual(session());
  });

  it("never holds a token in clear text", () => {
    expect(seal(key, "n", session("eyJhbGciOiJSUzI1NiJ9.secret-access-token"))).not.toContain("secret-access-token");
  });

  it("refuses a value with any byte changed (tampered cookie)", () => {
    const sealed = seal(key, "n", session());
    for (const at of [3, 10, 20, sealed.length - 2]) {
      const c = sealed[at] === "A" ? "B" : "A";
      expect(unseal(key, "n", sealed.slice(0, at) + c + sealed.slice(at + 1))).toBeUndefined();
    }
  });

  it("refuses a value sealed by another policy's key (foreign cookie)", () => {
    const other = sessionKey("client-secret-of-app", "apps/other-login");
    expect(unseal(other, "n", seal(key, "n", session()))).toBeUndefined();
    expect(unseal(sessionKey("another-secret", "apps/web-login"), "n", seal(key, "n", session()))).toBeUndefined();
  });

  it("refuses a value moved to another cookie name", () => {
    expect(unseal(key, "OauthSession-b", seal(key, "OauthSession-a", session()))).toBeUndefined();
  });

  it("refuses malformed and oversized values without throwing", () => {
    for (const bad of ["", "v1.", "v1.AAAA", "v2.abc", "garbage", `v1.${"A".repeat(CHUNK_CHARS * MAX_CHUNKS)}`]) {
      expect(unseal(key, "n", bad)).toBeUndefined();
    }
  });

  it("derives the same key on every replica from the same Secret and policy", () => {
    expect(sessionKey("client-secret-of-app", "apps/web-login").equals(key)).toBe(true);
  });
});

describe("Set-Cookie lines", () => {
  it("sets one HttpOnly cookie on / when the value fits", () => {
    const lines = setCookies("n", "v1.abc", 60, { domain: "example.com", sameSite: "Lax", secure: true })!;
    expect(lines).toEqual(["n=v1.abc; Path=/; Max-Age=60; HttpOnly; Domain=example.com; Secure; SameSite=Lax"]);
  });

  it("marks SameSite=None cookies Secure even over http (browsers drop them otherwise)", () => {
    expect(setCookies("n", "v", 1, { domain: undefined, sameSite: "None", secure: false })![0]).toContain("; Secure; SameSite=None");
  });

  it("splits a long value over <name>.1, <name>.2 and reads it back joined", () => {
    const token = randomBytes(6000).toString("base64");
    const long = seal(key, "n", session(token));
    // Random bytes do not deflate: the sealed value is longer than one cookie.
    expect(long.length).toBeGreaterThan(CHUNK_CHARS);
    const lines = setCookies("n", long, 60, attributes)!;
    expect(lines.map((l) => l.split("=")[0])).toEqual(["n", "n.1", "n.2"]);
    const cookies = jar(lines);
    expect(sealedValues("n", cookies)).toEqual([long]);
    expect(unseal(key, "n", sealedValues("n", cookies)[0]!)).toEqual(session(token));
  });

  it("refuses a value that needs more than MAX_CHUNKS cookies", () => {
    expect(setCookies("n", "x".repeat(CHUNK_CHARS * MAX_CHUNKS + 1), 60, attributes)).toBeUndefined();
  });

  it("clears the chunks of an earlier, longer value when a shorter one replaces it", () => {
    const present = chunksPresent("n", jar(["n=2~a", "n.1=b"]));
    expect(setCookies("n", "short", 60, attributes, present)).toEqual([
      "n=short; Path=/; Max-Age=60; HttpOnly; Secure",
      "n.1=; Path=/; Max-Age=0; HttpOnly; Secure",
    ]);
    expect(clearCookies("n", attributes, present)).toEqual([
      "n=; Path=/; Max-Age=0; HttpOnly; Secure",
      "n.1=; Path=/; Max-Age=0; HttpOnly; Secure",
    ]);
  });

  it("does not join a split value whose chunk is missing or sent twice", () => {
    expect(sealedValues("n", jar(["n=2~a"]))).toEqual([]);
    expect(sealedValues("n", (name) => (name === "n" ? ["2~a"] : ["b", "c"]))).toEqual([]);
  });
});
