/**
 * Where a check allocates: V8's sampling heap profiler over one in-process scenario
 * (bench/in-process.ts), asked to keep what the collector freed (`includeObjectsCollectedByMinorGC`
 * and `…MajorGC`), so short-lived garbage counts too. Bytes per request by function, largest first.
 * A sample is charged to the function of the physical frame: an allocation inlined into its caller
 * shows under the caller; run with `node --no-turbo-inlining` to charge each to its own function
 * (which then allocates somewhat more than optimised code does).
 *
 *   node [--no-turbo-inlining] bench/alloc-sites.ts ["JWT, cached token"] [--requests 100000] [--top 30]
 * (the all-new-token pair, "JWT, all-new tokens (ES256)" and its ceiling, mint their tokens first: newTokensFor)
 */
import { Session } from "node:inspector/promises";
import { parseArgs } from "node:util";
import { CEILING, inProcessScenarios, JWT_NEW, measureInProcess, type InProcessScenario } from "./in-process.ts";

/** Bytes a function allocated per request (`site`: "name file:line", the line the function starts on). */
export interface AllocationSite {
  readonly site: string;
  readonly bytesPerRequest: number;
}

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

/**
 * The allocation sites of `requests` requests of `scenario` (after as many, up to 20,000, to warm
 * up), sampled every `intervalBytes` bytes: a site's figure is the samples' bytes over the requests.
 */
export async function allocationSites(scenario: InProcessScenario, requests: number, intervalBytes = 16): Promise<AllocationSite[]> {
  await measureInProcess(scenario, Math.min(requests, 20_000), 1);
  const session = new Session();
  session.connect();
  try {
    await session.post("HeapProfiler.enable");
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: intervalBytes,
      includeObjectsCollectedByMinorGC: true,
      includeObjectsCollectedByMajorGC: true,
    });
    // measureInProcess warms up before its round: as many requests again, up to 20,000.
    await measureInProcess(scenario, requests, 1);
    const { profile } = (await session.post("HeapProfiler.stopSampling")) as { profile: { head: ProfileNode } };
    const bySite = new Map<string, number>();
    const visit = (node: ProfileNode) => {
      const { functionName, url, lineNumber } = node.callFrame;
      const site = `${functionName || "(anonymous)"} ${url.split("/").slice(-2).join("/")}:${lineNumber + 1}`;
      if (node.selfSize > 0) bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
      for (const child of node.children) visit(child);
    };
    visit(profile.head);
    const measured = requests + Math.min(requests, 20_000);
    return [...bySite]
      .map(([site, bytes]) => ({ site, bytesPerRequest: bytes / measured }))
      .sort((a, b) => b.bytesPerRequest - a.bytesPerRequest);
  } finally {
    await session.post("HeapProfiler.disable").catch(() => undefined);
    session.disconnect();
  }
}

/**
 * The distinct tokens allocationSites sends scenario `name` over `requests`: none but for the all-new-token
 * pair, which walks one per request through allocationSites' warm-up, then measureInProcess's own and its round.
 */
export function newTokensFor(name: string, requests: number): number {
  const warmUp = Math.min(requests, 20_000);
  return name === CEILING || name === JWT_NEW ? 3 * warmUp + requests : 0;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { requests: { type: "string", default: "100000" }, top: { type: "string", default: "30" } },
  });
  const name = positionals[0] ?? "JWT, cached token";
  const requests = Number(values.requests);
  const scenario = (await inProcessScenarios(newTokensFor(name, requests))).find((s) => s.name === name);
  if (scenario === undefined) throw new Error(`no in-process scenario named ${JSON.stringify(name)}`);
  const sites = await allocationSites(scenario, requests);
  const total = sites.reduce((sum, s) => sum + s.bytesPerRequest, 0);
  process.stdout.write(`${name}: about ${total.toFixed(0)} B allocated per request (sampled)\n`);
  for (const s of sites.slice(0, Number(values.top))) process.stdout.write(`${s.bytesPerRequest.toFixed(1).padStart(8)}  ${s.site}\n`);
}
