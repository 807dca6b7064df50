import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gcPerRequest, heapProbeEnv, instructionsIn, measure, runNs, settleHeap } from "../../bench/counters.ts";
import type { HeapProbeReport } from "../../bench/heap-probe.ts";

const NODE = join(import.meta.dirname, "../../node_modules/.bin/node");
const dir = mkdtempSync(join(tmpdir(), "portcullis-counters-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("runNs", () => {
  it("counts the nanoseconds a process ran, as getrusage does, where /proc/PID/stat has 10 ms ticks", () => {
    const [ns, usage] = [runNs(process.pid), process.cpuUsage()];
    // Busy until the process has run 150 ms by getrusage (however long a busy machine makes that take).
    while (process.cpuUsage(usage).user + process.cpuUsage(usage).system < 150_000);
    const ranMs = (runNs(process.pid) - ns) / 1e6;
    const used = process.cpuUsage(usage);
    expect(ranMs).toBeGreaterThan(140);
    expect(Math.abs(ranMs - (used.user + used.system) / 1000)).toBeLessThan(20);
    expect(Number.isInteger(runNs(process.pid))).toBe(true);
  });
});

describe("instructionsIn", () => {
  it("sums the counted instructions lines of perf stat -x, output", () => {
    expect(instructionsIn("1000,,instructions:u,5,100.00,,\n500,,instructions:u,5,100.00,,\n")).toBe(1500);
  });

  it("is undefined when the counter is not supported (most virtual machines)", () => {
    expect(instructionsIn("<not supported>,,instructions,0,100.00,,\n")).toBeUndefined();
  });
});

describe("measure with the heap probe", () => {
  // A process that allocates about 10 MB per 100 ms (100,000 objects of about 100 bytes), with the probe preloaded.
  const script =
    "const keep = []; setInterval(() => { for (let i = 0; i < 1e5; i++) keep.push({ i, s: 'x' + i }); keep.length = 0; }, 100);";
  writeFileSync(join(dir, "allocate.mjs"), script);
  const second = async () => {
    await new Promise((r) => setTimeout(r, 1000));
    return { requests: 1000, durationS: 1 };
  };
  const allocating = async (probeFile: string, test: (pid: number) => Promise<void>) => {
    // A 1 MiB young generation: the 10 MB a tick allocates is several scavenges even when a loaded
    // machine runs only a few ticks in the measured second.
    const child = spawn(NODE, ["--max-semi-space-size=1", join(dir, "allocate.mjs")], {
      env: { ...process.env, ...heapProbeEnv(probeFile) },
      stdio: "ignore",
    });
    try {
      await test(child.pid!);
    } finally {
      child.kill();
    }
  };

  it("counts the V8 heap a process allocates while the work runs, per request, when the run asks for it", async () => {
    const file = join(dir, "probe-alloc.json");
    await allocating(file, async (pid) => {
      const costs = await measure({ pids: [pid], probe: { pid, file, allocations: true } }, second);
      // About 10 rounds of 100,000 objects over 1,000 "requests": some kB each, certainly not zero.
      expect(costs.allocBytesPerReq).toBeGreaterThan(2_000);
      expect(costs.allocBytesPerReq).toBeLessThan(200_000);
      expect(costs.cpuUsPerReq).toBeGreaterThan(0);
      expect(costs.instructionsPerReq).toBeUndefined();
    });
  });

  it("counts the process's scavenges and their pause in every run, and its allocation only in runs that ask", async () => {
    const file = join(dir, "probe-gc.json");
    await allocating(file, async (pid) => {
      const costs = await measure({ pids: [pid], probe: { pid, file, allocations: false } }, second);
      expect(costs.allocBytesPerReq).toBeUndefined();
      // Up to 100 MB through a young generation of 1 MiB: tens of scavenges, each taking some time.
      expect(costs.gc!.scavenges).toBeGreaterThan(5);
      expect(costs.gc!.pauseMs).toBeGreaterThan(0);
      expect(costs.gc!.markCompacts).toBeGreaterThanOrEqual(0);
      // A second run counts only its own collections, not those since start-up.
      const next = await measure({ pids: [pid], probe: { pid, file, allocations: false } }, second);
      expect(next.gc!.scavenges).toBeLessThan(costs.gc!.scavenges * 3);
      expect(next.gc!.scavenges).toBeGreaterThan(0);
    });
  });
});

describe("settleHeap", () => {
  // A process that keeps 20 MB alive for a while and then lets it go, with the probe preloaded: old-generation garbage.
  const script =
    "let held = Array.from({ length: 2e5 }, (_, i) => ({ i, s: 'x' + i })); setTimeout(() => { held = undefined; }, 300); setInterval(() => {}, 1000);";
  writeFileSync(join(dir, "hold.mjs"), script);

  it("runs a full collection in the process, before any run counts, so that no run's counts take it in", async () => {
    const file = join(dir, "probe-settle.json");
    const child = spawn(NODE, [join(dir, "hold.mjs")], { env: { ...process.env, ...heapProbeEnv(file) }, stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 600));
      await settleHeap(child.pid!, file);
      const settled = JSON.parse(readFileSync(file, "utf8")) as HeapProbeReport;
      expect(settled.gc.markCompacts).toBeGreaterThanOrEqual(1);
      const second = async () => {
        await new Promise((r) => setTimeout(r, 300));
        return { requests: 1, durationS: 0.3 };
      };
      const costs = await measure({ pids: [child.pid!], probe: { pid: child.pid!, file, allocations: false } }, second);
      expect(costs.gc!.markCompacts).toBe(0);
    } finally {
      child.kill();
    }
  });
});

describe("gcPerRequest", () => {
  it("counts collections per 1,000 requests over all runs together, and the pause per request run by run", () => {
    const gc = gcPerRequest([
      { requests: 1000, gc: { scavenges: 3, markCompacts: 0, pauseMs: 3 } },
      { requests: 3000, gc: { scavenges: 5, markCompacts: 1, pauseMs: 3 } },
      { requests: 500 },
    ])!;
    expect(gc.scavengesPer1k).toBe(2);
    expect(gc.markCompactsPer1k).toBe(0.25);
    expect(gc.pauseUsPerReq.rounds).toEqual([3, 1]);
    expect([gc.pauseUsPerReq.worst, gc.pauseUsPerReq.best]).toEqual([3, 1]);
  });

  it("is undefined when no run counted collections (a server without the probe)", () => {
    expect(gcPerRequest([{ requests: 10 }])).toBeUndefined();
  });
});
