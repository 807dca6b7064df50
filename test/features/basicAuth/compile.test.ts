/** compileBasicAuth: the users Secret's `.htpasswd` into a username → hash table ({SHA}, and bcrypt as a Portcullis addition). */
import { describe, expect, it } from "vitest";
import { basicAuth } from "../../../controller/features/basicAuth/index.ts";
import { secret } from "../../support/manifests.ts";
import { compilePolicy } from "../../support/world.ts";

const ALICE_SHA = "{SHA}4yvU2nDIjg+qQ04AgGsx1Egh63I=";
const BOB_BCRYPT = "$2y$04$QqyQH4rSce7d0jwFohlq1ebJ7xi0GCP23caez2vLLY/Maahl4ocRW";
const CAROL_BCRYPT = "$2b$12$dHAsZZTNpzZNfa0BJwFb6uhP7DvMpQ5.L/XYEmXxw7DcHKL4DTRtW";

const withUsers = (htpasswd: string, features = "basicAuth: {users: {name: users}}") =>
  compilePolicy(features, secret("users", { ".htpasswd": htpasswd }));

describe("compileBasicAuth", () => {
  it("reads {SHA} and bcrypt lines, skipping blank lines and comments, and lower-cases the forwarded header", () => {
    const outcome = withUsers(
      `# team\n\nbob:${BOB_BCRYPT}\r\nalice:${ALICE_SHA}\n`,
      "basicAuth: {users: {name: users}, forwardUsernameHeader: X-Username}",
    );
    expect(outcome.accepted.status).toBe("True");
    const compiled = outcome.compiled(basicAuth)!;
    expect(compiled.usernames).toEqual(["alice", "bob"]);
    expect(compiled.users.alice).toEqual({ kind: "sha1", digest: "4yvU2nDIjg+qQ04AgGsx1Egh63I=" });
    expect(compiled.users.bob).toEqual({ kind: "bcrypt", hash: BOB_BCRYPT });
    expect(compiled.forwardUsernameHeader).toBe("x-username");
  });

  it("reads each line as written, as Envoy does: a leading space is part of the username", () => {
    expect(withUsers(` alice:${ALICE_SHA}`).compiled(basicAuth)!.usernames).toEqual([" alice"]);
  });

  it("does not serve, with a Warning naming it, a user Envoy's basic_auth never authenticates: a name not UTF-8, a {SHA} digest not canonical", () => {
    const noncanonical = ALICE_SHA.replace("I=", "J="); // the last character's unused bits set: the same 20 bytes
    // U+FFFD is what Secret bytes that are not UTF-8 read as (world.ts's NOT_UTF8_USER sends the bytes themselves).
    const outcome = withUsers(`alice:${ALICE_SHA}\nbob:${noncanonical}\nj\uFFFDy:${ALICE_SHA}\n`);
    expect(outcome.accepted.status).toBe("True");
    expect(outcome.compiled(basicAuth)!.usernames).toEqual(["alice"]);
    expect(outcome.warnings.join("\n")).toContain("user bob has a {SHA} digest that is not canonical base64");
    expect(outcome.warnings.join("\n")).toContain("user j\uFFFDy is not valid UTF-8 in the Secret");
    // Still refused when listed twice, served or not.
    expect(withUsers(`bob:${noncanonical}\nbob:${ALICE_SHA}`).accepted.message).toContain("user bob appears twice");
  });

  it("compares an unknown username against a hash as costly as the costliest user's ({SHA} when there is no bcrypt user)", () => {
    expect(withUsers(`alice:${ALICE_SHA}`).compiled(basicAuth)!.unknownUser.kind).toBe("sha1");
    const unknown = withUsers(`bob:${BOB_BCRYPT}\ncarol:${CAROL_BCRYPT}`).compiled(basicAuth)!.unknownUser;
    expect(unknown).toMatchObject({ kind: "bcrypt", hash: expect.stringMatching(/^\$2b\$12\$/) });
  });

  it.each([
    [
      "a Secret without .htpasswd",
      secret("users", { htpasswd: `alice:${ALICE_SHA}` }),
      "BasicAuth: Secret apps/users has no .htpasswd key",
    ],
    ["a line that is not user:hash", secret("users", { ".htpasswd": `alice:${ALICE_SHA}\n:nobody` }), 'line 2 is not "user:hash"'],
    ["a user listed twice", secret("users", { ".htpasswd": `alice:${ALICE_SHA}\nalice:${BOB_BCRYPT}` }), "user alice appears twice"],
    [
      "a hash of another kind (the hash is not repeated)",
      secret("users", { ".htpasswd": "alice:$apr1$salt$hunter2hunter2" }),
      "user alice has an unsupported hash; use {SHA} or bcrypt ($2y$, $2b$)",
    ],
    [
      "a bcrypt cost above 12 (each step doubles a comparison's CPU time)",
      secret("users", { ".htpasswd": `alice:$2b$13$${"a".repeat(53)}` }),
      "user alice has bcrypt cost 13; Portcullis accepts 4 to 12",
    ],
    ["no users at all", secret("users", { ".htpasswd": "# nobody yet\n" }), ".htpasswd holds no users"],
    [
      "a hash followed by a space (Envoy reads a hash of 29 characters, which it refuses)",
      secret("users", { ".htpasswd": `alice:${ALICE_SHA} ` }),
      "user alice has an unsupported hash",
    ],
    [
      "a line of spaces (Envoy finds no user:hash in it)",
      secret("users", { ".htpasswd": `alice:${ALICE_SHA}\n  ` }),
      'line 2 is not "user:hash"',
    ],
  ])("is Invalid for %s", (_situation, users, message) => {
    const outcome = compilePolicy("basicAuth: {users: {name: users}}", users);
    expect(outcome.accepted.status).toBe("False");
    expect(outcome.accepted.message).toContain(message);
    expect(outcome.accepted.message).not.toContain("hunter2");
  });

  it("is Invalid when the users Secret is missing", () => {
    expect(compilePolicy("basicAuth: {users: {name: users}}").accepted.message).toContain("BasicAuth: users: ");
  });
});
