/**
 * decodeJwt: the same verdict for a header segment however often it is seen (headers are cached by
 * segment); derSignature: JWS ECDSA signatures in the DER form OpenSSL verifies; verifySignature:
 * every accepted algorithm, end to end through check().
 */
import { describe, expect, it } from "vitest";
import { constants, createHmac, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import { checkClaims, decodeJwt, derSignature } from "../../../controller/features/jwt/verify.ts";
import { bearer, checkWorldText, ISSUER } from "../../support/check-world.ts";
import { decider } from "../../support/world.ts";

const b64 = (text: string) => Buffer.from(text).toString("base64url");
const token = (header: string, payload = '{"sub":"u-1"}') => `${b64(header)}.${b64(payload)}.${b64("signature")}`;

describe("decodeJwt", () => {
  it("decodes a repeated header the same way each time, and never lets one token's header change another's", () => {
    for (let i = 0; i < 3; i++) {
      const decoded = decodeJwt(token('{"alg":"ES256","kid":"k1","typ":"JWT"}', `{"sub":"u-${i}"}`));
      expect(decoded).toMatchObject({ ok: true, value: { alg: "ES256", kid: "k1", payload: { sub: `u-${i}` } } });
    }
  });
  it("refuses every string without exactly two dots as not a compact JWS, and splits one with two at them", () => {
    const good = token('{"alg":"ES256"}');
    for (const text of ["", ".", "no-dot", "a.b", `${good}.`, `${good}.x`, `.${good}`, "a.b.c.d.e", "...."])
      expect(decodeJwt(text), text).toEqual({ ok: false, error: "token is not a compact JWS (three dot-separated parts)" });
    const decoded = decodeJwt(good);
    expect(decoded.ok && decoded.value.signingInput).toBe(good.slice(0, good.lastIndexOf(".")));
  });
  it("refuses a bad header every time it is seen", () => {
    for (const [header, error] of [
      ['{"alg":"ES256","alg":"none"}', "token header is not a JSON object (UTF-8, each member once)"],
      ['{"alg":"ES256","crit":["exp"]}', "token header has crit extensions Portcullis does not understand"],
      ['{"alg":"none"}', 'token algorithm "none" is not accepted'],
      ['{"alg":"ES256","typ":"dpop+jwt"}', "token typ is not JWT or at+jwt"],
    ] as const) {
      for (let i = 0; i < 2; i++) expect(decodeJwt(token(header))).toEqual({ ok: false, error });
    }
  });
  it("names a bad payload before what the header's members refuse, however often the header was seen", () => {
    for (const header of ['{"alg":"none"}', '{"alg":"ES256","typ":"dpop+jwt"}', '{"alg":"ES256","kid":7}'])
      for (let i = 0; i < 2; i++)
        expect(decodeJwt(token(header, '{"sub":"a","sub":"b"}')), header).toEqual({
          ok: false,
          error: "token payload is not a JSON object (UTF-8, each member once)",
        });
    expect(decodeJwt(token('{"alg":"ES256","alg":"none"}', '{"sub":"a","sub":"b"}'))).toEqual({
      ok: false,
      error: "token header is not a JSON object (UTF-8, each member once)",
    });
  });
  it("reports a bad payload under a good, already seen header", () => {
    decodeJwt(token('{"alg":"ES256"}'));
    expect(decodeJwt(token('{"alg":"ES256"}', '{"sub":"a","sub":"b"}'))).toEqual({
      ok: false,
      error: "token payload is not a JSON object (UTF-8, each member once)",
    });
  });
});

/** Whether an integer's DER form drops leading zero bytes, adds a zero before a high bit, or neither. */
function shapeOf(magnitude: Buffer): string {
  let i = 0;
  while (magnitude[i] === 0) i++;
  return `${i > 0 ? "stripped" : "whole"} ${magnitude[i]! >= 0x80 ? "padded" : "plain"}`;
}

describe("derSignature", () => {
  it("turns R‖S into the one DER encoding OpenSSL accepts, on every curve and every shape of R and S", () => {
    for (const [namedCurve, hash] of [
      ["P-256", "sha256"],
      ["P-384", "sha384"],
      ["P-521", "sha512"],
    ] as const) {
      const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve });
      const shapes = new Set<string>();
      const seen = (prefix: string, suffix: string) => [...shapes].some((shape) => shape.startsWith(prefix) && shape.endsWith(suffix));
      // Signatures until R or S has started with a zero byte (stripped) and with a high bit (padded):
      // about 1 in 64 signatures strips on P-256 and P-384, half of them on P-521. The cap is never
      // reached by chance (under e^-60 on P-256), so reaching it fails the test.
      let i = 0;
      for (; i < 4000 && !(i >= 50 && seen("stripped", "") && seen("", "padded")); i++) {
        const data = Buffer.from(`signing input ${i}`);
        const p1363 = sign(hash, data, { key: privateKey, dsaEncoding: "ieee-p1363" });
        const half = p1363.length / 2;
        shapes.add(shapeOf(p1363.subarray(0, half)));
        shapes.add(shapeOf(p1363.subarray(half)));
        // OpenSSL refuses a DER signature that is not canonical, so a true here proves the form.
        expect(verify(hash, data, publicKey, derSignature(p1363))).toBe(true);
        p1363[half - 1]! ^= 1;
        expect(verify(hash, data, publicKey, derSignature(p1363))).toBe(false);
      }
      expect(i).toBeLessThan(4000);
    }
  });

  it("encodes zero integers and the long length form exactly", () => {
    expect(derSignature(Buffer.alloc(64)).toString("hex")).toBe("3006020100020100");
    const p521 = Buffer.alloc(132, 0xff);
    const der = derSignature(p521);
    expect(der.subarray(0, 3).toString("hex")).toBe("30818a");
    expect(der.length).toBe(3 + 2 * (2 + 67));
  });
});

