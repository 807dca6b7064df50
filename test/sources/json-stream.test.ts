import { describe, expect, it } from "vitest";
import { LineCounter, parseAllDocuments } from "yaml";
import { readJsonStream } from "../../controller/sources/json-stream.ts";

/** What the `yaml` package reads: each non-empty document's value with its 1-based number and the line its content begins on, or its first error code. */
function asYaml(text: string): { object: unknown; number: number; line: number }[] | string {
  const out: { object: unknown; number: number; line: number }[] = [];
  const lineCounter = new LineCounter();
  let number = 0;
  for (const doc of parseAllDocuments(text, { lineCounter })) {
    number++;
    if (doc.errors.length > 0) return doc.errors[0]!.code;
    const object: unknown = doc.toJS();
    if (object !== null && object !== undefined) out.push({ object, number, line: lineCounter.linePos(doc.contents!.range[0]).line });
  }
  return out;
}

/** JSON that tells -0 from 0 (toEqual does not). */
const withNegativeZero = (value: unknown) => JSON.stringify(value, (_, v: unknown) => (Object.is(v, -0) ? "-0" : v));

const policy = { apiVersion: "gateway.envoyproxy.io/v1alpha1", kind: "SecurityPolicy", metadata: { name: "p", namespace: "apps" } };

/** Streams the fast reading takes: for each, exactly what YAML reads (values, -0, escapes, document numbers). */
const TAKEN: Record<string, string> = {
  "one compact object": JSON.stringify(policy),
  "compact objects between markers": [policy, { kind: "Secret", data: { a: "YQ==" } }].map((o) => JSON.stringify(o)).join("\n---\n"),
  "pretty-printed, at column 0 and indented": `${JSON.stringify(policy, null, 2)}\n---\n{\n"a": [\n1,\n{"b": null}\n]\n}\n`,
  "a leading marker, an empty document and a trailing marker": `---\n{"a":1}\n---\n---  \n{"b":2}\n---\n`,
  "blank text before the first marker": `\n  \n---\n{"a":1}`,
  "blank lines before an object": `{"a":1}\n---\n\n\n  {"b":2}\n`,
  "CRLF line ends": '{"a":\r\n1}\r\n---\r\n{"b":2}\r\n',
  "tabs and a colon on the next line": '{\n\t"a"\n\t: 1}',
  "numbers YAML's core schema reads alike":
    '{"a": -0, "b": 12345678901234567890, "c": 1E+2, "d": 1e400, "e": 0.1e-2, "f": true, "g": null}',
  "escapes, surrogates and line separators": '{"a": "\\ud83d\\ude00 \\ud83d \\u0000 \\/ \\b\\f \\"q\\" \\\\", "b": "x\u2028y"}',
  "a __proto__ key and an empty key": '{"__proto__": {"x": 1}, "": 2}',
  "a key longer than YAML's 1024-character implicit keys": `{"${"k".repeat(1100)}": 1}`,
  "an empty object": "{}",
  "only blank text": " \n\n",
};

/** Streams only a YAML parser may read: the fast reading must decline every one of them. */
const DECLINED: Record<string, string> = {
  "a duplicate key (JSON.parse would keep the last one, YAML refuses it)": '{"spec": {"apiKeyAuth": {}}, "spec": {}}',
  "a duplicate key spelled with an escape": '{"a": 1, "\\u0061": 2}',
  "a duplicate key in a nested object": '{"a": {"b": 1, "b": 2}}',
  "a block-style document among JSON ones": '{"a":1}\n---\nkind: Secret\n',
  "a comment": '# generated\n{"a":1}',
  "content on the marker line": '--- {"a":1}',
  "a document end marker": '{"a":1}\n...\n',
  "a directive": '%YAML 1.2\n---\n{"a":1}',
  "a byte order mark": '\uFEFF{"a":1}',
  "a no-break space YAML reads as content": '\u00a0{"a":1}',
  "a top-level array": '[{"a":1}]',
  "a top-level string": '"a"',
  "a marker line splitting a string at U+2028": '{"a":"x\u2028---\u2028y"}',
  "an unclosed object": '{"a":1',
};

describe("readJsonStream", () => {
  for (const [name, text] of Object.entries(TAKEN)) {
    it(`reads ${name} exactly as YAML does`, () => {
      const read = readJsonStream(text);
      expect(read).toBeDefined();
      const yaml = asYaml(text);
      expect(read).toEqual(yaml);
      expect(withNegativeZero(read)).toBe(withNegativeZero(yaml));
    });
  }

  for (const [name, text] of Object.entries(DECLINED)) {
    it(`declines ${name}`, () => {
      expect(readJsonStream(text)).toBeUndefined();
    });
  }

  it("declines every duplicate key that YAML refuses", () => {
    for (const text of ['{"a":1,"a":1}', '{"x":[{"a":1,"a":2}]}', '{"a":"\\"","a":"b"}']) {
      expect(asYaml(text)).toBe("DUPLICATE_KEY");
      expect(readJsonStream(text)).toBeUndefined();
    }
  });

  it("counts member names, not strings: quotes, colons and backslashes inside values are content", () => {
    const text = JSON.stringify({ a: 'x": "y', b: "\\", c: ["d:", "e"], f: { g: '\\\\":' } });
    expect(readJsonStream(text)).toEqual([{ object: JSON.parse(text), number: 1, line: 1 }]);
  });
});
