/**
 * Kubernetes mode start-up at scale (issue 17): bench/world.ts' world (N tenants: N HTTPRoutes, N
 * SecurityPolicies, N/2 API-key Secrets) created in a real kube-apiserver + etcd
 * (test/kube/apiserver.ts), then `bin/portcullis serve --kubeconfig` of each source tree started
 * and stopped in turn against it, the trees' order alternating by round (forwards, then
 * backwards). Per start: wall time from spawn to `/readyz` 200, the process' CPU seconds then, and
 * from its /metrics at ready the compiles run before ready (portcullis_compile_duration_seconds
 * count and sum), and from its log where the wall time went: spawn to the "listening" line (loading
 * the modules, binding the ports; the informers start before), from there to the build of the
 * first snapshot (the lists of the watched kinds but the referenced ones), and that build
 * ("snapshot published" buildMs: what the policies reference found, those Secrets and ConfigMaps
 * listed, compile). Before the starts, the time the API server takes to list the big kinds, paged
 * as the reflectors list them and from its watch cache (timeLists). Portcullis runs as the shipped RBAC's user; every start after the first finds the
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
  readonly listeningS: number;
  readonly listS: number;
  readonly buildS: number;
}

/** Seconds from spawn to the "listening" line, from it to the first build's start, and that build, from a start's log (its ISO `time`, ms). */
function phasesOf(log: string, readyS: number): { listeningS: number; listS: number; buildS: number } | undefined {
  const lines = log
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { time: string; msg: string; buildMs?: number })
    .map((l) => ({ ...l, at: Date.parse(l.time) }));
  const at = (msg: string) => lines.find((l) => l.msg.startsWith(msg));
  const listening = lines.find((l) => l.msg.includes("listening"));
  const published = at("snapshot published");
  const ready = at("ready:");
  if (listening === undefined || published?.buildMs === undefined || ready === undefined) return undefined;
  const s = (ms: number) => Number((ms / 1000).toFixed(2));
  return {
    listeningS: s(readyS * 1000 - (ready.at - listening.at)),
    listS: s(published.at - published.buildMs - listening.at),
    buildS: s(published.buildMs),
  };
}

/** phasesOf the log once its lines are written (they may follow /readyz by a moment); fails after 10 s with the log's end. */
async function phasesLogged(logFile: string, readyS: number): Promise<{ listeningS: number; listS: number; buildS: number }> {
  for (let waited = 0; ; waited += 100) {
    const log = readFileSync(logFile, "utf8");
    const phases = phasesOf(log, readyS);
    if (phases !== undefined) return phases;
    if (waited > 10_000) throw new Error(`no listening, snapshot published or ready line in ${logFile}:\n${log.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * How long the API server takes to list the big kinds as the reflectors list them (pages of 500,
 * from etcd) and as client-go's reflectors long did (`resourceVersion=0`: one answer from the API
 * server's watch cache, which may lag etcd by what it has not seen yet), alternating, 3 rounds.
 */
async function timeLists(kube: Kube): Promise<void> {
  const kinds = [
    "/apis/gateway.envoyproxy.io/v1alpha1/securitypolicies",
    "/apis/gateway.networking.k8s.io/v1/httproutes",
    "/api/v1/secrets",
  ];
  const paged = async (path: string) => {
    let next = "";
    do {
      const query = new URLSearchParams({ limit: "500", ...(next ? { continue: next } : {}) });
      next = (await kube.client.request<{ metadata: { continue?: string } }>("GET", `${path}?${query}`)).metadata.continue ?? "";
    } while (next !== "");
  };
  const cached = (path: string) => kube.client.request("GET", `${path}?resourceVersion=0`);
  for (let round = 0; round < 3; round++)
    for (const path of kinds) {
      const ways =
        round % 2 === 0
          ? ([
              ["paged", paged],
              ["cached", cached],
            ] as const)
          : ([
              ["cached", cached],
              ["paged", paged],
            ] as const);
      const times: Record<string, number> = {};
      for (const [name, list] of ways) {
        const t = performance.now();
        await list(path);
        times[name] = Number(((performance.now() - t) / 1000).toFixed(2));
      }
      console.log(JSON.stringify({ list: path.slice(path.lastIndexOf("/") + 1), round, ...times }));
    }
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
  await timeLists(kube);
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
          ...(await phasesLogged(logFile, server.startupMs / 1000)),
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
        `compiles before ready ${range((s) => s.compiles)}, compiling ${range((s) => s.compileS)} s; ` +
        `spawn → listening ${range((s) => s.listeningS)} s, listing ${range((s) => s.listS)} s, first build ${range((s) => s.buildS)} s`,
    );
  }
} finally {
  await api?.stop();
  rmSync(logDir, { recursive: true, force: true });
}
