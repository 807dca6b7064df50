/**
 * Slow clients on the authz port (slowloris) against the real `portcullis serve` process: sockets
 * that send their headers a byte at a time, sockets that trickle a body, sockets that send
 * nothing. The server must keep answering everyone else promptly, and must close every slow
 * socket itself: headers within 10 s, a whole request within 15 s (controller/server/http.ts,
 * checked every second).
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ask, serve, until, type Answer, type Served } from "./process.ts";
import { aliceKeyPolicy, gatewayWithRoute } from "../support/manifests.ts";

const WORLD = `${gatewayWithRoute("api.test")}---
${aliceKeyPolicy("keys", undefined, "forwardClientIDHeader: x-client-id")}`;

interface Slow {
  readonly kind: "headers" | "body" | "idle";
  readonly openedAt: number;
  closedAt?: number;
  received: string;
}

let app: Served;
beforeAll(async () => {
  app = await serve({ "world.yaml": WORLD });
});
afterAll(() => app?.close());

/** A socket that, once connected, sends `first` and then one byte of `drip` every 300 ms, forever. */
function slow(kind: Slow["kind"], first: string, drip: string, timers: Set<NodeJS.Timeout>): { slow: Slow; socket: Socket } {
  const s: Slow = { kind, openedAt: Date.now(), received: "" };
  const socket = connect(app.authz, "127.0.0.1", () => {
    if (first !== "") socket.write(first);
    if (drip === "") return;
    const t = setInterval(() => (socket.writable ? socket.write(drip) : clearInterval(t)), 300);
    timers.add(t);
  });
  socket.setEncoding("latin1");
  socket.on("data", (d: string) => (s.received += d));
  socket.on("error", () => {});
  socket.on("close", () => (s.closedAt = Date.now()));
  return { slow: s, socket };
}

it("keeps answering others while slow sockets are held, and closes every slow socket itself", { timeout: 45_000 }, async () => {
  const timers = new Set<NodeJS.Timeout>();
  const held = [
    ...Array.from({ length: 60 }, () => slow("headers", "GET /keys HTTP/1.1\r\nHost: api.test\r\nX-Slow: ", "a", timers)),
    ...Array.from({ length: 20 }, () =>
      slow("body", "POST /keys HTTP/1.1\r\nHost: api.test\r\nX-API-Key: alice-key\r\nContent-Length: 100000\r\n\r\n", "b", timers),
    ),
    ...Array.from({ length: 20 }, () => slow("idle", "", "", timers)),
  ];
  const answers: Answer[] = [];
  let probing = true;
  const probes = (async () => {
    while (probing) {
      answers.push(await ask(app.authz, "/keys", { host: "api.test", "x-api-key": "alice-key" }));
      answers.push(
        await ask(app.forwardAuth, "/", { "x-forwarded-method": "GET", "x-forwarded-host": "api.test", "x-forwarded-uri": "/keys" }),
      );
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  try {
    await until(20_000, "every slow socket closed by the server", () => held.every((h) => h.slow.closedAt !== undefined));
  } finally {
    probing = false;
    await probes;
    for (const t of timers) clearInterval(t);
    for (const h of held) h.socket.destroy();
  }

  // Everyone else was answered, correctly and promptly, the whole time.
  expect(answers.length).toBeGreaterThan(40);
  expect(answers.filter((a, i) => a.status !== (i % 2 === 0 ? 200 : 401))).toEqual([]);
  expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(1000);

  const lived = (kind: Slow["kind"]) => held.filter((h) => h.slow.kind === kind).map((h) => h.slow.closedAt! - h.slow.openedAt);
  // Headers still incomplete at 10 s: 408 and closed, within the one-second check.
  for (const ms of lived("headers")) expect(ms > 9_500 && ms < 12_500, `${ms} ms`).toBe(true);
  for (const h of held.filter((x) => x.slow.kind === "headers")) expect(h.slow.received).toMatch(/^HTTP\/1\.1 408 /);
  // A body still arriving at 15 s: the connection is cut, nothing was allowed.
  for (const ms of lived("body")) expect(ms > 14_500 && ms < 17_500, `${ms} ms`).toBe(true);
  for (const h of held.filter((x) => x.slow.kind === "body")) expect(h.slow.received).not.toMatch(/^HTTP\/1\.1 200 /);
  // A connection that never sends a byte is closed like one whose headers never complete.
  for (const ms of lived("idle")) expect(ms).toBeLessThan(12_500);
  expect(await app.metric("portcullis_decisions_total", { code: "allowed" })).toBeGreaterThanOrEqual(answers.length / 2);
});
