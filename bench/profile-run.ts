/**
 * Where the time goes: Portcullis under the same wrk load with V8's sampling profiler on
 * (node --cpu-prof, 500 µs interval), one process per scenario, and only the load phase counted;
 * the bare node:http server too, so the share of the HTTP exchange itself is known.
 * Profiled throughput is slower than measured throughput and is not reported as a result.
 */
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { readProfile, summarize, type ProfileSummary } from "./profile.ts";
import { cpuSeconds } from "./counters.ts";
import { startBare, startPortcullis } from "./servers.ts";
import { envoyCheckHeaders, type World } from "./world.ts";
import { runWrk } from "./wrk.ts";

export interface ProfileOptions {
  readonly manifests: string;
  readonly world: World;
  readonly cachedToken: string;
  /** Distinct tokens, one per line, for the all-new-tokens scenario. */
  readonly tokensFile: string;
  readonly cpus: { readonly server: string; readonly load: string };
  readonly connections: number;
  readonly warmupS: number;
  readonly durationS: number;
  readonly dir: string;
  /** The IdP's public JWK file, for the bare server that verifies each new token (the ceiling). */
  readonly jwkFile: string;
}

export type ProfiledScenario = "baseline" | "apiKey" | "jwtCached" | "verifyCeiling" | "jwtNew";

/** The summary, plus the server CPU µs per request while profiled (the profiler adds some). */
export async function profileScenario(
  o: ProfileOptions,
  scenario: ProfiledScenario,
): Promise<ProfileSummary & { file: string; cpuUsPerReq: number }> {
  const dir = join(o.dir, `profile-${scenario}`);
  mkdirSync(dir, { recursive: true });
  const env = { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir} --cpu-prof-interval=500` };
  const server =
    scenario === "baseline" || scenario === "verifyCeiling"
      ? await startBare(o.cpus.server, env, scenario === "verifyCeiling" ? o.jwkFile : undefined)
      : await startPortcullis({ cpu: o.cpus.server, manifests: o.manifests, logFile: join(dir, "portcullis.log"), env });
  let cpuUsPerReq = NaN;
  try {
    const target = scenario === "apiKey" || scenario === "baseline" ? o.world.apiKeyTarget : o.world.jwtTarget;
    const headers = envoyCheckHeaders(target, scenario === "jwtCached" ? { authorization: `Bearer ${o.cachedToken}` } : {});
    let offset = 0;
    const load = async (durationS: number) => {
      const tokens = scenario === "jwtNew" || scenario === "verifyCeiling" ? { file: o.tokensFile, offset } : undefined;
      const before = cpuSeconds(server.pid);
      const r = await runWrk({
        url: `${server.url}${target.path}`,
        cpu: o.cpus.load,
        connections: o.connections,
        durationS,
        headers,
        tokens,
      });
      offset += r.requests + o.connections;
      cpuUsPerReq = ((cpuSeconds(server.pid) - before) * 1e6) / Math.max(1, r.requests);
    };
    await load(o.warmupS);
    await load(o.durationS);
  } finally {
    await server.stop(15_000);
  }
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (file === undefined) throw new Error(`no .cpuprofile written in ${dir}`);
  return { ...summarize(readProfile(join(dir, file)), 15, o.durationS * 1000), file: join(dir, file), cpuUsPerReq };
}
