import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { caddyfile, haproxyConf, nginxSiteConf } from "../../bench/proxies.ts";

const PROXIES = join(import.meta.dirname, "../../deploy/proxies");
const nginxExample = readFileSync(join(PROXIES, "nginx/portcullis.conf"), "utf8");
const caddyExample = readFileSync(join(PROXIES, "caddy/Caddyfile"), "utf8");
const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));

describe("nginxSiteConf", () => {
  it("runs the example with only the addresses and the Gateway substituted", () => {
    const conf = nginxSiteConf(nginxExample, { listen: 1001, app: 1002, forwardAuth: 1003 });
    expect(conf).toContain("auth_request /.portcullis-auth;");
    expect(conf).toContain("server 127.0.0.1:1003;");
    expect(conf).toContain("listen 127.0.0.1:1001;");
    expect(conf).toContain("X-Portcullis-Gateway bench-gateway/gateway;");
    expect(conf).toMatch(/upstream app \{\n\s+server 127\.0\.0\.1:1002;\n/);
    expect(lines(conf).filter((l) => !lines(nginxExample).includes(l))).toEqual([
      "    server 127.0.0.1:1003;",
      "    server 127.0.0.1:1002;",
      "    listen 127.0.0.1:1001;",
      "        proxy_set_header X-Portcullis-Gateway bench-gateway/gateway;",
      "    listen 127.0.0.1:1002;",
      "    location / { return 200; }",
    ]);
    expect(conf).toMatch(/server \{\n\s+listen 127\.0\.0\.1:1002;\n\s+location \/ \{ return 200; \}/);
  });

  it("without Portcullis, drops the auth_request line and nothing else", () => {
    const withAuth = lines(nginxSiteConf(nginxExample, { listen: 1, app: 2, forwardAuth: 9 }));
    const without = lines(nginxSiteConf(nginxExample, { listen: 1, app: 2 }));
    expect(withAuth.filter((l) => !without.includes(l))).toEqual(["        auth_request /.portcullis-auth;"]);
    expect(without.length).toBe(withAuth.length - 1);
  });
});

describe("caddyfile", () => {
  it("adds the app site and keeps the example as it is with Portcullis", () => {
    const text = caddyfile(caddyExample, { app: 1002, withAuth: true });
    expect(text.startsWith(caddyExample)).toBe(true);
    expect(text).toMatch(/:1002 \{\n\trespond 200\n\}/);
  });

  it("without Portcullis, drops the whole forward_auth block (placeholders inside it included) and nothing else", () => {
    const withAuth = lines(caddyfile(caddyExample, { app: 2, withAuth: true }));
    const without = lines(caddyfile(caddyExample, { app: 2, withAuth: false }));
    const dropped = withAuth.filter((l) => !without.includes(l)).map((l) => l.trim());
    expect(dropped[0]).toMatch(/^forward_auth \{\$PORTCULLIS_FORWARD_AUTH:.*\} \{$/);
    expect(dropped.some((l) => l.startsWith("copy_headers X-User-Id "))).toBe(true);
    expect(without.join("\n")).not.toMatch(/forward_auth|handle_response|copy_response_headers/);
    expect(without).toContain("\t\treverse_proxy {$UPSTREAM:app.default.svc.cluster.local:8080} {");
    expect(without.filter((l) => l.trim().endsWith("{")).length).toBe(without.filter((l) => l.trim() === "}").length);
  });
});

describe("haproxyConf", () => {
  const jwt = { publicKeyPem: "unused here", issuer: "https://idp.example", audience: "gw" };

  it("with no authentication, forwards every request to its app, which answers 200", () => {
    const conf = haproxyConf({ listen: 1001, app: 1002 });
    expect(conf).toContain("bind 127.0.0.1:1001");
    expect(conf).not.toContain("jwt");
    expect(conf).toMatch(
      /frontend bench\n {2}bind 127\.0\.0\.1:1001\n {2}default_backend app\nbackend app\n {2}server app 127\.0\.0\.1:1002\n/,
    );
    expect(conf).toMatch(/frontend app_site\n {2}bind 127\.0\.0\.1:1002\n {2}http-request return status 200\n$/);
  });

  it("verifies signature, issuer, audience and expiry before forwarding to the app, as the policy does", () => {
    const conf = haproxyConf({ listen: 1001, app: 1002, keyFile: "/k.pem", jwt });
    const steps = lines(conf).map((l) => l.trim());
    const answer = steps.indexOf("default_backend app");
    for (const check of [
      `http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify(txn.alg,"/k.pem") -m int 1 }`,
      `http-request deny deny_status 401 unless { var(txn.bearer),jwt_payload_query('$.iss') -m str "https://idp.example" }`,
      `http-request deny deny_status 403 unless { var(txn.bearer),jwt_payload_query('$.aud') -m str "gw" }`,
      "http-request deny deny_status 401 if { var(txn.exp),sub(txn.now) -m int lt 0 }",
    ]) {
      expect(steps.indexOf(check)).toBeGreaterThan(-1);
      expect(steps.indexOf(check)).toBeLessThan(answer);
    }
  });

  it("refuses a JWT check without a key file", () => {
    expect(() => haproxyConf({ listen: 1, app: 2, jwt })).toThrow(/keyFile/);
  });
});
