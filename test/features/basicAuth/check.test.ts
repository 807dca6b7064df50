/**
 * The basicAuth phase through check(), as Envoy's basic_auth filter answers (its challenge, {SHA}
 * users, the forwarded username), plus bcrypt; and basicAuth never holds the decision thread
 * (issue 12 item 14): bcrypt runs on worker threads with a bounded queue, an unknown username
 * costs what a known one does, failed attempts are limited per policy and username.
 */
import { afterAll, describe, expect, it } from "vitest";
import { compiledOf } from "../../../controller/features/feature.ts";
import { basicAuth } from "../../../controller/features/basicAuth/index.ts";
import { envoyBasicCredentials, Passwords } from "../../../controller/features/basicAuth/check.ts";
import { BcryptPool } from "../../../controller/features/basicAuth/bcrypt-pool.ts";
import { ALICE_KEY_AUTH, ALICE_KEYS, policiesOnRules, secret } from "../../support/manifests.ts";
import { decider, type Decider } from "../../support/world.ts";
import { heapHeldBy } from "../../support/heap.ts";
import { BoundedMap } from "../../../controller/lib/bounded-map.ts";

/** carol: cost 12 ("carol-pass"); dave: cost 4 ("dave-pass"). */
const CAROL = "$2b$12$dHAsZZTNpzZNfa0BJwFb6uhP7DvMpQ5.L/XYEmXxw7DcHKL4DTRtW";
const DAVE = "$2b$04$9t7mzy6Ee2uUcRUoow4ImuGysJfr/Yk41PVW6L9yQxqzpMvyjRniu";

const world = (htpasswd: string, features = "basicAuth: {users: {name: users}}") =>
  policiesOnRules(
    "api.example.com",
    {
      basic: { path: "/basic", features },
      other: { path: "/other", features: "basicAuth: {users: {name: users}}" },
      keys: { path: "/keys", features: ALICE_KEY_AUTH },
    },
    secret("users", { ".htpasswd": htpasswd }),
    ALICE_KEYS,
  );
