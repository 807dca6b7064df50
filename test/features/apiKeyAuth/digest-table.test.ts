/**
 * An apiKeyAuth key table's digests are computed at its first read, not at compile time; compile
 * still reports every problem of the Secret (compile.test.ts), and a read sees the same table of
 * digests a compile-time table held. node:crypto's one-shot hash is counted to show when keys are hashed.
 */
import { createHash } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { ClientsByDigest } from "../../../controller/features/apiKeyAuth/digest-table.ts";
import { apiKeyAuth } from "../../../controller/features/apiKeyAuth/index.ts";
import { apiKeyDigest } from "../../../controller/features/apiKeyAuth/compile.ts";
import { checkApiKey } from "../../../controller/features/apiKeyAuth/check.ts";
import { CheckMemo } from "../../../controller/authz/check-memo.ts";
import { normalizeRequest } from "../../../controller/authz/request.ts";
import { ALICE_KEY_AUTH, secret } from "../../support/manifests.ts";
import { compilePolicy } from "../../support/world.ts";

const hashed = vi.hoisted(() => ({ inputs: [] as string[] }));
vi.mock("node:crypto", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:crypto")>();
  const hash = ((algorithm: string, data: string, ...rest: unknown[]) => {
    hashed.inputs.push(data);
    return (real.hash as (...args: unknown[]) => unknown)(algorithm, data, ...rest);
  }) as typeof real.hash;
  return { ...real, hash, default: { ...real, hash } };
});

const digest = (key: string) => createHash("sha256").update(key).digest("base64url");
const KEYS = { alice: "alice-key", bob: "bob-key", carol: "carol-key" };

function compiledTable(): ClientsByDigest {
  const outcome = compilePolicy(ALICE_KEY_AUTH, secret("keys", KEYS));
  expect(outcome.accepted.status).toBe("True");
  const table = outcome.compiled(apiKeyAuth)!.clientByDigest;
  expect(table).toBeInstanceOf(ClientsByDigest);
  return table as ClientsByDigest;
}

describe("the digests of a key table", () => {
  it("are not computed by compile: no key is hashed, and the table knows its size", () => {
    hashed.inputs = [];
    const table = compiledTable();
    expect(hashed.inputs.filter((input) => Object.values(KEYS).includes(input))).toEqual([]);
    expect([table.built, table.size]).toEqual([false, 3]);
  });

  it("are computed at the first read, each key once, and not again at the next reads", () => {
    const table = compiledTable();
    hashed.inputs = [];
    expect(table.get(digest("bob-key"))).toBe("bob");
    expect([...hashed.inputs].sort()).toEqual(["alice-key", "bob-key", "carol-key"]);
    expect(table.built).toBe(true);
    hashed.inputs = [];
    expect([table.get(digest("alice-key")), table.has(digest("carol-key")), table.get(digest("mallory-key")), table.size]).toEqual([
      "alice",
      true,
      undefined,
      3,
    ]);
    expect(hashed.inputs).toEqual([]);
  });

  it("hold the digests of the keys and no key in clear, whichever read comes first", () => {
    const reads: ((t: ClientsByDigest) => unknown)[] = [
      (t) => [...t],
      (t) => [...t.keys()],
      (t) => [...t.values()],
      (t) => [...t.entries()],
      (t) => new Map(t),
      (t) => t.forEach(() => undefined),
    ];
    for (const read of reads) {
      const table = compiledTable();
      read(table);
      expect(Object.fromEntries(table)).toEqual({
        [digest("alice-key")]: "alice",
        [digest("bob-key")]: "bob",
        [digest("carol-key")]: "carol",
      });
      expect([...table.keys()]).not.toContain("alice-key");
      expect(JSON.stringify(table)).toBe("{}");
    }
  });

  it("forEach passes each client id, its digest and the table, with thisArg", () => {
    const table = new ClientsByDigest(new Map([["k", "client"]]));
    const seen: unknown[] = [];
    const self = {};
    table.forEach(function (this: unknown, clientID, d, t) {
      seen.push(clientID, d, t === table, this === self);
    }, self);
    expect(seen).toEqual(["client", apiKeyDigest("k"), true, true]);
  });

  it("cannot be changed: the table is frozen and has no setter", () => {
    const table = compiledTable();
    expect(Object.isFrozen(table)).toBe(true);
    expect("set" in table || "delete" in table || "clear" in table).toBe(false);
  });

  it("are what a check looks a presented key up in: the first check hashes the Secret's keys, then its own key once", () => {
    const config = compilePolicy(ALICE_KEY_AUTH, secret("keys", KEYS)).compiled(apiKeyAuth)!;
    const check = (key: string) =>
      checkApiKey(
        config,
        normalizeRequest({
          method: "GET",
          scheme: "http",
          host: "api.example.com",
          path: "/",
          headers: { "x-api-key": key },
          gateway: undefined,
        }),
        { route: "r", policy: "p" },
        new CheckMemo(),
      ).ok;
    hashed.inputs = [];
    expect(check("bob-key")).toBe(true);
    expect([...hashed.inputs].sort()).toEqual(["alice-key", "bob-key", "bob-key", "carol-key"]);
    hashed.inputs = [];
    expect([check("carol-key"), check("carol-kez")]).toEqual([true, false]);
    expect(hashed.inputs).toEqual(["carol-key", "carol-kez"]);
  });
});
