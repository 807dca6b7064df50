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
