/**
 * The provider calls under `backendSettings.retry`, over real sockets: a provider that fails its
 * first answers and then answers is retried as Envoy retries a provider call (discovery and the
 * token endpoint alike), and one that keeps failing is still a failure after its retries.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as client from "openid-client";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { type CompiledOidc, compileOidc } from "../../../controller/features/oidc/compile.ts";
import { createOidcProviders } from "../../../controller/features/oidc/provider.ts";
import { OIDCSchema } from "../../../controller/features/oidc/spec.ts";
import { clientSecretRefs } from "../../support/oidc-provider.ts";

/** A provider whose discovery and token endpoint answer `failures[path]` times with the status given, then properly; counts the calls. */
async function flakyProvider(failures: Record<string, { times: number; status: number }>) {
  const calls: Record<string, number> = {};
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    calls[path] = (calls[path] ?? 0) + 1;
    const failure = failures[path];
    if (failure !== undefined && calls[path]! <= failure.times) {
      res.writeHead(failure.status).end();
      return;
    }
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    res.setHeader("content-type", "application/json");
    if (path === "/.well-known/openid-configuration") {
      res.end(
        JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` }),
      );
    } else if (path === "/token") {
      req.resume();
      req.on("end", () => res.end(JSON.stringify({ access_token: "fresh", token_type: "Bearer", expires_in: 60 })));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return { issuer: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

function compiled(issuer: string, retry: object | undefined): CompiledOidc {
  const spec = OIDCSchema.parse({
    provider: { issuer, ...(retry === undefined ? {} : { backendSettings: { retry } }) },
    clientID: "app",
    clientSecret: { name: "oidc-client" },
  });
  const result = compileOidc(spec, () => ({ namespace: "apps", name: "web" }), undefined, clientSecretRefs("s3cret"));
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

const providers = () => createOidcProviders({ logger: pino({ level: "silent" }), timeoutMs: 3000 });
const FAST = { perRetry: { backOff: { baseInterval: "10ms", maxInterval: "20ms" } } };

describe("OIDC provider calls under backendSettings.retry", () => {
  it("retries a discovery that failed with a status its triggers name, and uses the answer", async () => {
    const op = await flakyProvider({ "/.well-known/openid-configuration": { times: 2, status: 503 } });
    const config = await providers().configuration(compiled(op.issuer, { numRetries: 2, retryOn: { triggers: ["5xx"] }, ...FAST }));
    expect(config.serverMetadata().token_endpoint).toBe(`${op.issuer}/token`);
    expect(op.calls["/.well-known/openid-configuration"]).toBe(3);
  });

  it("retries the token endpoint (a refresh, as Envoy's oauth2 filter retries its token requests)", async () => {
    const op = await flakyProvider({ "/token": { times: 1, status: 502 } });
    const config = await providers().configuration(
      compiled(op.issuer, { numRetries: 1, retryOn: { triggers: ["gateway-error"] }, ...FAST }),
    );
    const tokens = await client.refreshTokenGrant(config, "a-refresh-token");
    expect(tokens.access_token).toBe("fresh");
    expect(op.calls["/token"]).toBe(2);
  });

  it("stays a failure when every retry fails: the call rejects after numRetries + 1 attempts", async () => {
    const op = await flakyProvider({ "/.well-known/openid-configuration": { times: 10, status: 503 } });
    await expect(
      providers().configuration(compiled(op.issuer, { numRetries: 2, retryOn: { triggers: ["5xx"] }, ...FAST })),
    ).rejects.toThrow(/discovery of .* failed/);
    expect(op.calls["/.well-known/openid-configuration"]).toBe(3);
  });

  it("does not retry a status its triggers do not name (Envoy Gateway's default: a failed connection only)", async () => {
    const op = await flakyProvider({ "/.well-known/openid-configuration": { times: 1, status: 503 } });
    await expect(providers().configuration(compiled(op.issuer, { numRetries: 3, ...FAST }))).rejects.toThrow(/discovery/);
    expect(op.calls["/.well-known/openid-configuration"]).toBe(1);
  });

  it("makes each call once without a retry policy", async () => {
    const op = await flakyProvider({ "/token": { times: 1, status: 503 } });
    const config = await providers().configuration(compiled(op.issuer, undefined));
    await expect(client.refreshTokenGrant(config, "a-refresh-token")).rejects.toThrow();
    expect(op.calls["/token"]).toBe(1);
  });
});
