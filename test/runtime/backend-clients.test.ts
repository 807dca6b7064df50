/**
 * Policy churn does not accumulate backend clients: publishing snapshot after snapshot, each naming
 * an extAuth service or OIDC provider reached another way, leaves open only the connections of the
 * snapshot served, and a call in flight on a client that is dropped still gets its answer.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import * as client from "openid-client";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createExtAuthTransport, type HttpCheck } from "../../controller/features/extAuth/client.ts";
import { extAuth } from "../../controller/features/extAuth/index.ts";
import type { CompiledExtAuth } from "../../controller/features/extAuth/types.ts";
import { compiledOf } from "../../controller/features/feature.ts";
import { oidc } from "../../controller/features/oidc/index.ts";
import { createOidcProviders } from "../../controller/features/oidc/provider.ts";
import { retainBackendClients } from "../../controller/runtime/backend-clients.ts";
import type { Snapshot } from "../../controller/snapshot/types.ts";
import { extAuthBackendWorld, gatewayWithRoute, secret, securityPolicy } from "../support/manifests.ts";
import { compileText } from "../support/world.ts";

interface Backend {
  readonly port: number;
  /** Connections open now. */
  readonly open: Set<Socket>;
  /** Holds the next answers until release() (a call in flight). */
  hold(): void;
  release(): void;
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

/** A backend answering 200 (and an OpenID discovery document and token response), counting its open connections. */
async function backend(): Promise<Backend> {
  const open = new Set<Socket>();
  let held: (() => void)[] | undefined;
  const server = createServer((req, res) => {
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const answer = () => {
      res.setHeader("content-type", "application/json");
      if (req.url === "/.well-known/openid-configuration")
        res.end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token` }));
      else res.end(JSON.stringify({ access_token: "a", token_type: "Bearer", expires_in: 60 }));
    };
    req.resume();
    req.on("end", () => (held === undefined ? answer() : held.push(answer)));
  });
  server.on("connection", (socket: Socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return {
    port: (server.address() as AddressInfo).port,
    open,
    hold: () => {
      held = [];
    },
    release: () => {
      for (const answer of held ?? []) answer();
      held = undefined;
    },
  };
}

const CHECK: HttpCheck = { method: "GET", path: "/check", headers: { host: "api.example.com" }, body: undefined };

function extAuthSnapshot(port: number): { snapshot: Snapshot; config: CompiledExtAuth } {
  const result = compileText(
    extAuthBackendWorld(port, "{http: {backendRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: authz}]}}"),
  );
  const config = compiledOf(result.snapshot.policies["apps/ext"]!.features, extAuth);
  if (config === undefined || "hookUp" in config) throw new Error("no extAuth service compiled");
  return { snapshot: result.snapshot, config };
}

/** A snapshot whose oidc provider is at `port`, reached with a connect timeout of `connectSeconds` (its connection settings). */
function oidcSnapshot(port: number, connectSeconds: number): Snapshot {
  return compileText(`${gatewayWithRoute("api.example.com")}---
${secret("web-client", { "client-secret": "s3cret" })}---
${securityPolicy("web", {
  oidc: {
    provider: { issuer: `http://127.0.0.1:${port}`, backendSettings: { timeout: { tcp: { connectTimeout: `${connectSeconds}s` } } } },
    clientID: "web",
    clientSecret: { name: "web-client" },
  },
})}`).snapshot;
}

/** Waits until `condition` holds (connections close asynchronously), or fails after a second. */
async function eventually(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 1000) throw new Error("the condition did not come true within a second");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const noOidc = createOidcProviders({ logger: pino({ level: "silent" }) });

describe("retainBackendClients", () => {
  it("extAuth: after N snapshots each naming another service, only the served one keeps a connection", async () => {
    const transport = createExtAuthTransport();
    const backends = await Promise.all(Array.from({ length: 5 }, () => backend()));
    for (const b of backends) {
      const { snapshot, config } = extAuthSnapshot(b.port);
      retainBackendClients(snapshot, { extAuth: transport, oidc: noOidc });
      const answered = await transport.http(config.service, CHECK, 2000);
      expect(answered.ok).toBe(true);
    }
    await eventually(() => backends.slice(0, -1).every((b) => b.open.size === 0));
    expect(backends.at(-1)!.open.size).toBe(1);
    await transport.close();
  });

  it("extAuth: a check in flight on a service the new snapshot drops still gets its answer", async () => {
    const transport = createExtAuthTransport();
    const [first, second] = [await backend(), await backend()];
    const { snapshot, config } = extAuthSnapshot(first.port);
    retainBackendClients(snapshot, { extAuth: transport, oidc: noOidc });
    first.hold();
    const inFlight = transport.http(config.service, CHECK, 2000);
    await eventually(() => first.open.size === 1);
    retainBackendClients(extAuthSnapshot(second.port).snapshot, { extAuth: transport, oidc: noOidc });
    first.release();
    const answered = await inFlight;
    expect(answered.ok && answered.answer.status).toBe(200);
    await eventually(() => first.open.size === 0);
    await transport.close();
  });

  it("oidc: providers no snapshot names lose their connections; a call in flight finishes, a later one fails closed", async () => {
    const providers = createOidcProviders({ logger: pino({ level: "silent" }), timeoutMs: 2000 });
    const transport = createExtAuthTransport();
    const backends = await Promise.all(Array.from({ length: 4 }, () => backend()));
    const configs: client.Configuration[] = [];
    for (const [i, b] of backends.entries()) {
      const snapshot = oidcSnapshot(b.port, i + 1);
      retainBackendClients(snapshot, { extAuth: transport, oidc: providers });
      configs.push(await providers.configuration(compiledOf(snapshot.policies["apps/web"]!.features, oidc)!));
    }
    await eventually(() => backends.slice(0, -1).every((b) => b.open.size === 0));
    expect(backends.at(-1)!.open.size).toBe(1);
    // A call on a dropped provider's client is refused, never answered by another provider.
    await expect(client.refreshTokenGrant(configs[0]!, "r")).rejects.toThrow();

    const last = backends.at(-1)!;
    last.hold();
    const inFlight = client.refreshTokenGrant(configs.at(-1)!, "r");
    await eventually(() => last.open.size === 1);
    retainBackendClients(oidcSnapshot(backends[0]!.port, 1), { extAuth: transport, oidc: providers });
    last.release();
    expect((await inFlight).access_token).toBe("a");
    await transport.close();
  });
});
