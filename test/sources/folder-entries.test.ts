import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { scanFolder, signatureOf, type FolderScan } from "../../controller/sources/folder-entries.ts";
import { ManifestFolder } from "../../controller/sources/manifests.ts";

/** Folders whose listing fails with EACCES, as a volume's root-owned `lost+found` does for a non-root process (tests run as root too). */
const unlistable = vi.hoisted(() => new Set<string>());
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const readdirSync = ((path: string, options?: unknown) => {
    if (unlistable.has(String(path))) throw Object.assign(new Error(`EACCES: permission denied, scandir '${path}'`), { code: "EACCES" });
    return fs.readdirSync(path, options as never);
  }) as typeof fs.readdirSync;
  return { ...fs, default: { ...fs, readdirSync }, readdirSync };
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-entries-"));
});
afterEach(() => {
  unlistable.clear();
  rmSync(dir, { recursive: true, force: true });
});

/** The entries as "name" (a file) or "name/ holds path" (a subfolder), relative to the folder. */
const shown = (scan: FolderScan) =>
  scan.entries.map((e) => {
    const name = e.path.slice(dir.length + 1);
    return e.kind === "file" ? name : `${name}/ holds ${e.holds.slice(dir.length + 1)}`;
  });

describe("scanFolder", () => {
  it("lists every visible entry that is not a folder, whatever its name, in code-unit order; hidden entries are not listed", () => {
    for (const name of ["policy.txt", "README.md", "p.yaml~", "policies", "B.json", "a.yaml", ".hidden.yaml"])
      writeFileSync(join(dir, name), "");
    mkdirSync(join(dir, "..data"));
    writeFileSync(join(dir, "..data", "x.yaml"), "");
    expect(shown(scanFolder(dir))).toEqual(["B.json", "README.md", "a.yaml", "p.yaml~", "policies", "policy.txt"]);
  });

  it("a link is an entry of its own, whatever it links to (a folder, nothing): none is followed", () => {
    mkdirSync(join(dir, ".store"));
    writeFileSync(join(dir, ".store", "p.yaml"), "");
    symlinkSync(join(".store", "p.yaml"), join(dir, "p.yaml"));
    symlinkSync(".store", join(dir, "store"));
    symlinkSync("nowhere", join(dir, "gone"));
    const scan = scanFolder(dir);
    expect(shown(scan)).toEqual(["gone", "p.yaml", "store"]);
    expect([...scan.directories.keys()]).toEqual([dir]);
  });

  it("a subfolder is listed when it holds a visible entry that is not a folder, at any depth (the first in name order); its folders listed are watched", () => {
    mkdirSync(join(dir, "empty", "deeper"), { recursive: true });
    mkdirSync(join(dir, "kept"));
    writeFileSync(join(dir, "kept", ".gitkeep"), "");
    mkdirSync(join(dir, "team", "a"), { recursive: true });
    mkdirSync(join(dir, "team", "b"));
    writeFileSync(join(dir, "team", "b", "z.yaml"), "");
    writeFileSync(join(dir, "team", "b", "c.yaml"), "");
    symlinkSync("..", join(dir, "kept", "up"));
    const scan = scanFolder(dir);
    expect(shown(scan)).toEqual(["kept/ holds kept/up", "team/ holds team/b/c.yaml"]);
    expect([...scan.directories.keys()].map((d) => d.slice(dir.length))).toEqual([
      "",
      "/empty",
      "/empty/deeper",
      "/kept",
      "/team",
      "/team/a",
      "/team/b",
    ]);
  });

  it("a subfolder that cannot be listed (a volume's lost+found) is passed over, as Envoy Gateway passes over every subfolder; the folder stays readable", () => {
    writeFileSync(join(dir, "p.yaml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: p}\n");
    mkdirSync(join(dir, "lost+found"));
    writeFileSync(join(dir, "lost+found", "#1234"), "");
    unlistable.add(join(dir, "lost+found"));
    expect(shown(scanFolder(dir))).toEqual(["p.yaml"]);
    const { latest, inForce } = new ManifestFolder(dir).read();
    expect(latest.errors).toEqual([]);
    expect(inForce?.resources.secrets.map((s) => s.metadata.name)).toEqual(["p"]);
  });

  it("the folder itself that cannot be listed throws", () => {
    unlistable.add(dir);
    expect(() => scanFolder(dir)).toThrow(/EACCES/);
  });
});

describe("signatureOf", () => {
  it("changes when a file is added, removed or rewritten, or a subfolder gains a file; not when nothing changed", () => {
    const now = () => signatureOf(scanFolder(dir));
    const seen = [now()];
    writeFileSync(join(dir, "notes.txt"), "a");
    seen.push(now());
    writeFileSync(join(dir, "notes.txt"), "ab");
    seen.push(now());
    mkdirSync(join(dir, "team"));
    seen.push(now());
    writeFileSync(join(dir, "team", "p.yaml"), "");
    seen.push(now());
    rmSync(join(dir, "notes.txt"));
    seen.push(now());
    expect(new Set(seen).size).toBe(seen.length);
    expect(now()).toBe(seen.at(-1));
  });

  it("names a link that cannot be followed (a loop) instead of throwing", () => {
    symlinkSync("loop", join(dir, "loop"));
    expect(signatureOf(scanFolder(dir))).toContain(`${join(dir, "loop")} ELOOP`);
  });
});
