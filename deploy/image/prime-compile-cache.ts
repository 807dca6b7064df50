// Fills the image's Node compile cache (Dockerfile, stage compile-cache; run as root). Node 24 keys
// the cache by its version, the V8 flags and the uid (the directory v24.x.y-<arch>-<flags hash>-<uid>)
// and each entry by the module's absolute path and a hash of its source, so the cache is written
// by bin/portcullis itself (its flags), as 65532 (the runtime user), on /app. A start reads a
// directory it cannot write as long as its uid's subdirectory exists and the entries are readable;
// it writes nothing there when nothing changed, and its failed writes are silent.
//
// `serve` in Kubernetes mode loads every module a start loads: the static graph that every command
// loads (about 720 modules) plus runtime/kube.ts and @kubernetes/client-node, imported only in that
// mode (about 940 more; `serve --manifests` loads the first 720 only). Its API server here is an
// address nothing answers: the modules are loaded before the first request, and once the ports
// listen the process is stopped with SIGTERM; it drains and exits, and Node writes the cache at exit.
// Then every entry is given to root and made readable (0644, directories 0755): 65532 reads them
// and cannot change them, even on a writable root filesystem.
import { spawn } from "node:child_process";
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { writeUnreachableKubeconfig } from "./unreachable-kubeconfig.ts";

const APP = "/app";
const CACHE = join(APP, "node_modules/.cache/node-compile-cache");
const UID = 65532;
const GID = 65532;
const TIMEOUT_MS = 120_000;

function fail(message: string): never {
  console.error(`prime-compile-cache: ${message}`);
  process.exit(1);
}

if (process.getuid?.() !== 0) fail("must run as root (it starts Portcullis as 65532 and gives the cache to root)");

mkdirSync(CACHE, { recursive: true });
chownSync(CACHE, UID, GID);
const work = mkdtempSync("/tmp/prime-");
chownSync(work, UID, GID);
const kubeconfig = writeUnreachableKubeconfig(work);

const child = spawn(join(APP, "bin/portcullis"), ["serve", "--kubeconfig", kubeconfig, "--bind-address", "127.0.0.1"], {
  cwd: APP,
  uid: UID,
  gid: GID,
  env: { PATH: process.env.PATH, NODE_ENV: "production", HOME: work },
  stdio: ["ignore", "pipe", "pipe"],
});
let output = "";
let stopped = false;
const timer = setTimeout(() => {
  child.kill("SIGKILL");
  fail(`Portcullis did not listen within ${TIMEOUT_MS / 1000} s; its output:\n${output.slice(-4000)}`);
}, TIMEOUT_MS);
const watch = (chunk: Buffer) => {
  output += chunk.toString();
  if (!stopped && output.includes("Portcullis listening")) {
    stopped = true;
    child.kill("SIGTERM");
  }
};
child.stdout.on("data", watch);
child.stderr.on("data", watch);
const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
clearTimeout(timer);
if (!stopped || code !== 0) fail(`Portcullis exited with ${code} before it was stopped cleanly; its output:\n${output.slice(-4000)}`);

/** Gives every file under dir to root, readable by all; returns how many files there are. */
function handOver(dir: string): number {
  let files = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    chownSync(path, 0, 0);
    if (stat.isDirectory()) {
      chmodSync(path, 0o755);
      files += handOver(path);
    } else {
      chmodSync(path, 0o644);
      files += 1;
    }
  }
  return files;
}
const tags = readdirSync(CACHE);
const entries = handOver(CACHE);
chownSync(CACHE, 0, 0);
chmodSync(CACHE, 0o755);
// Fewer entries than modules means the cache was not written (a start that loads ~1,660 modules
// writes more entries than that: type-stripped sources and V8 code for each .ts).
if (!tags.some((t) => t.endsWith(`-${UID}`)) || entries < 1000)
  fail(`the cache holds ${entries} entries in ${JSON.stringify(tags)}: expected more than 1,000 under one directory for uid ${UID}`);
console.log(`prime-compile-cache: ${entries} entries in ${CACHE}/${tags.join(", ")}`);
