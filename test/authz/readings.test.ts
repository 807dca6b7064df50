/** One decision from every reading's (controller/authz/readings.ts): DESIGN §0. */
import { describe, expect, it } from "vitest";
import { deny, type Decision } from "../../controller/authz/decision.ts";
import { everyReadingAllows } from "../../controller/authz/readings.ts";

/** An allow that sets `upstream`, removes `remove` and answers with `response`. */
const allow = (upstream: Record<string, string>, remove: string[], response: Record<string, string> = {}): Decision => ({
  allowed: true,
  status: 200,
  code: "allowed",
  message: "no credential required",
  route: "apps/api rule r",
  policy: undefined,
  principal: undefined,
  upstreamHeaders: upstream,
  removeHeaders: remove,
  responseHeaders: response,
});

const READINGS = "the request also reads as GET /b";

describe("a denial", () => {
  it("the first reading that denies decides, and its detail says what the readings were", () => {
    const refused = deny(401, "apikey_missing", "Client authentication failed", { route: "apps/api rule r" });
    const d = everyReadingAllows([allow({}, []), refused, deny(403, "authz_denied", "later", {})], READINGS) as Decision;
    expect(d.code).toBe("apikey_missing");
    expect(d.detail).toBe(`${READINGS}, and not every reading is allowed`);
  });
  it("waits for a reading decided later (a promise)", async () => {
    const refused = deny(403, "authz_denied", "no", {});
    const d = await everyReadingAllows([allow({}, []), Promise.resolve(refused)], READINGS);
    expect(d.code).toBe("authz_denied");
  });
});

describe("readings that all allow", () => {
  it("the same allow object when every reading answers alike", () => {
    const one = allow({ "x-client-id": "alice" }, ["x-user-id"]);
    expect(everyReadingAllows([one, one], READINGS)).toBe(one);
    const alike = allow({ "x-client-id": "alice" }, ["x-user-id"]);
    expect(everyReadingAllows([one, alike], READINGS)).toBe(one);
  });
  it("two readings that set one header to different values are refused: two identities", () => {
    const d = everyReadingAllows(
      [allow({ "x-client-id": "alice" }, []), allow({ "x-client-id": "partner-bob" }, [])],
      READINGS,
    ) as Decision;
    expect(d).toMatchObject({ allowed: false, status: 403, code: "identity_unforwardable", upstreamHeaders: {}, removeHeaders: [] });
    expect(d.message).toBe("the readings of the request would set x-client-id upstream to different values");
    expect(d.detail).toBe(`${READINGS}, and each reading is allowed with another identity upstream`);
  });
  it("a header only some readings set is not forwarded but removed (no identity a reading did not establish)", () => {
    const protectedRule = allow({ "x-client-id": "alice", "x-tier": "gold" }, ["x-user-id"]);
    const openRule = allow({ "x-tier": "gold" }, ["x-client-id", "x-user-id"]);
    for (const order of [
      [protectedRule, openRule],
      [openRule, protectedRule],
    ]) {
      const d = everyReadingAllows(order, READINGS) as Decision;
      expect(d.allowed).toBe(true);
      expect(d.upstreamHeaders).toEqual({ "x-tier": "gold" });
      expect([...d.removeHeaders].sort()).toEqual(["x-client-id", "x-user-id"]);
    }
  });
  it("every header any reading removes is removed (each Gateway's policies manage their own)", () => {
    const d = everyReadingAllows([allow({}, ["x-client-id"]), allow({}, ["x-client-id", "x-partner-tier"])], READINGS) as Decision;
    expect(d.upstreamHeaders).toEqual({});
    expect(d.removeHeaders).toEqual(["x-client-id", "x-partner-tier"]);
  });
  it("only the response headers every reading sends alike (a CORS grant one reading lacks is not given)", () => {
    const granted = allow({}, [], { "access-control-allow-origin": "https://app.example.com", vary: "Origin" });
    const d = everyReadingAllows([granted, allow({}, [], { vary: "Origin" })], READINGS) as Decision;
    expect(d.responseHeaders).toEqual({ vary: "Origin" });
  });
});
