/**
 * Runs Debian's wrk pinned to its own core and parses the result line that bench/wrk/report.lua
 * prints (totals, error counts, latency percentiles). Loopback only.
 */
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { quietly } from "./background.ts";

export interface WrkOptions {
  /** http://127.0.0.1:PORT/path — anything but loopback is refused. */
  readonly url: string;
  /** taskset CPU list for wrk (e.g. "0"). */
  readonly cpu: string;
  readonly connections: number;
  readonly durationS: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Rotate through this file of tokens (one per line) in the Authorization header, from token number `offset` (0-based). */
  readonly tokens?: { readonly file: string; readonly offset: number };
  /**
   * Pace each connection: after every answer, wait a whole number of milliseconds drawn evenly
   * from 0 to twice this mean before the next request (wrk's `delay()`; whole milliseconds are
   * all it takes). Unset: every connection sends its next request as soon as it has an answer.
   */
  readonly paceMs?: number;
}

export interface WrkResult {
  readonly requests: number;
  readonly durationS: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** Non-2xx/3xx answers plus socket errors and timeouts: must be 0 for a valid measurement. */
  readonly errors: number;
  readonly wraps: number;
}

const HERE = import.meta.dirname;
let scriptDir: string | undefined;

/** The Lua of a run: rotate.lua with tokens, pace.lua when paced, then report.lua. */
export function wrkScript(o: { readonly rotate: boolean; readonly paced: boolean }): string {
  const parts = [...(o.rotate ? ["rotate.lua"] : []), ...(o.paced ? ["pace.lua"] : []), "report.lua"];
  return parts.map((file) => readFileSync(join(HERE, "wrk", file), "utf8")).join("\n");
}

/** The file of wrkScript(o), written once per process. */
function scriptFile(o: { readonly rotate: boolean; readonly paced: boolean }): string {
  if (scriptDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-wrk-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    scriptDir = dir;
  }
  const file = join(scriptDir, `${o.rotate ? "rotate" : "plain"}${o.paced ? "-paced" : ""}.lua`);
  if (!existsSync(file)) writeFileSync(file, wrkScript(o));
  return file;
}

/** One wrk run, with the background job stopped (bench/background.ts): any load is measured, or readies a measurement. */
export function runWrk(o: WrkOptions): Promise<WrkResult> {
  return quietly(() => wrk(o));
}

function wrk(o: WrkOptions): Promise<WrkResult> {
  const host = new URL(o.url).hostname;
  if (host !== "127.0.0.1") throw new Error(`refusing to load ${o.url}: benchmarks only target 127.0.0.1`);
  if (o.paceMs !== undefined && !(Number.isInteger(o.paceMs) && o.paceMs > 0))
    throw new Error(`wrk pace ${o.paceMs} ms: a whole number of milliseconds above 0 is needed`);
  const args = [
    "-c",
    o.cpu,
    "wrk",
    "-t1",
    `-c${o.connections}`,
    `-d${o.durationS}s`,
    "--timeout",
    "5s",
    "-s",
    scriptFile({ rotate: o.tokens !== undefined, paced: o.paceMs !== undefined }),
    // wrk adds its own Host unless one is spelled exactly "Host": two would be a 400.
    ...Object.entries(o.headers).flatMap(([k, v]) => ["-H", `${k.toLowerCase() === "host" ? "Host" : k}: ${v}`]),
    o.url,
  ];
  const env = {
    ...process.env,
    BENCH_TOKENS: o.tokens?.file ?? "",
    BENCH_TOKEN_BYTE_OFFSET: String(o.tokens === undefined ? 0 : tokenStart(o.tokens.file, o.tokens.offset)),
    BENCH_PACE_MS: String(o.paceMs ?? ""),
    BENCH_PACE_SEED: String(randomInt(2 ** 31)),
  };
  return new Promise((resolve, reject) => {
    const child = spawn("taskset", args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c));
    child.stderr.on("data", (c: Buffer) => (err += c));
    child.once("error", reject);
    child.once("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
      if (code !== 0 || line === undefined) return reject(new Error(`wrk failed (exit ${code}): ${err.trim() || out.trim()}`));
      const r = JSON.parse(line.slice("BENCH_RESULT ".length)) as Record<string, number>;
      const ms = (us: number | undefined) => (us ?? 0) / 1000;
      const durationS = r.duration_us! / 1e6;
      resolve({
        requests: r.requests!,
        durationS,
        rps: r.requests! / durationS,
        p50Ms: ms(r.p50_us),
        p90Ms: ms(r.p90_us),
        p99Ms: ms(r.p99_us),
        p999Ms: ms(r.p999_us),
        maxMs: ms(r.max_us),
        errors: r.connect_errors! + r.read_errors! + r.write_errors! + r.status_errors! + r.timeout_errors!,
        wraps: r.wraps!,
      });
    });
  });
}

/** Byte offsets of the non-empty lines of a token file, by file, size and modification time. */
const lineStarts = new Map<string, Float64Array>();

/** Where token number `n` (0-based, wrapping; empty lines are no tokens) of `file` starts, in bytes: where rotate.lua begins. */
export function tokenStart(file: string, n: number): number {
  const { size, mtimeMs } = statSync(file);
  const key = `${file}\0${size}\0${mtimeMs}`;
  let starts = lineStarts.get(key);
  if (starts === undefined) {
    const text = readFileSync(file);
    const found: number[] = [];
    for (let at = 0; at < text.length; ) {
      const end = text.indexOf(0x0a, at);
      const stop = end === -1 ? text.length : end;
      if (stop > at) found.push(at);
      at = stop + 1;
    }
    lineStarts.clear();
    lineStarts.set(key, (starts = Float64Array.from(found)));
  }
  if (starts.length === 0) throw new Error(`${file} holds no token`);
  return starts[n % starts.length]!;
}

/**
 * Runs that send each request with the next token of `file` (one per line), every run going on
 * where the last one stopped, so that a server that caches verified tokens never sees one twice.
 */
export function tokenWalk(file: string): (o: Omit<WrkOptions, "tokens">) => Promise<WrkResult> {
  let offset = 0;
  return async (o) => {
    const r = await runWrk({ ...o, tokens: { file, offset } });
    offset += r.requests + o.connections; // requests still in flight at the end were sent too
    return r;
  };
}
