/**
 * A ConfigMap (or Secret) volume as the kubelet's atomic writer lays it out and updates it
 * (kubernetes pkg/volume/util/atomic_writer.go): each version's files in a hidden directory named
 * after its time (`..2026_11_30_22_53_42.Xr3kQ9`), `..data` a symlink to the current one, and each
 * visible name a symlink through it (`keys.yaml -> ..data/keys.yaml`).
 */
import { existsSync, mkdtempSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

/**
 * Makes `files` the volume's contents in the atomic writer's order: the new version's directory is
 * written, `..data_tmp` is pointed at it and renamed over `..data` (the one atomic step), then links
 * for new names are added, links of names gone removed, and the old version's directory removed.
 */
export function writeConfigMapVolume(dir: string, files: Readonly<Record<string, string>>): void {
  const stamp = new Date().toISOString().slice(0, 19).replace(/[-T:]/g, "_");
  // As the kubelet's os.MkdirTemp: a random suffix, so that writers in several processes never collide.
  const version = basename(mkdtempSync(join(dir, `..${stamp}.`)));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, version, name), text);
  const data = join(dir, "..data");
  const previous = existsSync(data) ? readlinkSync(data) : undefined;
  symlinkSync(version, join(dir, "..data_tmp"));
  renameSync(join(dir, "..data_tmp"), data);
  for (const name of Object.keys(files)) if (!existsSync(join(dir, name))) symlinkSync(join("..data", name), join(dir, name));
  for (const name of readdirSync(dir)) if (!name.startsWith(".") && !(name in files)) rmSync(join(dir, name));
  if (previous !== undefined) rmSync(join(dir, previous), { recursive: true });
}
