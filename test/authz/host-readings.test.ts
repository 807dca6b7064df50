/** The Host as Envoy's virtual host selection and upstream servers read it (controller/authz/host-readings.ts). */
import { describe, expect, it } from "vitest";
import { hostReadings, isPlainHost } from "../../controller/authz/host-readings.ts";

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
    // Envoy removes only what absl::SimpleAtoi parses as a uint32; the text before the first ":" it
    // keeps is the host nginx and most upstream servers read.
    ["api.example.com:", ["api.example.com:", "api.example.com"]],
    ["api.example.com:+80", ["api.example.com"]],
    ["api.example.com:4294967295", ["api.example.com"]],
    ["api.example.com:4294967296", ["api.example.com:4294967296", "api.example.com"]],
    ["api.example.com:8o", ["api.example.com:8o", "api.example.com"]],
    ["API.example.com:80:80", ["api.example.com:80", "api.example.com"]],
    ["api.example.com.:x", ["api.example.com.:x", "api.example.com.", "api.example.com"]],
    [":x", [":x"]],
    ["[::1]:x", ["[::1]:x"]],
    // Envoy lower-cases ASCII only: the Kelvin sign (U+212A) stays, where JavaScript's toLowerCase makes it "k".
    ["\u212Aiosk.example.com", ["\u212Aiosk.example.com"]],
    // The usual Host (lower case, digits, "-", "."), read as it is without the steps above.
    ["t4.tenants-1.example.com", ["t4.tenants-1.example.com"]],
    ["", [""]],
  ])("%j → %j", (input, expected) => expect(hostReadings(input)).toEqual(expected));
});

/** The loop isPlainHost replaced (commit 186a690): the reference its regular expression must agree with. */
function plainByLoop(host: string): boolean {
  const n = host.length;
  if (n === 0 || host.charCodeAt(n - 1) === 46) return false;
  for (let i = 0; i < n; i++) {
    const c = host.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46)) return false;
  }
  return true;
}

describe("isPlainHost: the usual Host's fast path, against the loop it replaced", () => {
  const hostile = [
    "",
    ":",
    "::",
    ".",
    "-",
    "a",
    "a.",
    "a..",
    ".a",
    "a:80",
    "a:",
    "[::1]",
    "[::1]:80",
    "A.example.com",
    "api.example.com\n",
    "api.example.com\r\n",
    "\napi.example.com",
    "api.example.com ",
    " api.example.com",
    "api.example.com\t",
    "api.example.com\u0000",
    "api\u0000.example.com",
    "api.example.com\u00A0",
    "\u212Aiosk.example.com",
    "api.\u0430xample.com",
    "api.example.com\u00e9",
    // Latin-1 bytes as Node's byte strings hold them (0x80 to 0xFF one per character), and UTF-8's lead byte of é.
    "api.example.com\u00c3\u00a9",
    "api.example.com\u00ff",
    "api_example.com",
    "api.example.com/",
    "api.example.com@evil",
    "xn--bcher-kva.example",
    "0",
    "127.0.0.1",
    "a".repeat(10_000),
    `${"a".repeat(10_000)}.`,
  ];
  it.each(hostile)("%j", (host) => {
    expect(isPlainHost(host)).toBe(plainByLoop(host));
    if (isPlainHost(host)) expect(hostReadings(host)).toEqual([host]);
  });

  it("agrees on 20,000 random hosts over letters, digits, separators, whitespace, brackets and bytes above 0x7F", () => {
    const alphabet = "aZz09-._:[]@/ \t\n\r\u0000\u007f\u0080\u00a0\u00ff\u0130\u212a\ufffd";
    let seed = 1;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20_000; i++) {
      const length = Math.floor(random() * 12);
      // Mostly plain characters, so both answers are seen often.
      const host = Array.from({ length }, () =>
        random() < 0.8 ? "abc019-."[Math.floor(random() * 8)]! : alphabet[Math.floor(random() * alphabet.length)]!,
      ).join("");
      if (isPlainHost(host) !== plainByLoop(host)) expect.fail(`${JSON.stringify(host)}: ${isPlainHost(host)} vs ${plainByLoop(host)}`);
      if (isPlainHost(host)) expect(hostReadings(host)).toEqual([host]);
    }
  });
});
