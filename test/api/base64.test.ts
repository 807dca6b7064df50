/** Secret data decoded as kube-apiserver decodes it (issue 12 situation 12): Go's base64.StdEncoding via encoding/json. */
import { describe, expect, it } from "vitest";
import { decodeBase64AsApiServer } from "../../controller/api/base64.ts";

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
