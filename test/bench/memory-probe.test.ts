import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const NODE = join(import.meta.dirname, "../../node_modules/.bin/node");
const PROBE = join(import.meta.dirname, "../../bench/memory-probe.ts");
const dir = mkdtempSync(join(tmpdir(), "portcullis-memory-probe-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Sample {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly spaces: Record<string, { committed: number; used: number }>;
}

describe("bench/memory-probe.ts", () => {
  it("on SIGUSR2 reports the heap before and after a full collection: garbage apart from live data", async () => {
    // 20 MB kept alive, then as much again left as garbage.
    const script =
      "globalThis.kept = Array.from({ length: 2e5 }, (_, i) => ({ i, s: 'k' + i })); let junk = Array.from({ length: 2e5 }, (_, i) => ({ i, s: 'j' + i })); junk = undefined; setInterval(() => {}, 1000);";
    writeFileSync(join(dir, "hold.mjs"), script);
    const file = join(dir, "memory.json");
    const child = spawn(NODE, ["--import", PROBE, join(dir, "hold.mjs")], {
      env: { ...process.env, BENCH_MEMORY_PROBE_FILE: file },
      stdio: "ignore",
    });
    const read = () =>
      existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { seq: number; before?: Sample; after?: Sample }) : undefined;
    const until = async <T>(found: () => T | undefined): Promise<T> => {
      for (;;) {
        const value = found();
        if (value !== undefined) return value;
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    try {
      await until(() => (read()?.seq === 0 ? true : undefined));
      await new Promise((r) => setTimeout(r, 300)); // the script has run
      child.kill("SIGUSR2");
      const { before, after } = await until(() => {
        const r = read();
        return r !== undefined && r.seq === 1 ? r : undefined;
      });
      expect(after!.heapUsed).toBeLessThan(before!.heapUsed);
      // The 200,000 kept objects (about 10 MB at least) are live after the collection.
      expect(after!.heapUsed).toBeGreaterThan(10 * 2 ** 20);
      expect(after!.spaces.old_space!.used).toBeGreaterThan(0);
      expect(after!.spaces.new_space!.committed).toBeGreaterThan(0);
      expect(after!.rss).toBeGreaterThan(after!.heapUsed);
    } finally {
      child.kill();
    }
  });
});
