/**
 * decodeJwt: the same verdict for a header segment however often it is seen (headers are cached by
 * segment); derSignature: JWS ECDSA signatures in the DER form OpenSSL verifies.
 */
import { describe, expect, it } from "vitest";
import { generateKeyPairSync, sign, verify } from "node:crypto";
import { decodeJwt, derSignature } from "../../../controller/features/jwt/verify.ts";

const b64 = (text: string) => Buffer.from(text).toString("base64url");
const token = (header: string, payload = '{"sub":"u-1"}') => `${b64(header)}.${b64(payload)}.${b64("signature")}`;

describe("decodeJwt", () => {
  it("decodes a repeated header the same way each time, and never lets one token's header change another's", () => {
    for (let i = 0; i < 3; i++) {
      const decoded = decodeJwt(token('{"alg":"ES256","kid":"k1","typ":"JWT"}', `{"sub":"u-${i}"}`));
      expect(decoded).toMatchObject({ ok: true, value: { alg: "ES256", kid: "k1", payload: { sub: `u-${i}` } } });
    }
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
      // Enough signatures that R and S start with zero bytes (stripped) and with a high bit (padded) many times.
      for (let i = 0; i < 1500; i++) {
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
      expect([...shapes].some((shape) => shape.startsWith("stripped"))).toBe(true);
      expect([...shapes].some((shape) => shape.endsWith("padded"))).toBe(true);
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
