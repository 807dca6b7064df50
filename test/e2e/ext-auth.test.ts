// An extAuth policy enforced through REAL proxies: Caddy (forward_auth) and nginx (auth_request)
// running the shipped configurations, Portcullis' own binary, and a real external authorization
// service on a loopback port. What a client sends through the proxy must never let it vouch for
// itself, skip the service, or smuggle anything into the check.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOOP_HEADER } from "../../controller/features/extAuth/check.ts";
import { httpService, type Asked, type TestService } from "../support/ext-auth-services.ts";
import { send, type HeaderLines } from "../support/http.ts";
import { PROXIES, startCaddy, startNginx, startStage, type Proxy, type Seen, type Stage } from "./support.ts";

const HOST = "vouched.maas.example.com";

/**
 * Host vouched.maas.example.com: the whole host asks the service, which vouches for the caller in
 * X-User-Id (a header the shipped proxy configurations copy from Portcullis' answer); /admin also
 * needs that identity to be `admin`.
 */
function policy(servicePort: number): string {
  return `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: {name: vouching, namespace: maas-system}
spec: {endpoints: [{ip: {address: 127.0.0.1, port: ${servicePort}}}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: vouched, namespace: maas-system}
spec:
  parentRefs: [{name: maas-gateway}]
  hostnames: [${HOST}]
  rules:
    - name: all
      matches: [{path: {type: PathPrefix, value: /}}]
    - name: admin
      matches: [{path: {type: PathPrefix, value: /admin}}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: vouched, namespace: maas-system}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: vouched, sectionName: all}]
  extAuth:
    http: {backendRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: vouching}], headersToBackend: [x-user-id]}
    headersToExtAuth: [x-ticket]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: vouched-admin, namespace: maas-system}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: vouched, sectionName: admin}]
  extAuth:
    http: {backendRefs: [{group: gateway.envoyproxy.io, kind: Backend, name: vouching}], headersToBackend: [x-user-id]}
    headersToExtAuth: [x-ticket]
  authorization:
    defaultAction: Deny
    rules: [{name: admins, action: Allow, principal: {headers: [{name: x-user-id, values: [admin]}]}}]
`;
}

/** The service: `x-ticket: alice` is vouched for as alice, `x-ticket: anyone` allowed without an identity, else 401. */
function answer(asked: Asked): { status: number; headers?: [string, string][] } {
  const ticket = asked.headers["x-ticket"];
  if (ticket === "alice") return { status: 200, headers: [["x-user-id", "alice"]] };
  if (ticket === "anyone") return { status: 200 };
  return { status: 401, headers: [["www-authenticate", 'Ticket realm="vouched"']] };
}

let service: TestService;
let stage: Stage;

beforeAll(async () => {
  service = await httpService(answer);
  stage = await startStage({ "98-vouched.yaml": policy(service.port) });
}, 60_000);
afterAll(async () => {
  await stage?.stop();
  await service?.close();
});

/** Sends through the proxy; the status, what the service was asked (undefined: not asked) and what the upstream saw. */
async function through(
  proxy: Proxy,
  path: string,
  headers: Record<string, string> | HeaderLines,
): Promise<{ status: number; asked: Asked | undefined; up: Seen | undefined }> {
  const [askedBefore, seenBefore] = [service.asked.length, stage.upstream.seen.length];
  const r = await send(proxy.url, { rawPath: path, headers: Array.isArray(headers) ? headers : { host: HOST, ...headers } });
  return {
    status: r.status,
    asked: service.asked.length > askedBefore ? service.asked[service.asked.length - 1] : undefined,
    up: stage.seenSince(seenBefore),
  };
}

function attacks(name: string, proxy: () => Proxy, underscores: "dropped" | "forwarded") {
  describe(`${name}: a client against an extAuth policy`, () => {
    it("the service vouches for alice: the upstream gets its X-User-Id, never the client's", async () => {
      const { status, up } = await through(proxy(), "/reports", { "x-ticket": "alice", "x-user-id": "admin" });
      expect(status).toBe(200);
      expect(up!.headers["x-user-id"]).toBe("alice");
    });

    it("the service allows without vouching: the client's own X-User-Id reaches neither the rules nor the upstream", async () => {
      const open = await through(proxy(), "/reports", { "x-ticket": "anyone", "x-user-id": "admin" });
      expect(open.status).toBe(200);
      expect(open.up!.headers["x-user-id"] ?? "").toBe("");
      const admin = await through(proxy(), "/admin", { "x-ticket": "anyone", "x-user-id": "admin" });
      expect([admin.status, admin.up]).toEqual([403, undefined]);
    });

    it("the service's refusal reaches the client; the upstream is never called", async () => {
      const { status, up } = await through(proxy(), "/reports", { "x-ticket": "forged" });
      expect([status, up]).toEqual([401, undefined]);
    });

    it(`the loop header sent by the client is refused without asking the service, in any letter case`, async () => {
      for (const spelling of [LOOP_HEADER, LOOP_HEADER.toUpperCase()]) {
        const { status, asked, up } = await through(proxy(), "/reports", { "x-ticket": "alice", [spelling]: "1" });
        expect([status, asked, up]).toEqual([403, undefined, undefined]);
      }
    });

    it(`the loop header spelled with "_" is ${underscores} by the proxy and skips nothing: the service decides`, async () => {
      const spelled = LOOP_HEADER.replaceAll("-", "_");
      const refused = await through(proxy(), "/reports", { "x-ticket": "forged", [spelled]: "1" });
      expect([refused.status, refused.up]).toEqual([401, undefined]);
      const allowed = await through(proxy(), "/reports", { "x-ticket": "alice", [spelled]: "1" });
      expect(allowed.status).toBe(200);
      expect(allowed.asked!.headers[LOOP_HEADER]).toBe("1");
      expect(allowed.asked!.headers[spelled]).toBeUndefined();
      if (underscores === "dropped") expect(allowed.up!.headers[spelled]).toBeUndefined();
    });

    it("the service is asked about the path and Host as the client sent them, the ticket's bytes unchanged", async () => {
      const ticket = Buffer.from("alice-caf\u00e9", "utf8").toString("latin1");
      const { asked } = await through(proxy(), "/reports/%2Fetc?x=%0A", [
        ["host", HOST],
        ["x-ticket", ticket],
      ]);
      expect(asked).toMatchObject({ path: "/reports/%2Fetc?x=%0A" });
      expect(asked!.headers.host).toBe(HOST);
      expect(asked!.headers["x-ticket"]).toBe(ticket);
    });
  });
}

describe("Caddy forward_auth (deploy/proxies/caddy/Caddyfile)", () => {
  let caddy: Proxy;
  beforeAll(async () => {
    caddy = await startCaddy(join(PROXIES, "caddy/Caddyfile"), stage.behind);
  }, 30_000);
  afterAll(async () => caddy?.stop());
  attacks("Caddy", () => caddy, "forwarded");
});

describe("nginx auth_request (deploy/proxies/nginx/portcullis.conf)", () => {
  let nginx: Proxy;
  beforeAll(async () => {
    nginx = await startNginx(stage.behind);
  }, 30_000);
  afterAll(async () => nginx?.stop());
  attacks("nginx", () => nginx, "dropped");
});
