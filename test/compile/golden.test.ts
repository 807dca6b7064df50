/**
 * Golden compile tests: every `testdata/<case>.in.yaml` compiles to exactly `<case>.out.yaml`
 * (statuses, a readable snapshot summary, problems). `UPDATE_GOLDEN=1 vitest run test/compile`
 * rewrites the .out files; review their diff like code.
 */
import { readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { parseManifests } from "../../controller/sources/manifest-text.ts";
import { toResources } from "../../controller/api/resources.ts";
import { compile } from "../../controller/compile/index.ts";
import { geoIPDatabaseOf } from "../../controller/geoip/database.ts";
import { selfServiceOf } from "../../controller/runtime/compile-options.ts";
import { summarizeSnapshot } from "../../controller/snapshot/summary.ts";
import { writeMmdb } from "../support/mmdb.ts";

const dir = join(import.meta.dirname, "testdata");
const cases = readdirSync(dir)
  .filter((f) => f.endsWith(".in.yaml"))
  .map((f) => f.slice(0, -".in.yaml".length))
  .sort();

/**
 * A case may start with `# gateway-classes: a, b` to compile as `--gateway-class a --gateway-class b`,
 * with `# geoip-databases: GeoLite2-Country, …` to compile with an (empty) database of each type, and
 * with `# self-service: NS/NAME` to compile as `--self-service NS/NAME` (serve's default ports).
 */
export function compileCase(text: string): string {
  const listed = (directive: string) =>
    new RegExp(`^# ${directive}: (.+)$`, "m")
      .exec(text)?.[1]
      ?.split(",")
      .map((c) => c.trim()) ?? [];
  const geoipDatabases = listed("geoip-databases").map((type) =>
    geoIPDatabaseOf(`${type}.mmdb`, writeMmdb({ databaseType: type, networks: [] })),
  );
  const parsed = parseManifests(text, "case.yaml");
  if ("error" in parsed) throw new Error(parsed.error);
  const { resources, rejected } = toResources(parsed.objects);
  const [self] = listed("self-service");
  const result = compile(resources, {
    controllerName: "portcullis.io/controller",
    gatewayClasses: listed("gateway-classes"),
    geoipDatabases,
    ...(self === undefined ? {} : { selfService: selfServiceOf(self, {}) }),
  });
  return stringify(
    { statuses: result.statuses, snapshot: summarizeSnapshot(result.snapshot), problems: result.problems, rejected },
    { lineWidth: 0 },
  );
}

describe("golden compile cases", () => {
  it("has cases", () => expect(cases.length).toBeGreaterThan(10));
  for (const name of cases) {
    it(name, () => {
      const actual = compileCase(readFileSync(join(dir, `${name}.in.yaml`), "utf8"));
      const outPath = join(dir, `${name}.out.yaml`);
      if (process.env.UPDATE_GOLDEN === "1") writeFileSync(outPath, actual);
      expect(existsSync(outPath), `${name}.out.yaml is missing; run with UPDATE_GOLDEN=1 and review it`).toBe(true);
      expect(actual).toBe(readFileSync(outPath, "utf8"));
    });
  }
});

describe("toResources", () => {
  it("validates an unchanged object once: a rebuild gets the very same loaded object back", async () => {
    const { toResources: load } = await import("../../controller/api/resources.ts");
    const raw = {
      object: { apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "n" }, stringData: { a: "b" } },
      origin: "x",
    };
    const first = load([raw]).resources.secrets[0];
    expect(load([raw]).resources.secrets[0]).toBe(first);
    expect(load([{ ...raw, object: { ...raw.object, stringData: { a: "c" } } }]).resources.secrets[0]!.data).toEqual({ a: "c" });
  });
});
