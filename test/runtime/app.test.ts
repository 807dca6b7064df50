/**
 * startApp's start-up (controller/runtime/app.ts): the "ready:" line marks the first snapshot
 * served, once, after the listening line, whether the folder was good from the start or broken at
 * start-up and fixed later; a port that cannot be listened on fails the start, naming its flag.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { expect, it } from "vitest";
import { loadConfig, type ServeConfig } from "../../controller/config.ts";
import { startApp, type App } from "../../controller/runtime/app.ts";
import { EPHEMERAL_PORTS, within } from "../support/app.ts";
import { aliceKeyPolicy, base64, gatewayWithRoute } from "../support/manifests.ts";

const WORLD = `${gatewayWithRoute("api.example.com")}---\n${aliceKeyPolicy("keys")}`;
const READY = "ready: checks are decided by the loaded policies";

/** `serve` on a folder holding `world.yaml` = `text`, logging into `logs` (each line's msg). */
async function served(text: string, use: (app: App, dir: string, logs: readonly string[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-app-"));
  writeFileSync(join(dir, "world.yaml"), text);
  const logs: string[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void logs.push((JSON.parse(line) as { msg: string }).msg) });
  const config = loadConfig(["serve", "--manifests", dir, ...EPHEMERAL_PORTS, "--shutdown-delay-seconds", "0"], {}) as ServeConfig;
  const app = await startApp(config, logger);
  try {
    await app.ready;
    await use(app, dir, logs);
  } finally {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const readyLines = (logs: readonly string[]) => logs.filter((msg) => msg.startsWith("ready:"));

it("a good folder: the ready line once, after the listening line, when app.ready resolves", async () => {
  await served(WORLD, async (_app, _dir, logs) => {
    expect(readyLines(logs)).toEqual([READY]);
    expect(logs.findIndex((msg) => msg.startsWith("Portcullis listening"))).toBeLessThan(logs.indexOf(READY));
  });
});

it("a folder broken at start-up: no ready line while nothing is served; the ready line once the file is fixed, after 'parses again'", async () => {
  await served(`${WORLD}  bogus: [unclosed\n`, async (app, dir, logs) => {
    expect(app.pipeline.current).toBeUndefined();
    expect(readyLines(logs)).toEqual([]);
    writeFileSync(join(dir, "world.yaml"), WORLD);
    await within(10_000, async () => readyLines(logs).length > 0);
    expect(app.pipeline.current).toBeDefined();
    expect(readyLines(logs)).toEqual([READY]);
    expect(logs.findIndex((msg) => msg.startsWith("every manifest file parses again"))).toBeLessThan(logs.indexOf(READY));
    // Later snapshots are not a start-up: no second ready line.
    writeFileSync(join(dir, "world.yaml"), WORLD.replace(base64("alice-key"), base64("rotated-key")));
    const generation = app.pipeline.current!.generation;
    await within(10_000, async () => app.pipeline.current!.generation > generation);
    expect(readyLines(logs)).toEqual([READY]);
  });
});

it.each([
  ["--authz-port", "--grpc-port"],
  ["--grpc-port", "--admin-port"],
])(
  "a port in use (%s) fails the start with its address, its flag and what to do; the ports that did listen are closed",
  async (taken, other) => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as AddressInfo).port;
    // A free port for `other`, so the test can see it closed again.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const otherPort = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const dir = mkdtempSync(join(tmpdir(), "portcullis-app-"));
    writeFileSync(join(dir, "world.yaml"), WORLD);
    try {
      const ports = EPHEMERAL_PORTS.map((value, i) => {
        const flag = EPHEMERAL_PORTS[i - 1];
        return flag === taken ? String(port) : flag === other ? String(otherPort) : value;
      });
      const config = loadConfig(["serve", "--manifests", dir, ...ports], {}) as ServeConfig;
      await expect(startApp(config, pino({ level: "silent" }))).rejects.toThrow(
        `cannot listen on 127.0.0.1:${port} (${taken}): the port is in use (another Portcullis? make run in another terminal?): stop that, or choose another port with ${taken}`,
      );
      await new Promise<void>((resolve, reject) => probe.once("error", reject).listen(otherPort, "127.0.0.1", resolve));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
      if (probe.listening) await new Promise((resolve) => probe.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
