import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_LIST_DEPTH } from "../../controller/sources/manifest-text.ts";
import { MAX_MANIFEST_BYTES } from "../../controller/sources/manifest-file.ts";
import { ManifestFolder, type FolderLoad } from "../../controller/sources/manifests.ts";
import { writeConfigMapVolume } from "../support/configmap-volume.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-folder-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const names = (load: FolderLoad | undefined) => load?.objects.map((o) => (o.object as { metadata: { name: string } }).metadata.name);
const secret = (name: string) => `apiVersion: v1\nkind: Secret\nmetadata: {name: ${name}}\n`;
const BROKEN = "kind: Secret\nmetadata: {name: [oops\n";

describe("ManifestFolder.read", () => {
  it("reads multi-document YAML and JSON from every visible file of the folder, whatever its name (Envoy Gateway's file provider's set), skipping hidden entries", () => {
    mkdirSync(join(dir, "..data"));
    writeFileSync(join(dir, "a.yaml"), `${secret("one")}---\n${secret("two")}---\n`);
    writeFileSync(join(dir, "b.json"), JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "three" } }));
    writeFileSync(join(dir, "policies"), secret("four"));
    writeFileSync(join(dir, "policy.txt"), secret("five"));
    writeFileSync(join(dir, "p.yaml~"), secret("six"));
    writeFileSync(join(dir, "..data", "c.yaml"), secret("hidden"));
    writeFileSync(join(dir, ".d.yaml"), secret("hidden-too"));
    const { latest, inForce } = new ManifestFolder(dir).read();
    expect(latest.errors).toEqual([]);
    expect(inForce).toBe(latest);
    expect(latest.objects.map((o) => o.origin)).toEqual(["a.yaml#1", "a.yaml#2", "b.json#1", "p.yaml~#1", "policies#1", "policy.txt#1"]);
    expect(names(latest)).toEqual(["one", "two", "three", "six", "four", "five"]);
  });

  it("reads a file whose name is not UTF-8 (bytes Envoy Gateway's file provider opens as they are), naming it with U+FFFD", () => {
    const name = Buffer.from([0x70, 0xff, 0x2e, 0x79, 0x61, 0x6d, 0x6c]);
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), name]), secret("bytes"));
    const folder = new ManifestFolder(dir);
    const { latest, inForce } = folder.read();
    expect(latest.errors).toEqual([]);
    expect(inForce).toBe(latest);
    expect(latest.objects.map((o) => o.origin)).toEqual(["p\uFFFD.yaml#1"]);
    expect(names(latest)).toEqual(["bytes"]);
    // Its changes are seen without reading it: the next read is put in force only when nothing changed meanwhile.
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), name]), BROKEN);
    expect(folder.read().latest.errors.map((e) => e.file)).toEqual(["p\uFFFD.yaml"]);
  });

  it("a file of any name that is not manifests (a README.md) breaks the folder, named, as a broken .yaml does", () => {
    const folder = new ManifestFolder(dir);
    writeFileSync(join(dir, "p.yaml"), secret("policy"));
    const whole = folder.read();
    writeFileSync(join(dir, "README.md"), "# Our policies\n\nEdit `p.yaml`, then wait a second.\n");
    writeFileSync(join(dir, "NOTES"), "Owned by the platform team.\n");
    const broken = folder.read();
    expect(broken.latest.errors).toEqual([
      { file: "NOTES", error: expect.stringContaining("a manifest document must be a mapping") },
      {
        file: "README.md",
        error:
          "document 1 at line 3 (not an object) is not valid: a manifest document must be a mapping (every entry of the folder that is not hidden or a folder is read as a file of manifests whatever its name, as Envoy Gateway's file provider reads it: if this file is not manifests, move it out of the folder)",
      },
    ]);
    expect(broken.inForce).toBe(whole.latest);
  });

  it("the error of a file whose name does not say manifests (NOTES, a.yaml~, README.md) says every file is read whatever its name; a .yaml's, .yml's or .json's does not", () => {
    writeFileSync(join(dir, "NOTES"), "owner: [platform\n");
    writeFileSync(join(dir, "a.yaml~"), "owner: [platform\n");
    writeFileSync(join(dir, "a.yaml"), "owner: [platform\n");
    writeFileSync(join(dir, "b.YML"), "owner: [platform\n");
    writeFileSync(join(dir, "c.json"), "owner: [platform\n");
    const hinted = (file: string) =>
      new ManifestFolder(dir)
        .read()
        .latest.errors.find((e) => e.file === file)
        ?.error.includes("whatever its name");
    expect(["NOTES", "a.yaml~", "a.yaml", "b.YML", "c.json"].map(hinted)).toEqual([true, true, false, false, false]);
  });

  it("a subfolder holding a file breaks the folder, naming both: Envoy Gateway's file provider reads no subfolder; an empty one, or one of hidden files, is passed over", () => {
    const folder = new ManifestFolder(dir);
    writeFileSync(join(dir, "p.yaml"), secret("policy"));
    mkdirSync(join(dir, "empty", "deeper"), { recursive: true });
    mkdirSync(join(dir, "kept"));
    writeFileSync(join(dir, "kept", ".gitkeep"), "");
    const whole = folder.read();
    expect(whole.latest.errors).toEqual([]);
    expect(whole.inForce).toBe(whole.latest);
    writeFileSync(join(dir, "empty", "deeper", "team.yaml"), secret("team"));
    const broken = folder.read();
    expect(broken.latest.errors).toEqual([
      {
        file: "empty/",
        error:
          "is a subfolder holding empty/deeper/team.yaml: Envoy Gateway's file provider reads no subfolder, so it would enforce nothing there; move its files into the folder itself, or the subfolder out of it",
      },
    ]);
    expect(names(broken.latest)).toEqual(["policy"]);
    expect(broken.inForce).toBe(whole.latest);
    rmSync(join(dir, "empty", "deeper", "team.yaml"));
    expect(folder.read().latest.errors).toEqual([]);
  });

  it("a link to a folder breaks the folder (Envoy Gateway's file provider reads it as a file, and fails), and so do a link to nothing and a pipe", () => {
    const folder = new ManifestFolder(dir);
    writeFileSync(join(dir, "p.yaml"), secret("policy"));
    const whole = folder.read();
    mkdirSync(join(dir, ".team"));
    writeFileSync(join(dir, ".team", "team.yaml"), secret("team"));
    symlinkSync(".team", join(dir, "team"));
    symlinkSync("nowhere.yaml", join(dir, "gone.yaml"));
    execFileSync("mkfifo", [join(dir, "pipe")]);
    const broken = folder.read();
    expect(broken.latest.errors).toEqual([
      { file: "gone.yaml", error: "cannot be read: ENOENT" },
      { file: "pipe", error: expect.stringMatching(/^is not a regular file \(a pipe, socket or device\)/) },
      { file: "team", error: expect.stringMatching(/^is a link to a folder: Envoy Gateway's file provider/) },
    ]);
    expect(names(broken.latest)).toEqual(["policy"]);
    expect(broken.inForce).toBe(whole.latest);
  });

  it("reads a ConfigMap volume through its visible links, once", () => {
    writeConfigMapVolume(dir, { "a.yaml": secret("one"), "b.yaml": secret("two") });
    expect(names(new ManifestFolder(dir).read().latest)).toEqual(["one", "two"]);
  });

  it("reports a broken file with its line; before every file has parsed once, nothing is in force", () => {
    writeFileSync(join(dir, "good.yaml"), secret("good"));
    writeFileSync(join(dir, "bad.yaml"), BROKEN);
    const { latest, inForce } = new ManifestFolder(dir).read();
    expect(names(latest)).toEqual(["good"]);
    expect(latest.errors).toEqual([{ file: "bad.yaml", error: expect.stringMatching(/^line \d+, column \d+: /) }]);
    expect(inForce).toBeUndefined();
  });

  it("keeps the last read where every file parsed in force, whole, while a file does not parse", () => {
    const folder = new ManifestFolder(dir);
    writeFileSync(join(dir, "p.yaml"), secret("last-good"));
    writeFileSync(join(dir, "q.yaml"), secret("q-old"));
    const whole = folder.read();
    expect(whole.inForce).toBe(whole.latest);
    writeFileSync(join(dir, "p.yaml"), BROKEN);
    writeFileSync(join(dir, "q.yaml"), secret("q-new"));
    const broken = folder.read();
    expect(broken.latest.errors.map((e) => e.file)).toEqual(["p.yaml"]);
    expect(broken.inForce).toBe(whole.latest);
    expect(names(broken.inForce)).toEqual(["last-good", "q-old"]);
    writeFileSync(join(dir, "p.yaml"), secret("fixed"));
    expect(names(folder.read().inForce)).toEqual(["fixed", "q-new"]);
  });

  it("an object moved into a file that does not parse stays in force (it would otherwise vanish from both)", () => {
    const folder = new ManifestFolder(dir);
    writeFileSync(join(dir, "a.yaml"), `${secret("moved")}---\n${secret("stays")}`);
    folder.read();
    writeFileSync(join(dir, "a.yaml"), secret("stays"));
    writeFileSync(join(dir, "b.yaml"), `${secret("moved")}---\n${BROKEN}`);
    expect(names(folder.read().inForce)).toEqual(["moved", "stays"]);
  });

  it("a file renamed and broken at once: its contents stay in force under the old name", () => {
    const folder = new ManifestFolder(dir);
    writeFileSync(join(dir, "policy.yaml"), secret("policy"));
    folder.read();
    renameSync(join(dir, "policy.yaml"), join(dir, "policy-v2.yaml"));
    writeFileSync(join(dir, "policy-v2.yaml"), BROKEN);
    const { latest, inForce } = folder.read();
    expect(latest.errors.map((e) => e.file)).toEqual(["policy-v2.yaml"]);
    expect(inForce?.objects.map((o) => o.origin)).toEqual(["policy.yaml#1"]);
  });

  it("an object of a kind it reads that is not valid breaks its file (the folder's last good contents stay); a duplicate does not", () => {
    const folder = new ManifestFolder(dir);
    writeFileSync(join(dir, "p.yaml"), secret("policy"));
    const whole = folder.read();
    writeFileSync(join(dir, "p.yaml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: policy, labels: {version: 1}}\n");
    const invalid = folder.read();
    expect(invalid.latest.errors).toEqual([
      {
        file: "p.yaml",
        error: expect.stringMatching(/^document 1 at line 1 \(Secret default\/policy\) is not valid: metadata\.labels\.version/),
      },
    ]);
    expect(invalid.latest.rejected).toEqual([]);
    expect(invalid.inForce).toBe(whole.latest);
    writeFileSync(join(dir, "p.yaml"), secret("policy"));
    writeFileSync(join(dir, "q.yaml"), secret("policy"));
    const duplicated = folder.read();
    expect(duplicated.latest.errors).toEqual([]);
    expect(duplicated.latest.rejected.map((r) => r.origin)).toEqual(["q.yaml#1"]);
    expect(duplicated.inForce).toBe(duplicated.latest);
  });

  it("an object whose API group has no such kind breaks its file, naming the line, the kind and the group's nearest kind", () => {
    const folder = new ManifestFolder(dir);
    const policy = (kind: string, apiVersion = "gateway.envoyproxy.io/v1alpha1") =>
      `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: p, namespace: apps}\nspec: {}\n`;
    writeFileSync(join(dir, "p.yaml"), `${secret("keys")}---\n${policy("SecurityPolicy")}`);
    const whole = folder.read();
    expect(whole.latest.errors).toEqual([]);
    const misspelt = {
      Securitypolicy: "gateway.envoyproxy.io/v1alpha1",
      SecurityPolicies: "gateway.envoyproxy.io/v1alpha1",
      HttpRoute: "gateway.networking.k8s.io/v1",
      TLSRoutes: "gateway.networking.k8s.io/v1",
      XMeshes: "gateway.networking.x-k8s.io/v1alpha1",
    };
    const nearest = {
      Securitypolicy: "SecurityPolicy",
      SecurityPolicies: "SecurityPolicy",
      HttpRoute: "HTTPRoute",
      TLSRoutes: "TLSRoute",
      XMeshes: "XMesh",
    };
    for (const [kind, apiVersion] of Object.entries(misspelt)) {
      writeFileSync(join(dir, "p.yaml"), `${secret("keys")}---\n${policy(kind, apiVersion)}`);
      const read = folder.read();
      const group = apiVersion.split("/")[0];
      expect(read.latest.errors).toEqual([
        {
          file: "p.yaml",
          error: `document 2 at line 5 (${kind} apps/p) is not valid: ${group} has no kind "${kind}" (the nearest is ${nearest[kind as keyof typeof nearest]}); the API server would refuse it`,
        },
      ]);
      expect(read.inForce).toBe(whole.latest);
    }
    // JSON documents are read by the fast path: their lines are counted too.
    writeFileSync(
      join(dir, "p.yaml"),
      `{"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "k"}}\n---\n\n{"kind": "Securitypolicy",\n"apiVersion": "gateway.envoyproxy.io/v1alpha1"}\n`,
    );
    expect(folder.read().latest.errors).toEqual([
      {
        file: "p.yaml",
        error:
          'document 2 at line 4 (Securitypolicy) is not valid: gateway.envoyproxy.io has no kind "Securitypolicy" (the nearest is SecurityPolicy); the API server would refuse it',
      },
    ]);
    writeFileSync(join(dir, "p.yaml"), "apiVersion: gateway.envoyproxy.io/v1alpha1\nmetadata: {name: p}\n");
    expect(folder.read().latest.errors).toEqual([
      { file: "p.yaml", error: "document 1 at line 1 ((no kind) default/p) is not valid: apiVersion and kind must both be set" },
    ]);
    // A version its group does not serve is as unknown to the API server as a misspelt kind.
    writeFileSync(join(dir, "p.yaml"), policy("SecurityPolicy", "gateway.envoyproxy.io/v1alpha2"));
    expect(folder.read().latest.errors).toEqual([
      {
        file: "p.yaml",
        error:
          "document 1 at line 1 (SecurityPolicy apps/p) is not valid: apiVersion gateway.envoyproxy.io/v1alpha2: SecurityPolicy is served as gateway.envoyproxy.io/v1alpha1 only (Gateway API v1.6.1 and Envoy Gateway v1.9.0's CRDs); the API server would refuse it",
      },
    ]);
  });

  it("an item of a list of a kind it reads breaks its file, naming the item and its line, nested lists expanded: Envoy Gateway's file provider drops a list whole", () => {
    writeFileSync(
      join(dir, "list.yaml"),
      `apiVersion: v1
kind: List
items:
- ${secret("a").trimEnd().replaceAll("\n", "\n  ")}
- apiVersion: v1
  kind: SecretList
  items:
  - metadata: {name: b}
  - ${secret("c").trimEnd().replaceAll("\n", "\n    ")}
- apiVersion: apps/v1
  kind: DeploymentList
  items: null
`,
    );
    writeFileSync(
      join(dir, "list.json"),
      JSON.stringify({ apiVersion: "v1", kind: "List", items: [{ apiVersion: "v1", kind: "Secret", metadata: { name: "d" } }] }),
    );
    const { latest, inForce } = new ManifestFolder(dir).read();
    expect(inForce).toBeUndefined();
    expect(latest.errors.map((e) => `${e.file}: ${e.error.split(":")[0]}`)).toEqual([
      "list.json: document 1.items[0] (Secret default/d) is an item of a list",
      "list.yaml: document 1.items[0] at line 4 (Secret default/a) is an item of a list",
      "list.yaml: document 1.items[1].items[0] at line 10 (Secret default/b) is an item of a list",
      "list.yaml: document 1.items[1].items[1] at line 11 (Secret default/c) is an item of a list",
    ]);
    expect(latest.resources.secrets).toEqual([]);
  });

  it("an item of a cluster-scoped kind (Namespace, GatewayClass) is named without a namespace, as kubectl names it", () => {
    writeFileSync(
      join(dir, "list.yaml"),
      `apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: apps}}
- {apiVersion: gateway.networking.k8s.io/v1, kind: GatewayClass, metadata: {name: eg}, spec: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}}
`,
    );
    expect(new ManifestFolder(dir).read().latest.errors.map((e) => e.error.split(":")[0])).toEqual([
      "document 1.items[0] at line 4 (Namespace apps) is an item of a list",
      "document 1.items[1] at line 5 (GatewayClass eg) is an item of a list",
    ]);
  });

  it("a list of kinds it does not read is passed over, as Envoy Gateway's file provider drops every list", () => {
    writeFileSync(
      join(dir, "list.yaml"),
      "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: apps/v1, kind: Deployment, metadata: {name: d}}\n- {apiVersion: v1, kind: List, items: []}\n",
    );
    const { latest, inForce } = new ManifestFolder(dir).read();
    expect(latest.errors).toEqual([]);
    expect(inForce).toBe(latest);
  });

  it("an item of a list is judged as a top-level object: one not valid or of a misspelt kind breaks its file, naming the item and its line", () => {
    const folder = new ManifestFolder(dir);
    const list = (item: string) =>
      `apiVersion: v1\nkind: List\nitems:\n- {apiVersion: apps/v1, kind: Deployment, metadata: {name: d}}\n- ${item}\n`;
    writeFileSync(join(dir, "p.yaml"), secret("keys"));
    const whole = folder.read();
    expect(whole.latest.errors).toEqual([]);
    const broken = {
      "{apiVersion: gateway.envoyproxy.io/v1alpha1, kind: Securitypolicy, metadata: {name: p}, spec: {}}":
        'document 1.items[1] at line 5 (Securitypolicy default/p) is not valid: gateway.envoyproxy.io has no kind "Securitypolicy" (the nearest is SecurityPolicy); the API server would refuse it',
      "{apiVersion: gateway.envoyproxy.io/v1alpha1, kind: SecurityPolicy, metadata: {name: p, labels: {v: 1}}, spec: {}}":
        "document 1.items[1] at line 5 (SecurityPolicy default/p) is an item of a list",
      "{kind: SecurityPolicy, metadata: {name: p}, spec: {}}":
        "document 1.items[1] at line 5 (SecurityPolicy default/p) is not valid: apiVersion and kind must both be set",
      "just text": "document 1 at line 1: items[1] is not an object: a list's items must be objects",
    };
    for (const [item, error] of Object.entries(broken)) {
      writeFileSync(join(dir, "l.yaml"), list(item));
      const read = folder.read();
      expect(read.latest.errors).toHaveLength(1);
      expect(read.latest.errors[0]!.file).toBe("l.yaml");
      expect(read.latest.errors[0]!.error).toContain(error);
      expect(read.inForce).toBe(whole.latest);
    }
    writeFileSync(join(dir, "l.yaml"), "apiVersion: v1\nkind: List\nitems: {a: 1}\n");
    expect(folder.read().latest.errors).toEqual([
      { file: "l.yaml", error: "document 1 at line 1: items of a list must be a sequence of objects" },
    ]);
    // kubectl would apply the items and drop the policy that holds them: what was meant is not known.
    writeFileSync(
      join(dir, "l.yaml"),
      "apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicy\nmetadata: {name: p}\nitems: []\n",
    );
    expect(folder.read().latest.errors[0]!.error).toContain("document 1 at line 1 (SecurityPolicy) has items");
    const nested = (depth: number): object => ({ apiVersion: "v1", kind: "List", items: depth === 1 ? [] : [nested(depth - 1)] });
    writeFileSync(join(dir, "l.yaml"), JSON.stringify(nested(MAX_LIST_DEPTH)));
    expect(folder.read().latest.errors).toEqual([]);
    writeFileSync(join(dir, "l.yaml"), JSON.stringify(nested(MAX_LIST_DEPTH + 1)));
    expect(folder.read().latest.errors).toEqual([
      { file: "l.yaml", error: `document 1${".items[0]".repeat(MAX_LIST_DEPTH)}: lists nested more than ${MAX_LIST_DEPTH} deep` },
    ]);
  });

  it("holds Secrets without stringData, as Envoy Gateway v1.9.0's file provider (its fake client folds nothing, its translator reads data): a key only there does not exist, a key in both has data's value; one line names the keys, never a value (Kubernetes mode: the API server folds stringData into data, nothing to do)", () => {
    writeFileSync(
      join(dir, "s.yaml"),
      "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: apps}\ndata: {alice: b2xk}\nstringData: {alice: new-alice, bob: bob-key}\n",
    );
    const { latest } = new ManifestFolder(dir).read();
    expect(latest.errors).toEqual([]);
    expect(latest.resources.secrets.map((s) => ({ ...s.data }))).toEqual([{ alice: "old" }]);
    expect(latest.unread).toEqual([
      "s.yaml#1 (Secret apps/s): stringData (alice, bob) is not read in a manifest folder, as Envoy Gateway's file provider reads only data: write each value base64-encoded under data",
    ]);
    writeFileSync(join(dir, "s.yaml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: apps}\nstringData: {alice: 5}\n");
    expect(new ManifestFolder(dir).read().latest.errors[0]?.error).toContain("stringData.alice");
  });

  it("holds objects without labels or creationTimestamp, and ConfigMaps without binaryData, as Envoy Gateway's file provider holds them (no label selects, every object is as old), after validating them", () => {
    writeFileSync(
      join(dir, "a.yaml"),
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: team-web, labels: {team: web}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: apps, creationTimestamp: "2020-01-01T00:00:00Z", labels: {a: b}, annotations: {portcullis.io/x: y, other: z}}\n`,
    );
    const folder = new ManifestFolder(dir);
    const { latest } = folder.read();
    expect(latest.errors).toEqual([]);
    expect(latest.resources.namespaces.map((n) => n.metadata)).toEqual([expect.objectContaining({ name: "team-web", labels: undefined })]);
    expect(latest.resources.secrets.map((s) => s.metadata)).toEqual([
      expect.objectContaining({ name: "s", labels: undefined, creationTimestamp: undefined, annotations: { "portcullis.io/x": "y" } }),
    ]);
    writeFileSync(
      join(dir, "b.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m, namespace: apps}\ndata: {a: x}\nbinaryData: {b: eQ==}\n",
    );
    expect(folder.read().latest.resources.configMaps.map((m) => m.data)).toEqual([{ a: "x" }]);
    writeFileSync(
      join(dir, "b.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m, namespace: apps}\nbinaryData: {b: 'not base64'}\n",
    );
    expect(folder.read().latest.errors[0]?.error).toContain("binaryData.b is not valid base64");
    rmSync(join(dir, "b.yaml"));
    writeFileSync(join(dir, "a.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-web, labels: {version: 1}}\n");
    expect(folder.read().latest.errors[0]?.error).toContain("metadata.labels.version");
  });

  it("an object without a namespace beside one naming default or envoy-gateway-system breaks the folder: Envoy Gateway's file provider puts it in envoy-gateway-system, kubectl in default", () => {
    const folder = new ManifestFolder(dir);
    writeFileSync(join(dir, "a.yaml"), secret("keys"));
    writeFileSync(join(dir, "b.yaml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: other, namespace: apps}\n");
    const whole = folder.read();
    expect(whole.latest.errors).toEqual([]);
    const policy = (namespace: string, ref: string) =>
      `apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicy\nmetadata: {name: p${namespace}}\nspec:\n  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]\n  apiKeyAuth: {credentialRefs: [{name: keys${ref}}], extractFrom: [{headers: [X-API-Key]}]}\n`;
    const naming = {
      "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: envoy-gateway-system}\n":
        "document 1 at line 1 (Secret s) names namespace envoy-gateway-system while a.yaml#1 has none",
      "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\n":
        "(Secret s) names namespace default while a.yaml#1 has none",
      [policy("", ", namespace: envoy-gateway-system")]: "(SecurityPolicy p) names namespace envoy-gateway-system while a.yaml#1 has none",
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n": "(Namespace default) names namespace default while a.yaml#1 has none",
    };
    for (const [text, error] of Object.entries(naming)) {
      writeFileSync(join(dir, "c.yaml"), text);
      const read = folder.read();
      expect(read.latest.errors).toHaveLength(1);
      expect(read.latest.errors[0]!.file).toBe("c.yaml");
      expect(read.latest.errors[0]!.error).toContain(error);
      expect(read.inForce).toBe(whole.latest);
    }
    // Other namespaces, a label value, and a cluster-scoped object without one are no naming.
    writeFileSync(
      join(dir, "c.yaml"),
      `${policy("", ", namespace: apps")}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: m, namespace: apps, labels: {namespace: default}}\n`,
    );
    expect(folder.read().latest.errors).toEqual([]);
    // Every object with its namespace written out: nothing is read two ways.
    writeFileSync(join(dir, "a.yaml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: keys, namespace: default}\n");
    writeFileSync(join(dir, "c.yaml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: envoy-gateway-system}\n");
    expect(folder.read().latest.errors).toEqual([]);
  });

  it("objects of Envoy Gateway's scheme it loads and does not use are ignored: kinds of its groups Portcullis does not read (at a version served), and client-go's groups", () => {
    const documents = [
      ["gateway.envoyproxy.io/v1alpha1", "EnvoyProxy"],
      ["gateway.networking.k8s.io/v1", "TCPRoute"],
      ["gateway.networking.k8s.io/v1alpha2", "UDPRoute"],
      ["gateway.networking.x-k8s.io/v1alpha1", "XMesh"],
      ["apps/v1", "Deployment"],
      ["multicluster.x-k8s.io/v1alpha1", "ServiceImport"],
      ["apiextensions.k8s.io/v1", "CustomResourceDefinition"],
      ["v1", "ServiceAccount"],
    ].map(([apiVersion, kind]) => `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: x}\n`);
    writeFileSync(join(dir, "other.yaml"), documents.join("---\n"));
    const { latest, inForce } = new ManifestFolder(dir).read();
    expect(latest.errors).toEqual([]);
    expect(latest.objects).toHaveLength(documents.length);
    expect(inForce).toBe(latest);
  });

  it("an object of a group Envoy Gateway's scheme lacks (an Istio Gateway, a misspelt group with a misspelt kind) breaks its file, as its file provider refuses the whole load", () => {
    const folder = new ManifestFolder(dir);
    writeFileSync(join(dir, "keys.yaml"), secret("keys"));
    const whole = folder.read();
    for (const [apiVersion, kind] of [
      ["networking.istio.io/v1", "Gateway"],
      ["gateway.networking.istio.io/v1", "HTTPRoute"],
      ["gateway.envoyprxy.io/v1alpha1", "SecurityPolicy"],
      ["gateway.envoyprxy.io/v1alpha1", "Securitypolicy"],
      ["example.com/v1", "Widget"],
    ]) {
      writeFileSync(join(dir, "other.yaml"), `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: x, namespace: apps}\n`);
      const read = folder.read();
      expect(read.latest.errors).toEqual([
        {
          file: "other.yaml",
          error: `document 1 at line 1 (${kind} apps/x) is not valid: no kind ${kind} is registered for ${apiVersion} in Envoy Gateway, whose file provider refuses the whole load over it (keep only Gateway API, Envoy Gateway and Kubernetes objects in a manifest folder)`,
        },
      ]);
      expect(read.inForce).toBe(whole.latest);
    }
  });

  describe("the versions served by the Gateway API v1.6.1 CRDs Envoy Gateway v1.9.0 ships, and only those", () => {
    const object = (apiVersion: string, kind: string, spec: string) =>
      `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: x, namespace: apps}\nspec: ${spec}\n`;
    const GRANT = "{from: [{group: gateway.envoyproxy.io, kind: SecurityPolicy, namespace: apps}], to: [{group: '', kind: Secret}]}";
    const GRPC_ROUTE = "{parentRefs: [{name: gw}]}";
    const TLS_POLICY =
      "{targetRefs: [{group: '', kind: Service, name: s}], validation: {hostname: s.example, wellKnownCACertificates: System}}";
    const LISTENER_SET = "{parentRef: {name: gw}, listeners: [{name: l, port: 8080, protocol: HTTP}]}";
    const read = (text: string) => {
      writeFileSync(join(dir, "x.yaml"), text);
      return new ManifestFolder(dir).read().latest;
    };
    it("ReferenceGrant v1 (served since Gateway API v1.5) is read, as v1beta1 is", () => {
      for (const version of ["v1", "v1beta1"]) {
        const latest = read(object(`gateway.networking.k8s.io/${version}`, "ReferenceGrant", GRANT));
        expect(latest.errors).toEqual([]);
        expect(latest.resources.referenceGrants).toHaveLength(1);
      }
    });
    for (const [apiVersion, kind, spec, served] of [
      ["gateway.networking.k8s.io/v1alpha2", "ReferenceGrant", GRANT, "gateway.networking.k8s.io/v1, gateway.networking.k8s.io/v1beta1"],
      ["gateway.networking.k8s.io/v1alpha2", "GRPCRoute", GRPC_ROUTE, "gateway.networking.k8s.io/v1"],
      [
        "gateway.networking.k8s.io/v1alpha2",
        "BackendTLSPolicy",
        TLS_POLICY,
        "gateway.networking.k8s.io/v1, gateway.networking.k8s.io/v1alpha3",
      ],
    ] as const) {
      it(`${kind} ${apiVersion} (no longer served) breaks its file, naming the versions served`, () => {
        expect(read(object(apiVersion, kind, spec)).errors).toEqual([
          {
            file: "x.yaml",
            error: `document 1 at line 1 (${kind} apps/x) is not valid: apiVersion ${apiVersion}: ${kind} is served as ${served} only (Gateway API v1.6.1 and Envoy Gateway v1.9.0's CRDs); the API server would refuse it`,
          },
        ]);
      });
    }
    it("the experimental XListenerSet and ListenerSet of gateway.networking.x-k8s.io (no longer served; Envoy Gateway v1.9.0 reads neither) break their file", () => {
      for (const kind of ["XListenerSet", "ListenerSet"]) {
        const latest = read(object("gateway.networking.x-k8s.io/v1alpha1", kind, LISTENER_SET));
        expect(latest.errors).toHaveLength(1);
        expect(latest.errors[0]!.error).toContain(`(${kind} apps/x) is not valid: gateway.networking.x-k8s.io has no kind "${kind}"`);
      }
    });
    it("a ListenerSet (gateway.networking.k8s.io/v1, which the Kubernetes source reads) breaks its file: Envoy Gateway's file provider does not load it", () => {
      const latest = read(`${secret("keys")}---\n${object("gateway.networking.k8s.io/v1", "ListenerSet", LISTENER_SET)}`);
      expect(latest.errors).toEqual([
        {
          file: "x.yaml",
          error:
            "document 2 at line 5 (ListenerSet apps/x) is not loaded: Envoy Gateway's file provider does not load ListenerSet, so its listeners would not exist for Envoy Gateway; put them on the Gateway itself (ListenerSets are read in Kubernetes mode)",
        },
      ]);
      expect(latest.resources.listenerSets).toEqual([]);
      expect(latest.resources.secrets).toHaveLength(1);
    });
  });

  it("a second copy of an object that differs from the first breaks its file; files are read in code-unit order, whatever the locale", () => {
    const folder = new ManifestFolder(dir);
    for (const name of ["z.yaml", "B.yaml", "a.yaml"]) writeFileSync(join(dir, name), secret(name));
    writeFileSync(join(dir, "\u00e4.yaml"), secret("\u00e4"));
    const whole = folder.read();
    // localeCompare would give a, ä, B, z in English and a, B, z, ä in Swedish.
    expect(whole.latest.objects.map((o) => o.origin)).toEqual(["B.yaml#1", "a.yaml#1", "z.yaml#1", "\u00e4.yaml#1"]);
    writeFileSync(join(dir, "\u00e4.yaml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: a.yaml, labels: {copy: other}}\n");
    const differing = folder.read();
    expect(differing.latest.errors).toEqual([
      {
        file: "\u00e4.yaml",
        error: "document 1 at line 1 (Secret default/a.yaml) differs from its other copy in a.yaml#1: which one is meant is not known",
      },
    ]);
    expect(differing.inForce).toBe(whole.latest);
  });

  it("links to the folder itself, and a loop of links, break the folder at once: no link is walked into", () => {
    writeFileSync(join(dir, "a.yaml"), secret("one"));
    symlinkSync(".", join(dir, "l1"));
    symlinkSync(".", join(dir, "l2"));
    symlinkSync("loop", join(dir, "loop"));
    const { latest } = new ManifestFolder(dir).read();
    expect(latest.errors.map((e) => `${e.file}: ${e.error.split(":")[0]}`)).toEqual([
      "l1: is a link to a folder",
      "l2: is a link to a folder",
      "loop: cannot be read",
    ]);
    expect(latest.errors[2]!.error).toBe("cannot be read: ELOOP");
    expect(names(latest)).toEqual(["one"]);
  });

  it("the folder replaced by a file is unreadable (its error says it is not a folder), never read as an empty folder", () => {
    const folder = new ManifestFolder(join(dir, "manifests"));
    mkdirSync(join(dir, "manifests"));
    writeFileSync(join(dir, "manifests", "p.yaml"), secret("policy"));
    expect(names(folder.read().inForce)).toEqual(["policy"]);
    rmSync(join(dir, "manifests"), { recursive: true });
    writeFileSync(join(dir, "manifests"), secret("policy"));
    expect(() => folder.read()).toThrow(/manifests is not a folder$/);
  });

  it("a deleted file's objects leave with it", () => {
    const folder = new ManifestFolder(dir);
    writeFileSync(join(dir, "p.yaml"), secret("gone-soon"));
    folder.read();
    unlinkSync(join(dir, "p.yaml"));
    expect(names(folder.read().inForce)).toEqual([]);
  });

  it("a read the folder changed during (ConfigMap volume swaps meanwhile) is flagged and never put in force", async () => {
    // Two versions of one volume: a policy in a.yaml, or moved to z.yaml. Between them, m.yaml is
    // slow to parse, so a swap in another process often falls between reading a.yaml and z.yaml:
    // read as one version, such a read would hold the policy twice, or not at all.
    const filler = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: filler}\ndata:\n${Array.from({ length: 1000 }, (_, i) => `  k${i}: v${i}\n`).join("")}`;
    const versions = [
      { "a.yaml": secret("policy"), "m.yaml": filler, "z.yaml": "" },
      { "a.yaml": "", "m.yaml": filler, "z.yaml": secret("policy") },
    ];
    writeConfigMapVolume(dir, versions[0]!);
    const helper = join(import.meta.dirname, "../support/configmap-volume.ts");
    // Hidden: the folder's reader skips it, the volume's writer leaves it.
    writeFileSync(join(dir, ".versions.json"), JSON.stringify(versions));
    const loop = `import { readFileSync } from "node:fs";
import { writeConfigMapVolume } from ${JSON.stringify(helper)};
const dir = process.argv[1];
const versions = JSON.parse(readFileSync(dir + "/.versions.json", "utf8"));
writeConfigMapVolume(dir, versions[1]);
process.stdout.write("swapping\\n");
for (let i = 2; ; i++) writeConfigMapVolume(dir, versions[i % 2]);`;
    const writer = spawn(process.execPath, ["--input-type=module", "-e", loop, dir], { stdio: ["ignore", "pipe", "ignore"] });
    const folder = new ManifestFolder(dir);
    const counts = { reads: 0, flagged: 0 };
    try {
      // Reads begin once the writer swaps (a busy host may take seconds to start it), and go on for 2 s
      // and until one is flagged, within the test's time.
      await new Promise((resolve) => writer.stdout!.once("data", resolve));
      const start = Date.now();
      for (; Date.now() < start + 2000 || (counts.flagged === 0 && Date.now() < start + 30_000); counts.reads++) {
        const read = folder.read();
        if (read.changedWhileRead) counts.flagged++;
        else expect(names(read.latest)?.filter((n) => n === "policy")).toEqual(["policy"]);
        expect(names(read.inForce)?.filter((n) => n === "policy") ?? ["policy"]).toEqual(["policy"]);
      }
    } finally {
      // The folder is removed after the test: the writer must have stopped writing into it by then.
      const exited = new Promise((resolve) => writer.once("exit", resolve));
      writer.kill();
      await exited;
    }
    expect(counts.flagged, `reads ${counts.reads}`).toBeGreaterThan(0);
  }, 60_000);

  it("refuses a merge key (<<), which Kubernetes' YAML 1.1 reader merges and YAML 1.2 does not, naming its line and column; a quoted '<<' is a key", () => {
    writeFileSync(join(dir, "plain.yaml"), "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  <<: {namespace: apps}\n");
    writeFileSync(join(dir, "tagged.yaml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: b, !!merge <<: {namespace: apps}}\n");
    writeFileSync(join(dir, "quoted.yaml"), `${secret("c")}stringData: {"<<": x}\n---\n${secret("d")}stringData: {!!str <<: y}\n`);
    const { latest } = new ManifestFolder(dir).read();
    expect(latest.errors).toEqual([
      { file: "plain.yaml", error: expect.stringMatching(/^line 5, column 3: a merge key \(<<\) is not read/) },
      { file: "tagged.yaml", error: expect.stringMatching(/^line 3, column 29: a merge key/) },
    ]);
    expect(names(latest)).toEqual(["c", "d"]);
  });

  it("refuses a line beginning with '---' and more than a comment, which Kubernetes' YAML reader refuses; '---' with a comment or blanks splits", () => {
    writeFileSync(join(dir, "inline.yaml"), `${secret("a")}--- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n`);
    writeFileSync(join(dir, "glued.yaml"), `${secret("c")}---apiVersion: v1\n`);
    writeFileSync(join(dir, "fine.yaml"), `---\n${secret("d")}--- # next\r\n${secret("e")}---  \n${secret("f")}`);
    const { latest } = new ManifestFolder(dir).read();
    expect(latest.errors).toEqual([
      { file: "glued.yaml", error: expect.stringMatching(/^line 4: a line beginning with '---' holds more than a document marker/) },
      { file: "inline.yaml", error: expect.stringMatching(/^line 4: /) },
    ]);
    expect(names(latest)).toEqual(["d", "e", "f"]);
  });

  it("refuses a document after '...' without a '---' line before it (Kubernetes' reader reads one document per part and drops it)", () => {
    writeFileSync(join(dir, "ended.yaml"), `${secret("a")}...\n${secret("b")}`);
    writeFileSync(join(dir, "split.yaml"), `${secret("c")}...\n---\n${secret("d")}...\n`);
    const { latest } = new ManifestFolder(dir).read();
    expect(latest.errors).toEqual([{ file: "ended.yaml", error: expect.stringMatching(/^line 5, column 1: .*would drop this document/) }]);
    expect(names(latest)).toEqual(["c", "d"]);
  });

  it("refuses alias bombs and oversized files", () => {
    const bomb = [
      "a: &a [x,x,x,x,x,x,x,x,x]",
      ...Array.from({ length: 8 }, (_, i) => `${"bcdefghi"[i]}: &${"bcdefghi"[i]} [${Array(9).fill(`*${"abcdefgh"[i]}`).join(",")}]`),
    ].join("\n");
    writeFileSync(join(dir, "bomb.yaml"), bomb);
    writeFileSync(join(dir, "big.yaml"), "#".repeat(MAX_MANIFEST_BYTES + 1));
    const { latest } = new ManifestFolder(dir).read();
    expect(latest.errors.map((e) => e.file).sort()).toEqual(["big.yaml", "bomb.yaml"]);
    expect(latest.errors.find((e) => e.file === "big.yaml")?.error).toMatch(/^larger than 4194304 bytes, .*: split it$/);
  });
});

