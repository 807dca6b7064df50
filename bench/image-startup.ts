/**
 * Start-up in the container image with and without its primed compile cache (Dockerfile, stage
 * compile-cache): the same image as is ("cache") and with the cache turned off by
 * NODE_DISABLE_COMPILE_CACHE=1 ("none"), and with --before an image built without the stage as is
 * ("before"), taking turns in every round (the order reversed every other round). Containers run as the chart runs
 * the pod and test/e2e/image.test.ts runs them: read-only root filesystem, every capability dropped,
 * no-new-privileges, /tmp in memory, user 65532. Per start, of the container's process (bin/portcullis
 * execs node: PID 1, read from the host's /proc):
 *   serve       `serve --manifests` on deploy/examples: seconds from the process' start to /readyz
 *               200, its CPU seconds and RSS (MiB) then
 *   kube        `serve` in Kubernetes mode (a kubeconfig whose API server does not answer, so it
 *               loads runtime/kube.ts and @kubernetes/client-node but never becomes ready): seconds
 *               and CPU seconds to /healthz 200 (the ports listen once every module is loaded)
 *   version     `bin/portcullis version`: CPU seconds (the shell's children's, from /proc/$$/stat)
 *
 *   node bench/image-startup.ts [--image portcullis:dev] [--before IMAGE] [--rounds 5]
 *
 * The image is built by `make image` (deploy/image/build.sh); the Docker daemon must answer.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeUnreachableKubeconfig } from "../deploy/image/unreachable-kubeconfig.ts";

const ROOT = join(import.meta.dirname, "..");
const EXAMPLES = join(ROOT, "deploy/examples");
/** Linux' USER_HZ: /proc/<pid>/stat counts CPU time and the start time in these. */
const TICKS = 100;

const { values } = parseArgs({
  options: {
    image: { type: "string", default: "portcullis:dev" },
    before: { type: "string" },
    rounds: { type: "string", default: "5" },
  },
});
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, not ${values.rounds}`);

const docker = (args: string[]) => execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
const HARDENED = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--tmpfs", "/tmp:rw,size=16m"];
/** Each variant: its image and the `docker run` options that make it. */
const VARIANTS: Record<string, { image: string; options: string[] }> = {
  cache: { image: values.image, options: [] },
  none: { image: values.image, options: ["-e", "NODE_DISABLE_COMPILE_CACHE=1"] },
  ...(values.before === undefined ? {} : { before: { image: values.before, options: [] } }),
};
type Variant = string;

const work = mkdtempSync(join(tmpdir(), "portcullis-image-startup-"));
chmodSync(work, 0o755);
const kubeconfig = writeUnreachableKubeconfig(work);

/** utime + stime and the start time of a process, in seconds (fields 14, 15 and 22 of /proc/<pid>/stat). */
function procStat(pid: number): { cpu: number; start: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8")
    .replace(/^.*\) /, "")
    .split(" ");
  // After "pid (comm) ", field n of the man page is fields[n - 3].
  return { cpu: (Number(fields[11]) + Number(fields[12])) / TICKS, start: Number(fields[19]) / TICKS };
}
const uptime = () => Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);

/** Starts a container, waits for `path` on the admin port to answer 200, returns wall and CPU seconds of its PID 1 then. */
async function start(
  variant: Variant,
  mounts: string[],
  command: string[],
  path: string,
): Promise<{ wall: number; cpu: number; rss: number }> {
  const { image, options } = VARIANTS[variant]!;
  const id = docker(["run", "-d", ...HARDENED, ...options, ...mounts, "-p", "127.0.0.1:0:9090", image, ...command]);
  try {
    const pid = Number(docker(["inspect", "-f", "{{.State.Pid}}", id]));
    const port = docker(["port", id, "9090/tcp"]).split("\n")[0]!.replace(/^.*:/, "");
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}${path}`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`${variant}: ${path} not 200 within 60 s; log:\n${docker(["logs", "--tail", "20", id])}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const now = uptime();
    const stat = procStat(pid);
    const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;
    return { wall: now - stat.start, cpu: stat.cpu, rss };
  } finally {
    docker(["rm", "-f", id]);
  }
}

function versionCpu(variant: Variant): number {
  const script = '/app/bin/portcullis version >/dev/null && read -r s < /proc/$$/stat && echo "$s"';
  const { image, options } = VARIANTS[variant]!;
  const line = docker(["run", "--rm", ...HARDENED, ...options, "--entrypoint", "/bin/sh", image, "-c", script]);
  const fields = line.replace(/^.*\) /, "").split(" ");
  const cpu = (Number(fields[13]) + Number(fields[14])) / TICKS; // cutime, cstime: fields 16 and 17
  if (!Number.isFinite(cpu)) throw new Error(`${variant}: \`version\` in the container printed no /proc/$$/stat: ${JSON.stringify(line)}`);
  return cpu;
}

type Sample = { serveWall: number; serveCpu: number; serveRssMib: number; kubeWall: number; kubeCpu: number; versionCpu: number };
const names = Object.keys(VARIANTS);
const samples: Record<Variant, Sample[]> = Object.fromEntries(names.map((n) => [n, []]));
try {
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const variant of order) {
      const serve = await start(
        variant,
        ["-v", `${EXAMPLES}:/etc/portcullis/manifests:ro`],
        ["serve", "--manifests", "/etc/portcullis/manifests"],
        "/readyz",
      );
      const kube = await start(
        variant,
        ["-v", `${kubeconfig}:/etc/portcullis/kubeconfig:ro`],
        ["serve", "--kubeconfig", "/etc/portcullis/kubeconfig"],
        "/healthz",
      );
      const sample = {
        serveWall: serve.wall,
        serveCpu: serve.cpu,
        serveRssMib: serve.rss,
        kubeWall: kube.wall,
        kubeCpu: kube.cpu,
        versionCpu: versionCpu(variant),
      };
      samples[variant]!.push(sample);
      const load = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
      console.log(
        `round ${round + 1} ${variant.padEnd(5)} ${Object.entries(sample)
          .map(([k, v]) => `${k} ${v.toFixed(2)}`)
          .join("  ")}  load ${load}`,
      );
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[0]!.toFixed(2)} / ${s[Math.floor((s.length - 1) / 2)]!.toFixed(2)} / ${s[s.length - 1]!.toFixed(2)}`;
};
console.log(
  `\n${Object.entries(VARIANTS)
    .map(([n, v]) => `${n}: ${v.image} ${v.options.join(" ")}`.trim())
    .join("; ")}; ${rounds} rounds; min / median / max, seconds`,
);
for (const key of ["serveWall", "serveCpu", "serveRssMib", "kubeWall", "kubeCpu", "versionCpu"] as const)
  console.log(`${key.padEnd(11)} ${names.map((n) => `${n} ${summary(samples[n]!.map((s) => s[key]))}`).join("   ")}`);
