// Envoy Gateway's security task pages (test/conformance/docs) through REAL nginx running
// deploy/proxies/nginx/portcullis.conf in front of Portcullis' own binary: each page's manifests
// beside deploy/examples (which nginx's readiness probe asks for), the page's requests sent to
// nginx, the answers the page states checked at the client, and the app reached only when allowed.
// The configuration is edited as an operator serving these Gateways would: the line pinning the
// example Gateway (X-Portcullis-Gateway) removed. Pages whose answer depends on the client address
// Envoy sees (restrict-ip-access, geoip-authorization) are not sent through nginx, which is then the
// edge and sets X-Forwarded-For itself; their requests run on the HTTP ext_authz port
// (test/conformance).
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadCases, loadPending, pendingEntryFor, withLocalJwks, type LocalJwks, type RequestCase } from "../conformance/cases.ts";
import { send } from "../support/http.ts";
import {
  examplesWithSituations,
  startNginx,
  startPortcullis,
  startUpstream,
  type Portcullis,
  type Proxy,
  type Upstream,
} from "./support.ts";

const GATEWAY_PIN = "proxy_set_header X-Portcullis-Gateway maas-system/maas-gateway;";
/** Cases whose requests need the address Envoy would see (their `peer`), or gRPC, which nginx's example does not carry. */
const viaNginx = loadCases<RequestCase>("docs").filter((c) => c.value.peer === undefined && !c.name.endsWith("-grpc"));
const pending = loadPending();

for (const { name, value: testCase } of viaNginx) {
  describe(`docs/${name} through nginx`, () => {
    let jwks: LocalJwks | undefined;
    let dir: string | undefined;
    let portcullis: Portcullis | undefined;
    let upstream: Upstream | undefined;
    let nginx: Proxy | undefined;
    beforeAll(async () => {
      jwks = await withLocalJwks(testCase);
      dir = examplesWithSituations();
      writeFileSync(join(dir, "docs.yaml"), jwks.manifests.map((m) => stringify(m)).join("---\n"));
      [portcullis, upstream] = await Promise.all([startPortcullis(dir), startUpstream()]);
      nginx = await startNginx({ forwardAuth: portcullis.forwardAuth, upstream: upstream.port }, (conf) => {
        if (!conf.includes(GATEWAY_PIN)) throw new Error(`nginx/portcullis.conf no longer holds "${GATEWAY_PIN}"`);
        return conf.replace(GATEWAY_PIN, "");
      });
    }, 60_000);
    afterAll(async () => {
      await nginx?.stop();
      await portcullis?.stop();
      await upstream?.close();
      await jwks?.close();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });

    for (const { name: request, request: r, expect: expected } of testCase.requests) {
      const run = async () => {
        const before = upstream!.seen.length;
        const res = await send(nginx!.url, {
          method: r.method ?? "GET",
          rawPath: r.path,
          headers: { host: r.host ?? "gateway.conformance.test", ...r.headers },
        });
        const reached = upstream!.seen.length > before;
        // nginx turns Portcullis' preflight answer into the browser's 204, where Envoy's cors filter answers 200.
        const preflight = r.method === "OPTIONS" && res.status === 204;
        if (expected.status !== undefined) {
          expect(preflight && expected.status === 200 ? 200 : res.status).toBe(expected.status);
          expect(reached).toBe(expected.status === 200 && !preflight);
        }
        for (const [header, value] of Object.entries(expected.response ?? {}))
          expect([header, res.header(header) ?? null]).toEqual([header, value]);
      };
      // An item test/conformance/pending.yaml says Portcullis answers otherwise must still do so here.
      const entry = pendingEntryFor(pending, `docs/${name}`, request);
      if (entry === undefined) it(request, run);
      else it(`${request} still differs, as test/conformance/pending.yaml says`, () => expect(run()).rejects.toThrow());
    }
  });
}

describe("the doc cases sent through nginx", () => {
  it("are every page but those that depend on the client address or gRPC", () => {
    expect(viaNginx.map((c) => c.name)).toContain("basic-auth");
    expect(viaNginx.length).toBeGreaterThanOrEqual(12);
  });
});
