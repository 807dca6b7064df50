import { describe, expect, it } from "vitest";
import { fnv1a, FNV_OFFSET } from "../../controller/lib/fingerprint.ts";

describe("fnv1a", () => {
  it("gives FNV-1a's published 32-bit values for ASCII text", () => {
    expect(fnv1a(FNV_OFFSET, "") >>> 0).toBe(0x811c9dc5);
    expect(fnv1a(FNV_OFFSET, "a") >>> 0).toBe(0xe40c292c);
    expect(fnv1a(FNV_OFFSET, "foobar") >>> 0).toBe(0xbf9cf968);
  });
  it("reads only [from, to), and carries a hash on across calls", () => {
    expect(fnv1a(FNV_OFFSET, "xxfoobarxx", 2, 8)).toBe(fnv1a(FNV_OFFSET, "foobar"));
    expect(fnv1a(fnv1a(FNV_OFFSET, "foo"), "bar")).toBe(fnv1a(FNV_OFFSET, "foobar"));
  });
});
