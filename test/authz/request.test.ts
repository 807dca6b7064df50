import { describe, expect, it } from "vitest";
import { normalizeHost, normalizePath } from "../../controller/authz/request.ts";

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
    ["/a%2fb", "/a%2Fb"],
    ["/%7euser", "/~user"],
  ])("%s → %s", (input, expected) => expect(normalizePath(input)).toBe(expected));
});

describe("normalizeHost", () => {
  it.each([
    ["API.Example.com", "api.example.com"],
    ["api.example.com:8443", "api.example.com"],
    ["api.example.com.", "api.example.com"],
    ["[::1]:80", "[::1]"],
    [" x.io ", "x.io"],
  ])("%s → %s", (input, expected) => expect(normalizeHost(input)).toBe(expected));
});
