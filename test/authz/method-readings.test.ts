/** The methods an upstream may run a method as (controller/authz/method-readings.ts). */
import { describe, expect, it } from "vitest";
import { MAX_METHOD_OVERRIDES, methodOverrides, methodReadings } from "../../controller/authz/method-readings.ts";
import { normalizeRequest } from "../../controller/authz/request.ts";
import { leastAllocationPerCall } from "../../bench/in-process.ts";

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

  it("adds each method a POST asks to be run as, with its own readings, once", () => {
    expect(methodReadings("POST", ["DELETE"])).toEqual(["POST", "DELETE"]);
    expect(methodReadings("POST", ["delete", "DELETE", "head"])).toEqual(["POST", "delete", "DELETE", "head", "HEAD", "GET"]);
    expect(methodReadings("POST", [])).toBe(methodReadings("POST"));
  });
});

describe("methodOverrides", () => {
  const post = (path: string, headers: Record<string, string | string[]>, method = "POST") =>
    methodOverrides(normalizeRequest({ method, scheme: "http", host: "h", path, headers, gateway: undefined }));
  it("reads X-HTTP-Method-Override, X-HTTP-Method and X-Method-Override: each line, the lines joined with ',' (ASP.NET Core), each piece trimmed (Express)", () => {
    expect(post("/", { "x-http-method-override": "DELETE" })).toEqual(["DELETE"]);
    expect(post("/", { "x-http-method-override": ["PUT", "DELETE"] })).toEqual(["PUT", "DELETE", "PUT,DELETE"]);
    expect(post("/", { "x-http-method": "PUT , DELETE" })).toEqual(["PUT , DELETE", "PUT", "DELETE"]);
    expect(post("/", { "x-method-override": "PATCH" })).toEqual(["PATCH"]);
  });
  it("reads `_method` in every reading of the query", () => {
    expect(post("/?_method=DELETE", {})).toEqual(["DELETE"]);
    expect(post("/?a=1;_method=PUT", {})).toEqual(["PUT"]);
    expect(post("/?%5Fmethod=PUT", {})).toEqual(["PUT"]);
  });
  // Every check asks; a closure declared in methodOverrides once cost every GET a context of 48 B (issue 17, pass nine).
  it("allocates nothing for a request that is not a POST", () => {
    const get = normalizeRequest({ method: "GET", scheme: "http", host: "h", path: "/", headers: {}, gateway: undefined });
    expect(leastAllocationPerCall(() => methodOverrides(get))).toBeLessThan(4);
  });
  it("overrides a POST only (in any letter case), and no empty value", () => {
    expect(post("/?_method=DELETE", { "x-http-method-override": "DELETE" }, "GET")).toEqual([]);
    expect(post("/?_method=DELETE", {}, "post")).toEqual(["DELETE"]);
    expect(post("/?_method=", { "x-http-method-override": " " })).toEqual([]);
    expect(post("/", {})).toEqual([]);
  });
  it("answers undefined past MAX_METHOD_OVERRIDES methods: each is a reading decided in full", () => {
    const many = Array.from({ length: MAX_METHOD_OVERRIDES }, (_, i) => `M${i}`);
    expect(post("/", { "x-http-method-override": many })).toBeUndefined();
    expect(post("/", { "x-http-method-override": many.slice(0, MAX_METHOD_OVERRIDES - 2) })).toHaveLength(MAX_METHOD_OVERRIDES - 1);
  });
});