describe("checkClaims", () => {
  const NOW = 1_700_000_000;
  /** What a provider with no issuer and no audiences (both accept any) says of `payload`. */
  const anyIssuer = (payload: Record<string, unknown>) => checkClaims(payload, NOW, 60, undefined, [])?.message;

  it("refuses, as Envoy's jwt_authn does, a non-string iss, sub or jti even where the provider names no issuer", () => {
    expect(anyIssuer({ iss: 5 })).toBe("Jwt iss claim is not a string");
    expect(anyIssuer({ iss: null })).toBe("Jwt iss claim is not a string");
    expect(anyIssuer({ sub: ["u-1"] })).toBe("Jwt sub claim is not a string");
    expect(anyIssuer({ jti: true })).toBe("Jwt jti claim is not a string");
    expect(anyIssuer({ iss: "any", sub: "u-1", jti: "j" })).toBeUndefined();
  });

  it("reads iat, nbf and exp as Envoy reads them, unsigned 64-bit integers: [0, 2^64) passes, either side is out of range", () => {
    const largestBelow = 2 ** 64 - 2048; // the largest double below 2^64
    for (const name of ["iat", "nbf", "exp"]) {
      if (name !== "nbf") expect(anyIssuer({ [name]: largestBelow }), `${name} just below 2^64`).toBeUndefined();
      expect(anyIssuer({ [name]: 2 ** 64 }), `${name} 2^64`).toBe(`Jwt ${name} claim is out of range`);
      expect(anyIssuer({ [name]: -0.5 }), `${name} −0.5`).toBe(`Jwt ${name} claim is out of range`);
      expect(anyIssuer({ [name]: "1" }), `${name} as a string`).toBe(`Jwt ${name} claim is not a number`);
    }
    expect(anyIssuer({ nbf: 0, iat: 0, exp: NOW })).toBeUndefined();
    expect(anyIssuer({ nbf: -0 })).toBeUndefined();
    expect(anyIssuer({ nbf: largestBelow })).toBe("Jwt is not yet valid");
  });

  it("refuses an aud that is neither a string nor an array of strings even where no audience is required", () => {
    for (const aud of [5, {}, null, ["api", 5], [["api"]]])
      expect(anyIssuer({ aud }), JSON.stringify(aud)).toBe("Jwt aud claim is not a string or an array of strings");
    expect(anyIssuer({ aud: [] })).toBeUndefined();
    expect(checkClaims({ aud: [] }, NOW, 60, undefined, ["api"])?.code).toBe("jwt_audience");
    expect(checkClaims({ aud: ["x", "api"] }, NOW, 60, undefined, ["api"])).toBeUndefined();
  });
});

