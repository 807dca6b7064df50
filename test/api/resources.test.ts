/** Secret data decoded as kube-apiserver decodes it (issue 12 situation 12): Go's base64.StdEncoding via encoding/json. */
import { describe, expect, it } from "vitest";
import { parseManifests } from "../../controller/sources/manifests.ts";
import { decodeBase64AsApiServer, toResources } from "../../controller/api/resources.ts";

const text = (value: string) => decodeBase64AsApiServer(value)?.toString("utf8");

describe("decodeBase64AsApiServer", () => {
  it("decodes canonical base64", () => expect(text("YWxpY2Uta2V5")).toBe("alice-key"));
  it("skips line breaks anywhere, LF or CRLF, as Go's decoder does", () => {
    expect(text("YWxp\nY2Ut\na2V5\n")).toBe("alice-key");
    expect(text("YWxpY2Ut\r\na2V5")).toBe("alice-key");
    expect(text("YQ=\n=")).toBe("a");
  });
  it("refuses spaces, tabs and other characters, as the API server does", () => {
    for (const v of ["YWxpY2Ut a2V5", "YWxpY2Ut\ta2V5", "YWxpY2Uta2V5!", "YWxpY2Uta2V5-_"])
      expect(text(v), JSON.stringify(v)).toBeUndefined();
  });
  it("requires padding, and nothing after it", () => {
    for (const v of ["YQ", "YQ=", "YQ==YQ==", "Y==="]) expect(text(v), v).toBeUndefined();
  });
  it("accepts non-zero trailing bits (Go's StdEncoding is not Strict)", () => expect(text("YR==")).toBe("a"));
});

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

describe("kinds", () => {
  const raw = (apiVersion: string, kind: unknown) => ({
    object: { apiVersion, kind, metadata: { name: "p", namespace: "apps" } },
    origin: "p.yaml#1",
  });
  it("a kind its API group does not have is rejected, naming the group's nearest kind whatever the letter case", () => {
    const { rejected } = toResources([
      raw("gateway.networking.k8s.io/v1", "httproutes"),
      raw("gateway.envoyproxy.io/v1alpha1", "ClientTraficPolicy"),
    ]);
    expect(rejected.map((r) => [r.object, r.reason])).toEqual([
      [
        "httproutes apps/p",
        'gateway.networking.k8s.io has no kind "httproutes" (the nearest is HTTPRoute); the API server would refuse it',
      ],
      [
        "ClientTraficPolicy apps/p",
        'gateway.envoyproxy.io has no kind "ClientTraficPolicy" (the nearest is ClientTrafficPolicy); the API server would refuse it',
      ],
    ]);
  });
  it("a core kind Portcullis reads at a version other than v1 is rejected, naming the core API's version (not a CRD's)", () => {
    expect(toResources([raw("v2", "Secret")]).rejected.map((r) => r.reason)).toEqual([
      "apiVersion v2: Secret is served as v1 only (Kubernetes' core API); the API server would refuse it",
    ]);
  });
  it("a kind an older release served under another group is rejected, naming the kind that replaced it (XListenerSet: ListenerSet v1)", () => {
    expect(toResources([raw("gateway.networking.x-k8s.io/v1alpha1", "XListenerSet")]).rejected.map((r) => r.reason)).toEqual([
      'gateway.networking.x-k8s.io has no kind "XListenerSet" any more: Gateway API v1.6.1 serves gateway.networking.k8s.io/v1 ListenerSet in its place; the API server would refuse it',
    ]);
  });
  it("a kind of those groups Portcullis does not read, or a kind of another group, is not rejected", () => {
    const { rejected } = toResources([
      raw("gateway.envoyproxy.io/v1alpha1", "EnvoyPatchPolicy"),
      raw("gateway.networking.k8s.io/v1", "TLSRoute"),
      raw("apps/v1", "Deployment"),
    ]);
    expect(rejected).toEqual([]);
  });
  it("an apiVersion that is a group's name without its version is a core version no scheme has: rejected, whatever the kind (a wrong allow if ignored)", () => {
    expect(
      toResources([raw("gateway.envoyproxy.io", "SecurityPolicy"), raw("gateway.envoyproxy.io", "SecurityPolicys")]).rejected.map(
        (r) => r.reason,
      ),
    ).toEqual([
      "no kind SecurityPolicy is registered for gateway.envoyproxy.io in Envoy Gateway, whose file provider refuses the whole load over it (keep only Gateway API, Envoy Gateway and Kubernetes objects in a manifest folder)",
      "no kind SecurityPolicys is registered for gateway.envoyproxy.io in Envoy Gateway, whose file provider refuses the whole load over it (keep only Gateway API, Envoy Gateway and Kubernetes objects in a manifest folder)",
    ]);
  });
});
