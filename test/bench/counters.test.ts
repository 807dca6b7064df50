import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { heapProbeEnv, instructionsIn, measure } from "../../bench/counters.ts";

const NODE = join(import.meta.dirname, "../../node_modules/.bin/node");
const dir = mkdtempSync(join(tmpdir(), "portcullis-counters-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("instructionsIn", () => {
  it("sums the counted instructions lines of perf stat -x, output", () => {
    expect(instructionsIn("1000,,instructions:u,5,100.00,,\n500,,instructions:u,5,100.00,,\n")).toBe(1500);
  });

  it("is undefined when the counter is not supported (most virtual machines)", () => {
    expect(instructionsIn("<not supported>,,instructions,0,100.00,,\n")).toBeUndefined();
  });
});

describe("measure with the heap probe", () => {
  it("counts the V8 heap a process allocates while the work runs, per request", async () => {
    // A process that allocates about 10 MB per 100 ms (100,000 objects of about 100 bytes), with the probe preloaded.
    const script =
      "const keep = []; setInterval(() => { for (let i = 0; i < 1e5; i++) keep.push({ i, s: 'x' + i }); keep.length = 0; }, 100);";
    const probeFile = join(dir, "probe.json");
    writeFileSync(join(dir, "allocate.mjs"), script);
    const child = spawn(NODE, [join(dir, "allocate.mjs")], { env: { ...process.env, ...heapProbeEnv(probeFile) }, stdio: "ignore" });
    try {
      const costs = await measure({ pids: [child.pid!], heapProbeFile: probeFile }, async () => {
        await new Promise((r) => setTimeout(r, 1000));
        return { requests: 1000, durationS: 1 };
      });
      // About 10 rounds of 100,000 objects over 1,000 "requests": some kB each, certainly not zero.
      expect(costs.allocBytesPerReq).toBeGreaterThan(2_000);
      expect(costs.allocBytesPerReq).toBeLessThan(200_000);
      expect(costs.cpuUsPerReq).toBeGreaterThan(0);
      expect(costs.instructionsPerReq).toBeUndefined();
    } finally {
      child.kill();
    }
  });
});