/** A key of one JWS algorithm (RFC 7518 §3, RFC 8037) and its JWK (kid: what it is), signing with node:crypto. */
interface AlgorithmKey {
  readonly alg: string;
  readonly jwk: Record<string, unknown>;
  sign(input: Buffer): Buffer;
}

function asymmetric(
  alg: string,
  kid: string,
  pair: { publicKey: KeyObject; privateKey: KeyObject },
  signWith: (input: Buffer, key: KeyObject) => Buffer,
): AlgorithmKey {
  return { alg, jwk: { ...pair.publicKey.export({ format: "jwk" }), kid, alg }, sign: (input) => signWith(input, pair.privateKey) };
}

/** One key per accepted algorithm (EdDSA with Ed25519, the only curve Envoy's jwt_authn reads). */
function algorithmKeys(): AlgorithmKey[] {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const hashOf = (alg: string) => `sha${alg.slice(2)}`;
  const ecdsa = (alg: string, namedCurve: string) =>
    asymmetric(alg, alg, generateKeyPairSync("ec", { namedCurve }), (input, key) =>
      sign(hashOf(alg), input, { key, dsaEncoding: "ieee-p1363" }),
    );
  const pkcs1 = (alg: string) => asymmetric(alg, alg, rsa, (input, key) => sign(hashOf(alg), input, key));
  const pss = (alg: string) =>
    asymmetric(alg, alg, rsa, (input, key) =>
      sign(hashOf(alg), input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }),
    );
  const hmac = (alg: string): AlgorithmKey => {
    const secret = randomBytes(64);
    return {
      alg,
      jwk: { kty: "oct", k: secret.toString("base64url"), kid: alg, alg },
      sign: (input) => createHmac(hashOf(alg), secret).update(input).digest(),
    };
  };
  const eddsa = (curve: "ed25519") =>
    asymmetric("EdDSA", `EdDSA-${curve}`, generateKeyPairSync(curve as "ed25519"), (input, key) => sign(null, input, key));
  return [
    ecdsa("ES256", "P-256"),
    ecdsa("ES384", "P-384"),
    ecdsa("ES512", "P-521"),
    ...["RS256", "RS384", "RS512"].map(pkcs1),
    ...["PS256", "PS384", "PS512"].map(pss),
    ...["HS256", "HS384", "HS512"].map(hmac),
    eddsa("ed25519"),
  ];
}

