/**
 * Basic credentials on /basic (carol's, frank's and " grace"'s passwords in an htpasswd Secret): read
 * as Envoy's basic_auth filter reads the Authorization header (exactly `Basic `, then base64 as Envoy
 * decodes it), where Node's decoder skips spaces and stops at the padding, and the users as it reads
 * the htpasswd lines (as written: " grace" is a name with a space).
 */
import type { Ctx } from "../context.ts";
import type { Case, Expected, Outcome } from "../outcome.ts";
import { FRANK_PASSWORD, NOT_UTF8_USER } from "../world.ts";

const CAROL = Buffer.from("carol:carol-pass").toString("base64");
const OK: Expected = { status: 200, code: "allowed", upstream: {} };
const missing: Expected = { status: 401, code: "basic_missing", reason: "no Basic credentials in the request" };
const invalid = (reason = "wrong username or password"): Expected => ({ status: 401, code: "basic_invalid", reason });
const basicOf = (credentials: string | Buffer) => `Basic ${Buffer.from(credentials).toString("base64")}`;
const LENIENT =
  "the credentials were decoded with Node's lenient base64 decoder (it skips spaces and other characters and stops at an `=`) after a scheme matched in any case, so carol was authenticated where Envoy's basic_auth finds no credentials and answers 401; they are now read as Envoy reads them";

function c(id: string, title: string, expect: Expected, run: (ctx: Ctx) => Promise<Outcome>, fixed?: string): Case {
  return { id: `basic.${id}`, title, expect, run, ...(fixed === undefined ? {} : { fixed }) };
}
/** A case that sends `authorization` to /basic. */
const a = (id: string, title: string, expect: Expected, authorization: string, fixed?: string) =>
  c(id, title, expect, (ctx) => ctx.check({ path: "/basic", headers: { authorization } }), fixed);

export const basicCases: readonly Case[] = [
  a("valid", "carol's password, `Basic <base64>`", OK, `Basic ${CAROL}`),
  a("unpadded", "carol's password in base64 without its `=` padding (Envoy decodes it without)", OK, `Basic ${CAROL.replace(/=+$/, "")}`),
  a("scheme-lower-case", "`basic <base64>` (Envoy requires exactly `Basic `)", missing, `basic ${CAROL}`, LENIENT),
  a(
    "two-spaces",
    "`Basic  <base64>` (two spaces: Envoy decodes ` <base64>`, which is no base64)",
    invalid(),
    `Basic  ${CAROL}`,
    "see basic.scheme-lower-case",
  ),
  a(
    "space-inside",
    "`Basic Y2Fy b2w6…` (a space inside the base64)",
    invalid(),
    `Basic ${CAROL.slice(0, 4)} ${CAROL.slice(4)}`,
    "see basic.scheme-lower-case",
  ),
  a(
    "after-padding",
    "`Basic <base64>==junk` (text after the padding, which Node's decoder never reaches)",
    invalid(),
    `Basic ${CAROL}junk`,
    "see basic.scheme-lower-case",
  ),
  a(
    "unused-bits",
    "carol's base64 with its last character's unused bits set (`…cw` as `…cx`)",
    invalid(),
    `Basic ${CAROL.replace(/cw==$/, "cx")}`,
    "see basic.scheme-lower-case",
  ),
  c(
    "two-lines",
    "wire: two Authorization lines, carol's credentials and then junk (Envoy reads the first; upstreams disagree)",
    invalid("more than one header authorization was sent"),
    (ctx) =>
      ctx.envoy("/basic", [
        ["authorization", `Basic ${CAROL}`],
        ["authorization", "Basic eA=="],
      ]),
    "the lines were joined with `,` and decoded leniently, which read the first line's credentials; a second Authorization line is now refused, as a second API key is",
  ),
  a(
    "not-utf8-password",
    "frank's password holds U+FFFD; the client sends the byte 0xFF in its place (Envoy hashes the bytes: another password)",
    invalid(),
    `Basic ${Buffer.concat([Buffer.from("frank:"), Buffer.from(FRANK_PASSWORD.replace("\uFFFD", "\u00FF"), "latin1")]).toString("base64")}`,
    "the decoded credentials were read as UTF-8 text, so any byte that is not UTF-8 became U+FFFD and a password holding U+FFFD matched every such byte, where Envoy compares the bytes; credentials that are not UTF-8 are now refused",
  ),
  a(
    "utf8-password",
    "frank's password as UTF-8, U+FFFD included",
    OK,
    `Basic ${Buffer.from(`frank:${FRANK_PASSWORD}`).toString("base64")}`,
  ),
  a(
    "htpasswd-leading-space",
    "`grace:grace-pass` where the htpasswd line is ` grace:{SHA}…` (Envoy's user is ` grace`, space included)",
    invalid(),
    `Basic ${Buffer.from("grace:grace-pass").toString("base64")}`,
    "htpasswd lines were trimmed, so the user ` grace` was served as `grace`, a name Envoy's basic_auth does not know; lines are now read as Envoy reads them",
  ),
  a(
    "htpasswd-leading-space-as-written",
    "` grace:grace-pass`: the user as the htpasswd line names it",
    OK,
    `Basic ${Buffer.from(" grace:grace-pass").toString("base64")}`,
  ),
  a(
    "htpasswd-digest-not-canonical",
    "`henry:henry-pass` where henry's `{SHA}` digest is written with its last character's unused bits set (the same 20 bytes decoded; Envoy compares the digest it computes with the text as written: never equal)",
    invalid(),
    basicOf("henry:henry-pass"),
    "the htpasswd digest was decoded from base64, which ignores the last character's unused bits, so henry was authenticated with a digest Envoy's basic_auth compares as text and never matches; such a user is now not served, and the policy carries a Warning naming it",
  ),
  a(
    "colon-in-password",
    "`ivy:ivy:pass:word`: the password `ivy:pass:word` (split at the first colon, as Envoy does)",
    OK,
    basicOf("ivy:ivy:pass:word"),
  ),
  a("colon-in-password-split-late", "`ivy:pass:ivy:word` (no user `ivy:pass`)", invalid(), basicOf("ivy:pass:ivy:word")),
  a(
    "htpasswd-user-not-utf8",
    "`j\\uFFFDy:jay-pass` in UTF-8, where the htpasswd names the user `j` 0xFF `y` (bytes that are not UTF-8: Envoy's user is those bytes)",
    invalid(),
    basicOf("j\uFFFDy:jay-pass"),
    "the htpasswd Secret was read as UTF-8 text, so the byte 0xFF of a username became U+FFFD and a client sending U+FFFD (or any bytes that read as it) was authenticated as that user, where Envoy compares the bytes; such a user is now not served, and the policy carries a Warning naming it",
  ),
  a(
    "htpasswd-user-not-utf8-as-bytes",
    "`j` 0xFF `y`:jay-pass, the user's own bytes (credentials that are not UTF-8 are refused: see basic.not-utf8-password)",
    invalid(),
    `Basic ${Buffer.concat([NOT_UTF8_USER, Buffer.from(":jay-pass")]).toString("base64")}`,
  ),
];
