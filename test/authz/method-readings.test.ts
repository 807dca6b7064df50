/** The methods an upstream may run a method as (controller/authz/method-readings.ts). */
import { describe, expect, it } from "vitest";
import { methodReadings } from "../../controller/authz/method-readings.ts";

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
