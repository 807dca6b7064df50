import { describe, expect, it } from "vitest";
import {
  CONTROL_IN_PATH,
  headerValue,
  methodReadings,
  hostReadings,
  isPlainPath,
  normalizePath,
  normalizeRequest,
  pathBytesOf,
  pathReadings,
} from "../../controller/authz/request.ts";

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

describe("params", () => {
  const at = (path: string) => normalizeRequest({ method: "GET", scheme: "http", host: "h", path, headers: {}, gateway: undefined });
  it("reads the values of a split at '&' first, then those a split at ';' adds (Rack 2, older Python)", () => {
    expect(at("/?a=1;t=x").params("t")).toEqual(["x"]);
    expect(at("/?t=x;y").params("t")).toEqual(["x;y", "x"]);
    expect(at("/?t=x&t=x").params("t")).toEqual(["x", "x"]);
    expect(at("/?t=x;t=y").params("t")).toEqual(["x;t=y", "x", "y"]);
    expect(at("/?t=x").params("t")).toEqual(["x"]);
    expect(at("/").params("t")).toEqual([]);
  });
  it("splits at ';' the query that follows the '?', however many bytes the path's characters take", () => {
    const bytes = (path: string) =>
      normalizeRequest({ method: "GET", scheme: "http", host: "h", path, headers: {}, gateway: undefined, byteStrings: true });
    // Six "é" are 12 bytes and 6 characters: the query must not start 6 characters early, inside the path.
    const e6 = "\xC3\xA9".repeat(6);
    expect(bytes(`/${e6};t=p?a;u`).params("t")).toEqual([]);
    expect(bytes(`/${e6}?a=1;t=x`).params("t")).toEqual(["x"]);
  });
  it("asEnvoyReadsTheQuery is the request itself when no ';' is in the query (both readings find the same values), else another reading", () => {
    for (const path of ["/", "/?t=x&u=y", "/a;b?t=x"]) {
      const req = at(path);
      expect(req.asEnvoyReadsTheQuery()).toBe(req);
    }
    const split = at("/?a=1;t=x");
    const envoy = split.asEnvoyReadsTheQuery();
    expect(envoy).not.toBe(split);
    expect(envoy.params("t")).toEqual([]);
    expect(envoy.asEnvoyReadsTheQuery()).toBe(envoy);
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

describe("methodReadings", () => {
  it("reads HEAD also as GET (upstream frameworks run the GET handler for it), and a method also upper-cased (Django, Werkzeug)", () => {
    expect(methodReadings("HEAD")).toEqual(["HEAD", "GET"]);
    expect(methodReadings("GET")).toEqual(["GET"]);
    expect(methodReadings("POST")).toEqual(["POST"]);
    expect(methodReadings("get")).toEqual(["get", "GET"]);
    expect(methodReadings("head")).toEqual(["head", "HEAD", "GET"]);
  });
  it("hands out the usual methods' one reading built once, not an array per request", () => {
    expect(methodReadings("GET")).toBe(methodReadings("GET"));
    expect(methodReadings("BREW")).toEqual(["BREW"]);
  });
});

describe("CONTROL_IN_PATH", () => {
  it.each(["/admin%00.html", "/admin%0a", "/admin%0D", "/a%1F", "/a%7f", "/a\u0000b", "/a\tb"])("finds a control character in %j", (path) =>
    expect(CONTROL_IN_PATH.test(path)).toBe(true),
  );
  it.each(["/admin", "/a%20b", "/a%2F", "/caf%C3%A9", "/a%25"])("finds none in %j", (path) =>
    expect(CONTROL_IN_PATH.test(path)).toBe(false),
  );
});

describe("hostReadings: the Host as Envoy's virtual host selection reads it", () => {
  it.each([
    ["API.Example.com", ["api.example.com"]],
    ["api.example.com:8443", ["api.example.com"]],
    ["api.example.com.", ["api.example.com.", "api.example.com"]],
    ["API.example.com.:443", ["api.example.com.", "api.example.com"]],
    ["api.example.com..", ["api.example.com..", "api.example.com."]],
    [".", ["."]],
    ["[::1]:80", ["[::1]"]],
    ["[::1]", ["[::1]"]],
    ["[x].wild.example.com", ["[x].wild.example.com"]],
    [" x.io\t", ["x.io"]],
    ["x.io\u00A0", ["x.io\u00A0"]],
    // Envoy removes only what absl::SimpleAtoi parses as a uint32.
    ["api.example.com:", ["api.example.com:"]],
    ["api.example.com:+80", ["api.example.com"]],
    ["api.example.com:4294967295", ["api.example.com"]],
    ["api.example.com:4294967296", ["api.example.com:4294967296"]],
    ["api.example.com:8o", ["api.example.com:8o"]],
    // Envoy lower-cases ASCII only: the Kelvin sign (U+212A) stays, where JavaScript's toLowerCase makes it "k".
    ["\u212Aiosk.example.com", ["\u212Aiosk.example.com"]],
    // The usual Host (lower case, digits, "-", "."), read as it is without the steps above.
    ["t4.tenants-1.example.com", ["t4.tenants-1.example.com"]],
    ["", [""]],
  ])("%j → %j", (input, expected) => expect(hostReadings(input)).toEqual(expected));
});

describe("afterPhase: the request as one phase leaves it to the next", () => {
  const source = { method: "GET", scheme: "https", host: "a", path: "/", gateway: undefined };

  it("replaces the headers set, drops those removed, and leaves the rest and the reading alone", () => {
    const req = normalizeRequest({ ...source, headers: { authorization: "Bearer client", cookie: "s=1; t=2", "x-other": "kept" } });
    const next = req.afterPhase({ authorization: "Bearer session" }, ["cookie"]);
    expect([next.header("authorization"), next.header("cookie"), next.header("x-other"), next.path]).toEqual([
      "Bearer session",
      undefined,
      "kept",
      "/",
    ]);
    expect(req.header("authorization")).toBe("Bearer client");
    expect(req.afterPhase({}, [])).toBe(req);
  });

  it("keeps the request as it arrived, through later readings too: the client address is determined from it", () => {
    const arrived = { ...source, headers: { "x-forwarded-for": "203.0.113.9" } };
    const next = normalizeRequest(arrived).afterPhase({ "x-forwarded-for": "203.0.113.9,10.0.0.5" }, []).withReading("/", "GET");
    expect(next.header("x-forwarded-for")).toBe("203.0.113.9,10.0.0.5");
    expect(next.arrived).toBe(arrived);
    expect(next.asEnvoyReadsTheQuery().arrived).toBe(arrived);
  });

  it("keeps a byte-string request's reading: a value set as text reads back as the same text", () => {
    const req = normalizeRequest({ ...source, headers: {}, byteStrings: true });
    expect(req.afterPhase({ "x-user-id": "José" }, []).header("x-user-id")).toBe("José");
  });
});

describe("headerValue: a header as Envoy's header matchers read it", () => {
  it("joins a repeated header's lines with ',' (Envoy), not ', ' (Node)", () => {
    expect(headerValue({ "x-tier": ["gold", "silver"] }, "x-tier")).toBe("gold,silver");
  });

  it("joins repeated Cookie lines with '; ', as Envoy's header map does", () => {
    expect(headerValue({ cookie: ["a=1", "b=2"] }, "cookie")).toBe("a=1; b=2");
  });

  it("keeps a single line as sent, its own ', ' included, and knows no inherited names", () => {
    expect(headerValue({ "x-tier": "gold, silver" }, "x-tier")).toBe("gold, silver");
    expect(headerValue({}, "constructor")).toBeUndefined();
  });
});
