/**
 * analysePolicy: a SecurityPolicy's spec validated once per spec object, however many rebuilds read
 * it; and every header name it names compiled lower-case.
 */
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { compile } from "../../controller/compile/index.ts";
import { SecurityPolicySpecSchema } from "../../controller/features/index.ts";
import { summarizeSnapshot } from "../../controller/snapshot/summary.ts";
import { ALICE_KEY_AUTH, ALICE_KEYS, capitalised, gatewayWithRoute, headersNamedIn, securityPolicy } from "../support/manifests.ts";
import { resourcesOf } from "../support/world.ts";

const options = { controllerName: "portcullis.io/controller", gatewayClasses: [] };

describe("spec validation across rebuilds", () => {
  it("validates an unchanged policy's spec once, and a changed policy (a new object) again", () => {
    const world = `${gatewayWithRoute("api.example.com")}---\n${ALICE_KEYS}---\n${securityPolicy("p", ALICE_KEY_AUTH)}`;
    const resources = resourcesOf(world);
    const parse = vi.spyOn(SecurityPolicySpecSchema, "safeParse");
    try {
      compile(resources, options);
      const first = parse.mock.calls.length;
      compile(resources, options);
      expect([first, parse.mock.calls.length]).toEqual([1, 1]);
      const changed = compile(resourcesOf(world.replace("X-API-Key", "X-Other-Key")), options);
      expect(parse.mock.calls.length).toBe(2);
      expect(changed.statuses[0]!.ancestors[0]!.conditions[0]!.status).toBe("True");
    } finally {
      parse.mockRestore();
    }
  });

  it("keeps reporting an invalid spec on every rebuild", () => {
    const resources = resourcesOf(`${gatewayWithRoute("api.example.com")}---\n${securityPolicy("p", { apiKeyAuth: { extractFrom: [] } })}`);
    const reasons = [compile(resources, options), compile(resources, options)].map(
      (r) => r.statuses[0]!.ancestors[0]!.conditions.find((c) => c.type === "Accepted")!,
    );
    expect(reasons[0]!.reason).toBe("Invalid");
    expect(reasons[1]).toEqual(reasons[0]);
  });
});

describe("header names reach the checks lower-case, whatever case a policy writes them in", () => {
  const jwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });
  const jwks = JSON.stringify({ keys: [{ ...jwk, kid: "k1", alg: "ES256", use: "sig" }] });
  const written = compile(resourcesOf(headersNamedIn(capitalised, jwks)), options);
  const lower = compile(resourcesOf(headersNamedIn((name) => name, jwks)), options);

  it("every policy is Accepted either way", () => {
    for (const result of [written, lower]) {
      const accepted = result.statuses.map((s) => [s.name, s.ancestors[0]!.conditions.find((c) => c.type === "Accepted")!.status]);
      expect(accepted).toEqual(accepted.map(([name]) => [name, "True"]));
    }
  });

  it("no capitalised name is left anywhere in the snapshot, and each is there lower-case (the checks compare lower-case names)", () => {
    const names = [
      "x-role",
      "x-api-key",
      "x-client-id",
      "x-tier",
      "x-user-name",
      "x-token",
      "x-user-id",
      "x-ext-user",
      "x-forward-me",
      "x-id-token",
      "x-requested-with",
    ];
    const strings = stringsIn(written.snapshot);
    expect(strings.filter((s) => names.some((name) => s === capitalised(name)))).toEqual([]);
    expect(names.filter((name) => !strings.includes(name))).toEqual([]);
  });

  it("the snapshot reads as the one of the same policies written in lower case", () => {
    expect(summarizeSnapshot(written.snapshot)).toEqual(summarizeSnapshot(lower.snapshot));
    expect(written.snapshot.managedHeaders).toEqual(["x-client-id", "x-ext-user", "x-id-token", "x-tier", "x-user-id", "x-user-name"]);
  });
});

/** Every string in `value`, keys of objects and Maps included, walking each object once. */
function stringsIn(value: unknown, seen = new Set<unknown>()): string[] {
  if (typeof value === "string") return [value];
  if (typeof value !== "object" || value === null || seen.has(value)) return [];
  seen.add(value);
  const entries =
    value instanceof Map ? [...value.entries()] : value instanceof Set ? [...value].map((v) => [v, v]) : Object.entries(value);
  return entries.flatMap(([k, v]) => [...stringsIn(k, seen), ...stringsIn(v, seen)]);
}
