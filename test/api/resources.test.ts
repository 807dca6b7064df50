/** Raw objects into Resources (controller/api/resources.ts): Secrets' data as kube-apiserver reads it. */
import { describe, expect, it } from "vitest";
import { parseManifests } from "../../controller/sources/manifest-text.ts";
import { toResources } from "../../controller/api/resources.ts";

describe("Secrets from manifests", () => {
  const load = (yaml: string) => {
    const parsed = parseManifests(yaml, "secret.yaml");
    if ("error" in parsed) throw new Error(parsed.error);
    return toResources(parsed.objects);
  };
  const secret = (data: string) => `apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: apps}\ndata:\n${data}\n`;
  it("a value wrapped over lines in a literal block is read as the API server reads it", () => {
    expect(load(secret("  alice: |\n    YWxpY2Ut\n    a2V5")).resources.secrets[0]?.data).toEqual({ alice: "alice-key" });
  });
  it("a plain scalar over lines folds into spaces: refused, with the key named", () => {
    expect(load(secret("  alice: YWxpY2Ut\n    a2V5")).rejected.map((r) => r.reason)).toEqual([
      "data.alice is not valid base64 (line breaks are allowed, spaces are not)",
    ]);
  });

  const raw = (name: string, data: unknown) => ({
    object: { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: "apps" }, data },
    origin: `${name}.json`,
  });
  it("data that is not an object of strings is refused, with the key named", () => {
    expect(toResources([raw("a", { alice: 5 }), raw("b", ["YQ=="])]).rejected.map((r) => r.reason)).toEqual([
      ".data.alice: Invalid input: expected string, received number (YAML reads an unquoted number, true or false as such: quote the value)",
      ".data: Invalid input: expected record, received array",
    ]);
  });
  it("a data or stringData key that names a member of Object.prototype is a key like any other", () => {
    const data = JSON.parse('{"__proto__": "YWxpY2Uta2V5", "constructor": "Ym9iLWtleQ=="}') as unknown;
    const [secret] = toResources([raw("keys", data)]).resources.secrets;
    expect(Object.entries(secret!.data)).toEqual([
      ["__proto__", "alice-key"],
      ["constructor", "bob-key"],
    ]);
    const { resources } = load("apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: apps}\nstringData: {__proto__: carol-key}\n");
    expect(Object.entries(resources.secrets[0]!.data)).toEqual([["__proto__", "carol-key"]]);
  });
  it("stringData that is not an object of strings is refused, with the key named", () => {
    const object = { apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "apps" }, stringData: { alice: 5 } };
    expect(toResources([{ object, origin: "s.json" }]).rejected.map((r) => r.reason)).toEqual([
      ".stringData.alice: Invalid input: expected string, received number (YAML reads an unquoted number, true or false as such: quote the value)",
    ]);
  });
});
