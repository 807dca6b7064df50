/**
 * The extAuth transport under `backendSettings` over real sockets: retries (a service that fails
 * and then answers, a refused endpoint then a live one, a gRPC UNAVAILABLE then an answer), the
 * circuit breaker's overflow, and a call whose every retry fails staying an error.
 */
import { Server as GrpcServer, ServerCredentials, status as GrpcStatus, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { AUTHORIZATION_SERVICE } from "../../../controller/api/ext-authz.ts";
import { createExtAuthTransport, type HttpCheck } from "../../../controller/features/extAuth/client.ts";
import type { ExtAuthService } from "../../../controller/features/extAuth/types.ts";
import type { JwksRetry } from "../../../controller/keys/types.ts";
import { httpService, refusingPort } from "../../support/ext-auth-services.ts";

const transport = createExtAuthTransport();
afterAll(() => transport.close());

const CHECK: HttpCheck = { method: "GET", path: "/check", headers: { host: "api.example.com" }, body: undefined };
const retry = (on: string[], numRetries = 2): JwksRetry => ({ numRetries, baseIntervalMs: 10, maxIntervalMs: 20, on });

function service(ports: number[], extra: Partial<ExtAuthService> = {}, protocol = "http"): ExtAuthService {
  return {
    key: `client-test ${protocol} ${ports.join(",")} ${JSON.stringify(extra)}`,
    endpoints: ports.map((port) => ({ host: "127.0.0.1", port, weight: 1 })),
    names: ["Backend apps/authz"],
    tls: undefined,
    ...extra,
  };
}

/** An HTTP service answering `statuses` in turn, then 200 to every further call. */
async function answeringInTurn(...statuses: number[]) {
  let call = 0;
  return httpService(() => ({ status: statuses[call++] ?? 200 }));
}

describe("extAuth transport: backendSettings.retry", () => {
  it("retries a 503 under the 5xx trigger and returns the answer that came", async () => {
    const s = await answeringInTurn(503, 503);
    const answered = await transport.http(service([s.port], { retry: retry(["5xx"]) }), CHECK, 2000);
    expect(answered.ok && answered.answer.status).toBe(200);
    expect(s.asked).toHaveLength(3);
    await s.close();
  });

  it("returns the last 503 once numRetries are spent (the check then fails: statusOnError)", async () => {
    const s = await answeringInTurn(503, 503, 503);
    const answered = await transport.http(service([s.port], { retry: retry(["5xx"], 1) }), CHECK, 2000);
    expect(answered.ok && answered.answer.status).toBe(503);
    expect(s.asked).toHaveLength(2);
    await s.close();
  });

  it("does not retry without a retry policy, nor a status its triggers do not name", async () => {
    const s = await answeringInTurn(503, 503);
    expect(await transport.http(service([s.port]), CHECK, 2000)).toMatchObject({ ok: true, answer: { status: 503 } });
    expect(await transport.http(service([s.port], { retry: retry(["connect-failure"]) }), CHECK, 2000)).toMatchObject({
      ok: true,
      answer: { status: 503 },
    });
    expect(s.asked).toHaveLength(2);
    await s.close();
  });

  it("after a refused connection, asks the next endpoint (connect-failure)", async () => {
    const s = await answeringInTurn();
    const answered = await transport.http(service([await refusingPort(), s.port], { retry: retry(["connect-failure"]) }), CHECK, 2000);
    expect(answered.ok && answered.answer.status).toBe(200);
    await s.close();
  });

  it("a refused connection on every attempt stays an error, naming the attempts", async () => {
    const port = await refusingPort();
    expect(await transport.http(service([port], { retry: retry(["connect-failure"]) }), CHECK, 2000)).toEqual({
      ok: false,
      error: "the connection was refused (3 attempts)",
    });
  });

  it("gRPC: retries UNAVAILABLE under the unavailable trigger", async () => {
    let calls = 0;
    const server = new GrpcServer();
    server.addService(AUTHORIZATION_SERVICE, {
      Check(_call: ServerUnaryCall<object, object>, callback: sendUnaryData<object>) {
        calls += 1;
        if (calls === 1) callback({ code: GrpcStatus.UNAVAILABLE, details: "overloaded" });
        else callback(null, { status: { code: 0 } });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const answered = await transport.grpc(service([port], { retry: retry(["unavailable"]) }, "grpc"), {}, 2000);
    expect(answered.ok).toBe(true);
    expect(calls).toBe(2);
    server.forceShutdown();
  });
});

describe("extAuth transport: circuit breaker", () => {
  it("fails a check at once while maxInFlight checks are in flight, and takes checks again after", async () => {
    const s = await httpService(() => "hang");
    const limited = service([s.port], { maxInFlight: 1 });
    const first = transport.http(limited, CHECK, 300);
    while (s.asked.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(await transport.http(limited, CHECK, 300)).toEqual({
      ok: false,
      error: "too many checks in flight to the service (circuit breaker overflow)",
    });
    expect(await first).toEqual({ ok: false, error: "no answer within 300 ms" });
    // The first check has ended: the next one is sent (and times out against the hanging service).
    expect((await transport.http(limited, CHECK, 100)).ok).toBe(false);
    expect(s.asked).toHaveLength(2);
    await s.close();
  });
});
