/** decodeJwt: the same verdict for a header segment however often it is seen (headers are cached by segment). */
import { describe, expect, it } from "vitest";
import { decodeJwt } from "../../../controller/features/jwt/verify.ts";

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