const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}` });

const pools: BcryptPool[] = [];
/** A decider whose basicAuth state is `options` over a pool of its own, closed after the file. */
function withPasswords(
  htpasswd: string,
  pool: BcryptPool,
  options: { now?: () => number; failureLimit?: number; perPolicyLimit?: number } = {},
): Decider {
  pools.push(pool);
  return decider(world(htpasswd), { passwords: new Passwords({ pool, ...options }) });
}
afterAll(() => Promise.all(pools.map((p) => p.close())));

describe("bcrypt off the decision thread", () => {
  it("answers another tenant's API-key check while eight wrong cost-12 passwords are being verified", async () => {
    const pool = new BcryptPool();
    const d = withPasswords(`carol:${CAROL}`, pool);
    const order: string[] = [];
    const wrong = Array.from({ length: 8 }, (_, i) =>
      d({ path: "/basic", headers: basic("carol", `wrong-${i}`) }).then((r) => {
        order.push("bcrypt");
        return r;
      }),
    );
    // Asked once the comparisons are under way: it is answered while none has finished.
    await new Promise((r) => setTimeout(r, 20));
    let finishedBefore = -1;
    const key = d({ path: "/keys", headers: { "x-api-key": "alice-key" } }).then((r) => {
      order.push("api-key");
      finishedBefore = pool.completed;
      return r;
    });
    const [keyDecision, ...bcryptDecisions] = await Promise.all([key, ...wrong]);
    expect(keyDecision.status).toBe(200);
    expect(bcryptDecisions.map((r) => r.code)).toEqual(Array(8).fill("basic_invalid"));
    expect(order[0]).toBe("api-key");
    expect(finishedBefore).toBe(0);
    expect(order.filter((o) => o === "bcrypt")).toHaveLength(8);
  }, 180_000);

  it("refuses a comparison when the queue is full (429 basic_busy), fail closed", async () => {
    const d = withPasswords(`dave:${DAVE}`, new BcryptPool({ size: 1, queueLimit: 1 }));
    // One runs, one waits, the third finds the queue full.
    const answers = await Promise.all([1, 2, 3].map((i) => d({ path: "/basic", headers: basic("dave", `wrong-${i}`) })));
    expect(answers.map((r) => [r.status, r.code])).toEqual([
      [401, "basic_invalid"],
      [401, "basic_invalid"],
      [429, "basic_busy"],
    ]);
  }, 60_000);

  it("gives each policy its own share of the queue: one tenant's flood leaves another's checks compared", async () => {
    const d = withPasswords(`dave:${DAVE}`, new BcryptPool({ size: 1 }), { perPolicyLimit: 2 });
    const flood = [1, 2, 3].map((i) => d({ path: "/basic", headers: basic("dave", `wrong-${i}`) }));
    const other = d({ path: "/other", headers: basic("dave", "dave-pass") });
    expect((await Promise.all(flood)).map((r) => r.code)).toEqual(["basic_invalid", "basic_invalid", "basic_busy"]);
    expect((await other).status).toBe(200);
  }, 60_000);
});

describe("unknown usernames", () => {
  it("are compared against a hash of the table's highest cost, on the same pool", async () => {
    const pool = new BcryptPool({ size: 1 });
    const d = withPasswords(`dave:${DAVE}\ncarol:${CAROL}`, pool);
    expect(compiledOf(d.result.snapshot.policies["apps/basic"]!.features, basicAuth)!.unknownUser).toMatchObject({
      kind: "bcrypt",
      hash: expect.stringMatching(/^\$2b\$12\$/),
    });
    const r = await d({ path: "/basic", headers: basic("mallory", "carol-pass") });
    expect([r.status, r.code, r.message]).toEqual([401, "basic_invalid", "User authentication failed: wrong username or password"]);
    expect(pool.completed).toBe(1);
  }, 60_000);
});

describe("failed attempts per username", () => {
  it("are limited: past the limit the password is not even compared (429), until the window passes", async () => {
    let now = 1_000_000;
    const pool = new BcryptPool({ size: 1 });
    const d = withPasswords(`dave:${DAVE}`, pool, { now: () => now, failureLimit: 3 });
    for (let i = 0; i < 3; i++) expect((await d({ path: "/basic", headers: basic("dave", "wrong") })).code).toBe("basic_invalid");
    const limited = await d({ path: "/basic", headers: basic("dave", "dave-pass") });
    expect([limited.status, limited.code]).toEqual([429, "basic_rate_limited"]);
    expect(pool.completed).toBe(3);
    // Unknown usernames are counted the same way (no oracle in the 429 either).
    for (let i = 0; i < 3; i++) await d({ path: "/basic", headers: basic("mallory", "wrong") });
    expect((await d({ path: "/basic", headers: basic("mallory", "wrong") })).code).toBe("basic_rate_limited");
    now += 60_000;
    expect((await d({ path: "/basic", headers: basic("dave", "dave-pass") })).status).toBe(200);
  }, 60_000);

  it("let a password that verified before through (it is remembered, not compared)", async () => {
    const pool = new BcryptPool({ size: 1 });
    const d = withPasswords(`dave:${DAVE}`, pool, { failureLimit: 1 });
    expect((await d({ path: "/basic", headers: basic("dave", "dave-pass") })).status).toBe(200);
    expect((await d({ path: "/basic", headers: basic("dave", "wrong") })).code).toBe("basic_invalid");
    expect((await d({ path: "/basic", headers: basic("dave", "wrong") })).code).toBe("basic_rate_limited");
    expect((await d({ path: "/basic", headers: basic("dave", "dave-pass") })).status).toBe(200);
  }, 60_000);
});

describe("failed attempts of attacker-chosen usernames", () => {
  it("hold a bounded amount of memory however long the usernames: 10,000 of 8 KiB keep under 4 MiB", () => {
    const pool = new BcryptPool({ size: 1 });
    const d = withPasswords("alice:{SHA}4yvU2nDIjg+qQ04AgGsx1Egh63I=", pool);
    const table = compiledOf(d.result.snapshot.policies["apps/basic"]!.features, basicAuth)!;
    const passwords = new Passwords({ pool });
    const verified = new BoundedMap<string, true>(16);
    const long = "u".repeat(8192);
    const { bytes } = heapHeldBy(() => {
      // {SHA} tables compare unknown usernames with SHA-1 too: synchronous, each a failure counted.
      for (let i = 0; i < 10_000; i++) expect(passwords.verify(table, "apps/basic", `${long}${i}`, "wrong", verified)).toBe("mismatch");
    });
    expect(bytes).toBeLessThan(4 * 1024 * 1024);
    // Still counted per username: the 11th failure of one long name is limited.
    for (let i = 0; i < 10; i++) passwords.verify(table, "apps/basic", `${long}x`, "wrong", verified);
    expect(passwords.verify(table, "apps/basic", `${long}x`, "wrong", verified)).toBe("rate_limited");
  });
});

/** alice: {SHA} ("alice-pass"); bob: bcrypt $2y$, cost 4 ("bob-pass"). */
const ALICE_AND_BOB = "alice:{SHA}4yvU2nDIjg+qQ04AgGsx1Egh63I=\nbob:$2y$04$QqyQH4rSce7d0jwFohlq1ebJ7xi0GCP23caez2vLLY/Maahl4ocRW\n";
const forwarding = () => decider(world(ALICE_AND_BOB, "basicAuth: {users: {name: users}, forwardUsernameHeader: x-username}"));

describe("basicAuth as Envoy's basic_auth filter answers", () => {
  const d = forwarding();
  it("401 with a Basic challenge when credentials are missing or another scheme is used", async () => {
    for (const headers of [{}, { authorization: "Bearer x" }]) {
      const r = await d({ path: "/basic", headers });
      expect([r.status, r.code, r.responseHeaders["www-authenticate"]]).toEqual([
        401,
        "basic_missing",
        'Basic realm="http://api.example.com/basic"',
      ]);
    }
  });
  it("accepts {SHA} and bcrypt ($2y$) users and forwards the username", async () => {
    const a = await d({ path: "/basic", headers: { ...basic("alice", "alice-pass"), "x-username": "root" } });
    expect([a.status, a.principal, a.upstreamHeaders["x-username"]]).toEqual([200, "basic alice", "alice"]);
    expect((await d({ path: "/basic", headers: basic("bob", "bob-pass") })).status).toBe(200);
  });
  it.each([
    ["a wrong password", basic("alice", "nope")],
    ["a wrong bcrypt password", basic("bob", "nope")],
    ["an unknown user", basic("mallory", "alice-pass")],
    ["no colon", { authorization: `Basic ${Buffer.from("alice").toString("base64")}` }],
    ["garbage base64", { authorization: "Basic %%%" }],
  ])("401 basic_invalid for %s", async (_name, headers) => {
    expect((await d({ path: "/basic", headers })).code).toBe("basic_invalid");
  });
  it("remembers a bcrypt password that verified, not one that failed", async () => {
    const fresh = forwarding();
    const pool = fresh.ctx.passwords.pool;
    expect((await fresh({ path: "/basic", headers: basic("bob", "nope") })).status).toBe(401);
    expect((await fresh({ path: "/basic", headers: basic("bob", "nope") })).status).toBe(401);
    expect((await fresh({ path: "/basic", headers: basic("bob", "bob-pass") })).status).toBe(200);
    expect(pool.completed).toBe(3);
    // A remembered password answers before bcrypt runs: 20 repeats cost no bcrypt round at all.
    for (let i = 0; i < 20; i++) expect((await fresh({ path: "/basic", headers: basic("bob", "bob-pass") })).status).toBe(200);
    expect(pool.completed).toBe(3);
  });
});

describe("envoyBasicCredentials: base64 as Envoy's basic_auth decodes it", () => {
  it.each([
    ["YTpi", "a:b"],
    ["YTpiYw==", "a:bc"],
    ["YTpiYw", "a:bc"],
    ["YTpiYw=", "a:bc"],
    [Buffer.from("a:\uFFFD").toString("base64"), "a:\uFFFD"],
    ["", ""],
  ])("%j → %j", (base64, expected) => expect(envoyBasicCredentials(base64)).toBe(expected));
  it.each([
    ["a space", "YTpi Yw=="],
    ["text after the padding", "YTpiYw==YQ=="],
    ["three '='", "YTpiYw==="],
    ["one character too many for whole bytes", "YTpiY"],
    ["unused bits set", "YTpiYx=="],
    ["the base64url alphabet", "-_-_"],
    ["a comma", "YTpi,YQ=="],
    ["bytes that are not UTF-8 (a:\\xff)", Buffer.from([0x61, 0x3a, 0xff]).toString("base64")],
  ])("nothing for %s", (_, base64) => expect(envoyBasicCredentials(base64)).toBeUndefined());
});
