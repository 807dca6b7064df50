/** Strict JWS segment decoding, checked against the definitions it shortcuts. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hasDuplicateMembers, isCanonicalBase64urlText, parseStrictJsonObject } from "../../controller/lib/strict-json.ts";

const BASE64URL_CHARS = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"];

describe("isCanonicalBase64urlText", () => {
  it("agrees with decode-then-encode on every string of base64url characters", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...BASE64URL_CHARS), { maxLength: 12 }).map((cs) => cs.join("")),
        (text) => {
          expect(isCanonicalBase64urlText(text)).toBe(Buffer.from(text, "base64url").toString("base64url") === text);
        },
      ),
      { seed: 11, numRuns: 5000 },
    );
  });
  it("refuses spare bits and impossible lengths", () => {
    expect(["QQ", "QR", "QUE", "QUF", "Q", "QUFB"].map(isCanonicalBase64urlText)).toEqual([true, false, true, false, false, true]);
  });
});

describe("parseStrictJsonObject and surrogates", () => {
  const segment = (text: string) => Buffer.from(text, "utf8").toString("base64url");
  it("refuses an escaped surrogate without its partner anywhere (value, nested array, member name, either reader), keeps pairs and escaped backslashes", () => {
    for (const text of [
      '{"a":"\\ud800"}',
      '{"a":"x\\udfff"}',
      '{"a":[1,{"b":["\\uDBFF"]}]}',
      '{"\\ud800":1}',
      '{"a\\u0062":"\\udc00"}',
      '{"a":"\\ud800\\u0041"}',
    ])
      expect(parseStrictJsonObject(segment(text)), text).toBeUndefined();
    expect(parseStrictJsonObject(segment('{"a":"\\ud83d\\ude00","\\u0062":"\\\\ud800"}'))).toEqual({ a: "\u{1f600}", b: "\\ud800" });
  });
});

describe("parseStrictJsonObject, nesting and numbers as Envoy's JSON parser reads them", () => {
  const segment = (text: string) => Buffer.from(text, "utf8").toString("base64url");
  const nested = (levels: number) => `{"a":${"[".repeat(levels - 1)}${"]".repeat(levels - 1)}}`;
  it("reads 100 levels of objects and arrays, not 101; brackets inside strings do not count", () => {
    expect(parseStrictJsonObject(segment(nested(100)))).toBeDefined();
    expect(parseStrictJsonObject(segment(nested(101)))).toBeUndefined();
    expect(parseStrictJsonObject(segment(`{"s":"${"[{".repeat(200)}","a":[[1]]}`))).toBeDefined();
    expect(parseStrictJsonObject(segment(`{"\\u0061":${"[".repeat(100)}${"]".repeat(100)}}`))).toBeUndefined();
  });
  it("refuses a number beyond a double anywhere, keeps large and tiny ones and such text in strings", () => {
    for (const text of ['{"n":1e999}', '{"n":[-1E400]}', `{"n":${"9".repeat(400)}}`])
      expect(parseStrictJsonObject(segment(text)), text).toBeUndefined();
    for (const text of ['{"n":1.7e308}', '{"n":1e-999}', '{"s":"1e999"}']) expect(parseStrictJsonObject(segment(text)), text).toBeDefined();
  });
});

describe("hasDuplicateMembers", () => {
  it("agrees with a full parse of every member name, escaped or not, at any depth", () => {
    const name = fc.constantFrom("a", "b", "\\u0061", "\\\\", '\\"', "sub", "s\\u0075b");
    const member = fc.tuple(name, fc.constantFrom("1", '"x"', "[]", '{"a":1}', '{"a":1,"\\u0061":2}'));
    fc.assert(
      fc.property(fc.array(member, { maxLength: 5 }), (members) => {
        const text = `{${members.map(([n, v]) => `"${n}":${v}`).join(",")}}`;
        const names = members.map(([n]) => JSON.parse(`"${n}"`) as string);
        const nestedDuplicate = members.some(([, v]) => v.includes("\\u0061"));
        expect(hasDuplicateMembers(text)).toBe(new Set(names).size !== names.length || nestedDuplicate);
      }),
      { seed: 13, numRuns: 2000 },
    );
  });
  it("throws JSON.parse's error on a text that is not JSON, an unterminated string included (never scans it)", () => {
    for (const text of ['{"a', '{"a":"b', '{"a\\":1', "{"]) expect(() => hasDuplicateMembers(text), text).toThrow(SyntaxError);
  });
  it("makes parseStrictJsonObject refuse a payload naming a member twice", () => {
    const seg = (text: string) => Buffer.from(text).toString("base64url");
    expect(parseStrictJsonObject(seg('{"sub":"alice","sub":"admin"}'))).toBeUndefined();
    expect(parseStrictJsonObject(seg('{"sub":"alice","s\\u0075b":"admin"}'))).toBeUndefined();
    expect(parseStrictJsonObject(seg('{"sub":"alice","subs":["admin"]}'))).toEqual({ sub: "alice", subs: ["admin"] });
  });
});

describe("parseStrictJsonObject's UTF-8 (decoded without a buffer per segment)", () => {
  const seg = (bytes: Buffer) => bytes.toString("base64url");
  const json = (inner: Buffer) => Buffer.concat([Buffer.from('{"sub":"'), inner, Buffer.from('"}')]);
  it("refuses bytes that are not UTF-8 (which a lenient decoder turns into U+FFFD) and reads a U+FFFD the issuer wrote", () => {
    for (const invalid of [[0xff], [0xc3], [0xe2, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]])
      expect(parseStrictJsonObject(seg(json(Buffer.from(invalid)))), String(invalid)).toBeUndefined();
    expect(parseStrictJsonObject(seg(json(Buffer.from("a\uFFFDb"))))).toEqual({ sub: "a\uFFFDb" });
    expect(parseStrictJsonObject(seg(json(Buffer.from([0xef, 0xbb, 0xbf]))))).toEqual({ sub: "\uFEFF" });
  });
  it("reads a segment longer than a token the same way, valid or not", () => {
    const long = "é".repeat(8000);
    expect(parseStrictJsonObject(seg(json(Buffer.from(long))))).toEqual({ sub: long });
    expect(parseStrictJsonObject(seg(json(Buffer.concat([Buffer.from(long), Buffer.from([0xff])]))))).toBeUndefined();
  });
  it("never lets one segment's bytes show through in another's text", () => {
    expect(parseStrictJsonObject(seg(json(Buffer.from("x".repeat(500)))))).toEqual({ sub: "x".repeat(500) });
    expect(parseStrictJsonObject(seg(json(Buffer.from("y"))))).toEqual({ sub: "y" });
  });
});

describe("parseStrictJsonObject and V8's JSON.parse", () => {
  const seg = (text: string) => Buffer.from(text).toString("base64url");
  it("reads an escaped member name as written, even after a name with a backslash was met at that place (V8 13.6 would not)", () => {
    // JSON.parse alone, after the first text, reads "group\u0073" as "group\" (Node 24.21).
    for (const [earlier, text, read] of [
      ['{"sub":"u","group\\\\":1}', '{"sub":"x","group\\u0073":["a"]}', { sub: "x", groups: ["a"] }],
      ['{"sub":"u","r\\\\u0":1}', '{"sub":"x","r\\u00f4le":"suspended"}', { sub: "x", rôle: "suspended" }],
      ['{"k":"u","x\\\\":1}', '{"k":"a","x\\n":{"y\\u0031":[1,{"z":null}]}}', { k: "a", "x\n": { y1: [1, { z: null }] } }],
    ] as const) {
      expect(parseStrictJsonObject(seg(earlier))).toBeDefined();
      const parsed = parseStrictJsonObject(seg(text));
      expect(parsed).toEqual(read);
      expect(Object.keys(parsed!)).toEqual(Object.keys(read));
    }
  });
  it("reads a text with escaped names as JSON.parse reads it when V8 reads it right: own __proto__, numbers, literals, nesting", () => {
    const text = '{ "\\u005f_proto__" : {"a":1} , "n\\u0031" : [ -1.5e3, true, false, null, "\\"q\\"" ], "\\\\" : {} }';
    const parsed = parseStrictJsonObject(seg(text))!;
    expect(parsed).toEqual(JSON.parse(text));
    expect(Object.hasOwn(parsed, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(parseStrictJsonObject(seg('{"a\\u0062":1,"ab":2}'))).toBeUndefined();
    expect(parseStrictJsonObject(seg('{"x":[{"\\u0061":1,"a":2}]}'))).toBeUndefined();
  });
});

describe("parseStrictJsonObject on texts with escaped member names (read without JSON.parse's object reader)", () => {
  const seg = (text: string) => Buffer.from(text).toString("base64url");
  /** JSON.stringify's text with every "a" and "é" in a member name written as a \u escape. */
  const escapingNames = (value: unknown) =>
    JSON.stringify(value).replace(
      /"((?:[^"\\]|\\.)*)":/g,
      (_, name: string) => `"${name.replace(/a/g, "\\u0061").replace(/é/g, "\\u00e9")}\\u0061":`,
    );
  const names = fc.stringMatching(/^[ab\\"é_]{0,4}$/);
  const leaf = fc.oneof(
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.string({ maxLength: 4 }),
  );
  const { tree } = fc.letrec((tie) => ({
    tree: fc.oneof(
      { depthSize: "small" },
      leaf,
      fc.array(tie("tree"), { maxLength: 3 }),
      fc.dictionary(names, tie("tree"), { maxKeys: 3 }),
    ),
  }));
  const objects = fc.dictionary(names, tree, { maxKeys: 4 });
  /** The value escapingNames writes: every member name with an "a" appended. */
  const withNamesEndingInA = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(withNamesEndingInA)
      : typeof value === "object" && value !== null
        ? Object.fromEntries(Object.entries(value).map(([name, member]) => [`${name}a`, withNamesEndingInA(member)]))
        : value;

  it("reads what JSON.stringify wrote, names unescaped, at any depth", () => {
    fc.assert(
      fc.property(objects, (value) => {
        const text = escapingNames(value);
        // Built without JSON.parse, which this very property can lead astray (see above).
        expect(JSON.stringify(parseStrictJsonObject(seg(text)))).toBe(JSON.stringify(withNamesEndingInA(value)));
      }),
      { seed: 17, numRuns: 1000 },
    );
  });
  it("refuses every text JSON.parse refuses: a character taken out or put in anywhere", () => {
    const edits = fc.tuple(
      objects.filter((o) => Object.keys(o).length > 0),
      fc.nat(),
      fc.constantFrom("", "{", "}", "[", "]", ":", ",", '"', "\\", " ", "1", "t", "-", "."),
    );
    fc.assert(
      fc.property(edits, ([value, at, put]) => {
        const text = escapingNames(value);
        const i = at % text.length;
        const edited = put === "" ? text.slice(0, i) + text.slice(i + 1) : text.slice(0, i) + put + text.slice(i);
        let valid = true;
        try {
          JSON.parse(edited);
        } catch {
          valid = false;
        }
        if (!valid) expect(parseStrictJsonObject(seg(edited))).toBeUndefined();
      }),
      { seed: 19, numRuns: 4000 },
    );
  });
});
