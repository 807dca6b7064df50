/** Graceful stop: readiness fails first while checks are still answered, then the ports close. */
import { connect } from "node:net";
import { expect, it } from "vitest";
import { EXAMPLES, startTestApp } from "../support/app.ts";
import { send } from "../support/http.ts";

it("keeps answering checks while not ready for the shutdown delay, then refuses connections", async () => {
  const app = await startTestApp({}, EXAMPLES, ["--shutdown-delay-seconds", "1"]);
  const check = () => send(`${app.authz}/healthz`, { headers: { host: "api.maas.example.com" } });
  expect((await fetch(`${app.admin}/readyz`)).status).toBe(200);
  const stopped = app.close();
  await new Promise((r) => setTimeout(r, 200));
  expect((await fetch(`${app.admin}/readyz`)).status).toBe(503);
  expect((await check()).status).toBe(200);
  await stopped;
  const refused = new Promise<string>((resolve) => {
    const socket = connect(app.ports.authz, "127.0.0.1", () => resolve("connected"));
    socket.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
  expect(await refused).toBe("ECONNREFUSED");
});
