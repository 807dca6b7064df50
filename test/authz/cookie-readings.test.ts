/** The Cookie header's readings, most servers' and Envoy's (controller/authz/cookie-readings.ts). */
import { describe, expect, it } from "vitest";
import { parseCookies } from "../../controller/authz/cookie-readings.ts";

describe("parseCookies", () => {
  it("answers a request without cookies with one shared empty reading, nothing allocated", () => {
    expect(parseCookies(undefined)).toBe(parseCookies(""));
    expect(parseCookies(undefined).every.size).toBe(0);
    expect(parseCookies(undefined).envoy).toBeUndefined();
  });

  it("builds no reading of Envoy's own while Envoy reads every pair as a trimmed reading does", () => {
    const readings = parseCookies("a=1; b=2; a=3; novalue; =x");
    expect([...readings.every]).toEqual([
      ["a", ["1", "3"]],
      ["b", ["2"]],
    ]);
    expect(readings.envoy).toBeUndefined();
  });

  it("once a pair reads otherwise in Envoy, keeps Envoy's reading apart, the pairs before it included", () => {
    const readings = parseCookies('a=1; k ="v"; a=2');
    expect(readings.every.get("k")).toEqual(['"v"']);
    expect(readings.every.get("k ")).toEqual(["v"]);
    expect(readings.envoy?.get("k")).toBeUndefined();
    expect(readings.envoy?.get("k ")).toEqual(["v"]);
    expect(readings.envoy?.get("a")).toEqual(["1", "2"]);
  });

  it("reads a pair holding a comma also as its pieces (Rack before 2.2, RFC 2965 parsers), where Envoy reads one pair", () => {
    const { every, envoy } = parseCookies("a=1; theme=dark, ApiKey=k ,x; b=2");
    expect([...every]).toEqual([
      ["a", ["1"]],
      ["theme", ["dark, ApiKey=k ,x", "dark"]],
      ["apikey", ["k"]],
      ["b", ["2"]],
    ]);
    expect([...envoy!]).toEqual([
      ["a", ["1"]],
      ["theme", ["dark, ApiKey=k ,x"]],
      ["b", ["2"]],
    ]);
  });

  it("files every reading's pairs under the lower-case name and keeps Envoy's case-sensitive names apart", () => {
    const readings = parseCookies("session=a; SESSION=b; Session=c");
    expect(readings.every.get("session")).toEqual(["a", "b", "c"]);
    expect(readings.every.get("SESSION")).toBeUndefined();
    expect(readings.envoy?.get("session")).toEqual(["a"]);
    expect(readings.envoy?.get("SESSION")).toEqual(["b"]);
    expect(readings.envoy?.get("Session")).toEqual(["c"]);
  });
});
