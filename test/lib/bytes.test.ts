/** Strings standing for bytes (controller/lib/bytes.ts). */
import { describe, expect, it } from "vitest";
import { isAscii, utf8Bytes } from "../../controller/lib/bytes.ts";

describe("isAscii", () => {
  it("is true only when every character is below U+0080", () => {
    expect(isAscii("/api/v1?x=1")).toBe(true);
    expect(isAscii("")).toBe(true);
    expect(isAscii("caf\u00E9")).toBe(false);
    expect(isAscii("\u0080")).toBe(false);
    expect(isAscii("\u{1F600}")).toBe(false);
  });
});

describe("utf8Bytes", () => {
  it("gives text's UTF-8 bytes one character per byte, and ASCII as it is", () => {
    expect(utf8Bytes("/caf\u00E9")).toBe("/caf\xC3\xA9");
    expect(utf8Bytes("\u{1F600}")).toBe("\xF0\x9F\x98\x80");
    const ascii = "x-user-id";
    expect(utf8Bytes(ascii)).toBe(ascii);
  });
});