/** Counts watch() calls; `next()` resolves at the next one, or rejects after `ms`. */
function watched(folder: ManifestFolder, options: { debounceMs?: number; pollMs?: number }) {
  let calls = 0;
  let waiting: (() => void) | undefined;
  const stop = folder.watch(() => {
    calls++;
    waiting?.();
  }, options);
  return {
    stop,
    calls: () => calls,
    next: (ms: number) =>
      new Promise<number>((resolve, reject) => {
        const started = Date.now();
        const timer = setTimeout(() => reject(new Error(`no change reported within ${ms} ms`)), ms);
        waiting = () => {
          clearTimeout(timer);
          waiting = undefined;
          resolve(Date.now() - started);
        };
      }),
  };
}

// The poll is set far beyond each test's length where the directory watches alone must see the change.
const NO_POLL = { debounceMs: 20, pollMs: 600_000 };

describe("ManifestFolder.watch", () => {
  it("reports a change once per burst", async () => {
    const w = watched(new ManifestFolder(dir), { debounceMs: 100 });
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, `f${i}.yaml`), "kind: Secret\n");
    await new Promise((r) => setTimeout(r, 400));
    w.stop();
    expect(w.calls()).toBe(1);
  });

  it("sees a file replaced by rename every time, and written in place after that, without the poll", async () => {
    writeFileSync(join(dir, "keys.yaml"), secret("v0"));
    const w = watched(new ManifestFolder(dir), NO_POLL);
    try {
      for (let i = 1; i <= 3; i++) {
        const seen = w.next(2000);
        writeFileSync(join(dir, ".keys.yaml.tmp"), secret(`renamed-${i}`));
        renameSync(join(dir, ".keys.yaml.tmp"), join(dir, "keys.yaml"));
        await seen;
        const inPlace = w.next(2000);
        writeFileSync(join(dir, "keys.yaml"), secret(`in-place-${i}`));
        await inPlace;
      }
    } finally {
      w.stop();
    }
  });

  it("sees each swap of a ConfigMap volume's ..data link, without the poll", async () => {
    writeConfigMapVolume(dir, { "keys.yaml": secret("v0") });
    const folder = new ManifestFolder(dir);
    const w = watched(folder, NO_POLL);
    try {
      for (let i = 1; i <= 3; i++) {
        const seen = w.next(2000);
        writeConfigMapVolume(dir, { "keys.yaml": secret(`v${i}`), ...(i === 2 ? { "added.yaml": secret("added") } : {}) });
        await seen;
        // A burst's later steps (links added or removed) may come after the debounce: wait for quiet.
        await new Promise((r) => setTimeout(r, 100));
        expect(names(folder.read().latest)).toEqual(i === 2 ? ["added", `v${i}`] : [`v${i}`]);
      }
    } finally {
      w.stop();
    }
  });

  it("reports an entry of any name added or removed (policy.txt, README.md, p.yaml~) and a new subfolder, without the poll", async () => {
    const w = watched(new ManifestFolder(dir), NO_POLL);
    try {
      for (const name of ["policy.txt", "README.md", "p.yaml~"]) {
        let seen = w.next(2000);
        writeFileSync(join(dir, name), secret("x"));
        await seen;
        seen = w.next(2000);
        unlinkSync(join(dir, name));
        await seen;
      }
      const seen = w.next(2000);
      mkdirSync(join(dir, "team"));
      await seen;
    } finally {
      w.stop();
    }
  });

  it("watches a directory created after it started, and one that replaced another of the same name", async () => {
    const w = watched(new ManifestFolder(dir), NO_POLL);
    try {
      let seen = w.next(2000);
      mkdirSync(join(dir, "team-a"));
      await seen;
      seen = w.next(2000);
      writeFileSync(join(dir, "team-a", "p.yaml"), secret("a"));
      await seen;
      seen = w.next(2000);
      mkdirSync(join(dir, ".team-a.new"));
      writeFileSync(join(dir, ".team-a.new", "p.yaml"), secret("a2"));
      rmSync(join(dir, "team-a"), { recursive: true });
      renameSync(join(dir, ".team-a.new"), join(dir, "team-a"));
      await seen;
      seen = w.next(2000);
      writeFileSync(join(dir, "team-a", "p.yaml"), secret("a3"));
      await seen;
    } finally {
      w.stop();
    }
  });

  it("the poll notices what no directory watch reports: a file written in place behind a link into a hidden directory", async () => {
    mkdirSync(join(dir, ".store"));
    writeFileSync(join(dir, ".store", "keys.yaml"), secret("v0"));
    symlinkSync(join(".store", "keys.yaml"), join(dir, "keys.yaml"));
    const w = watched(new ManifestFolder(dir), { debounceMs: 20, pollMs: 200 });
    try {
      const seen = w.next(2000);
      writeFileSync(join(dir, ".store", "keys.yaml"), secret("v1-longer"));
      expect(await seen).toBeLessThan(1000);
    } finally {
      w.stop();
    }
  });

  it("stops reporting once stopped", async () => {
    const w = watched(new ManifestFolder(dir), { debounceMs: 20, pollMs: 50 });
    w.stop();
    writeFileSync(join(dir, "late.yaml"), secret("late"));
    await new Promise((r) => setTimeout(r, 300));
    expect(w.calls()).toBe(0);
  });
});
