import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startPortcullis } from "./support.ts";

// The e2e tests' own harness: a port taken between freePort() and Portcullis' listen (another
// test's connection took it) once failed a whole e2e file in CI.
describe("startPortcullis", () => {
  let taken: Server;
  let takenPort: number;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    takenPort = (taken.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  it("starts again on new ports when a port it picked was taken before Portcullis listened", async () => {
    const picked: number[] = [];
    const pick = async () => {
      const port = picked.length === 0 ? takenPort : await freePort();
      picked.push(port);
      return port;
    };
    const portcullis = await startPortcullis(undefined, pick);
    try {
      expect(picked).toHaveLength(8);
      expect([portcullis.authz, portcullis.forwardAuth, portcullis.admin]).not.toContain(takenPort);
      expect((await fetch(`http://127.0.0.1:${portcullis.admin}/readyz`)).status).toBe(200);
    } finally {
      await portcullis.stop();
    }
  }, 120_000);

  it("fails with Portcullis' reason when every start finds a port taken", async () => {
    let picks = 0;
    const authzAlwaysTaken = async () => (picks++ % 4 === 0 ? takenPort : await freePort());
    await expect(startPortcullis(undefined, authzAlwaysTaken)).rejects.toThrow(/--authz-port\): the port is in use/);
    expect(picks).toBe(12);
  }, 120_000);
});
