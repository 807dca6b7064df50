/** Secret data decoded as kube-apiserver decodes it (issue 12 situation 12): Go's base64.StdEncoding via encoding/json. */
import { describe, expect, it } from "vitest";
import { decodeBase64AsApiServer, decodeBase64TextAsApiServer } from "../../controller/api/base64.ts";

const text = (value: string) => decodeBase64AsApiServer(value)?.toString("utf8");

describe("decodeBase64AsApiServer", () => {
  it("decodes canonical base64", () => expect(text("YWxpY2Uta2V5")).toBe("alice-key"));
  it("skips line breaks anywhere, LF or CRLF, as Go's decoder does", () => {
    expect(text("YWxp\nY2Ut\na2V5\n")).toBe("alice-key");
    expect(text("YWxpY2Ut\r\na2V5")).toBe("alice-key");
    expect(text("YQ=\n=")).toBe("a");
  });
  it("refuses spaces, tabs and other characters, as the API server does", () => {
    for (const v of ["YWxpY2Ut a2V5", "YWxpY2Ut\ta2V5", "YWxpY2Uta2V5!", "YWxpY2Uta2V5-_"])
      expect(text(v), JSON.stringify(v)).toBeUndefined();
  });
  it("requires padding, and nothing after it", () => {
    for (const v of ["YQ", "YQ=", "YQ==YQ==", "Y==="]) expect(text(v), v).toBeUndefined();
  });
  it("accepts non-zero trailing bits (Go's StdEncoding is not Strict)", () => expect(text("YR==")).toBe("a"));
});

describe("decodeBase64TextAsApiServer", () => {
  it("gives what decodeBase64AsApiServer's bytes read as UTF-8 give, for valid and invalid values", () => {
    const values = ["YWxpY2Uta2V5", "YWxp\nY2Ut\na2V5\n", "YQ=\n=", "YR==", "", "YQ", "Y===", "YWxpY2Ut a2V5", "YWxpY2Uta2V5-_"];
    // ASCII, UTF-8 beyond ASCII, bytes that are not UTF-8, NUL and DEL, every byte value.
    for (const bytes of [
      [0x61],
      [0xc3, 0xa9, 0x41],
      [0xff, 0xfe, 0x41],
      [0xe2, 0x82],
      [0x00, 0x7f, 0x80],
      Array.from({ length: 256 }, (_, i) => i),
    ])
      values.push(Buffer.from(bytes).toString("base64"));
    for (let seed = 1; seed <= 200; seed++) {
      const bytes = Array.from({ length: seed % 37 }, (_, i) => (seed * 7919 + i * 104_729) % (seed % 3 === 0 ? 128 : 256));
      values.push(Buffer.from(bytes).toString("base64"));
    }
    for (const v of values) expect(decodeBase64TextAsApiServer(v), JSON.stringify(v)).toBe(text(v));
    expect(decodeBase64TextAsApiServer(Buffer.from("é\u{1F511}").toString("base64"))).toBe("é\u{1F511}");
    expect(decodeBase64TextAsApiServer(Buffer.from([0x61, 0xff]).toString("base64"))).toBe("a\uFFFD");
  });
});
