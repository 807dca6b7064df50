/** Paths as Envoy Gateway has Envoy read them before routing, and the other readings of a path (controller/authz/path.ts). */
import { describe, expect, it } from "vitest";
import { CONTROL_IN_PATH, isPlainPath, normalizePath, pathBytesOf, pathReadings } from "../../controller/authz/path.ts";

describe("normalizePath", () => {
  it.each([
    ["/a/b", "/a/b"],
    ["", "/"],
    ["a", "/a"],
    ["//a///b", "/a/b"],
    ["/a/./b", "/a/b"],
    ["/a/../b", "/b"],
    ["/../../b", "/b"],
    ["/a/b/..", "/a/"],
    ["/a/", "/a/"],
    ["/%61dmin", "/admin"],
    ["/%2e%2E/admin", "/admin"],
    ["/a%2Fb", "/a%2Fb"],
    ["/a%2fb", "/a%2fb"],
    ["/%7euser", "/~user"],
  ])("%s → %s", (input, expected) => expect(normalizePath(input)).toBe(expected));

  it("keeps the case of an escape it does not decode, as Envoy does (its route matches compare case-sensitively)", () => {
    expect(normalizePath("/caf%c3%a9")).toBe("/caf%c3%a9");
    expect(normalizePath("/caf%C3%A9")).toBe("/caf%C3%A9");
  });

  it("percent-encodes the raw characters Envoy's normalize_path escapes, byte by byte, invalid UTF-8 too", () => {
    expect(normalizePath("/caf\xC3\xA9")).toBe("/caf%C3%A9");
    expect(normalizePath("/x\xFF")).toBe("/x%FF");
    expect(normalizePath('/a"b<c>d`e{f|g}h^i j')).toBe("/a%22b%3Cc%3Ed%60e%7Bf%7Cg%7Dh%5Ei%20j");
    expect(normalizePath("/a!$&'()*+,;=:@[]b")).toBe("/a!$&'()*+,;=:@[]b");
  });

  it("writes a '%' that decoding its neighbours would turn into an escape as %25, as Envoy does", () => {
    expect(normalizePath("/%%30%30")).toBe("/%2500");
    expect(normalizePath("/%%300")).toBe("/%2500");
    expect(normalizePath("/%zz")).toBe("/%zz");
  });
});

describe("pathBytesOf", () => {
  it("keeps a byte string's bytes and writes text as its UTF-8 bytes, without the query", () => {
    expect(pathBytesOf("/caf\xC3\xA9?q=1", true)).toBe("/caf\xC3\xA9");
    expect(pathBytesOf("/café?q=é", false)).toBe("/caf\xC3\xA9");
    expect(pathBytesOf("/a", undefined)).toBe("/a");
  });
});

describe("pathReadings", () => {
  it("a path without escapes, backslashes or parameters has one reading, Envoy's", () => {
    expect(pathReadings("/a/./b//c/../d")).toEqual(["/a/b/d"]);
  });
  it("an encoded slash: Envoy's default keeps it, its UNESCAPE actions, nginx and Caddy decode it", () => {
    expect(pathReadings("/v1/embeddings/..%2Fchat/completions")).toEqual(["/v1/embeddings/..%2Fchat/completions", "/v1/chat/completions"]);
  });
  it("an encoded or plain backslash is also read as a slash", () => {
    expect(pathReadings("/public/..%5Ckeys")).toEqual(["/public/..%5Ckeys", "/public/..\\keys", "/keys"]);
    expect(pathReadings("/public\\..\\keys")).toEqual(["/public\\..\\keys", "/keys"]);
  });
  it("a ';' parameter is also read without it (Tomcat, Jetty, Spring)", () => {
    expect(pathReadings("/admin;jsessionid=1")).toEqual(["/admin;jsessionid=1", "/admin"]);
    expect(pathReadings("/a;x/..;y/b")).toEqual(["/a;x/..;y/b", "/b"]);
  });
  it("a raw non-ASCII or other character Envoy escapes: Envoy's escape, and the text other components pass on", () => {
    expect(pathReadings("/caf\xC3\xA9")).toEqual(["/caf%C3%A9", "/café"]);
    expect(pathReadings('/a"b')).toEqual(["/a%22b", '/a"b']);
  });
  it("every escape is decoded once, never twice", () => {
    expect(pathReadings("/public/%252e%252e/keys")).toEqual(["/public/%252e%252e/keys", "/public/%2e%2e/keys"]);
    expect(pathReadings("/caf%C3%A9")).toEqual(["/caf%C3%A9", "/café"]);
  });
});

describe("isPlainPath: a path every component reads as it is", () => {
  it.each(["/", "/v1/chat/completions", "/a/", "/a..b", "/a./b", "/A-Z_0~9/x.json"])("%j is plain: its own only reading", (path) => {
    expect(isPlainPath(path)).toBe(true);
    expect([normalizePath(path), pathReadings(path), CONTROL_IN_PATH.test(path)]).toEqual([path, [path], false]);
  });
  it.each([
    "",
    "a",
    "//a",
    "/a//b",
    "/a/./b",
    "/a/../b",
    "/.well-known",
    "/a/.",
    "/a%2Fb",
    "/a;b",
    "/a\\b",
    "/a b",
    "/a\u0000",
    "/é",
    "/a+b",
  ])("%j is not: it takes the readings above", (path) => expect(isPlainPath(path)).toBe(false));
});

describe("CONTROL_IN_PATH", () => {
  it.each(["/admin%00.html", "/admin%0a", "/admin%0D", "/a%1F", "/a%7f", "/a\u0000b", "/a\tb"])("finds a control character in %j", (path) =>
    expect(CONTROL_IN_PATH.test(path)).toBe(true),
  );
  it.each(["/admin", "/a%20b", "/a%2F", "/caf%C3%A9", "/a%25"])("finds none in %j", (path) =>
    expect(CONTROL_IN_PATH.test(path)).toBe(false),
  );
});
