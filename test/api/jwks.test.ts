/** parseJwks: keys that import but can never verify are kept and named (issue 12 situation 12). */
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseJwks } from "../../controller/api/jwks.ts";

const jwk = (pair: { publicKey: import("node:crypto").KeyObject }, kid: string) => ({ ...pair.publicKey.export({ format: "jwk" }), kid });

describe("parseJwks unusable keys", () => {
  it("names an RSA key under 2048 bits, a secp256k1 key and an X25519 key; a good key is not named", () => {
    const doc = {
      keys: [
        jwk(generateKeyPairSync("rsa", { modulusLength: 1024 }), "small"),
        jwk(generateKeyPairSync("ec", { namedCurve: "secp256k1" }), "k1"),
        jwk(generateKeyPairSync("x25519"), "dh"),
        jwk(generateKeyPairSync("ec", { namedCurve: "P-256" }), "good"),
      ],
    };
    const r = parseJwks(JSON.stringify(doc));
    expect(r.ok && r.unusable).toEqual([
      "key 0 (kid small) is an RSA key of 1024 bits (at least 2048 are required), so a token it signed is always refused",
      "key 1 (kid k1) is an EC key on secp256k1, which no accepted algorithm (ES256, ES384, ES512) uses, so a token it signed is always refused",
      "key 2 (kid dh) is an X25519 key, which agrees keys and cannot sign, so a token it signed is always refused",
    ]);
  });
  it("a JWKS whose only key is too weak still parses (the policy stays Accepted, with a warning)", () => {
    const r = parseJwks(JSON.stringify({ keys: [jwk(generateKeyPairSync("rsa", { modulusLength: 1024 }), "small")] }));
    expect(r.ok && [r.keys.length, r.unusable.length]).toEqual([1, 1]);
  });
});

describe("parseJwks reads a document as Envoy's JSON parser (protobuf's) reads it", () => {
  const good = JSON.stringify(jwk(generateKeyPairSync("ec", { namedCurve: "P-256" }), "good"));
  const other = JSON.stringify(jwk(generateKeyPairSync("ec", { namedCurve: "P-256" }), "other"));
  const refused = {
    ok: false,
    error:
      "JWKS is not JSON Envoy's parser reads (a member named twice in one object, nesting deeper than 100, a lone surrogate or a number beyond a double): Envoy takes no key from it",
  };
  it.each([
    ["keys named twice (JSON.parse keeps the last, Envoy refuses the document)", `{"keys":[${other}],"keys":[${good}]}`],
    ["a key's kid named twice", `{"keys":[${good.replace('"kid":"good"', '"kid":"other","kid":"good"')}]}`],
    ["a name spelt with an escape beside itself", `{"keys":[${good}],"\\u006beys":[${other}]}`],
    ["a lone surrogate in a kid", `{"keys":[${good.replace('"kid":"good"', '"kid":"\\ud800"')}]}`],
    ["a number beyond a double", `{"keys":[${good}],"n":1e999}`],
    ["nesting deeper than 100", `{"keys":[${good}],"x":${"[".repeat(100)}${"]".repeat(100)}}`],
  ])("refuses %s", (_, text) => expect(parseJwks(text)).toEqual(refused));
  it("reads a document of distinct names", () => {
    const r = parseJwks(`{"keys":[${good},${other}]}`);
    expect(r.ok && r.keys.map((k) => k.kid)).toEqual(["good", "other"]);
  });
});
