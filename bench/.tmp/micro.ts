import pino from "pino";
import { verify, createPublicKey } from "node:crypto";
import { createAuthorizer } from "../../controller/runtime/authorizer.ts";
import { startTestApp } from "../../test/support/app.ts";
import { createIdp, mintTokens } from "../tokens.ts";
import { buildWorld, writeWorld } from "../world.ts";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Passwords } from "../../controller/authz/basicauth.ts";
import { clientAddressDetection } from "../../controller/authz/client-address.ts";

const idp = createIdp();
const world = buildWorld({ tenants: 10, keysPerSecret: 20, jwk: idp.jwk });
const dir = mkdtempSync(join(tmpdir(), "micro-"));
writeWorld(world, dir);
const files = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), "utf8")]));
const app = await startTestApp(files);
const authorizer = createAuthorizer({
  pipeline: app.pipeline, keys: app.keys, logger: pino({ level: "silent" }), metrics: app.metrics,
  onNoRoute: "deny", onNoPolicy: "allow", clientAddress: clientAddressDetection({ trustedHops: 0, trustedCidrs: [] }), passwords: new Passwords(),
});
const N = Number(process.argv[2] ?? 20000);
const tokens = await mintTokens(idp, N);
const t = world.jwtTarget;
const req = (tok: string) => ({ method: "GET", scheme: "http", host: t.host, path: t.path, headers: { host: t.host, authorization: `Bearer ${tok}` }, gateway: undefined, byteStrings: true });
const key = createPublicKey({ key: idp.jwk as never, format: "jwk" });
// raw verify
let s = performance.now();
for (const tok of tokens.slice(0, 5000)) { const d = tok.lastIndexOf("."); verify("sha256", Buffer.from(tok.slice(0, d)), { key, dsaEncoding: "ieee-p1363" }, Buffer.from(tok.slice(d + 1), "base64url")); }
const raw = (performance.now() - s) / 5000 * 1000;
s = performance.now();
let ok = 0;
for (const tok of tokens) { const d = authorizer.decide(req(tok) as never, "envoy-http", () => "x"); if ((d as { allow?: boolean }).allow !== false) ok++; }
const ours = (performance.now() - s) / N * 1000;
console.log(`raw verify ${raw.toFixed(1)} µs; decide new token ${ours.toFixed(1)} µs; extra ${(ours - raw).toFixed(1)} µs; ok ${ok}`);
s = performance.now();
for (let i = 0; i < 100000; i++) authorizer.decide(req(tokens[0]!) as never, "envoy-http", () => "x");
console.log(`decide cached ${((performance.now() - s) / 100000 * 1000).toFixed(2)} µs`);
const ak = world.apiKeyTarget;
const areq = { method: "GET", scheme: "http", host: ak.host, path: ak.path, headers: { host: ak.host, ...ak.headers }, gateway: undefined, byteStrings: true };
s = performance.now();
for (let i = 0; i < 100000; i++) authorizer.decide(areq as never, "envoy-http", () => "x");
console.log(`decide api key ${((performance.now() - s) / 100000 * 1000).toFixed(2)} µs`);
await app.close();
process.exit(0);
