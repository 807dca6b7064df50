import { mkdirSync, mkdtempSync, rmSync, writeFileSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManifestFolder, MAX_MANIFEST_BYTES } from "../../controller/sources/manifests.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-folder-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const kinds = (folder: ManifestFolder) =>
  folder.load().objects.map((o) => (o.object as { kind: string; metadata: { name: string } }).metadata.name);

describe("ManifestFolder", () => {
  it("reads multi-document YAML and JSON recursively, skipping hidden entries and other files", () => {
    mkdirSync(join(dir, "nested"));
    mkdirSync(join(dir, "..data"));
    writeFileSync(join(dir, "a.yaml"), "kind: Secret\nmetadata: {name: one}\n---\nkind: Secret\nmetadata: {name: two}\n---\n");
    writeFileSync(join(dir, "nested", "b.json"), JSON.stringify({ kind: "Secret", metadata: { name: "three" } }));
    writeFileSync(join(dir, "..data", "c.yaml"), "kind: Secret\nmetadata: {name: hidden}\n");
    writeFileSync(join(dir, "notes.txt"), "kind: Secret");
    const folder = new ManifestFolder(dir);
    expect(kinds(folder)).toEqual(["one", "two", "three"]);
    expect(folder.load().objects.map((o) => o.origin)).toEqual(["a.yaml#1", "a.yaml#2", "nested/b.json#1"]);
  });

  it("reports a broken file with its line and loads the others", () => {
    writeFileSync(join(dir, "good.yaml"), "kind: Secret\nmetadata: {name: good}\n");
    writeFileSync(join(dir, "bad.yaml"), "kind: Secret\nmetadata: {name: [oops\n");
    const load = new ManifestFolder(dir).load();
    expect(load.objects).toHaveLength(1);
    expect(load.errors).toEqual([{ file: "bad.yaml", error: expect.stringMatching(/^line \d+, column \d+: /), keptLastGood: false }]);
  });

  it("keeps a file's last good contents while it is broken, and forgets deleted files", () => {
    const folder = new ManifestFolder(dir);
    writeFileSync(join(dir, "p.yaml"), "kind: Secret\nmetadata: {name: last-good}\n");
    expect(kinds(folder)).toEqual(["last-good"]);
    writeFileSync(join(dir, "p.yaml"), "kind: Secret\nmetadata: {name: [oops\n");
    const broken = folder.load();
    expect(broken.errors[0]!.keptLastGood).toBe(true);
    expect(broken.objects.map((o) => (o.object as { metadata: { name: string } }).metadata.name)).toEqual(["last-good"]);
    unlinkSync(join(dir, "p.yaml"));
    expect(kinds(folder)).toEqual([]);
  });

  it("refuses alias bombs and oversized files", () => {
    const bomb = [
      "a: &a [x,x,x,x,x,x,x,x,x]",
      ...Array.from({ length: 8 }, (_, i) => `${"bcdefghi"[i]}: &${"bcdefghi"[i]} [${Array(9).fill(`*${"abcdefgh"[i]}`).join(",")}]`),
    ].join("\n");
    writeFileSync(join(dir, "bomb.yaml"), bomb);
    writeFileSync(join(dir, "big.yaml"), "#".repeat(MAX_MANIFEST_BYTES + 1));
    const load = new ManifestFolder(dir).load();
    expect(load.errors.map((e) => e.file).sort()).toEqual(["big.yaml", "bomb.yaml"]);
  });

  it("watch() reports a change once per burst", async () => {
    const folder = new ManifestFolder(dir);
    let calls = 0;
    const stop = folder.watch(() => calls++, 100);
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, `f${i}.yaml`), "kind: Secret\n");
    await new Promise((r) => setTimeout(r, 400));
    stop();
    expect(calls).toBe(1);
  });
});
