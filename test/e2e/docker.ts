/**
 * Docker for the container test: the daemon must be reachable (make test starts one with
 * test/e2e/ensure-docker.sh), the image is built exactly as `make image` builds it, and a container
 * can be started with the pod's hardening (read-only root filesystem, no capabilities).
 */
import { execFileSync } from "node:child_process";
import { GenericContainer } from "testcontainers";
import { ROOT } from "./support.ts";

// Ryuk (testcontainers' reaper) is an image from Docker Hub, which cannot be pulled here; every
// container this suite starts is stopped by the suite itself.
process.env.TESTCONTAINERS_RYUK_DISABLED = "true";

export function docker(args: string[], input?: string): string {
  try {
    return execFileSync("docker", args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`docker ${args.join(" ")} failed: ${err.stderr || err.message}`);
  }
}

/** Fails (never skips) with what to do when no Docker daemon answers. */
export function requireDocker(): void {
  try {
    execFileSync("docker", ["info"], { stdio: "ignore" });
  } catch {
    throw new Error(
      "no Docker daemon answers on /var/run/docker.sock: run `make test` (it starts one), or `bash test/e2e/ensure-docker.sh start` as root",
    );
  }
}

/** `make image` for a given tag: assembles the local base images if needed, then `docker build`. Returns the seconds it took. */
export function buildImage(image: string): number {
  const started = Date.now();
  try {
    execFileSync("bash", ["deploy/image/build.sh"], {
      cwd: ROOT,
      env: { ...process.env, IMAGE: image },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string };
    throw new Error(`building ${image} failed:\n${(err.stderr ?? "").split("\n").slice(-40).join("\n")}`);
  }
  return (Date.now() - started) / 1000;
}

/** A container run like the chart runs the pod: read-only root filesystem, every capability dropped, no privilege escalation, /tmp in memory. */
export class HardenedContainer extends GenericContainer {
  constructor(image: string) {
    super(image);
    this.hostConfig.ReadonlyRootfs = true;
    this.withDroppedCapabilities("ALL").withSecurityOpt("no-new-privileges").withTmpFs({ "/tmp": "rw,size=16m" });
  }
}

/** Top-level package folders (`name` or `@scope/name`) of node_modules in the image. */
export function imagePackages(image: string): string[] {
  const script = `const fs = require("fs"); const top = fs.readdirSync("/app/node_modules").filter((n) => !n.startsWith("."));
    console.log(JSON.stringify(top.flatMap((n) => n.startsWith("@") ? fs.readdirSync("/app/node_modules/" + n).map((m) => n + "/" + m) : [n])));`;
  return JSON.parse(docker(["run", "--rm", "--entrypoint", "node", image, "-e", script])) as string[];
}
