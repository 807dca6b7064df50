/** The readings of a request besides Envoy's (controller/snapshot/route-readings.ts): a header's lines, the query's readings. */
import { describe, expect, it } from "vitest";
import { OTHER_QUERY_READINGS } from "../../controller/snapshot/query-readings.ts";
import { lineAt, readingsBesidesEnvoys } from "../../controller/snapshot/route-readings.ts";

describe("lineAt: one line of a header as a reading reads it", () => {
  it("reads the line at the index, the last where the header has fewer, without spaces and tabs around it", () => {
    expect(lineAt(["a", " b\t", "c"], 1)).toBe("b");
    expect(lineAt(["a", "b"], 5)).toBe("b");
    expect(lineAt([" a "], 0)).toBe("a");
    expect(lineAt([], 0)).toBeUndefined();
  });
});

describe("readingsBesidesEnvoys: the readings of a request by the most lines of a header", () => {
  it("one line each: the query's other readings only; n lines: a reading of each line index with each query reading, built once", () => {
    expect(readingsBesidesEnvoys(1).every((r) => r.header === "joined")).toBe(true);
    const three = readingsBesidesEnvoys(3);
    expect([...new Set(three.map((r) => r.header))]).toEqual(["joined", 0, 1, 2]);
    expect(three.filter((r) => r.header !== "joined")).toHaveLength(3 * (OTHER_QUERY_READINGS.length + 1));
    expect(readingsBesidesEnvoys(3)).toBe(three);
  });
});
