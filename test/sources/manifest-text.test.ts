import { describe, expect, it } from "vitest";
import { parseManifests } from "../../controller/sources/manifest-text.ts";

const SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n";
const JSON_SECRET = JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "s" } });

const read = (text: string) => {
  const parsed = parseManifests(text, "f.yaml");
  return "error" in parsed ? parsed.error : parsed.objects.map((o) => o.origin);
};

describe("parseManifests: the chunks Kubernetes' YAML reader hands Envoy Gateway's file provider", () => {
  it("a chunk that holds no object fails its file, naming its line: that provider's loader refuses the whole load over it", () => {
    const empty = {
      "---\n": 1,
      "\n": 1,
      "# nothing here yet\n": 1,
      [`# licence header\n---\n${SECRET}`]: 1,
      [`${SECRET}---\n---\n`]: 5,
      [`${SECRET}---\n\n`]: 5,
      [`${SECRET}---\n# the end\n`]: 5,
      [`${SECRET}---\nnull\n`]: 5,
      [`${SECRET}---\n---\n---\n${SECRET}`]: 5,
      [`\n---\n${JSON_SECRET}\n`]: 1,
      [`${JSON_SECRET}\n---\n---\n`]: 3,
      [`${JSON_SECRET}\n---\n \n`]: 3,
    };
    for (const [text, line] of Object.entries(empty)) {
      expect(read(text), JSON.stringify(text)).toMatch(new RegExp(`^line ${line}: Kubernetes' YAML reader hands .* holds no object`));
    }
  });

  it("a document after an empty one in the same chunk (after `...`) fails its file: that provider reads only the chunk's first, empty, document", () => {
    expect(read(`---\n...\n${SECRET}`)).toMatch(/^line 3, column 1: Kubernetes' YAML reader .* would drop this document/);
    // A comment after `...` ends no document that holds something: nothing is dropped.
    expect(read(`${SECRET}...\n# the end\n`)).toEqual(["f.yaml#1"]);
  });

  it("blank lines and comments inside a document, a `---` that begins the file or repeats before a document, and a trailing `---` are no chunk of their own", () => {
    const read1 = {
      "": [],
      [SECRET]: ["f.yaml#1"],
      [`---\n${SECRET}`]: ["f.yaml#1"],
      [`${SECRET}---\n`]: ["f.yaml#1"],
      [`\n# a secret\n${SECRET}\n# done\n`]: ["f.yaml#1"],
      [`${SECRET}---\n---\n${SECRET}`]: ["f.yaml#1", "f.yaml#3"],
      [`${SECRET}--- # next\n# comment\n${SECRET}---\n`]: ["f.yaml#1", "f.yaml#2"],
      [`${JSON_SECRET}\n---\n${JSON_SECRET}\n---\n`]: ["f.yaml#1", "f.yaml#2"],
    };
    for (const [text, origins] of Object.entries(read1)) expect(read(text), JSON.stringify(text)).toEqual(origins);
  });
});