describe("verifySignature through check()", () => {
  it("allows a token of every accepted algorithm signed by its key, and refuses it with one signature bit changed or under another key's kid", async () => {
    const keys = algorithmKeys();
    const d = decider(checkWorldText(JSON.stringify({ keys: keys.map((k) => k.jwk) })));
    const exp = Math.floor(Date.now() / 1000) + 300;
    const mint = (key: AlgorithmKey, kid: string, sub: string) => {
      const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
      const input = `${segment({ alg: key.alg, kid, typ: "JWT" })}.${segment({ iss: ISSUER, aud: "api", sub, exp })}`;
      return { input, signature: key.sign(Buffer.from(input)) };
    };
    const outcome = async ({ input, signature }: { input: string; signature: Buffer }) => {
      const r = await d({ path: "/jwt", headers: bearer(`${input}.${signature.toString("base64url")}`) });
      return [r.status, r.code, r.upstreamHeaders["x-user-id"]];
    };
    for (const [i, key] of keys.entries()) {
      const kid = key.jwk.kid as string;
      const token = mint(key, kid, `sub-${kid}`);
      expect(await outcome(token), kid).toEqual([200, "allowed", `sub-${kid}`]);
      token.signature[token.signature.length - 1]! ^= 1;
      expect(await outcome(token), kid).toEqual([401, "jwt_bad_signature", undefined]);
      // Signed by this key but naming the kid of a key of another algorithm: that key cannot verify it.
      const other = keys[(i + 3) % keys.length]!;
      expect(await outcome(mint(key, other.jwk.kid as string, "moved")), kid).toEqual([401, "jwt_bad_signature", undefined]);
    }
  });

  it("refuses a token of a key Envoy's jwt_authn skips (Ed448, an RSA exponent other than 3 or 65537), and warns of the key", async () => {
    const ed448 = generateKeyPairSync("ed448");
    const rsa17 = generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 17 });
    const keys = [
      asymmetric("EdDSA", "ed448", ed448, (input, key) => sign(null, input, key)),
      asymmetric("RS256", "rsa-e17", rsa17, (input, key) => sign("sha256", input, key)),
    ];
    const d = decider(checkWorldText(JSON.stringify({ keys: keys.map((k) => k.jwk) })));
    expect(d.result.statuses.flatMap((s) => s.ancestors.flatMap((a) => a.conditions.map((c) => c.message))).join("\n")).toMatch(
      /Ed448 key, which Envoy's jwt_authn does not read[\s\S]*public exponent 17, which Envoy's jwt_authn does not read/,
    );
    const exp = Math.floor(Date.now() / 1000) + 300;
    for (const key of keys) {
      const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
      const input = `${segment({ alg: key.alg, kid: key.jwk.kid, typ: "JWT" })}.${segment({ iss: ISSUER, aud: "api", sub: "u-1", exp })}`;
      const r = await d({ path: "/jwt", headers: bearer(`${input}.${key.sign(Buffer.from(input)).toString("base64url")}`) });
      expect([r.status, r.code], key.jwk.kid as string).toEqual([401, "jwt_bad_signature"]);
    }
  });

  // An ECDSA signature is decoded into one buffer reused for every token (longer than any ECDSA signature),
  // and only the length its algorithm names is converted: a longer one must never be read as its start.
  it("refuses an ECDSA signature of any other length, its genuine bytes followed by more included, and verifies the next token as if alone", async () => {
    const keys = algorithmKeys().filter((k) => k.alg.startsWith("ES"));
    const d = decider(checkWorldText(JSON.stringify({ keys: keys.map((k) => k.jwk) })));
    const exp = Math.floor(Date.now() / 1000) + 300;
    for (const key of keys) {
      const kid = key.jwk.kid as string;
      const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
      const input = `${segment({ alg: key.alg, kid, typ: "JWT" })}.${segment({ iss: ISSUER, aud: "api", sub: `sub-${kid}`, exp })}`;
      const genuine = key.sign(Buffer.from(input));
      const outcome = async (signature: Buffer) => {
        const r = await d({ path: "/jwt", headers: bearer(`${input}.${signature.toString("base64url")}`) });
        return [r.status, r.code];
      };
      for (const signature of [
        Buffer.concat([genuine, Buffer.from([0])]),
        Buffer.concat([genuine, randomBytes(300)]),
        genuine.subarray(0, genuine.length - 1),
        Buffer.concat([genuine, genuine]),
      ])
        expect(await outcome(signature), `${kid}, ${signature.length} bytes`).toEqual([401, "jwt_bad_signature"]);
      expect(await outcome(genuine), kid).toEqual([200, "allowed"]);
    }
  });
});
