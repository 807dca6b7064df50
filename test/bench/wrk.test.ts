import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runInBackground } from "../../bench/background.ts";
import { runWrk, tokenStart, wrkScript } from "../../bench/wrk.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-wrk-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("tokenStart", () => {
  it("gives the byte offset of token n, skipping empty lines and wrapping around the list", () => {
    const file = join(dir, "tokens.txt");
    writeFileSync(file, "aaa\n\nbb\nc\n\n");
    expect([0, 1, 2, 3, 4].map((n) => tokenStart(file, n))).toEqual([0, 5, 8, 0, 5]);
  });
  it("reads a file again once it is rewritten (the list is minted twice in a run)", () => {
    const file = join(dir, "tokens.txt");
    writeFileSync(file, "a\nb\n");
    expect(tokenStart(file, 1)).toBe(2);
    writeFileSync(file, "first-token\nsecond\n");
    expect(tokenStart(file, 1)).toBe(12);
  });
  it("refuses a file without a token", () => {
    const file = join(dir, "tokens.txt");
    writeFileSync(file, "\n\n");
    expect(() => tokenStart(file, 0)).toThrow(/holds no token/);
  });
});

describe("wrkScript", () => {
  it("puts the token rotation and the pacing before the report, each only when asked for", () => {
    const plain = wrkScript({ rotate: false, paced: false });
    expect(plain).toContain("BENCH_RESULT");
    expect(plain).not.toMatch(/delay = function|BENCH_TOKENS/);
    const both = wrkScript({ rotate: true, paced: true });
    expect(both.indexOf("BENCH_TOKENS")).toBeGreaterThan(-1);
    expect(both.indexOf("BENCH_TOKENS")).toBeLessThan(both.indexOf("delay = function"));
    expect(both.indexOf("delay = function")).toBeLessThan(both.indexOf("BENCH_RESULT"));
  });
});

describe("runWrk", () => {
  it("paces every connection to a mean wait of paceMs after each answer", async () => {
    const server = createServer((_, res) => res.end("ok")).listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      // 2 connections waiting 20 ms on average: about 100 requests in a second, where unpaced they send thousands.
      const paced = await runWrk({ cpu: "0", connections: 2, durationS: 1, url, headers: {}, paceMs: 20 });
      expect(paced.errors).toBe(0);
      expect(paced.requests).toBeGreaterThan(20);
      expect(paced.requests).toBeLessThan(250);
      await expect(runWrk({ cpu: "0", connections: 2, durationS: 1, url, headers: {}, paceMs: 0.5 })).rejects.toThrow(/whole number/);
    } finally {
      server.close();
    }
  });

  it("stops the background job while it loads, measured or not (the kube-apiserver build of a fresh make bench)", async () => {
    const server = createServer((_, res) => res.end("ok")).listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const ticks = join(dir, "ticks");
    const count = () => readFileSync(ticks, "utf8").split("\n").length;
    // Ticks every 20 ms for about 3 s, also while wrk loads unless it is stopped then.
    const job = runInBackground("bash", ["-c", `for i in $(seq 1 150); do echo $i >> ${ticks}; sleep 0.02; done`]);
    try {
      // Under way (a busy machine may take a while to start it).
      while (!existsSync(ticks)) await new Promise((r) => setTimeout(r, 10));
      const before = count();
      const result = await runWrk({ cpu: "0", connections: 2, durationS: 1, url, headers: {} });
      expect(result.requests).toBeGreaterThan(0);
      // At most the tick under way when wrk started.
      expect(count() - before).toBeLessThanOrEqual(1);
      await job;
      expect(count()).toBe(151);
    } finally {
      server.close();
    }
  });
});
