/**
 * Kubernetes mode start-up at scale (issue 17): bench/world.ts' world (N tenants: N HTTPRoutes, N
 * SecurityPolicies, N/2 API-key Secrets) created in a real kube-apiserver + etcd
 * (test/kube/apiserver.ts), then `bin/portcullis serve --kubeconfig` of each source tree started
 * and stopped in turn against it, the trees' order alternating by round (forwards, then
 * backwards). Per start: wall time from spawn to `/readyz` 200, the process' CPU seconds then, and
 * from its /metrics at ready the compiles run before ready (portcullis_compile_duration_seconds
 * count and sum). Portcullis runs as the shipped RBAC's user; every start after the first finds the
 * statuses already written.
 *
 *   node bench/kube-startup.ts --tree before=/tmp/portcullis-before --tree after=. [--tenants 1000] [--rounds 3]
 *
 * A tree is a checkout with `node_modules` (bench/compare-trees.ts says how to make one of a commit).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startApiServer, type ApiServer } from "../test/kube/apiserver.ts";
import { Kube, type Obj } from "../test/kube/objects.ts";
import { portsIn, startPortcullis, type ServerProcess } from "./servers.ts";
import { createIdp } from "./tokens.ts";
import { buildWorld } from "./world.ts";

const ROOT = join(import.meta.dirname, "..");
/** The namespace deploy/base/rbac.yaml's Role grants the Lease in. */
const LEASE_NAMESPACE = "portcullis";

const { values } = parseArgs({
  options: {
    tree: { type: "string", multiple: true, default: [] },
    tenants: { type: "string", default: "1000" },
    rounds: { type: "string", default: "3" },
  },
});
const trees = (values.tree.length > 0 ? values.tree : ["this=."]).map((t) => {
  const at = t.indexOf("=");
  if (at < 1) throw new Error(`--tree ${t}: NAME=DIR expected`);
  return { name: t.slice(0, at), root: resolve(t.slice(at + 1)) };
});
const tenants = Number(values.tenants);
const rounds = Number(values.rounds);
if (!Number.isInteger(tenants) || tenants < 1 || !Number.isInteger(rounds) || rounds < 1)
  throw new Error("--tenants and --rounds take positive integers");

interface Start {
  readonly tree: string;
  readonly round: number;
  readonly readyS: number;
  readonly cpuS: number;
  readonly compiles: number;
  readonly compileS: number;
}

/** A sample's value in Prometheus text, or NaN. */
const sample = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);

let api: ApiServer | undefined;
const logDir = mkdtempSync(join(tmpdir(), "portcullis-kube-startup-"));
try {
  api = await startApiServer({ users: [{ name: "portcullis" }] });
  const kube = new Kube(api.kubeconfigPath);
  await kube.installCrds(join(ROOT, "crds/gateway.envoyproxy.io_securitypolicies.yaml"), join(ROOT, "test/kube/crds/gateway-api.yaml"));
  await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: LEASE_NAMESPACE } });
  await kube.applyShippedRbac("portcullis");
  const world = buildWorld({ tenants, keysPerSecret: 20, jwk: createIdp().jwk });
  const created = performance.now();
  await kube.createAll(world.objects as Obj[]);
  const createS = (performance.now() - created) / 1000;
  console.log(
    JSON.stringify({ tenants, objects: world.objects.length, apiKeys: world.counts.apiKeys, createS: Number(createS.toFixed(1)) }),
  );
  const starts: Start[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const tree of round % 2 === 0 ? trees : [...trees].reverse()) {
      let server: ServerProcess | undefined;
      const logFile = join(logDir, `${tree.name}-${round}.log`);
      try {
        server = await startPortcullis({
          root: tree.root,
          kubeconfig: api.kubeconfigFor("portcullis"),
          args: ["--lease-namespace", LEASE_NAMESPACE, "--identity", `bench-${tree.name}-${round}`],
          logFile,
          readyTimeoutMs: 600_000,
        });
        const ports = portsIn(readFileSync(logFile, "utf8"))!;
        const metrics = await (await fetch(`http://127.0.0.1:${ports.admin}/metrics`)).text();
        const start: Start = {
          tree: tree.name,
          round,
          readyS: Number((server.startupMs / 1000).toFixed(2)),
          cpuS: Number(server.startupCpuS.toFixed(2)),
          compiles: sample(metrics, "portcullis_compile_duration_seconds_count"),
          compileS: Number(sample(metrics, "portcullis_compile_duration_seconds_sum").toFixed(2)),
        };
        starts.push(start);
        console.log(JSON.stringify(start));
      } finally {
        await server?.stop();
      }
    }
  }
  for (const tree of trees) {
    const mine = starts.filter((s) => s.tree === tree.name);
    const range = (f: (s: Start) => number) => {
      const xs = mine.map(f).sort((a, b) => a - b);
      return `${xs[0]} / ${xs[Math.floor(xs.length / 2)]} / ${xs[xs.length - 1]}`;
    };
    console.log(
      `${tree.name}: ready ${range((s) => s.readyS)} s (min / median / max), CPU ${range((s) => s.cpuS)} s, ` +
        `compiles before ready ${range((s) => s.compiles)}, compiling ${range((s) => s.compileS)} s`,
    );
  }
} finally {
  await api?.stop();
  rmSync(logDir, { recursive: true, force: true });
}
