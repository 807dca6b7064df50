/**
 * The baselines: a bare node:http server answering 200 with an empty body, on the same Node and
 * with the same server options as Portcullis's ports (keep-alive, timeouts). With --verify-jwk,
 * it also checks each request's `Authorization: Bearer` token's ES256 signature with
 * crypto.verify (on the DER form of the signature, Node's cheapest path, as Portcullis does) and
 * answers 401 when it does not hold: the least an HTTP service verifying every new token must do (no claims, no decoding beyond the signature), so the ceiling for all-new
 * tokens over HTTP. Prints its port.
 *   node bench/bare-server.ts [port] [--verify-jwk JWK_FILE]
 */
import { createPublicKey, type JsonWebKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { bearerSignatureHolds } from "./crypto-verify.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { "verify-jwk": { type: "string" } } });
const jwkFile = values["verify-jwk"];
const key =
  jwkFile === undefined ? undefined : createPublicKey({ key: JSON.parse(readFileSync(jwkFile, "utf8")) as JsonWebKey, format: "jwk" });

const server = createServer(
  { headersTimeout: 10_000, requestTimeout: 15_000, keepAliveTimeout: 75_000, maxHeaderSize: 64 * 1024, connectionsCheckingInterval: 1000 },
  (req, res) => {
    res.writeHead(key === undefined || bearerSignatureHolds(req.headers.authorization, key) ? 200 : 401);
    res.end();
  },
);
server.listen(Number(positionals[0] ?? 0), "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
